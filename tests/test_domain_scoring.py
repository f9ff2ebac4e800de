"""Scoring by hand: each case works its figures out in comments, so a reader can check them.

Achievement of a goal = (latest value - baseline) / (target - baseline) x 100, bounded by the rule
set's floor and cap. The score is the mean of the bounded achievements weighted by each measured
goal's share; with perspective weights, each perspective present first gets its (renormalised)
weight, then shares it among its goals by goal weight. Rounding (half-even, 2 places) happens last.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest

from domain.goals import Direction, Perspective
from domain.rules import DEFAULT_RULES, RuleSet, Tier
from domain.scoring import GoalFacts, KpiScore, raw_achievement, rounded, score_goals

D = Decimal


def goal(
    number: int,
    *,
    weight: str = "100",
    baseline: str = "0",
    target: str = "8",
    value: str | None,
    direction: Direction = Direction.HIGHER_IS_BETTER,
    perspective: Perspective = Perspective.FINANCIAL,
    title: str | None = None,
) -> GoalFacts:
    return GoalFacts(
        goal_id=UUID(int=number),
        title=title or f"goal {number}",
        weight=D(weight),
        direction=direction,
        baseline=D(baseline),
        target=D(target),
        perspective=perspective,
        latest_value=None if value is None else D(value),
    )


def only(result: KpiScore) -> tuple[Decimal | None, Decimal | None, bool]:
    (contribution,) = result.goals
    return contribution.raw_achievement, contribution.achievement, contribution.capped


# -- achievement of one goal ------------------------------------------------------------------


def test_higher_is_better_achievement_is_the_share_of_the_way_to_the_target() -> None:
    # Quarterly sales growth: baseline 0%, target +8%, measured +6%.
    # (6 - 0) / (8 - 0) x 100 = 75%. One goal carries the whole score: 75.00.
    result = score_goals([goal(1, baseline="0", target="8", value="6")], DEFAULT_RULES)
    assert only(result) == (D("75.00"), D("75.00"), False)
    assert result.score == D("75.00")
    assert result.tier == "B"  # 75 is B's threshold, and a threshold belongs to its tier


def test_lower_is_better_achievement_runs_down_from_baseline_to_target() -> None:
    # Time-to-hire: baseline 45 days, target 30 days, measured 36 days.
    # The way runs down 45 -> 30, 15 days long; 45 -> 36 covers 9 of them.
    # (36 - 45) / (30 - 45) x 100 = -9 / -15 x 100 = 60%.
    time_to_hire = goal(
        1, direction=Direction.LOWER_IS_BETTER, baseline="45", target="30", value="36"
    )
    result = score_goals([time_to_hire], DEFAULT_RULES)
    assert only(result) == (D("60.00"), D("60.00"), False)
    assert result.score == D("60.00")
    assert result.tier == "C"


def test_the_baseline_scores_0_and_the_target_100() -> None:
    assert raw_achievement(Direction.HIGHER_IS_BETTER, D(80), D(90), D(80)) == 0
    assert raw_achievement(Direction.HIGHER_IS_BETTER, D(80), D(90), D(90)) == 100
    assert raw_achievement(Direction.LOWER_IS_BETTER, D(45), D(30), D(45)) == 0
    assert raw_achievement(Direction.LOWER_IS_BETTER, D(45), D(30), D(30)) == 100


def test_achievement_above_the_cap_is_capped() -> None:
    # Sales growth +10% against a target of +8%: 10 / 8 x 100 = 125%, capped at 120%.
    result = score_goals([goal(1, value="10")], DEFAULT_RULES)
    assert only(result) == (D("125.00"), D("120.00"), True)
    assert result.score == D("120.00")


def test_a_higher_cap_lets_more_through() -> None:
    # The same 125% under a cap of 150% stays 125%.
    rules = RuleSet(achievement_cap=D(150), tiers=DEFAULT_RULES.tiers)
    result = score_goals([goal(1, value="10")], rules)
    assert only(result) == (D("125.00"), D("125.00"), False)


def test_achievement_below_the_floor_is_raised_to_the_floor() -> None:
    # Time-to-hire got worse: 50 days. (50 - 45) / (30 - 45) x 100 = 5 / -15 x 100 = -33.33%.
    worse = goal(1, direction=Direction.LOWER_IS_BETTER, baseline="45", target="30", value="50")
    result = score_goals([worse], DEFAULT_RULES)  # floor 0
    assert only(result) == (D("-33.33"), D("0.00"), True)
    assert result.score == D("0.00")
    assert result.tier == "D"
    # Under a floor of 20% the same measurement scores 20.
    floored = score_goals([worse], RuleSet(achievement_floor=D(20), tiers=DEFAULT_RULES.tiers))
    assert only(floored) == (D("-33.33"), D("20.00"), True)
    assert floored.score == D("20.00")


# -- several goals ----------------------------------------------------------------------------


def test_the_score_is_the_weighted_mean_of_bounded_achievements() -> None:
    # Growth, weight 60: 10 / 8 = 125%, capped at 120%; 120 x 0.6 = 72 points.
    # Satisfaction, weight 40: baseline 80, target 90, measured 85: 5 / 10 = 50%; 50 x 0.4 = 20.
    # Score 72 + 20 = 92.00, tier A (from 90).
    growth = goal(1, weight="60", value="10")
    satisfaction = goal(
        2, weight="40", baseline="80", target="90", value="85", perspective=Perspective.CUSTOMER
    )
    result = score_goals([growth, satisfaction], DEFAULT_RULES)
    assert result.score == D("92.00")
    assert result.tier == "A"
    assert result.coverage == D("100.00")
    by_id = {c.goal_id: c for c in result.goals}
    assert by_id[growth.goal_id].contribution == D("72.00")
    assert by_id[growth.goal_id].effective_weight == D("60.00")
    assert by_id[satisfaction.goal_id].contribution == D("20.00")
    assert by_id[satisfaction.goal_id].effective_weight == D("40.00")


def test_unmeasured_goals_are_left_out_of_the_score_but_count_against_coverage() -> None:
    # Measured: weight 60 at 6 / 8 = 75%. Unmeasured: weight 40.
    # The score is the measured goals' mean only: 75.00 (the unmeasured goal does not count as 0,
    # which would give 75 x 0.6 = 45). Coverage: 60 of 100 weight measured = 60.00%.
    measured = goal(1, weight="60", value="6")
    unmeasured = goal(2, weight="40", value=None)
    result = score_goals([measured, unmeasured], DEFAULT_RULES)
    assert result.score == D("75.00")
    assert result.coverage == D("60.00")
    blank = next(c for c in result.goals if c.goal_id == unmeasured.goal_id)
    assert blank.latest_value is None
    assert blank.raw_achievement is None
    assert blank.achievement is None
    assert blank.effective_weight == D(0)
    assert blank.contribution == D(0)


def test_without_any_measurement_there_is_no_score_and_no_tier() -> None:
    result = score_goals([goal(1, weight="50", value=None)], DEFAULT_RULES)
    assert result.score is None
    assert result.tier is None
    assert result.coverage == D("0.00")


def test_without_goals_there_is_no_score_and_coverage_is_0() -> None:
    result = score_goals([], DEFAULT_RULES)
    assert result == KpiScore(score=None, coverage=D(0), tier=None, goals=())


# The balanced-scorecard example used by the next tests. Rule set: financial 50, customer 30,
# internal process 20.
#   F1 financial, weight 30, baseline 0 target 8, measured 8    -> 100%
#   F2 financial, weight 20, baseline 0 target 8, measured 4.8  -> 4.8 / 8 = 60%
#   C1 customer,  weight 60, baseline 80 target 90, measured 85 -> 5 / 10 = 50%
#   I1 internal,  weight 50, not measured
BALANCED = RuleSet(
    perspective_weights={
        Perspective.FINANCIAL: D(50),
        Perspective.CUSTOMER: D(30),
        Perspective.INTERNAL_PROCESS: D(20),
    },
    tiers=DEFAULT_RULES.tiers,
).validated()
F1 = goal(1, title="F1", weight="30", value="8")
F2 = goal(2, title="F2", weight="20", value="4.8")
C1 = goal(
    3,
    title="C1",
    weight="60",
    baseline="80",
    target="90",
    value="85",
    perspective=Perspective.CUSTOMER,
)
I1 = goal(4, title="I1", weight="50", value=None, perspective=Perspective.INTERNAL_PROCESS)


def test_perspective_weights_are_renormalised_over_the_perspectives_present() -> None:
    # Internal process has no measured goal, so only financial (50) and customer (30) are present:
    # financial gets 50 / 80 = 0.625 of the score, customer 30 / 80 = 0.375.
    # Financial splits 0.625 by goal weight 30 : 20 -> F1 0.375, F2 0.25.   C1 gets all of 0.375.
    #   F1 0.375 x 100 = 37.5    F2 0.25 x 60 = 15    C1 0.375 x 50 = 18.75
    # Score 37.5 + 15 + 18.75 = 71.25, tier C (60 to 75).
    # Coverage counts goal weights: (30 + 20 + 60) / (30 + 20 + 60 + 50) = 110 / 160 = 68.75%.
    result = score_goals([F1, F2, C1, I1], BALANCED)
    assert result.score == D("71.25")
    assert result.tier == "C"
    assert result.coverage == D("68.75")
    by_title = {c.title: c for c in result.goals}
    assert {t: c.effective_weight for t, c in by_title.items()} == {
        "F1": D("37.50"),
        "F2": D("25.00"),
        "C1": D("37.50"),
        "I1": D(0),
    }
    assert {t: c.contribution for t, c in by_title.items()} == {
        "F1": D("37.50"),
        "F2": D("15.00"),
        "C1": D("18.75"),
        "I1": D(0),
    }


def test_contributions_add_up_to_the_score() -> None:
    result = score_goals([F1, F2, C1, I1], BALANCED)
    assert sum(c.contribution for c in result.goals) == result.score
    assert sum(c.effective_weight for c in result.goals) == D(100)


def test_without_perspective_weights_goal_weights_alone_decide() -> None:
    # The same goals without perspective weights: shares 30 : 20 : 60 of 110.
    # (30 x 100 + 20 x 60 + 60 x 50) / 110 = (3000 + 1200 + 3000) / 110 = 7200 / 110 = 65.4545...
    # -> 65.45, tier C.
    result = score_goals([F1, F2, C1, I1], DEFAULT_RULES)
    assert result.score == D("65.45")
    assert result.coverage == D("68.75")


def test_a_measured_goal_in_a_perspective_without_weight_drops_out() -> None:
    # A learning goal at 0% under rules that give learning no weight: it gets no share, so the
    # score stays what financial and customer make it (71.25), yet its weight counts as measured.
    learning = goal(
        5, title="L1", weight="40", value="0", perspective=Perspective.LEARNING_AND_GROWTH
    )
    result = score_goals([F1, F2, C1, learning], BALANCED)
    assert result.score == D("71.25")
    assert result.coverage == D("100.00")
    dropped = next(c for c in result.goals if c.title == "L1")
    assert dropped.achievement == D("0.00")
    assert dropped.effective_weight == D("0.00")
    assert dropped.contribution == D("0.00")


def test_goals_only_in_unweighted_perspectives_fall_back_to_goal_weights() -> None:
    # Rules weigh financial and customer only; both measured goals are about learning, so no
    # weighted perspective is present and goal weights decide: (3 x 100 + 1 x 60) / 4 = 90.
    learning = Perspective.LEARNING_AND_GROWTH
    goals = [
        goal(1, weight="75", value="8", perspective=learning),
        goal(2, weight="25", value="4.8", perspective=learning),
    ]
    assert score_goals(goals, BALANCED).score == D("90.00")


def test_contributions_are_listed_by_perspective_then_title() -> None:
    result = score_goals([F2, I1, F1, C1], BALANCED)
    assert [c.title for c in result.goals] == ["C1", "F1", "F2", "I1"]


# -- rounding and tiers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "achievement"),
    [
        # Baseline 0, target 200: achievement = value / 2.
        ("24.69", "12.34"),  # 12.345 -> 12.34: a half goes to the even neighbour (4), not up
        ("24.71", "12.36"),  # 12.355 -> 12.36: the even neighbour is 6
        ("24.692", "12.35"),  # 12.346 -> 12.35: not a half, ordinary rounding
    ],
)
def test_figures_are_rounded_half_even_to_two_places(value: str, achievement: str) -> None:
    result = score_goals([goal(1, target="200", value=value)], DEFAULT_RULES)
    assert result.score == D(achievement)
    assert only(result)[1] == D(achievement)


def test_rounding_half_even() -> None:
    assert rounded(D("0.125")) == D("0.12")
    assert rounded(D("0.135")) == D("0.14")
    assert rounded(D("-0.125")) == D("-0.12")
    assert str(rounded(D(7))) == "7.00"


def test_the_score_is_rounded_once_from_exact_figures() -> None:
    # Three equal goals at 100%, 100% and 50%: exact score 250 / 3 = 83.333...
    # -> 83.33; each share is 1/3, shown as 33.33%.
    goals = [
        goal(1, weight="1", value="8"),
        goal(2, weight="1", value="8"),
        goal(3, weight="1", value="4"),
    ]
    result = score_goals(goals, DEFAULT_RULES)
    assert result.score == D("83.33")
    assert [c.effective_weight for c in result.goals] == [D("33.33")] * 3
    assert [c.contribution for c in result.goals] == [D("33.33"), D("33.33"), D("16.67")]


@pytest.mark.parametrize(
    ("value", "score", "tier"),
    [
        # Baseline 0, target 200: achievement = value / 2; tiers A 90, B 75, C 60, D 0.
        ("179.99", "90.00", "A"),  # 89.995 rounds half-even up to 90.00, which is tier A
        ("179.97", "89.98", "B"),  # 89.985 rounds half-even down to 89.98
        ("150", "75.00", "B"),
        ("149.98", "74.99", "C"),
        ("120", "60.00", "C"),
        ("0", "0.00", "D"),
    ],
)
def test_the_tier_follows_the_rounded_score(value: str, score: str, tier: str) -> None:
    result = score_goals([goal(1, target="200", value=value)], DEFAULT_RULES)
    assert result.score == D(score)
    assert result.tier == tier


def test_custom_tiers_are_applied() -> None:
    rules = RuleSet(tiers=[Tier("star of the month", D(100)), Tier("on track", D(0))])
    assert score_goals([goal(1, value="8")], rules).tier == "star of the month"
    assert score_goals([goal(1, value="7.99")], rules).tier == "on track"
