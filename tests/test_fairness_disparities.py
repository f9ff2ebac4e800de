"""Group disparities: hand-computed means, SDs, Hedges' g, rates, impact ratios and Fisher tests;
permutation p-values against exact enumeration, their reproducibility, a planted disparity and a
null case; suppression as the reports apply it; bad input."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from numpy.random import PCG64, Generator

from domain.errors import InvalidInput
from domain.fairness.data import Subjects
from domain.fairness.disparities import (
    DisparityParameters,
    DisparityReport,
    GroupScoreDisparity,
    GroupSelection,
    InsufficientDisparityData,
    OutcomeDisparities,
    ScoreDisparities,
    adjust_p_values,
    audit_disparities,
    disparity_report,
    group_people,
)
from domain.fairness.suppression import SuppressionReason


def subjects(
    groups: Mapping[str, Sequence[str | None]],
    score: Sequence[float],
    selections: Mapping[str, Sequence[bool]] | None = None,
) -> Subjects:
    n = len(score)
    return Subjects(
        ids=[f"e{i:04d}" for i in range(n)],
        groups=groups,
        score=np.asarray(score, dtype=np.float64),
        selections={k: np.asarray(v, dtype=np.bool_) for k, v in (selections or {}).items()},
    )


def scores_of(report: DisparityReport) -> ScoreDisparities:
    assert isinstance(report.scores, ScoreDisparities), report.scores
    return report.scores


def outcome_of(report: DisparityReport, index: int = 0) -> OutcomeDisparities:
    table = report.selections[index]
    assert isinstance(table, OutcomeDisparities), table
    return table


def by_label_score(table: ScoreDisparities) -> dict[str, GroupScoreDisparity]:
    return {g.label: g for g in table.groups}


def by_label_selection(table: OutcomeDisparities) -> dict[str, GroupSelection]:
    return {g.label: g for g in table.groups}


# Three teams of five. A: 1..5 (mean 3), B: 2..6 (mean 4), C: 3..7 (mean 5).
# Selected: A 1 of 5, B 2 of 5, C 4 of 5.
TEAMS = ["A"] * 5 + ["B"] * 5 + ["C"] * 5
TEAM_SCORES = [1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7]
TEAM_SELECTED = [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0]


def team_report(**parameters: object) -> DisparityReport:
    subject = subjects(
        {"team": TEAMS}, TEAM_SCORES, {"tier:exceeds": [bool(x) for x in TEAM_SELECTED]}
    )
    return disparity_report(subject, "team", DisparityParameters(seed=1, **parameters))  # type: ignore[arg-type]


# -- hand-computed scores ------------------------------------------------------------------------


def test_means_sds_and_differences_by_hand() -> None:
    table = scores_of(team_report())
    a = by_label_score(table)["A"]
    assert (a.n, a.scored, a.rest_n) == (5, 5, 10)
    assert a.mean == pytest.approx(3.0)
    # SD of 1..5 = sqrt(10 / 4)
    assert a.sd == pytest.approx(math.sqrt(2.5))
    # Rest = B and C: mean 4.5, squared deviations 11.25 + 11.25 = 22.5 over 9 df
    assert a.rest_mean == pytest.approx(4.5)
    assert a.rest_sd == pytest.approx(math.sqrt(2.5))
    assert a.difference == pytest.approx(-1.5)
    assert by_label_score(table)["C"].difference == pytest.approx(1.5)
    assert by_label_score(table)["B"].difference == pytest.approx(0.0)
    assert table.population == 15


def test_hedges_g_by_hand() -> None:
    # pooled SD = sqrt((10 + 22.5) / 13) = sqrt(2.5); d = -1.5 / sqrt(2.5) = -0.948683;
    # J = 1 - 3 / (4 * 15 - 9) = 48 / 51; g = -0.892878
    a = by_label_score(scores_of(team_report()))["A"]
    assert a.hedges_g == pytest.approx(-1.5 / math.sqrt(2.5) * 48 / 51)
    assert a.hedges_g == pytest.approx(-0.892878, abs=1e-6)


def test_omnibus_statistic_by_hand() -> None:
    # grand mean 4: 5 (3 - 4)^2 + 5 (4 - 4)^2 + 5 (5 - 4)^2 = 10
    omnibus = scores_of(team_report()).omnibus
    assert omnibus.statistic == pytest.approx(10.0)
    assert omnibus.groups == 3
    assert 0 < omnibus.p_value <= 1


def test_hedges_g_is_none_when_every_score_is_the_same() -> None:
    report = disparity_report(
        subjects({"team": TEAMS}, [3.0] * 15), "team", DisparityParameters(seed=1)
    )
    table = scores_of(report)
    assert all(g.hedges_g is None for g in table.groups)
    # every permutation ties with the observed (zero) difference
    assert all(g.p_value == 1.0 for g in table.groups)


def rated_team_report(min_group_size: int) -> DisparityReport:
    rating = np.array([2.0] * 5 + [3.0] * 5 + [4.0] * 5)
    adjusted = rating + np.array([0.5] * 5 + [0.0] * 5 + [-0.5] * 5)
    adjusted[14] = np.nan  # one C without an adjusted rating
    return disparity_report(
        subjects({"team": TEAMS}, TEAM_SCORES),
        "team",
        DisparityParameters(seed=1, min_group_size=min_group_size),
        mean_rating=rating,
        adjusted_mean_rating=adjusted,
    )


def test_mean_rating_and_adjusted_mean_rating_gaps() -> None:
    groups = by_label_score(scores_of(rated_team_report(min_group_size=4)))
    gap = groups["A"].mean_rating
    assert gap is not None
    assert (gap.n, gap.mean, gap.rest_mean, gap.difference) == (5, 2.0, 3.5, -1.5)
    adjusted_gap = groups["A"].adjusted_mean_rating
    assert adjusted_gap is not None
    # A: 2.5; rest: five B at 3.0 and four C at 3.5 -> 29 / 9
    assert adjusted_gap.mean == pytest.approx(2.5)
    assert adjusted_gap.rest_mean == pytest.approx(29 / 9)
    assert adjusted_gap.difference == pytest.approx(2.5 - 29 / 9)
    c_gap = groups["C"].adjusted_mean_rating
    assert c_gap is not None
    assert c_gap.n == 4


def test_a_group_with_too_few_ratings_is_suppressed_in_the_score_table() -> None:
    # With the default minimum of 5, C's adjusted mean rating would rest on 4 people: the score
    # table suppresses C, and A to hide it (A and B have five scores each: the first of equals);
    # the head counts still publish all three.
    report = rated_team_report(min_group_size=5)
    assert [c.label for c in report.counts] == ["A", "B", "C"]
    assert isinstance(report.scores, InsufficientDisparityData)
    assert {c.label: c.reason for c in report.scores.suppressed} == {
        "A": SuppressionReason.COMPLEMENTARY,
        "C": SuppressionReason.SMALL_GROUP,
    }


def test_without_ratings_there_are_no_rating_gaps() -> None:
    groups = scores_of(team_report()).groups
    assert all(g.mean_rating is None and g.adjusted_mean_rating is None for g in groups)


# -- hand-computed selections ---------------------------------------------------------------------


def test_rates_impact_ratios_and_four_fifths_by_hand() -> None:
    table = outcome_of(team_report())
    assert table.outcome == "tier:exceeds"
    assert table.reference == "C"
    assert table.reference_rate == pytest.approx(0.8)
    groups = by_label_selection(table)
    assert groups["A"].selected == 1
    assert groups["A"].rate == pytest.approx(0.2)
    assert groups["A"].impact_ratio == pytest.approx(0.25)
    assert groups["B"].impact_ratio == pytest.approx(0.5)
    assert groups["C"].impact_ratio == 1.0
    assert groups["A"].below_four_fifths
    assert groups["B"].below_four_fifths
    assert not groups["C"].below_four_fifths
    assert groups["C"].reference
    assert groups["C"].p_value is None
    assert groups["C"].odds_ratio is None


def test_fisher_tests_against_the_reference_by_hand() -> None:
    groups = by_label_selection(outcome_of(team_report()))
    # A vs C: [[1, 4], [4, 1]]; hypergeometric C(5,a)^2 / 252, two-sided: a in {0,1,4,5} -> 52/252
    assert groups["A"].p_value == pytest.approx(52 / 252)
    assert groups["A"].odds_ratio == pytest.approx(1 / 16)
    # B vs C: [[2, 3], [4, 1]]; C(6,a) C(4,5-a) / 252 = 6, 60, 120, 60, 6: a in {1,2,4,5} -> 132/252
    assert groups["B"].p_value == pytest.approx(132 / 252)
    assert groups["B"].odds_ratio == pytest.approx(1 / 6)
    # Holm: 2 x 52/252 = 0.4127, then max(0.4127, 132/252) = 0.5238
    assert groups["A"].p_adjusted == pytest.approx(2 * 52 / 252)
    assert groups["B"].p_adjusted == pytest.approx(132 / 252)
    # Below four-fifths but not significant: reported, not flagged.
    assert not groups["A"].significant
    assert not groups["A"].flagged


def test_tea_tasting_table() -> None:
    # Fisher (1935): [[3, 1], [1, 3]], two-sided p = 34/70 = 0.4857.
    teams = ["milk first"] * 4 + ["tea first"] * 4
    guessed = [True, True, True, False, True, False, False, False]
    report = disparity_report(
        subjects({"cup": teams}, [0.0] * 8, {"guessed milk first": guessed}),
        "cup",
        DisparityParameters(seed=1, min_group_size=4, min_intersection_size=4),
    )
    tea = by_label_selection(outcome_of(report))["tea first"]
    assert tea.p_value == pytest.approx(0.4857, abs=1e-4)
    assert tea.p_value == pytest.approx(34 / 70)
    assert tea.odds_ratio == pytest.approx(1 / 9)
    assert tea.impact_ratio == pytest.approx(1 / 3)


def test_corrections() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_p_values(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_p_values(p, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    assert adjust_p_values(p, "none") == pytest.approx(p)
    assert adjust_p_values([0.6, 0.7], "holm") == pytest.approx([1.0, 1.0])
    assert adjust_p_values([], "holm").size == 0


def test_bonferroni_report() -> None:
    groups = by_label_selection(outcome_of(team_report(correction="bonferroni")))
    assert groups["A"].p_adjusted == pytest.approx(2 * 52 / 252)
    assert groups["B"].p_adjusted == pytest.approx(1.0)


# -- permutation p-values ------------------------------------------------------------------------


def exact_group_vs_rest_p(scores: Sequence[float], group: Sequence[int]) -> float:
    """Two-sided p of |mean(group) - mean(rest)| over every way of choosing the group."""
    x = np.asarray(scores, dtype=float)
    k, n = len(group), len(x)

    def statistic(members: Sequence[int]) -> float:
        inside = np.zeros(n, dtype=bool)
        inside[list(members)] = True
        return float(abs(x[inside].mean() - x[~inside].mean()))

    observed = statistic(group)
    draws = [statistic(c) for c in itertools.combinations(range(n), k)]
    return float(np.mean([d >= observed - 1e-12 for d in draws]))


def test_permutation_p_matches_exact_enumeration() -> None:
    # 2 x 5 people: 252 ways to pick the first group. With B = 20,000 the Monte Carlo p lies
    # within 0.01 of the exact one (SE ~ 0.0035).
    scores = [2.1, 3.4, 2.8, 3.9, 2.5, 4.2, 3.7, 4.8, 3.1, 4.4]
    groups = ["X"] * 5 + ["Y"] * 5
    report = disparity_report(
        subjects({"g": groups}, scores),
        "g",
        DisparityParameters(seed=5, permutations=20_000),
    )
    exact = exact_group_vs_rest_p(scores, range(5))
    x = by_label_score(scores_of(report))["X"]
    assert exact == pytest.approx(12 / 252)
    assert x.p_value == pytest.approx(exact, abs=0.01)
    # with two groups the omnibus statistic is a function of the same difference
    assert scores_of(report).omnibus.p_value == pytest.approx(exact, abs=0.01)


def random_teams(seed: int, shift: float = 0.0) -> Subjects:
    """Four teams (A has 60 people, the others 200, 200, 140), normal scores with SD 1; team A
    shifted by ``shift`` SDs; 'tier:exceeds' = score above 0.5."""
    rng = Generator(PCG64(seed))
    teams = ["A"] * 60 + ["B"] * 200 + ["C"] * 200 + ["D"] * 140
    score = rng.normal(0.0, 1.0, len(teams))
    score[:60] += shift
    return subjects({"team": teams}, score.tolist(), {"tier:exceeds": (score > 0.5).tolist()})


def test_permutation_p_is_reproducible_with_the_seed() -> None:
    data = random_teams(2)
    first = scores_of(disparity_report(data, "team", DisparityParameters(seed=11)))
    again = scores_of(disparity_report(data, "team", DisparityParameters(seed=11)))
    other = scores_of(disparity_report(data, "team", DisparityParameters(seed=12)))
    assert [g.p_value for g in first.groups] == [g.p_value for g in again.groups]
    assert first.omnibus.p_value == again.omnibus.p_value
    assert [g.p_value for g in first.groups] != [g.p_value for g in other.groups]
    for g in first.groups:  # (exceedances + 1) / (B + 1), never 0
        assert (g.p_value * 2001) == pytest.approx(round(g.p_value * 2001))
        assert g.p_value >= 1 / 2001


def test_p_values_do_not_depend_on_the_other_groupings_of_an_audit() -> None:
    data = random_teams(3)
    groups = dict(data.groups)
    groups["half"] = ["first"] * 300 + ["second"] * 300
    data = Subjects(data.ids, groups, data.score, data.selections)
    alone = disparity_report(data, "team", DisparityParameters(seed=4))
    together = audit_disparities(data, ["half", "team"], DisparityParameters(seed=4))
    assert [g.p_value for g in scores_of(together[1]).groups] == [
        g.p_value for g in scores_of(alone).groups
    ]


def test_planted_disparity_is_detected() -> None:
    report = disparity_report(random_teams(7, shift=-1.0), "team", DisparityParameters(seed=1))
    table = scores_of(report)
    a = by_label_score(table)["A"]
    assert a.n == 60
    assert a.difference == pytest.approx(-1.0, abs=0.3)
    assert a.hedges_g is not None
    assert a.hedges_g < -0.7
    assert a.p_value < 0.01
    assert a.p_adjusted < 0.01
    assert a.significant
    assert table.omnibus.p_value < 0.01
    selection = by_label_selection(outcome_of(report))["A"]
    assert selection.below_four_fifths
    assert selection.significant
    assert selection.flagged


def test_null_case_is_not_flagged() -> None:
    report = disparity_report(random_teams(7, shift=0.0), "team", DisparityParameters(seed=1))
    table = scores_of(report)
    assert not any(g.significant for g in table.groups)
    assert table.omnibus.p_value > 0.05
    assert not any(g.flagged for g in outcome_of(report).groups)


# -- suppression in the reports -----------------------------------------------------------------


def sized_teams(sizes: Mapping[str, int], seed: int = 1) -> tuple[list[str], np.ndarray]:
    teams = [team for team, n in sizes.items() for _ in range(n)]
    return teams, Generator(PCG64(seed)).normal(3.0, 0.5, len(teams))


def test_small_group_and_its_complement_get_no_statistics() -> None:
    teams, score = sized_teams({"A": 20, "B": 15, "C": 3, "D": 12})
    selected = [False] * 50
    selected[35:38] = [True, True, True]  # C: everyone selected, the highest rate
    selected[0:4] = [True] * 4  # A: 4 of 20
    selected[20:22] = [True] * 2  # B: 2 of 15
    selected[40] = True  # D: 1 of 12
    report = disparity_report(
        subjects({"team": teams}, score.tolist(), {"reward:bonus": selected}),
        "team",
        DisparityParameters(seed=1),
    )
    decisions = {c.label: c.reason for c in report.suppression.cells}
    assert decisions == {
        "A": None,
        "B": None,
        "C": SuppressionReason.SMALL_GROUP,
        "D": SuppressionReason.COMPLEMENTARY,
    }
    assert [(c.label, c.n) for c in report.counts] == [("A", 20), ("B", 15)]
    table = scores_of(report)
    assert [g.label for g in table.groups] == ["A", "B"]
    assert {c.label: c.reason for c in table.suppressed} == {
        "C": SuppressionReason.SMALL_GROUP,
        "D": SuppressionReason.COMPLEMENTARY,
    }
    # the suppressed people still count in the rest
    a = by_label_score(table)["A"]
    assert a.rest_n == 30
    assert a.rest_mean == pytest.approx(float(np.mean(score[20:])))
    # C has the highest rate but is suppressed: the reference is A (0.2) not C (1.0)
    selections = outcome_of(report)
    assert selections.reference == "A"
    assert [g.label for g in selections.groups] == ["A", "B"]


def test_fewer_than_two_published_groups_is_insufficient() -> None:
    teams, score = sized_teams({"A": 20, "B": 15, "C": 3})
    report = disparity_report(
        subjects({"team": teams}, score.tolist(), {"tier:exceeds": [True] * 38}),
        "team",
        DisparityParameters(seed=1),
    )
    assert [c.label for c in report.counts] == ["A"]
    assert isinstance(report.scores, InsufficientDisparityData)
    assert report.scores.subject == "score"
    assert report.scores.published_groups == 1
    assert "fewer than two groups" in report.scores.reason
    (outcome,) = report.selections
    assert isinstance(outcome, InsufficientDisparityData)
    assert outcome.subject == "tier:exceeds"


def test_nobody_selected_is_insufficient() -> None:
    report = disparity_report(
        subjects({"team": TEAMS}, TEAM_SCORES, {"reward:bonus": [False] * 15}),
        "team",
        DisparityParameters(seed=1),
    )
    (outcome,) = report.selections
    assert isinstance(outcome, InsufficientDisparityData)
    assert "nobody" in outcome.reason


def test_nobody_scored_is_insufficient() -> None:
    report = disparity_report(
        subjects({"team": TEAMS}, [math.nan] * 15), "team", DisparityParameters(seed=1)
    )
    assert isinstance(report.scores, InsufficientDisparityData)
    assert "final score" in report.scores.reason
    assert len(report.counts) == 3


def test_score_table_suppresses_groups_with_too_few_scores() -> None:
    # D has 8 people (published in the counts) but only 3 scores: its mean is three people's.
    teams, score = sized_teams({"A": 20, "B": 15, "C": 12, "D": 8})
    score[50:55] = math.nan
    report = disparity_report(
        subjects({"team": teams}, score.tolist()), "team", DisparityParameters(seed=1)
    )
    assert [c.label for c in report.counts] == ["A", "B", "C", "D"]
    table = scores_of(report)
    assert {c.label: c.reason for c in table.suppressed} == {
        "D": SuppressionReason.SMALL_GROUP,
        "C": SuppressionReason.COMPLEMENTARY,
    }
    assert table.population == 50


def test_differencing_against_an_earlier_report() -> None:
    teams, score = sized_teams({"A": 21, "B": 20, "C": 19})
    data = subjects({"team": teams}, score.tolist())
    earlier = {
        "A": frozenset(data.ids[:20]),  # one person has joined A since
        "B": frozenset(data.ids[21:41]),
        "C": frozenset(data.ids[41:60]),
    }
    report = disparity_report(data, "team", DisparityParameters(seed=1), previous=[earlier])
    decisions = {c.label: c.reason for c in report.suppression.cells}
    assert decisions == {
        "A": SuppressionReason.DIFFERENCING,
        "B": None,
        "C": SuppressionReason.COMPLEMENTARY,
    }
    assert isinstance(report.scores, InsufficientDisparityData)
    unchanged = disparity_report(
        data,
        "team",
        DisparityParameters(seed=1),
        previous=[{**earlier, "A": frozenset(data.ids[:21])}],
    )
    assert all(c.published for c in unchanged.suppression.cells)


# -- intersections and unknown values ---------------------------------------------------------


def test_unknown_values_are_excluded_and_counted() -> None:
    gender: list[str | None] = ["F"] * 6 + ["M"] * 6 + [None] * 3
    score = [3.0] * 6 + [4.0] * 6 + [100.0] * 3
    report = disparity_report(
        subjects({"gender": gender}, score), "gender", DisparityParameters(seed=1)
    )
    assert (report.people, report.analysed, report.excluded_unknown) == (15, 12, 3)
    f = by_label_score(scores_of(report))["F"]
    # the rest of F is M only: the unknown people's scores are nowhere
    assert (f.rest_n, f.rest_mean, f.difference) == (6, 4.0, -1.0)
    assert scores_of(report).population == 12


def test_intersection_labels_minimum_and_exclusions() -> None:
    # Women: Berlin 16, Paris 7, Lisbon 14, Rome 7; men: Berlin 15, Paris 17, Lisbon 12 and one
    # of unknown location; four people of unknown gender.
    gender: list[str | None] = ["F"] * 44 + ["M"] * 45 + [None] * 4
    location: list[str | None] = (
        ["Berlin"] * 16 + ["Paris"] * 7 + ["Lisbon"] * 14 + ["Rome"] * 7
        + ["Berlin"] * 15 + ["Paris"] * 17 + ["Lisbon"] * 12 + [None]
        + [None] + ["Berlin"] * 3
    )  # fmt: skip
    score = Generator(PCG64(1)).normal(3.0, 0.5, len(gender))
    data = subjects({"gender": gender, "location": location}, score.tolist())
    report = disparity_report(data, ["gender", "location"], DisparityParameters(seed=1))
    x = "\u00d7"
    assert report.name == f"gender {x} location"
    assert report.min_size == 10
    assert (report.people, report.analysed, report.excluded_unknown) == (93, 88, 5)
    decisions = {c.label: c.reason for c in report.suppression.cells}
    # F x Paris and F x Rome (7 each) would do for one attribute, not for an intersection.
    # F x Paris alone in the Paris column brings M x Paris, which alone in the M row brings
    # M x Lisbon, which alone in the Lisbon column brings F x Lisbon: a closed ring.
    assert decisions == {
        f"F {x} Berlin": None,
        f"F {x} Lisbon": SuppressionReason.COMPLEMENTARY,
        f"F {x} Paris": SuppressionReason.SMALL_GROUP,
        f"F {x} Rome": SuppressionReason.SMALL_GROUP,
        f"M {x} Berlin": None,
        f"M {x} Lisbon": SuppressionReason.COMPLEMENTARY,
        f"M {x} Paris": SuppressionReason.COMPLEMENTARY,
    }
    # Rome has only women: that column's one cell equals the Rome total of the location table.
    assert report.suppression.exposed == (f"F {x} Rome",)
    assert [(c.label, c.n) for c in report.counts] == [(f"F {x} Berlin", 16), (f"M {x} Berlin", 15)]
    assert [g.label for g in scores_of(report).groups] == [f"F {x} Berlin", f"M {x} Berlin"]
    # the same people by gender alone: the smaller minimum, fewer exclusions
    by_gender = disparity_report(data, "gender", DisparityParameters(seed=1))
    assert by_gender.min_size == 5
    assert (by_gender.analysed, by_gender.excluded_unknown) == (89, 4)
    assert [(c.label, c.n) for c in by_gender.counts] == [("F", 44), ("M", 45)]


def test_an_attribute_nobody_has_is_insufficient() -> None:
    data = subjects({"gender": [None] * 15}, TEAM_SCORES, {"tier:exceeds": [True] * 15})
    report = disparity_report(
        data, "gender", DisparityParameters(seed=1), previous=[{"F": frozenset()}]
    )
    assert (report.analysed, report.excluded_unknown, report.counts) == (0, 15, ())
    assert isinstance(report.scores, InsufficientDisparityData)
    assert isinstance(report.selections[0], InsufficientDisparityData)


def test_group_people_sorts_cells_and_codes_people() -> None:
    data = subjects({"a": ["x", "y", None, "x"], "b": ["p", "p", "q", "q"]}, [1.0] * 4)
    grouping = group_people(data, ["a", "b"])
    assert grouping.cells == (("x", "p"), ("x", "q"), ("y", "p"))
    assert grouping.cell.tolist() == [0, 2, -1, 1]
    assert grouping.sizes.tolist() == [1, 1, 1]
    assert grouping.excluded_unknown == 1
    assert grouping.labels == ("x \u00d7 p", "x \u00d7 q", "y \u00d7 p")


# -- parameters and bad input ---------------------------------------------------------------------


def test_parameter_defaults() -> None:
    parameters = DisparityParameters(seed=0)
    assert (parameters.min_group_size, parameters.min_intersection_size) == (5, 10)
    assert (parameters.permutations, parameters.alpha, parameters.four_fifths) == (2000, 0.05, 0.8)
    assert parameters.correction == "holm"
    assert (parameters.min_size(1), parameters.min_size(2)) == (5, 10)


def test_seed_is_required() -> None:
    with pytest.raises(TypeError):
        DisparityParameters()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": True}, "seed"),
        ({"min_group_size": 1}, "min_group_size"),
        ({"min_group_size": 5.0}, "min_group_size"),
        ({"min_intersection_size": 4}, "min_intersection_size"),
        ({"permutations": 99}, "permutations"),
        ({"permutations": 100_001}, "permutations"),
        ({"alpha": 0}, "alpha"),
        ({"alpha": 1}, "alpha"),
        ({"alpha": "0.05"}, "alpha"),
        ({"four_fifths": 0}, "four_fifths"),
        ({"four_fifths": 1.2}, "four_fifths"),
        ({"correction": "fdr"}, "correction"),
    ],
)
def test_bad_parameters_name_the_field(changes: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"seed": 1}
    arguments.update(changes)
    with pytest.raises(InvalidInput) as error:
        DisparityParameters(**arguments)  # type: ignore[arg-type]
    assert error.value.field == field


def test_bounds_of_the_parameters_are_accepted() -> None:
    DisparityParameters(seed=0, permutations=100, four_fifths=1.0, min_group_size=2)
    DisparityParameters(seed=0, permutations=100_000, correction="none")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, p: disparity_report(s, "nope", p), "attributes"),
        (lambda s, p: disparity_report(s, [], p), "attributes"),
        (lambda s, p: disparity_report(s, ["team", "team"], p), "attributes"),
        (lambda s, p: disparity_report(s, "team", p, outcomes=["tier:none"]), "outcomes"),
        (lambda s, p: disparity_report(s, "team", p, mean_rating=np.zeros(3)), "mean_rating"),
        (
            lambda s, p: disparity_report(s, "team", p, adjusted_mean_rating=np.zeros(3)),
            "adjusted_mean_rating",
        ),
        (lambda s, p: audit_disparities(s, ["team"], p, previous={"other": []}), "previous"),
    ],
)
def test_bad_input_names_the_field(call: object, field: str) -> None:
    data = subjects({"team": TEAMS}, TEAM_SCORES, {"tier:exceeds": [True] * 15})
    with pytest.raises(InvalidInput) as error:
        call(data, DisparityParameters(seed=1))  # type: ignore[operator]
    assert error.value.field == field
