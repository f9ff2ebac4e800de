"""Goals against their straight line, by hand.

Expected progress at the end of day d of a period of n days = d / n x 100 (0 before the period,
100 from its last day on). Actual progress = (latest - baseline) / (target - baseline) x 100.
At risk: expected - actual > threshold (strictly).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.goals import Direction
from domain.periods import Period
from domain.trajectory import Trajectory, expected_progress, trajectory

D = Decimal
APRIL = Period.parse("2026-04")  # 30 days
Q1 = Period.parse("2026-Q1")  # 31 + 28 + 31 = 90 days
YEAR = Period.parse("2026")  # 365 days


@pytest.mark.parametrize(
    ("period", "on", "expected"),
    [
        (APRIL, date(2026, 4, 15), D(50)),  # 15 / 30
        (APRIL, date(2026, 4, 1), D(1) / D(30) * 100),  # the first day counts whole
        (APRIL, date(2026, 4, 30), D(100)),  # the last day: all of the way
        (APRIL, date(2026, 3, 31), D(0)),  # before the period
        (APRIL, date(2026, 6, 1), D(100)),  # after it
        (Q1, date(2026, 2, 14), D(50)),  # 31 + 14 = 45 of 90
        (YEAR, date(2026, 7, 2), D(183) / D(365) * 100),  # day 183 of 365
    ],
)
def test_the_line_runs_from_nothing_before_the_period_to_everything_on_its_last_day(
    period: Period, on: date, expected: Decimal
) -> None:
    assert expected_progress(period, on) == expected


def sales(value: str | None, on: date, threshold: str = "15") -> Trajectory:
    """Sales growth in April: from 0 to a target of 8 (higher is better)."""
    return trajectory(
        direction=Direction.HIGHER_IS_BETTER,
        baseline=D(0),
        target=D(8),
        latest_value=None if value is None else D(value),
        period=APRIL,
        on=on,
        threshold=D(threshold),
    )


def test_a_goal_trailing_the_line_by_more_than_the_threshold_is_at_risk() -> None:
    # Mid-April: expected 50; 2 of 8 is 25; behind by 25 > 15.
    found = sales("2", date(2026, 4, 15))
    assert (found.expected, found.actual, found.behind, found.at_risk) == (
        D("50.00"),
        D("25.00"),
        D("25.00"),
        True,
    )


def test_trailing_by_less_or_exactly_the_threshold_is_not_at_risk() -> None:
    # 3 of 8 is 37.5: behind by 12.5.
    assert not sales("3", date(2026, 4, 15)).at_risk
    # 2.8 of 8 is 35: behind by exactly 15, which is not more than 15.
    exactly = sales("2.8", date(2026, 4, 15))
    assert exactly.behind == D(15)
    assert not exactly.at_risk
    # A stricter rule set flags it: 15 > 10.
    assert sales("2.8", date(2026, 4, 15), threshold="10").at_risk


def test_lower_is_better_goals_run_down_from_baseline_to_target() -> None:
    # Time to hire from 40 days down to 30: 38 days covers (38 - 40) / (30 - 40) = 20 %.
    def hiring(value: str) -> Trajectory:
        return trajectory(
            direction=Direction.LOWER_IS_BETTER,
            baseline=D(40),
            target=D(30),
            latest_value=D(value),
            period=APRIL,
            on=date(2026, 4, 15),
            threshold=D(15),
        )

    slow = hiring("38")
    assert (slow.actual, slow.at_risk) == (D("20.00"), True)
    # 36 days covers 40 %: behind by 10.
    fast = hiring("36")
    assert (fast.actual, fast.at_risk) == (D("40.00"), False)
    # Going the wrong way (42 days) is negative progress.
    assert hiring("42").actual == D("-20.00")


def test_nothing_is_expected_before_the_period_and_everything_after_it() -> None:
    before = sales("0", date(2026, 3, 20))
    assert (before.expected, before.at_risk) == (D("0.00"), False)
    # After April, 100 % is expected: 6.4 of 8 is 80, behind by 20.
    after = sales("6.4", date(2026, 5, 10))
    assert (after.expected, after.actual, after.at_risk) == (
        D("100.00"),
        D("80.00"),
        True,
    )
    assert not sales("6.4", date(2026, 5, 10), threshold="25").at_risk


def test_a_goal_without_a_measurement_is_unmeasured_not_at_risk() -> None:
    found = sales(None, date(2026, 4, 29))
    assert found.actual is None
    assert found.behind is None
    assert found.expected == D("96.67")  # 29 / 30
    assert not found.at_risk


def test_the_verdict_is_taken_on_exact_figures_not_on_the_rounded_ones() -> None:
    # Day 1 of 30 expects 3.333...; a value of 0 is behind by 3.333..., which rounds to 3.33.
    # With a threshold of 3.33 the exact gap (3.3333...) is more than it: at risk, although the
    # rounded figures (3.33 - 0.00 = 3.33) alone would say "exactly the threshold".
    found = sales("0", date(2026, 4, 1), threshold="3.33")
    assert found.behind == D("3.33")
    assert found.at_risk
