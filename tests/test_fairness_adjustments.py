"""The audit's two additions to the statistics modules: KPI-adjusted ratings, and small groups
left out of a comparison instead of suppressed inside it."""

from __future__ import annotations

import numpy as np
import pytest

from domain.fairness.audit import kpi_adjusted
from domain.fairness.data import Subjects
from domain.fairness.disparities import (
    DisparityParameters,
    audit_disparities,
    group_people,
    without_small_cells,
)


def test_kpi_adjusted_ratings_are_residuals_around_the_mean() -> None:
    kpi = np.array([60.0, 80.0, 100.0, 120.0, np.nan])
    rating = np.array([2.0, 3.0, 4.0, 4.0, 3.0])  # slope 0.035 per KPI point, mean 3.25
    adjusted = kpi_adjusted(rating, kpi)
    assert adjusted is not None
    assert np.isnan(adjusted[4])
    assert adjusted[:4].mean() == pytest.approx(3.25)
    slope = np.polyfit(kpi[:4], rating[:4], 1)[0]
    assert adjusted[:4] == pytest.approx(rating[:4] - slope * (kpi[:4] - kpi[:4].mean()))
    # someone rated below what their results warrant stands out once results are accounted for
    assert adjusted[3] < adjusted[2]
    assert kpi_adjusted(rating, np.full(5, 80.0)) is None  # results that do not vary
    assert kpi_adjusted(rating[:2], kpi[:2]) is None  # too few people


def subjects(genders: list[str | None]) -> Subjects:
    n = len(genders)
    return Subjects(
        ids=[f"p{i}" for i in range(n)],
        groups={"gender": genders},
        score=np.linspace(40.0, 90.0, n),
    )


def test_small_groups_are_left_out_of_the_comparison_when_asked() -> None:
    genders: list[str | None] = ["female"] * 20 + ["male"] * 20 + ["non_binary"] * 2 + [None]
    people = subjects(genders)
    grouping = group_people(people, "gender")
    trimmed = without_small_cells(grouping, 5)
    assert trimmed.cells == (("female",), ("male",))
    assert trimmed.excluded_unknown == 3  # two in a group of two, one unknown
    assert list(trimmed.sizes) == [20, 20]
    assert set(trimmed.cell[40:]) == {-1}
    assert without_small_cells(trimmed, 5) is trimmed

    kept = audit_disparities(people, [("gender",)], DisparityParameters(seed=1))[0]
    left_out = audit_disparities(
        people, [("gender",)], DisparityParameters(seed=1, small_groups="exclude")
    )[0]
    # suppressing inside the comparison takes a large group down with the tiny one
    assert {c.label for c in kept.counts} == {"male"}
    # leaving the tiny group out keeps both large ones comparable
    assert {c.label for c in left_out.counts} == {"female", "male"}
    assert left_out.excluded_unknown == 3
    assert left_out.suppression.suppressed == ()


def test_small_groups_setting_is_checked() -> None:
    from domain.errors import InvalidInput

    with pytest.raises(InvalidInput) as error:
        DisparityParameters(seed=1, small_groups="hide")  # type: ignore[arg-type]
    assert error.value.field == "small_groups"
