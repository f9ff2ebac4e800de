"""Rater effects: hand-computed small designs, shrinkage, the family-wise false-flag rate of a
clean synthetic organisation, planted effects found, self-other gaps and bad parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from scipy import stats

from domain.errors import InvalidInput
from domain.fairness.data import Ratings, RatingScale, Subjects, source_code
from domain.fairness.rater_effects import (
    EFFECT_BELOW_THRESHOLD,
    NO_REFERENCE_SPREAD,
    NOT_SIGNIFICANT,
    RATIO_ABOVE_THRESHOLD,
    TOO_FEW_RATEES,
    InsufficientSource,
    LeniencySource,
    RaterEffectParameters,
    SpreadSource,
    _adjusted,
    central_tendency,
    halo,
    leniency_severity,
    self_other_breakdown,
    self_other_gaps,
)

SCALE = RatingScale(1, 5)
Row = tuple[str, str, str, str, float]


def _peers(report_source: object) -> LeniencySource:
    assert isinstance(report_source, LeniencySource), report_source
    return report_source


def _spread(report_source: object) -> SpreadSource:
    assert isinstance(report_source, SpreadSource), report_source
    return report_source


# -- leniency: a hand-computed design -----------------------------------------------------------

BASE = (2.0, 3.0, 4.0, 2.0, 3.0, 4.0)  # every normal rater's rating of reviewee j
EXTRA = (0.0, 0.5, 0.0, 0.5, 0.0, 0.5)  # rater A's surplus beyond +1, per reviewee
NORMAL = ("B", "C", "D", "E", "F")


def _lenient_design(a_ratees: int = 6) -> list[Row]:
    """Six reviewees, each rated by five identical peers and by A, who gives +1 on c1 and
    +1 + 2 * EXTRA on c2 (so A's per-ratee mean deviation is exactly 1 + EXTRA[j]). Every
    reviewee also rates themselves 5, which must not count."""
    rows: list[Row] = []
    for j, base in enumerate(BASE):
        reviewee = f"R{j}"
        rows += [(reviewee, reviewee, "self", c, 5.0) for c in ("c1", "c2")]
        for rater in NORMAL:
            rows += [(reviewee, rater, "peer", c, base) for c in ("c1", "c2")]
        if j < a_ratees:
            rows += [
                (reviewee, "A", "peer", "c1", base + 1),
                (reviewee, "A", "peer", "c2", base + 1 + 2 * EXTRA[j]),
            ]
    return rows


def test_a_clearly_lenient_rater_is_flagged_with_the_hand_computed_evidence() -> None:
    report = leniency_severity(Ratings.from_rows(_lenient_design(), SCALE))
    peers = _peers(report.source("peer"))
    a = peers.result_for("A")
    # Per-ratee mean deviations of A: 1 + EXTRA = (1, 1.5, 1, 1.5, 1, 1.5).
    assert a.n_ratees == 6
    assert a.d == pytest.approx(1.25)
    assert a.se == pytest.approx(math.sqrt(0.075 / 6))  # sd = sqrt(6 * 0.25^2 / 5)
    assert a.t == pytest.approx(1.25 / math.sqrt(0.075 / 6))
    assert a.df == 5
    assert a.p == pytest.approx(2 * stats.t.sf(1.25 / math.sqrt(0.075 / 6), 5))
    # Each normal rater deviates by -(1 + EXTRA)/5: d = -0.25 with a fifth of A's SE, so all six
    # have the same |t| and Holm multiplies every p by 6.
    assert a.p_adjusted == pytest.approx(6 * a.p)
    # tau^2 = var(d) - mean(se^2) = 0.375 - 0.0025; shrunk = d * tau^2 / (tau^2 + se^2).
    assert peers.tau2 == pytest.approx(0.3725)
    assert a.shrunk == pytest.approx(1.25 * 0.3725 / (0.3725 + 0.0125))
    assert peers.pooled_within_variance == pytest.approx(0.45 / 30)
    assert peers.pooled_df == 30
    assert (a.flag, a.reason, a.flagged) == ("lenient", None, True)
    assert (a.rule.min_ratees, a.rule.practical_threshold, a.rule.alpha) == (5, 0.5, 0.05)
    assert (a.rule.correction, a.rule.n_tested) == ("holm", 6)
    for rater in NORMAL:
        b = peers.result_for(rater)
        assert b.d == pytest.approx(-0.25)
        assert b.p_adjusted == pytest.approx(6 * a.p)  # significant, but ...
        assert (b.flag, b.reason) == (None, EFFECT_BELOW_THRESHOLD)
    assert [r.rater for r in report.flagged] == ["A"]


def test_sources_without_raters_are_reported_as_insufficient() -> None:
    report = leniency_severity(Ratings.from_rows(_lenient_design(), SCALE))
    for name in ("manager", "customer"):
        source = report.source(name)
        assert isinstance(source, InsufficientSource)
        assert (source.n_raters, source.n_raters_with_enough_data) == (0, 0)
        assert name in source.reason
    with pytest.raises(InvalidInput) as error:
        report.source("self")
    assert error.value.field == "source"


def test_a_rater_with_three_ratees_is_not_flagged_too_few_ratees() -> None:
    peers = _peers(leniency_severity(Ratings.from_rows(_lenient_design(3), SCALE)).source("peer"))
    a = peers.result_for("A")
    assert a.n_ratees == 3
    assert a.d == pytest.approx(1 + (0 + 0.5 + 0) / 3)
    assert (a.flag, a.reason, a.p_adjusted) == (None, TOO_FEW_RATEES, None)
    assert a.rule.n_tested == 5  # A is outside the corrected family
    assert peers.flagged == ()


def test_a_source_with_one_rater_with_enough_ratees_is_insufficient() -> None:
    rows = [r for r in _lenient_design() if r[1] in ("A", "B") or r[2] == "self"]
    rows += [("R0", "M1", "manager", "c1", 3.0), ("R0", "M2", "manager", "c1", 4.0)]
    rows += [(f"R{j}", "M1", "manager", "c2", 3.0) for j in range(6)]
    rows += [(f"R{j}", "M2", "manager", "c2", 4.0) for j in range(1, 4)]
    report = leniency_severity(Ratings.from_rows(rows, SCALE))
    managers = report.source("manager")
    assert isinstance(managers, InsufficientSource)
    assert (managers.n_raters, managers.n_raters_with_enough_data) == (2, 1)
    assert "at least 2" in managers.reason
    assert isinstance(report.source("peer"), LeniencySource)


def test_ratings_nobody_else_gave_drop_out_and_self_ratings_are_not_others() -> None:
    rows = [*_lenient_design(), ("R9", "Z", "peer", "c1", 5.0), ("R9", "R9", "self", "c1", 1.0)]
    peers = _peers(leniency_severity(Ratings.from_rows(rows, SCALE)).source("peer"))
    assert peers.n_raters == 6
    with pytest.raises(InvalidInput) as error:
        peers.result_for("Z")
    assert error.value.field == "rater"


def test_correction_none_reports_the_raw_p_and_bonferroni_m_times_it() -> None:
    ratings = Ratings.from_rows(_lenient_design(), SCALE)
    for correction, factor in (("none", 1), ("bonferroni", 6)):
        parameters = RaterEffectParameters(correction=correction)  # type: ignore[arg-type]
        a = _peers(leniency_severity(ratings, parameters).source("peer")).result_for("A")
        assert a.p_adjusted == pytest.approx(factor * a.p)


def test_holm_step_down_matches_the_textbook_example() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    tested = np.array([True, True, True, True, False])
    adjusted = _adjusted(p, tested, "holm")
    # sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, max(0.06, 0.04)
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[4])


# -- a synthetic organisation -------------------------------------------------------------------

N_MANAGERS, N_PEERS, COMPETENCIES = 20, 40, ("c1", "c2", "c3", "c4", "c5")


def _organisation(
    seed: int,
    *,
    planted: dict[str, str] | None = None,
    n_reviewees: int = 200,
    peers_each: int = 5,
) -> Ratings:
    """``n_reviewees`` people, each rated on five competencies by themselves, one random
    manager of 20 and ``peers_each`` distinct random peers of 40: value = 3 + person effect
    N(0, 0.5^2) + noise N(0, 1). ``planted`` maps a rater id to an effect: "lenient" (+1),
    "severe" (-1), "central" (always 3), "halo" (one value per ratee for every competency)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    managers = [f"M{i}" for i in range(N_MANAGERS)]
    peers = [f"P{i}" for i in range(N_PEERS)]
    people = [f"E{j}" for j in range(n_reviewees)]
    rater_ids = managers + peers + people
    raters: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    reviewees: list[np.ndarray] = []
    for j in range(n_reviewees):
        chosen = [
            rng.integers(N_MANAGERS),
            *(N_MANAGERS + rng.choice(N_PEERS, peers_each, replace=False)),
            N_MANAGERS + N_PEERS + j,
        ]
        raters.append(np.asarray(chosen))
        sources.append(
            np.asarray(
                [source_code("manager")]
                + [source_code("peer")] * peers_each
                + [source_code("self")]
            )
        )
        reviewees.append(np.full(len(chosen), j))
    k = len(COMPETENCIES)
    rater = np.repeat(np.concatenate(raters), k)
    source = np.repeat(np.concatenate(sources), k)
    reviewee = np.repeat(np.concatenate(reviewees), k)
    competency = np.tile(np.arange(k), len(rater) // k)
    person_effect = rng.normal(0.0, 0.5, n_reviewees)
    value = 3.0 + person_effect[reviewee] + rng.normal(0.0, 1.0, len(rater))
    per_ratee_impression = (
        3.0 + person_effect[reviewee] + np.repeat(rng.normal(0, 1, len(rater) // k), k)
    )
    for rater_id, effect in (planted or {}).items():
        mine = rater == rater_ids.index(rater_id)
        if effect == "lenient":
            value[mine] += 1.0
        elif effect == "severe":
            value[mine] -= 1.0
        elif effect == "central":
            value[mine] = 3.0
        elif effect == "halo":
            value[mine] = per_ratee_impression[mine]
    return Ratings(
        reviewee.astype(np.int64),
        rater.astype(np.int64),
        source.astype(np.int64),
        competency.astype(np.int64),
        value,
        people,
        rater_ids,
        list(COMPETENCIES),
        SCALE,
    )


def _flagged_ids(ratings: Ratings, parameters: RaterEffectParameters) -> dict[str, set[str]]:
    return {
        "leniency": {r.rater for r in leniency_severity(ratings, parameters).flagged},
        "central tendency": {r.rater for r in central_tendency(ratings, parameters).flagged},
        "halo": {r.rater for r in halo(ratings, parameters).flagged},
    }


def test_a_clean_organisation_flags_nobody_in_most_seeds() -> None:
    seeds_with_flags = {"leniency": 0, "central tendency": 0, "halo": 0}
    for seed in range(20):
        for statistic, flagged in _flagged_ids(
            _organisation(seed), RaterEffectParameters()
        ).items():
            seeds_with_flags[statistic] += bool(flagged)
    # Each source's family is controlled at alpha = 0.05: about one seed in twenty at most.
    assert all(count <= 3 for count in seeds_with_flags.values()), seeds_with_flags


def test_without_correction_and_practical_threshold_a_clean_organisation_is_flagged() -> None:
    """The counterpart of the test above, showing it can fail: testing 60 raters per seed
    uncorrected, with no practical threshold, flags somebody in nearly every seed."""
    parameters = RaterEffectParameters(
        min_practical_effect=0.0, central_tendency_ratio=1.0, halo_ratio=1.0, correction="none"
    )
    seeds_with_flags = {"leniency": 0, "central tendency": 0, "halo": 0}
    for seed in range(20):
        for statistic, flagged in _flagged_ids(_organisation(seed), parameters).items():
            seeds_with_flags[statistic] += bool(flagged)
    assert all(count >= 15 for count in seeds_with_flags.values()), seeds_with_flags


def test_planted_lenient_and_severe_raters_are_found() -> None:
    ratings = _organisation(11, planted={"P3": "lenient", "P11": "severe"})
    report = leniency_severity(ratings)
    assert {(r.rater, r.flag) for r in report.flagged} == {("P3", "lenient"), ("P11", "severe")}
    peers = _peers(report.source("peer"))
    for rater, planted in (("P3", 1.0), ("P11", -1.0)):
        result = peers.result_for(rater)
        assert abs(result.d - planted) < 3 * result.se
        assert 0 < result.shrunk / planted < result.d / planted


def test_shrinkage_pulls_few_ratee_estimates_toward_zero_more_than_many_ratee_ones() -> None:
    ratings = _organisation(3, planted={"P0": "lenient", "P1": "lenient"})
    # Keep only three of P0's ratees: the same true effect, measured on far fewer ratees.
    p0 = ratings.rater_ids.index("P0")
    p0_ratees = np.unique(ratings.reviewee[ratings.rater == p0])
    drop = (ratings.rater == p0) & ~np.isin(ratings.reviewee, p0_ratees[:3])
    peers = _peers(leniency_severity(ratings.where(~drop)).source("peer"))
    few, many = peers.result_for("P0"), peers.result_for("P1")
    assert (few.n_ratees, few.reason) == (3, TOO_FEW_RATEES)
    assert many.n_ratees > 15
    assert few.se > many.se
    assert 0 < few.shrunk / few.d < many.shrunk / many.d < 1
    # Shrinkage never changes the sign nor grows an estimate.
    assert np.all(np.abs(peers.shrunk) <= np.abs(peers.d))
    assert np.all(peers.shrunk * peers.d >= 0)


def test_a_rater_with_a_single_ratee_takes_the_pooled_within_variance() -> None:
    rows = [*_lenient_design(), ("R0", "G", "peer", "c1", 4.0)]
    peers = _peers(leniency_severity(Ratings.from_rows(rows, SCALE)).source("peer"))
    g = peers.result_for("G")
    assert g.n_ratees == 1
    assert g.se == pytest.approx(math.sqrt(peers.pooled_within_variance))
    assert g.df == peers.pooled_df
    assert g.reason == TOO_FEW_RATEES


def test_planted_central_tendency_and_halo_raters_are_detected() -> None:
    ratings = _organisation(11, planted={"P5": "central", "P8": "halo"})
    flagged = _flagged_ids(ratings, RaterEffectParameters())
    # Always giving 3 is also zero spread within each ratee: central tendency and halo.
    assert flagged["central tendency"] == {"P5"}
    assert flagged["halo"] == {"P5", "P8"}
    halo_p8 = _spread(halo(ratings).source("peer")).result_for("P8")
    assert (halo_p8.spread, halo_p8.ratio, halo_p8.p) == (0.0, 0.0, 0.0)
    ct_p8 = _spread(central_tendency(ratings).source("peer")).result_for("P8")
    assert ct_p8.ratio is not None
    assert ct_p8.ratio > 1
    assert ct_p8.reason == RATIO_ABOVE_THRESHOLD


# -- central tendency and halo: hand-computed ---------------------------------------------------


def _one_competency(values: dict[str, Sequence[float]]) -> Ratings:
    rows = [
        (f"R{j}", rater, "peer", "c1", v) for rater, vs in values.items() for j, v in enumerate(vs)
    ]
    return Ratings.from_rows(rows, SCALE)


def test_central_tendency_hand_computed() -> None:
    ratings = _one_competency(
        {"A": [3, 3, 3, 3, 3, 3], "B": [1, 2, 3, 4, 5, 3], "C": [2, 4, 3, 5, 1, 3]}
    )
    peers = _spread(central_tendency(ratings).source("peer"))
    a, b = peers.result_for("A"), peers.result_for("B")
    # Sums of squares about the rater's mean: A 0, B 10, C 10, each on 5 df.
    assert (a.spread, a.reference_df) == (0.0, 10)
    assert a.reference_spread == pytest.approx(math.sqrt(2))  # (10 + 10) / (5 + 5)
    assert (a.ratio, a.f, a.p, a.p_adjusted, a.flagged) == (0.0, 0.0, 0.0, 0.0, True)
    assert b.spread == pytest.approx(math.sqrt(2))
    assert b.reference_spread == pytest.approx(1.0)  # (0 + 10) / (5 + 5)
    assert b.ratio == pytest.approx(math.sqrt(2))
    assert b.f == pytest.approx(2.0)
    assert b.p == pytest.approx(stats.f.cdf(2.0, 5, 10))
    assert (b.flagged, b.reason) == (False, RATIO_ABOVE_THRESHOLD)
    assert b.rule.n_tested == 3
    assert [r.rater for r in central_tendency(ratings).flagged] == ["A"]


def test_central_tendency_without_spread_among_the_others() -> None:
    ratings = _one_competency(
        {"A": [1, 2, 3, 4, 5, 3], "B": [3, 3, 3, 3, 3, 3], "C": [4, 4, 4, 4, 4, 4]}
    )
    a = _spread(central_tendency(ratings).source("peer")).result_for("A")
    assert (a.reference_spread, a.ratio, a.p, a.reason) == (None, None, None, NO_REFERENCE_SPREAD)


def test_halo_hand_computed() -> None:
    profiles = {"A": (3.0, 3.0, 3.0), "B": (2.0, 3.0, 4.0), "C": (1.0, 3.0, 5.0)}
    rows = [
        (f"R{j}", rater, "peer", f"c{c}", profile[c] + (j % 2))
        for rater, profile in profiles.items()
        for j in range(5)
        for c in range(3)
    ]
    rows.append(("R9", "B", "peer", "c1", 5.0))  # one competency only: no within-ratee df
    ratings = Ratings.from_rows(rows, SCALE)
    peers = _spread(halo(ratings).source("peer"))
    a, b, c = (peers.result_for(r) for r in "ABC")
    # Within-ratee SS per ratee: A 0, B 2, C 8, each on 2 df; five ratees each.
    assert (a.n_ratees, a.df) == (5, 10)
    assert b.n_ratees == 5  # R9 (one competency) does not count
    assert (a.ratio, a.p, a.flagged) == (0.0, 0.0, True)
    assert b.spread == pytest.approx(1.0)
    assert b.reference_spread == pytest.approx(math.sqrt(40 / 20))
    assert b.ratio == pytest.approx(math.sqrt(0.5))
    assert b.p == pytest.approx(stats.f.cdf(0.5, 10, 20))
    assert (b.flagged, b.reason) == (False, RATIO_ABOVE_THRESHOLD)
    assert c.ratio == pytest.approx(math.sqrt(4 / 0.5))
    halo_strict = RaterEffectParameters(halo_ratio=0.75, alpha=1e-12)
    b_strict = _spread(halo(ratings, halo_strict).source("peer")).result_for("B")
    assert (b_strict.flagged, b_strict.reason) == (False, NOT_SIGNIFICANT)


# -- self-other gaps ----------------------------------------------------------------------------


def _self_other_rows() -> list[Row]:
    return [
        # X: self 5, 4; others c1 (3, 4), c2 (3); c3 has no self rating.
        ("X", "X", "self", "c1", 5), ("X", "X", "self", "c2", 4),
        ("X", "M", "manager", "c1", 3), ("X", "M", "manager", "c2", 3),
        ("X", "P", "peer", "c1", 4), ("X", "M", "manager", "c3", 1),
        # Y: in line; Z: under; U: over (unknown group); T: over (not a subject)
        ("Y", "Y", "self", "c1", 3), ("Y", "Y", "self", "c2", 3),
        ("Y", "M", "manager", "c1", 3.2), ("Y", "Q", "customer", "c2", 3.4),
        ("Z", "Z", "self", "c1", 2), ("Z", "M", "manager", "c1", 4),
        ("U", "U", "self", "c1", 4), ("U", "P", "peer", "c1", 3.4),
        ("T", "T", "self", "c1", 5), ("T", "P", "peer", "c1", 1),
        # W: no self rating; V: self and others on different competencies
        ("W", "M", "manager", "c1", 3),
        ("V", "V", "self", "c3", 5), ("V", "M", "manager", "c1", 3),
    ]  # fmt: skip


def test_self_other_gaps_hand_computed() -> None:
    report = self_other_gaps(Ratings.from_rows(_self_other_rows(), SCALE))
    gaps = {g.reviewee: g for g in report.gaps}
    assert set(gaps) == {"X", "Y", "Z", "U", "T"}
    x = gaps["X"]
    # c1: 5 - (3 + 4) / 2 = 1.5; c2: 4 - 3 = 1; gap = 1.25 over the shared c1, c2.
    assert x.self_mean == pytest.approx(4.5)
    assert x.others_mean == pytest.approx(3.25)
    assert x.gap == pytest.approx(1.25)
    assert (x.n_competencies, x.n_others, x.category) == (2, 2, "over-estimator")
    assert gaps["Y"].gap == pytest.approx(-0.3)
    assert gaps["Y"].category == "in line"
    assert (gaps["Z"].gap, gaps["Z"].category) == (-2.0, "under-estimator")
    assert gaps["U"].gap == pytest.approx(0.6)
    assert (report.n_over, report.n_under, report.n_in_line) == (3, 1, 1)
    assert (report.n_without_self_rating, report.n_without_overlap) == (1, 1)
    assert report.mean_gap == pytest.approx((1.25 - 0.3 - 2 + 0.6 + 4) / 5)
    wide = self_other_gaps(
        Ratings.from_rows(_self_other_rows(), SCALE),
        RaterEffectParameters(self_other_threshold=1.5),
    )
    assert {g.reviewee: g.category for g in wide.gaps}["X"] == "in line"
    at_two = RaterEffectParameters(self_other_threshold=2.0)
    at_the_threshold = self_other_gaps(Ratings.from_rows(_self_other_rows(), SCALE), at_two)
    assert {g.reviewee: g.category for g in at_the_threshold.gaps}["Z"] == "under-estimator"


def test_self_other_breakdown_by_group() -> None:
    ratings = Ratings.from_rows(_self_other_rows(), SCALE)
    ids = ["X", "Y", "Z", "U", "W", "V", "S"]
    subjects = Subjects(
        ids,
        {"department": ["eng", "eng", "ops", None, "ops", None, "eng"]},
        np.full(len(ids), np.nan),
    )
    breakdown = self_other_breakdown(ratings, subjects, "department")
    assert (breakdown.n_unknown, breakdown.n_not_in_subjects) == (1, 1)  # U; T
    eng, ops = breakdown.groups
    assert (eng.value, eng.n) == ("eng", 2)
    assert eng.mean_gap == pytest.approx((1.25 - 0.3) / 2)
    assert (eng.share_over, eng.share_under, eng.share_in_line) == (0.5, 0.0, 0.5)
    assert (ops.value, ops.n, ops.mean_gap, ops.share_under) == ("ops", 1, -2.0, 1.0)
    with pytest.raises(InvalidInput) as error:
        self_other_breakdown(ratings, subjects, "gender")
    assert error.value.field == "attribute"


# -- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_ratees", 1),
        ("min_ratees", 2.5),
        ("min_ratees", True),
        ("min_practical_effect", -0.1),
        ("min_practical_effect", math.nan),
        ("min_practical_effect", "0.5"),
        ("alpha", 0.0),
        ("alpha", 1.0),
        ("correction", "fdr"),
        ("central_tendency_ratio", 0.0),
        ("central_tendency_ratio", 1.5),
        ("halo_ratio", -1.0),
        ("self_other_threshold", -0.5),
        ("self_other_threshold", math.inf),
    ],
)
def test_bad_parameters_are_rejected_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as error:
        RaterEffectParameters(**{field: value})  # type: ignore[arg-type]
    assert error.value.field == field


def test_defaults() -> None:
    p = RaterEffectParameters()
    assert (p.min_ratees, p.min_practical_effect, p.alpha, p.correction) == (5, 0.5, 0.05, "holm")
    assert (p.central_tendency_ratio, p.halo_ratio, p.self_other_threshold) == (0.5, 0.5, 0.5)


def test_no_ratings_at_all_is_insufficient_everywhere_not_an_error() -> None:
    empty = Ratings.from_rows([], SCALE)
    for report in (leniency_severity(empty), central_tendency(empty), halo(empty)):
        assert all(isinstance(s, InsufficientSource) for s in report.sources)
        assert report.flagged == ()
    gaps = self_other_gaps(empty)
    assert (gaps.gaps, gaps.mean_gap, gaps.n_without_self_rating) == ((), None, 0)
