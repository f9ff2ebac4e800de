"""The appraisal result and the rewards it proposes, as pure functions.

The first test is a worked example to follow with a pencil: every figure of the breakdown is
computed by hand in the comments. The tests after it change one thing at a time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from domain.evaluation import (
    Evaluation,
    SourceResult,
    SubmittedReview,
    evaluate,
    visible_to_reviewee,
)
from domain.goals import Direction
from domain.proposals import (
    Measurement,
    MetricHistory,
    Proposal,
    longest_run,
    months_met,
    propose_rewards,
    streaks,
)
from domain.provenance import Provenance, Role
from domain.reviews import (
    Appraisal,
    Competency,
    CycleDeadlines,
    CycleDefinition,
    RaterSource,
    Rating,
    RatingScale,
    rater_key,
)
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import EligibilityRule, RuleSet, Tier, TierReward

MANAGER, PEER, CUSTOMER, SELF = (
    RaterSource.MANAGER,
    RaterSource.PEER,
    RaterSource.CUSTOMER,
    RaterSource.SELF,
)
REVIEWEE = UUID("00000000-0000-0000-0000-0000000000a1")
BOSS = UUID("00000000-0000-0000-0000-0000000000b1")
CYCLE = UUID("00000000-0000-0000-0000-0000000000c1")
LEVELS = ["poor", "weak", "solid", "strong", "outstanding"]

# -- the worked example's facts -----------------------------------------------------------------

SCALE = RatingScale(1, 5)  # a rating r is (r - 1) / 4 * 100 percent of the way up
COMPETENCIES = [
    Competency("delivery", "Delivery", Decimal(50), LEVELS),
    Competency("teamwork", "Teamwork", Decimal(30), LEVELS),
    Competency("communication", "Communication", Decimal(20), LEVELS),
]
K = 3  # anonymity threshold

BONUS_5 = RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(5))
BONUS_10 = RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(10))
STAR = RewardSpec(RewardKind.RECOGNITION, title="Star of the cycle")
SALES_BONUS = RewardSpec(RewardKind.BONUS, amount=Money(Decimal(1000), "EUR"))
EXTRA_DAY = RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(1))

RULES = RuleSet(
    tiers=[
        Tier("A", Decimal(90)),
        Tier("B", Decimal(75)),
        Tier("C", Decimal(60)),
        Tier("D", Decimal(0)),
    ],
    kpi_weight=Decimal(60),
    review_weight=Decimal(40),
    source_weights={
        MANAGER: Decimal(50),
        PEER: Decimal(20),
        CUSTOMER: Decimal(20),
        SELF: Decimal(10),
    },
    tier_rewards=[TierReward("A", BONUS_10), TierReward("A", STAR), TierReward("B", BONUS_5)],
    eligibility=[EligibilityRule("sales_streak", "sales_growth_monthly", 3, SALES_BONUS)],
).validated()


def review(
    source: RaterSource, delivery: int | None, teamwork: int | None, communication: int | None
) -> SubmittedReview:
    return SubmittedReview(
        source, {"delivery": delivery, "teamwork": teamwork, "communication": communication}
    )


REVIEWS = [
    review(MANAGER, 4, 5, 3),
    review(PEER, 3, 2, 3),
    review(PEER, 4, 3, 5),
    review(PEER, 5, 4, 4),
    review(CUSTOMER, 5, 5, 5),
    review(SELF, 5, 4, None),  # the one "not observed"
]
KPI = Decimal("84.50")


def evaluated(
    *,
    kpi_score: Decimal | None = KPI,
    reviews: list[SubmittedReview] | None = None,
    rules: RuleSet = RULES,
    calibrated_score: Decimal | None = None,
    anonymity_threshold: int = K,
) -> Evaluation:
    return evaluate(
        kpi_score=kpi_score,
        reviews=REVIEWS if reviews is None else reviews,
        competencies=COMPETENCIES,
        scale=SCALE,
        anonymity_threshold=anonymity_threshold,
        rules=rules,
        calibrated_score=calibrated_score,
    )


def by_source(evaluation: Evaluation) -> dict[RaterSource, SourceResult]:
    return {source.source: source for source in evaluation.sources}


def D(value: str) -> Decimal:
    return Decimal(value)


def test_worked_example_every_figure_of_the_breakdown() -> None:
    result = evaluated()
    sources = by_source(result)
    assert [s.source for s in result.sources] == [MANAGER, PEER, CUSTOMER, SELF]

    # Manager, one review: delivery 4, teamwork 5, communication 3.
    #   normalised: (4-1)/4*100 = 75, (5-1)/4*100 = 100, (3-1)/4*100 = 50
    #   score = (50*75 + 30*100 + 20*50) / 100 = (3750 + 3000 + 1000) / 100 = 77.5
    manager = sources[MANAGER]
    assert (manager.submitted, manager.counted, manager.note) == (1, True, None)
    competencies = [
        (c.key, c.weight, c.observations, c.mean_rating, c.score) for c in manager.competencies
    ]
    assert competencies == [
        ("delivery", D("50.00"), 1, D("4.00"), D("75.00")),
        ("teamwork", D("30.00"), 1, D("5.00"), D("100.00")),
        ("communication", D("20.00"), 1, D("3.00"), D("50.00")),
    ]
    assert manager.score == D("77.50")

    # Peers, three reviews:
    #   delivery      3, 4, 5 -> mean 4 -> 75
    #   teamwork      2, 3, 4 -> mean 3 -> 50
    #   communication 3, 5, 4 -> mean 4 -> 75
    #   score = (50*75 + 30*50 + 20*75) / 100 = (3750 + 1500 + 1500) / 100 = 67.5
    peer = sources[PEER]
    assert (peer.submitted, peer.counted, peer.note) == (3, True, None)
    assert [(c.observations, c.mean_rating, c.score) for c in peer.competencies] == [
        (3, D("4.00"), D("75.00")),
        (3, D("3.00"), D("50.00")),
        (3, D("4.00"), D("75.00")),
    ]
    assert peer.score == D("67.50")
    assert not peer.withheld

    # Self: delivery 5 -> 100, teamwork 4 -> 75, communication not observed.
    #   The unobserved competency drops out and the others are reweighed over 50 + 30 = 80:
    #   score = (50*100 + 30*75) / 80 = 7250 / 80 = 90.625 -> shown 90.62 (half-even)
    me = sources[SELF]
    assert (me.submitted, me.counted) == (1, True)
    assert [(c.observations, c.mean_rating, c.score) for c in me.competencies] == [
        (1, D("5.00"), D("100.00")),
        (1, D("4.00"), D("75.00")),
        (0, None, None),
    ]
    assert me.competencies[2].weight == D("20.00")  # still listed with its framework weight
    assert me.score == D("90.62")

    # Customer: one review of all 5s -> 100, but 1 < k = 3 raters: withheld, it does not count.
    customer = sources[CUSTOMER]
    assert (customer.submitted, customer.counted, customer.withheld) == (1, False, True)
    assert customer.note == "1 of the at least 3 raters needed to keep them anonymous"
    assert customer.score == D("100.00")  # for hr's eyes: visible_to_reviewee drops it
    assert (customer.effective_weight, customer.contribution) == (D("0.00"), D("0.00"))
    assert CUSTOMER not in [s.source for s in visible_to_reviewee(result)]

    # Source weights renormalised over the sources that count: 50 + 20 + 10 = 80.
    #   manager 50/80 = 62.5 %, peer 20/80 = 25 %, self 10/80 = 12.5 %
    #   contributions: 0.625 * 77.5   = 48.4375   -> 48.44
    #                  0.25  * 67.5   = 16.875    -> 16.88 (half-even: 7 is odd, rounds up)
    #                  0.125 * 90.625 = 11.328125 -> 11.33
    #   360 score = 48.4375 + 16.875 + 11.328125 = 76.640625 -> 76.64
    # Exact figures are added, not the rounded ones (48.44 + 16.88 + 11.33 would be 76.65).
    assert [(s.rule_weight, s.effective_weight, s.contribution) for s in result.sources] == [
        (D("50"), D("62.50"), D("48.44")),
        (D("20"), D("25.00"), D("16.88")),
        (D("20"), D("0.00"), D("0.00")),
        (D("10"), D("12.50"), D("11.33")),
    ]
    assert result.review_score == D("76.64")

    # Final: KPI 84.50 weighs 60, the 360 score 40 (both present, so no renormalising):
    #   0.6 * 84.5 = 50.7; 0.4 * 76.640625 = 30.65625 -> 30.66; total 81.35625 -> 81.36
    kpi, reviews = result.components
    assert (kpi.name, kpi.rule_weight, kpi.effective_weight, kpi.score, kpi.contribution) == (
        "kpi", D("60"), D("60.00"), D("84.50"), D("50.70"),
    )  # fmt: skip
    assert (reviews.name, reviews.effective_weight, reviews.score, reviews.contribution) == (
        "review", D("40.00"), D("76.64"), D("30.66"),
    )  # fmt: skip
    assert result.kpi_score == D("84.50")
    assert result.final_score == D("81.36")

    # Tier: 75 <= 81.36 < 90 -> B; nothing was calibrated, so the final score counts.
    assert result.tier == "B"
    assert (result.calibrated_score, result.calibrated, result.score) == (None, False, D("81.36"))

    # B's reward table proposes a 5 % bonus.
    assert propose_rewards(result.tier, RULES, {}) == [
        Proposal("tier:B:0", BONUS_5, "reached tier B")
    ]


def test_a_third_customer_makes_customers_count_and_moves_every_weight() -> None:
    three_customers = [*REVIEWS, review(CUSTOMER, 3, 3, 3), review(CUSTOMER, 4, 4, 4)]
    sources = by_source(evaluated(reviews=three_customers))
    # Customers: means 4, 4, 4 -> 75 in every competency -> 75. All four sources count now,
    # and the rule weights total 100: no renormalising.
    assert (sources[CUSTOMER].counted, sources[CUSTOMER].withheld) == (True, False)
    assert sources[CUSTOMER].score == D("75.00")
    weights = [s.effective_weight for s in sources.values()]
    assert weights == [D("50.00"), D("20.00"), D("20.00"), D("10.00")]
    # 360 = 0.5*77.5 + 0.2*67.5 + 0.2*75 + 0.1*90.625 = 38.75 + 13.5 + 15 + 9.0625 = 76.3125
    assert evaluated(reviews=three_customers).review_score == D("76.31")


# -- one thing changed at a time ----------------------------------------------------------------


def test_the_rule_sets_competency_weights_override_the_frameworks() -> None:
    rules = replace(
        RULES,
        competency_weights={"delivery": D("20"), "teamwork": D("40"), "communication": D("40")},
    ).validated()
    sources = by_source(evaluated(rules=rules))
    # Manager: (20*75 + 40*100 + 40*50) / 100 = (1500 + 4000 + 2000) / 100 = 75
    assert sources[MANAGER].score == D("75.00")
    assert [c.weight for c in sources[MANAGER].competencies] == [D("20.00"), D("40.00"), D("40.00")]
    # Self: communication unobserved -> (20*100 + 40*75) / 60 = 5000 / 60 = 83.33...
    assert sources[SELF].score == D("83.33")


def test_competencies_the_override_leaves_out_weigh_nothing() -> None:
    rules = replace(RULES, competency_weights={"delivery": D("100")}).validated()
    sources = by_source(evaluated(rules=rules))
    assert [c.weight for c in sources[MANAGER].competencies] == [D("100.00"), D("0.00"), D("0.00")]
    assert sources[MANAGER].score == D("75.00")  # delivery alone: 4 -> 75
    assert sources[PEER].score == D("75.00")


def test_an_override_naming_none_of_the_frameworks_competencies_is_ignored() -> None:
    rules = replace(RULES, competency_weights={"charm": D("100")}).validated()
    assert by_source(evaluated(rules=rules))[MANAGER].score == D("77.50")


def test_a_calibrated_rating_changes_its_source_score() -> None:
    definition = CycleDefinition(
        name="Q1",
        period="2026-Q1",
        scope_departments=[],
        scope_employees=[REVIEWEE],
        competencies=COMPETENCIES,
        scale=SCALE,
        deadlines=CycleDeadlines(date(2026, 3, 20), date(2026, 3, 31)),
    ).checked()
    hr = Provenance("hr", Role.HR, "c")
    appraisal = Appraisal.start(
        cycle_id=CYCLE, reviewee_id=REVIEWEE, manager_id=BOSS, department_id=CYCLE, provenance=hr
    )
    manager_key = rater_key(MANAGER, BOSS)
    ratings = [Rating("delivery", 4), Rating("teamwork", 5), Rating("communication", 3)]
    appraisal.submit(definition, manager_key, ratings, "", datetime(2026, 3, 1, tzinfo=UTC), hr)
    appraisal.enter_calibration(hr)
    # Communication 3 -> 5 (50 -> 100): (3750 + 3000 + 20*100) / 100 = 87.5
    appraisal.calibrate_rating(definition, manager_key, "communication", 5, hr.because("panel"))

    def manager_score() -> Decimal | None:
        rater = appraisal.raters[manager_key]
        reviews = [SubmittedReview(rater.source, rater.effective())]
        return by_source(evaluated(reviews=reviews))[MANAGER].score

    assert manager_score() == D("87.50")
    assert appraisal.raters[manager_key].submitted == ratings  # still on record, unchanged


def test_a_calibrated_result_sets_the_tier_while_the_computed_score_stays() -> None:
    result = evaluated(calibrated_score=D("91"))
    assert result.final_score == D("81.36")
    assert result.calibrated_score == D("91.00")
    assert result.score == D("91.00")
    assert result.calibrated
    assert result.tier == "A"
    assert evaluated(calibrated_score=D("59.999")).tier == "C"  # 59.999 shows as 60.00


def test_without_kpis_the_final_score_is_the_360_score() -> None:
    result = evaluated(kpi_score=None)
    kpi, reviews = result.components
    assert (kpi.score, kpi.effective_weight, kpi.contribution) == (None, D("0.00"), D("0.00"))
    assert (reviews.effective_weight, reviews.contribution) == (D("100.00"), D("76.64"))
    assert result.final_score == result.review_score == D("76.64")
    assert result.tier == "B"


def test_without_reviews_the_final_score_is_the_kpi_score() -> None:
    result = evaluated(reviews=[])
    assert result.review_score is None
    assert result.final_score == D("84.50")
    assert all(s.note == "no review submitted" for s in result.sources)
    # With nobody submitted, an anonymous source reads as withheld: "nobody rated" and "too
    # few rated" must look the same to the reviewee.
    assert all(s.withheld == s.source.anonymous for s in result.sources)
    assert [c.effective_weight for c in result.components] == [D("100.00"), D("0.00")]


def test_without_either_there_is_no_score_and_no_tier() -> None:
    result = evaluated(kpi_score=None, reviews=[])
    assert (result.final_score, result.score, result.tier) == (None, None, None)
    assert propose_rewards(result.tier, RULES, {}) == []


def test_a_source_the_rule_set_does_not_weigh_does_not_count() -> None:
    weights = {MANAGER: D("50"), PEER: D("40"), SELF: D("10")}  # customers weigh nothing
    rules = replace(RULES, source_weights=weights).validated()
    many_customers = [*REVIEWS, review(CUSTOMER, 1, 1, 1), review(CUSTOMER, 1, 1, 1)]  # 3 >= k
    sources = by_source(evaluated(reviews=many_customers, rules=rules))
    customer = sources[CUSTOMER]
    assert (customer.counted, customer.rule_weight, customer.effective_weight) == (
        False, D("0"), D("0.00"),
    )  # fmt: skip
    assert customer.note == "the rule set gives this source no weight"
    # 360 = 0.5*77.5 + 0.4*67.5 + 0.1*90.625 = 38.75 + 27 + 9.0625 = 74.8125: the customers'
    # low ratings changed nothing.
    assert evaluated(reviews=many_customers, rules=rules).review_score == D("74.81")
    assert evaluated(rules=rules).review_score == D("74.81")


def test_when_nothing_was_observed_no_source_counts_and_the_kpi_decides() -> None:
    blind = [review(source, None, None, None) for source in (MANAGER, PEER, PEER, PEER, SELF)]
    result = evaluated(reviews=blind)
    sources = by_source(result)
    for source in (MANAGER, PEER, SELF):
        assert sources[source].note == "no competency was observed"
        assert sources[source].score is None
        assert not sources[source].counted
    assert all(c.observations == 0 for c in sources[PEER].competencies)
    assert result.review_score is None
    assert result.final_score == D("84.50")


def test_peers_below_k_are_withheld_and_the_rest_renormalise() -> None:
    two_peers = [r for r in REVIEWS if r.source is not CUSTOMER][:3]  # manager + 2 peers
    result = evaluated(reviews=[*two_peers, review(SELF, 5, 4, None)])
    sources = by_source(result)
    assert sources[PEER].withheld
    assert sources[PEER].note == "2 of the at least 3 raters needed to keep them anonymous"
    # manager 50/60, self 10/60: 77.5 * 5/6 + 90.625 / 6 = 64.58333 + 15.10417 = 79.6875
    assert result.review_score == D("79.69")
    assert evaluated(reviews=two_peers, anonymity_threshold=2).sources[1].counted


@pytest.mark.parametrize(
    ("kpi", "final", "tier"),
    [
        ("80.125", "80.12", "B"),  # half-even: 2 is even, stays
        ("80.135", "80.14", "B"),  # 3 is odd, rounds up
        ("89.995", "90.00", "A"),  # the tier follows the score shown
        ("74.985", "74.98", "C"),
        ("74.995", "75.00", "B"),
    ],
)
def test_scores_round_half_even_and_the_tier_follows_the_rounded_score(
    kpi: str, final: str, tier: str
) -> None:
    result = evaluated(kpi_score=D(kpi), reviews=[])
    assert (result.final_score, result.tier) == (D(final), tier)


# -- proposals ----------------------------------------------------------------------------------


def test_the_tier_table_proposes_every_reward_of_the_tier_reached() -> None:
    assert propose_rewards("A", RULES, {}) == [
        Proposal("tier:A:0", BONUS_10, "reached tier A"),
        Proposal("tier:A:1", STAR, "reached tier A"),
    ]
    assert propose_rewards("D", RULES, {}) == []
    assert propose_rewards(None, RULES, {}) == []
    # The keys are the ones the rule set names its rewards by.
    assert set(RULES.reward_rules()) >= {"tier:A:0", "tier:A:1", "tier:B:0"}


def sales(*values: tuple[date, str], target: str = "8") -> MetricHistory:
    return MetricHistory(
        "sales_growth_monthly",
        Direction.HIGHER_IS_BETTER,
        D(target),
        [Measurement(day, D(value)) for day, value in values],
    )


Q1 = [(2026, 1), (2026, 2), (2026, 3)]


def test_three_months_met_in_a_row_propose_the_streak_reward() -> None:
    history = sales((date(2026, 1, 31), "9"), (date(2026, 2, 28), "8"), (date(2026, 3, 15), "12"))
    assert months_met(history, Q1) == [True, True, True]
    run = streaks([history], Q1)
    assert run == {"sales_growth_monthly": 3}
    assert propose_rewards(None, RULES, run) == [
        Proposal(
            "eligibility:sales_streak",
            SALES_BONUS,
            "met the sales_growth_monthly target 3 months in a row (the rule asks for 3)",
        )
    ]
    # Both kinds at once: the tier's rewards first.
    assert [p.rule_key for p in propose_rewards("B", RULES, run)] == [
        "tier:B:0",
        "eligibility:sales_streak",
    ]


def test_a_month_without_a_measurement_breaks_the_run() -> None:
    months = [*Q1, (2026, 4)]
    history = sales((date(2026, 1, 10), "9"), (date(2026, 3, 10), "9"), (date(2026, 4, 10), "9"))
    assert months_met(history, months) == [True, False, True, True]
    assert streaks([history], months) == {"sales_growth_monthly": 2}
    assert propose_rewards(None, RULES, streaks([history], months)) == []


def test_the_last_measurement_of_a_month_decides_it_whatever_the_order_given() -> None:
    history = sales(
        (date(2026, 2, 25), "7"),  # the month's last word: missed
        (date(2026, 2, 3), "9"),
        (date(2026, 1, 5), "7"),
        (date(2026, 1, 30), "8"),  # met
        (date(2026, 3, 31), "8"),
    )
    assert months_met(history, Q1) == [True, False, True]
    assert streaks([history], Q1) == {"sales_growth_monthly": 1}


def test_every_goal_with_the_metric_must_be_met_that_month() -> None:
    met = sales((date(2026, 1, 5), "9"), (date(2026, 2, 5), "9"), (date(2026, 3, 5), "9"))
    missed_february = sales(
        (date(2026, 1, 5), "20"), (date(2026, 2, 5), "19"), (date(2026, 3, 5), "20"), target="20"
    )
    assert streaks([met, missed_february], Q1) == {"sales_growth_monthly": 1}
    assert streaks([met], Q1) == {"sales_growth_monthly": 3}


def test_lower_is_better_metrics_are_met_at_or_below_target() -> None:
    hiring = MetricHistory(
        "time_to_hire",
        Direction.LOWER_IS_BETTER,
        D("30"),
        [
            Measurement(date(2026, 1, 20), D("28")),
            Measurement(date(2026, 2, 20), D("30")),
            Measurement(date(2026, 3, 20), D("25")),
            Measurement(date(2026, 4, 20), D("31")),
        ],
    )
    months = [*Q1, (2026, 4)]
    assert months_met(hiring, months) == [True, True, True, False]
    rules = replace(
        RULES, eligibility=[EligibilityRule("fast_hiring", "time_to_hire", 3, EXTRA_DAY)]
    ).validated()
    run = streaks([hiring], months)
    assert run == {"time_to_hire": 3}
    assert [p.rule_key for p in propose_rewards(None, rules, run)] == ["eligibility:fast_hiring"]
    # A streak of another metric proposes nothing under this rule.
    assert propose_rewards(None, rules, {"sales_growth_monthly": 12}) == []


def test_the_longest_run_counts_not_the_latest() -> None:
    assert longest_run([True, True, True, False, True]) == 3
    assert longest_run([]) == 0
    assert longest_run([False, False]) == 0
