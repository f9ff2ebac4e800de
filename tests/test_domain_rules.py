"""Rule sets are validated when defined; the rule book numbers versions and knows which one
production had adopted on any day."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from domain.errors import DomainError, InvalidInput, InvalidRuleSet, NotFound
from domain.goals import Perspective
from domain.provenance import Provenance, Role
from domain.reviews import RaterSource
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import (
    DEFAULT_RULES,
    Adoption,
    EligibilityRule,
    RuleBook,
    RuleSet,
    Tier,
    TierReward,
    TierShare,
    version_in_force,
)

HR = Provenance("hr-1", Role.HR, "corr-1")
TIERS = [Tier("A", Decimal(90)), Tier("B", Decimal(75)), Tier("C", Decimal(0))]


def rules(**overrides: object) -> RuleSet:
    values: dict[str, object] = {
        "achievement_cap": Decimal(120),
        "achievement_floor": Decimal(0),
        "perspective_weights": {},
        "tiers": list(TIERS),
    }
    values.update(overrides)
    return RuleSet(**values)  # type: ignore[arg-type]


def assert_invalid(field: str, excinfo: pytest.ExceptionInfo[DomainError]) -> None:
    assert type(excinfo.value) is InvalidRuleSet
    assert excinfo.value.field == field


# -- cap and floor ----------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [Decimal(100), Decimal(150), Decimal(1000)])
def test_the_achievement_cap_may_lie_between_100_and_1000(cap: Decimal) -> None:
    assert rules(achievement_cap=cap).validated().achievement_cap == cap


@pytest.mark.parametrize(
    "cap", [Decimal("99.99"), Decimal("1000.01"), Decimal(0), Decimal("NaN"), Decimal("Infinity")]
)
def test_an_achievement_cap_outside_100_to_1000_is_rejected(cap: Decimal) -> None:
    with pytest.raises(DomainError) as caught:
        rules(achievement_cap=cap).validated()
    assert_invalid("achievementCap", caught)


@pytest.mark.parametrize("floor", [Decimal(0), Decimal(50), Decimal("99.99")])
def test_the_achievement_floor_may_lie_from_0_to_below_100(floor: Decimal) -> None:
    assert rules(achievement_floor=floor).validated().achievement_floor == floor


@pytest.mark.parametrize("floor", [Decimal("-0.01"), Decimal(100), Decimal("NaN")])
def test_an_achievement_floor_below_0_or_from_100_is_rejected(floor: Decimal) -> None:
    with pytest.raises(DomainError) as caught:
        rules(achievement_floor=floor).validated()
    assert_invalid("achievementFloor", caught)


@pytest.mark.parametrize("threshold", [Decimal("0.5"), Decimal(15), Decimal(100)])
def test_the_at_risk_threshold_may_lie_above_0_up_to_100(threshold: Decimal) -> None:
    assert rules(at_risk_threshold=threshold).validated().at_risk_threshold == threshold


@pytest.mark.parametrize(
    "threshold", [Decimal(0), Decimal("-1"), Decimal("100.01"), Decimal("NaN")]
)
def test_an_at_risk_threshold_outside_0_to_100_is_rejected(threshold: Decimal) -> None:
    with pytest.raises(DomainError) as caught:
        rules(at_risk_threshold=threshold).validated()
    assert_invalid("atRiskThreshold", caught)


def test_rule_sets_recorded_before_the_at_risk_threshold_existed_decode_with_15() -> None:
    from projections.rules import rules_from_json, rules_to_json

    stored = json.loads(rules_to_json(rules().validated()))
    del stored["atRiskThreshold"]
    assert rules_from_json(json.dumps(stored)).at_risk_threshold == Decimal(15)
    kept = rules(at_risk_threshold=Decimal(7)).validated()
    assert rules_from_json(rules_to_json(kept)) == kept


# -- perspective weights ----------------------------------------------------------------------


def test_perspective_weights_totalling_100_are_accepted_in_a_stable_order() -> None:
    weights = {
        Perspective.LEARNING_AND_GROWTH: Decimal(10),
        Perspective.FINANCIAL: Decimal(40),
        Perspective.INTERNAL_PROCESS: Decimal(20),
        Perspective.CUSTOMER: Decimal(30),
    }
    validated = rules(perspective_weights=weights).validated()
    assert validated.perspective_weights == weights
    assert list(validated.perspective_weights) == [
        Perspective.CUSTOMER,
        Perspective.FINANCIAL,
        Perspective.INTERNAL_PROCESS,
        Perspective.LEARNING_AND_GROWTH,
    ]


def test_perspective_weights_need_not_name_every_perspective() -> None:
    weights = {Perspective.FINANCIAL: Decimal(70), Perspective.CUSTOMER: Decimal(30)}
    assert rules(perspective_weights=weights).validated().perspective_weights == weights


def test_no_perspective_weights_at_all_are_accepted() -> None:
    assert rules(perspective_weights={}).validated().perspective_weights == {}


@pytest.mark.parametrize("second", [Decimal(29), Decimal("30.01")])
def test_perspective_weights_must_total_100(second: Decimal) -> None:
    weights = {Perspective.FINANCIAL: Decimal(70), Perspective.CUSTOMER: second}
    with pytest.raises(DomainError) as caught:
        rules(perspective_weights=weights).validated()
    assert_invalid("perspectiveWeights", caught)
    assert str(Decimal(70) + second) in caught.value.message


@pytest.mark.parametrize("weight", [Decimal(0), Decimal(-10), Decimal("NaN")])
def test_each_perspective_weight_must_be_positive_and_is_named(weight: Decimal) -> None:
    weights = {Perspective.FINANCIAL: Decimal(100), Perspective.LEARNING_AND_GROWTH: weight}
    with pytest.raises(DomainError) as caught:
        rules(perspective_weights=weights).validated()
    assert_invalid("perspectiveWeights.learning_and_growth", caught)


# -- tiers ------------------------------------------------------------------------------------


def test_tier_thresholds_must_fall_strictly() -> None:
    tiers = [Tier("A", Decimal(90)), Tier("B", Decimal(90)), Tier("C", Decimal(0))]
    with pytest.raises(DomainError) as caught:
        rules(tiers=tiers).validated()
    assert_invalid("tiers[1].minScore", caught)


def test_tiers_listed_from_the_lowest_up_are_rejected() -> None:
    tiers = [Tier("C", Decimal(0)), Tier("B", Decimal(75)), Tier("A", Decimal(90))]
    with pytest.raises(DomainError) as caught:
        rules(tiers=tiers).validated()
    assert_invalid("tiers[1].minScore", caught)


def test_a_tier_name_may_be_used_once() -> None:
    tiers = [Tier("A", Decimal(90)), Tier("B", Decimal(75)), Tier(" A ", Decimal(0))]
    with pytest.raises(DomainError) as caught:
        rules(tiers=tiers).validated()
    assert_invalid("tiers[2].name", caught)


def test_the_last_tier_must_start_at_0() -> None:
    tiers = [Tier("A", Decimal(90)), Tier("B", Decimal(75)), Tier("C", Decimal(1))]
    with pytest.raises(DomainError) as caught:
        rules(tiers=tiers).validated()
    assert_invalid("tiers[2].minScore", caught)


def test_a_tier_threshold_may_not_be_negative() -> None:
    tiers = [Tier("A", Decimal(90)), Tier("B", Decimal(-1))]
    with pytest.raises(DomainError) as caught:
        rules(tiers=tiers).validated()
    assert_invalid("tiers[1].minScore", caught)


def test_a_tier_needs_a_name() -> None:
    tiers = [Tier("A", Decimal(90)), Tier("  ", Decimal(0))]
    with pytest.raises(DomainError) as caught:
        rules(tiers=tiers).validated()
    assert type(caught.value) is InvalidInput
    assert caught.value.field == "tiers[1].name"


def test_tier_names_are_trimmed() -> None:
    tiers = [Tier(" Star ", Decimal(90)), Tier("Rest", Decimal(0))]
    assert rules(tiers=tiers).validated().tiers == [
        Tier("Star", Decimal(90)),
        Tier("Rest", Decimal(0)),
    ]


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (Decimal(100), "A"),
        (Decimal(90), "A"),  # a threshold belongs to its own tier
        (Decimal("89.99"), "B"),
        (Decimal(75), "B"),
        (Decimal("74.99"), "C"),
        (Decimal(0), "C"),
    ],
)
def test_a_score_falls_into_the_highest_tier_whose_threshold_it_reaches(
    score: Decimal, tier: str
) -> None:
    assert rules().validated().tier_for(score) == tier


def test_without_tiers_a_score_has_no_tier() -> None:
    assert rules(tiers=[]).validated().tier_for(Decimal(50)) is None


def test_the_default_rules_are_valid() -> None:
    assert DEFAULT_RULES.validated() == DEFAULT_RULES


def test_the_default_rules_weigh_kpis_60_and_reviews_40_with_the_manager_heaviest() -> None:
    assert (DEFAULT_RULES.kpi_weight, DEFAULT_RULES.review_weight) == (Decimal(60), Decimal(40))
    assert DEFAULT_RULES.source_weights == {
        RaterSource.CUSTOMER: 20,
        RaterSource.MANAGER: 50,
        RaterSource.PEER: 20,
        RaterSource.SELF: 10,
    }
    assert DEFAULT_RULES.distribution == [TierShare("A", Decimal(20))]


def test_the_default_rules_reward_three_months_in_a_row_of_sales_growth() -> None:
    streak = DEFAULT_RULES.reward_rules()["eligibility:sales_streak"]
    assert streak == RewardSpec(RewardKind.BONUS, amount=Money(Decimal(1000), "EUR"))
    (rule,) = DEFAULT_RULES.eligibility
    assert (rule.metric, rule.consecutive_months) == ("sales_growth_monthly", 3)


# -- KPI versus 360 review --------------------------------------------------------------------

SOURCES = {
    RaterSource.MANAGER: Decimal(50),
    RaterSource.PEER: Decimal(20),
    RaterSource.CUSTOMER: Decimal(20),
    RaterSource.SELF: Decimal(10),
}


def test_a_rule_set_without_review_weights_scores_kpis_only() -> None:
    validated = rules().validated()
    assert (validated.kpi_weight, validated.review_weight) == (Decimal(100), Decimal(0))
    assert validated.source_weights == {}


@pytest.mark.parametrize(("kpi", "review"), [("60", "30"), ("100", "40"), ("70.5", "29.6")])
def test_kpi_and_review_weights_must_total_100(kpi: str, review: str) -> None:
    with pytest.raises(DomainError) as caught:
        rules(
            kpi_weight=Decimal(kpi), review_weight=Decimal(review), source_weights=SOURCES
        ).validated()
    assert_invalid("reviewWeight", caught)
    total = Decimal(kpi) + Decimal(review)
    assert caught.value.message == (
        f"kpiWeight {kpi} and reviewWeight {review} total {total}; they must total 100"
    )


@pytest.mark.parametrize(
    ("field", "kpi", "review"),
    [("kpiWeight", "-10", "110"), ("reviewWeight", "100", "-10"), ("kpiWeight", "NaN", "0")],
)
def test_kpi_and_review_weights_lie_between_0_and_100(field: str, kpi: str, review: str) -> None:
    with pytest.raises(DomainError) as caught:
        rules(
            kpi_weight=Decimal(kpi), review_weight=Decimal(review), source_weights=SOURCES
        ).validated()
    assert_invalid(field, caught)


def test_rater_source_weights_are_kept_in_a_stable_order() -> None:
    validated = rules(
        kpi_weight=Decimal(60), review_weight=Decimal(40), source_weights=SOURCES
    ).validated()
    assert validated.source_weights == SOURCES
    assert list(validated.source_weights) == [
        RaterSource.CUSTOMER,
        RaterSource.MANAGER,
        RaterSource.PEER,
        RaterSource.SELF,
    ]


def test_a_rater_source_left_out_does_not_count() -> None:
    weights = {RaterSource.MANAGER: Decimal(70), RaterSource.PEER: Decimal(30)}
    two_sources = rules(review_weight=Decimal(50), kpi_weight=Decimal(50), source_weights=weights)
    assert two_sources.validated().source_weights == weights


def test_rater_source_weights_must_total_100() -> None:
    weights = {RaterSource.MANAGER: Decimal(50), RaterSource.PEER: Decimal(40)}
    with pytest.raises(DomainError) as caught:
        rules(review_weight=Decimal(40), kpi_weight=Decimal(60), source_weights=weights).validated()
    assert_invalid("sourceWeights", caught)
    assert caught.value.message == "sourceWeights total 90; they must total 100"


@pytest.mark.parametrize("weight", [Decimal(0), Decimal(-5), Decimal("Infinity")])
def test_each_rater_source_weight_must_be_positive_and_is_named(weight: Decimal) -> None:
    weights = {RaterSource.MANAGER: Decimal(100), RaterSource.PEER: weight}
    with pytest.raises(DomainError) as caught:
        rules(review_weight=Decimal(40), kpi_weight=Decimal(60), source_weights=weights).validated()
    assert_invalid("sourceWeights.peer", caught)


def test_a_review_weight_needs_rater_source_weights() -> None:
    with pytest.raises(DomainError) as caught:
        rules(review_weight=Decimal(40), kpi_weight=Decimal(60)).validated()
    assert_invalid("sourceWeights", caught)
    assert "reviewWeight is 40" in caught.value.message


# -- competency weights -----------------------------------------------------------------------


def test_competency_weights_totalling_100_are_accepted_sorted_by_key() -> None:
    weights = {"teamwork": Decimal(30), "customer_focus": Decimal(70)}
    validated = rules(competency_weights=weights).validated()
    assert list(validated.competency_weights.items()) == [
        ("customer_focus", Decimal(70)),
        ("teamwork", Decimal(30)),
    ]


def test_competency_weights_must_total_100() -> None:
    weights = {"teamwork": Decimal(30), "customer_focus": Decimal("69.9")}
    with pytest.raises(DomainError) as caught:
        rules(competency_weights=weights).validated()
    assert_invalid("competencyWeights", caught)
    assert caught.value.message == "competencyWeights total 99.9; they must total 100"


def test_each_competency_weight_must_be_positive_and_is_named() -> None:
    weights = {"teamwork": Decimal(100), "customer_focus": Decimal(0)}
    with pytest.raises(DomainError) as caught:
        rules(competency_weights=weights).validated()
    assert_invalid("competencyWeights.customer_focus", caught)


@pytest.mark.parametrize("key", ["Teamwork", "1st", "team work", "", "x" * 41])
def test_a_competency_key_is_lower_case_and_code_like(key: str) -> None:
    with pytest.raises(DomainError) as caught:
        rules(competency_weights={key: Decimal(100)}).validated()
    assert_invalid("competencyWeights", caught)


# -- rewards per tier -------------------------------------------------------------------------

BONUS_10 = RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(10))
STAR = RewardSpec(RewardKind.RECOGNITION, title="Star of the month")
COACHING = RewardSpec(RewardKind.TRAINING, title="Coaching")


def test_tier_rewards_are_grouped_by_tier_and_keyed_by_their_place_within_it() -> None:
    validated = rules(
        tier_rewards=[
            TierReward("C", COACHING),
            TierReward(" A ", BONUS_10),
            TierReward("A", RewardSpec(RewardKind.RECOGNITION, title="  Star of the month ")),
        ]
    ).validated()
    assert validated.tier_rewards == [
        TierReward("A", BONUS_10),
        TierReward("A", STAR),
        TierReward("C", COACHING),
    ]
    assert validated.tier_rewards_for("A") == [("tier:A:0", BONUS_10), ("tier:A:1", STAR)]
    assert validated.tier_rewards_for("B") == []
    assert validated.reward_rules() == {
        "tier:A:0": BONUS_10,
        "tier:A:1": STAR,
        "tier:C:0": COACHING,
    }


def test_a_reward_for_an_unknown_tier_is_rejected_naming_it() -> None:
    with pytest.raises(DomainError) as caught:
        rules(tier_rewards=[TierReward("A", BONUS_10), TierReward("S", STAR)]).validated()
    assert_invalid("tierRewards[1].tier", caught)
    assert caught.value.message == (
        "tierRewards[1].tier 'S' is not one of this rule set's tiers (A, B, C)"
    )


def test_a_tier_reward_without_tiers_is_rejected() -> None:
    with pytest.raises(DomainError) as caught:
        rules(tiers=[], tier_rewards=[TierReward("A", BONUS_10)]).validated()
    assert_invalid("tierRewards[0].tier", caught)


@pytest.mark.parametrize(
    ("reward", "field"),
    [
        (RewardSpec(RewardKind.BONUS), "tierRewards[0].reward.amount"),
        (
            RewardSpec(RewardKind.BONUS, amount=Money(Decimal(100), "euro")),
            "tierRewards[0].reward.amount.currency",
        ),
        (
            RewardSpec(RewardKind.COMMISSION, percent_of_salary=Decimal(0)),
            "tierRewards[0].reward.percentOfSalary",
        ),
        (RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal("0.3")), "tierRewards[0].reward.days"),
        (RewardSpec(RewardKind.RECOGNITION), "tierRewards[0].reward.title"),
        (
            RewardSpec(RewardKind.TRAINING, title="Course", days=Decimal(1)),
            "tierRewards[0].reward.days",
        ),
    ],
)
def test_a_malformed_tier_reward_is_rejected_naming_the_field(
    reward: RewardSpec, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        rules(tier_rewards=[TierReward("A", reward)]).validated()
    assert type(caught.value) is InvalidInput
    assert caught.value.field == field


# -- eligibility rules ------------------------------------------------------------------------

THOUSAND_EUR = RewardSpec(RewardKind.BONUS, amount=Money(Decimal(1000), "EUR"))


def streak(key: str = "sales_streak", months: int = 3, **overrides: object) -> EligibilityRule:
    values: dict[str, object] = {
        "key": key,
        "metric": "sales_growth_monthly",
        "consecutive_months": months,
        "reward": THOUSAND_EUR,
    }
    values.update(overrides)
    return EligibilityRule(**values)  # type: ignore[arg-type]


def test_eligibility_rules_are_cleaned_and_keyed() -> None:
    validated = rules(
        eligibility=[
            streak(" sales_streak ", metric=" sales_growth_monthly "),
            streak(
                "csat", 2, metric="csat", reward=RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(1))
            ),
        ]
    ).validated()
    assert validated.eligibility[0] == streak()
    assert list(validated.reward_rules()) == ["eligibility:sales_streak", "eligibility:csat"]


def test_eligibility_rule_keys_must_be_unique() -> None:
    with pytest.raises(DomainError) as caught:
        rules(eligibility=[streak("streak"), streak("other"), streak(" streak")]).validated()
    assert_invalid("eligibility[2].key", caught)
    assert "'streak' is used twice" in caught.value.message


@pytest.mark.parametrize("key", ["", "has space", "ünïcode", "x" * 41])
def test_an_eligibility_rule_key_is_code_like(key: str) -> None:
    with pytest.raises(DomainError) as caught:
        rules(eligibility=[streak(key)]).validated()
    assert type(caught.value) is InvalidInput
    assert caught.value.field == "eligibility[0].key"


def test_an_eligibility_rule_names_a_metric() -> None:
    with pytest.raises(DomainError) as caught:
        rules(eligibility=[streak(metric="  ")]).validated()
    assert type(caught.value) is InvalidInput
    assert caught.value.field == "eligibility[0].metric"


@pytest.mark.parametrize("months", [1, 12])
def test_a_streak_lasts_1_to_12_months(months: int) -> None:
    assert rules(eligibility=[streak(months=months)]).validated().eligibility[0] == streak(
        months=months
    )


@pytest.mark.parametrize("months", [0, -1, 13])
def test_a_streak_outside_1_to_12_months_is_rejected(months: int) -> None:
    with pytest.raises(DomainError) as caught:
        rules(eligibility=[streak(), streak("other", months)]).validated()
    assert_invalid("eligibility[1].consecutiveMonths", caught)
    assert f"is {months}; it must lie between 1 and 12" in caught.value.message


def test_a_malformed_eligibility_reward_is_rejected_naming_the_field() -> None:
    with pytest.raises(DomainError) as caught:
        rules(eligibility=[streak(reward=RewardSpec(RewardKind.BONUS))]).validated()
    assert type(caught.value) is InvalidInput
    assert caught.value.field == "eligibility[0].reward.amount"


# -- distribution guideline -------------------------------------------------------------------


def test_a_distribution_guideline_is_listed_in_tier_order() -> None:
    shares = [TierShare("B", Decimal(40)), TierShare(" A ", Decimal("20.0"))]
    assert rules(distribution=shares).validated().distribution == [
        TierShare("A", Decimal("20.0")),
        TierShare("B", Decimal(40)),
    ]


def test_a_distribution_guideline_for_an_unknown_tier_is_rejected() -> None:
    with pytest.raises(DomainError) as caught:
        rules(distribution=[TierShare("Z", Decimal(20))]).validated()
    assert_invalid("distribution[0].tier", caught)


def test_a_tier_has_at_most_one_distribution_guideline() -> None:
    shares = [TierShare("A", Decimal(20)), TierShare("A", Decimal(30))]
    with pytest.raises(DomainError) as caught:
        rules(distribution=shares).validated()
    assert_invalid("distribution[1].tier", caught)


@pytest.mark.parametrize("percent", [Decimal(0), Decimal("100.01"), Decimal(-1), Decimal("NaN")])
def test_a_distribution_share_lies_above_0_and_at_most_100(percent: Decimal) -> None:
    with pytest.raises(DomainError) as caught:
        rules(distribution=[TierShare("A", percent)]).validated()
    assert_invalid("distribution[0].maxPercent", caught)


# -- the rule book ----------------------------------------------------------------------------


def book() -> RuleBook:
    opened = RuleBook.open(HR)
    opened.collect_events()
    return opened


def test_rule_set_versions_are_numbered_from_1_in_the_order_defined() -> None:
    rule_book = book()
    assert rule_book.define(rules(), "first", HR) == 1
    assert rule_book.define(rules(achievement_cap=Decimal(150)), "second", HR) == 2
    assert rule_book.define(rules(achievement_cap=Decimal(110)), "third", HR) == 3
    assert rule_book.versions[2].achievement_cap == Decimal(150)
    defined = rule_book.collect_events()
    assert [vars(e)["version"] for e in defined] == [1, 2, 3]


def test_a_rejected_rule_set_takes_no_version_number() -> None:
    rule_book = book()
    with pytest.raises(InvalidRuleSet):
        rule_book.define(rules(achievement_cap=Decimal(50)), "broken", HR)
    assert rule_book.collect_events() == []
    assert rule_book.define(rules(), "fixed", HR) == 1


def test_a_rule_set_is_stored_validated() -> None:
    rule_book = book()
    version = rule_book.define(rules(tiers=[Tier(" Top ", Decimal(0))]), "trimmed", HR)
    assert rule_book.versions[version].tiers == [Tier("Top", Decimal(0))]


def test_a_rule_set_needs_a_description() -> None:
    with pytest.raises(DomainError) as caught:
        book().define(rules(), "  ", HR)
    assert type(caught.value) is InvalidInput
    assert caught.value.field == "description"


def test_only_a_defined_version_can_be_adopted() -> None:
    rule_book = book()
    rule_book.define(rules(), "first", HR)
    with pytest.raises(DomainError) as caught:
        rule_book.adopt(2, date(2026, 1, 1), HR)
    assert type(caught.value) is NotFound
    assert caught.value.field == "version"
    assert rule_book.adoptions == []


def test_no_version_is_in_force_before_the_first_adoption_takes_effect() -> None:
    rule_book = book()
    assert rule_book.version_in_force(date(2026, 1, 1)) is None
    rule_book.define(rules(), "first", HR)
    rule_book.adopt(1, date(2026, 1, 1), HR)
    assert rule_book.version_in_force(date(2025, 12, 31)) is None
    assert rule_book.version_in_force(date(2026, 1, 1)) == 1  # in force on its effective day


def test_the_latest_effective_date_on_or_before_the_day_wins_whatever_the_adoption_order() -> None:
    rule_book = book()
    for description in ("v1", "v2", "v3"):
        rule_book.define(rules(), description, HR)
    # Adopted out of date order: v3 from July first, then v1 from January, then v2 from April.
    rule_book.adopt(3, date(2026, 7, 1), HR)
    rule_book.adopt(1, date(2026, 1, 1), HR)
    rule_book.adopt(2, date(2026, 4, 1), HR)
    assert rule_book.version_in_force(date(2026, 1, 1)) == 1
    assert rule_book.version_in_force(date(2026, 3, 31)) == 1
    assert rule_book.version_in_force(date(2026, 4, 1)) == 2
    assert rule_book.version_in_force(date(2026, 6, 30)) == 2
    assert rule_book.version_in_force(date(2026, 7, 1)) == 3
    assert rule_book.version_in_force(date(2030, 1, 1)) == 3


def test_of_adoptions_with_the_same_effective_date_the_later_one_wins() -> None:
    rule_book = book()
    rule_book.define(rules(), "v1", HR)
    rule_book.define(rules(), "v2", HR)
    rule_book.adopt(1, date(2026, 1, 1), HR)
    rule_book.adopt(2, date(2026, 1, 1), HR)
    assert rule_book.version_in_force(date(2026, 2, 1)) == 2
    rule_book.adopt(1, date(2026, 1, 1), HR)  # a rollback: v1 again from the same day
    assert rule_book.version_in_force(date(2026, 2, 1)) == 1


def test_a_later_adoption_with_an_earlier_date_does_not_override_a_later_date() -> None:
    # v2 from March, recorded first; v1 from February, recorded later.
    adoptions = [Adoption(2, date(2026, 3, 1)), Adoption(1, date(2026, 2, 1))]
    assert version_in_force(adoptions, date(2026, 1, 31)) is None
    assert version_in_force(adoptions, date(2026, 2, 15)) == 1
    assert version_in_force(adoptions, date(2026, 3, 15)) == 2
