"""Rule sets through the application on PostgreSQL: defined and adopted by HR only, read back
exactly by another process, and the rule book keeps working however long it grows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.errors import DomainError, InvalidInput, InvalidRuleSet, NotFound, PermissionDenied
from domain.goals import Perspective
from domain.provenance import Role
from domain.reviews import RaterSource
from domain.rewards import RewardKind, RewardSpec
from domain.rules import (
    DEFAULT_RULES,
    RULE_BOOK_ID,
    EligibilityRule,
    RuleSet,
    Tier,
    TierReward,
    TierShare,
)
from service.application import Perfledger
from service.bootstrap import build_application
from service.database import Database
from tests.conftest import make_settings
from tests.helpers import HR, as_role

PILOT = RuleSet(
    achievement_cap=Decimal("150.0"),
    achievement_floor=Decimal("10.00"),
    perspective_weights={
        Perspective.FINANCIAL: Decimal("62.50"),
        Perspective.CUSTOMER: Decimal("37.5"),
    },
    tiers=[Tier("star", Decimal("95")), Tier("rest", Decimal("0.00"))],
)


def test_a_defined_and_adopted_rule_set_reads_back_exactly_in_another_process(
    app: Perfledger, database: Database
) -> None:
    app.define_rule_set(HR, RuleSet(), "production defaults")
    receipt = app.define_rule_set(HR, PILOT, "pilot: balanced scorecard")
    assert (receipt.id, receipt.version) == (RULE_BOOK_ID, 2)
    app.adopt_rule_set(HR, 2, date(2026, 4, 1))

    other = build_application(database, make_settings())  # no shared cache: read from the store
    try:
        book = other.rule_book()
        assert book.versions[2] == PILOT.validated()
        weights = book.versions[2].perspective_weights
        assert {p: str(w) for p, w in weights.items()} == {
            Perspective.CUSTOMER: "37.5",
            Perspective.FINANCIAL: "62.50",
        }
        assert book.version_in_force(date(2026, 3, 31)) is None
        assert book.version_in_force(date(2026, 4, 1)) == 2
    finally:
        other.close()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.EMPLOYEE, Role.AUDITOR])
def test_only_hr_and_admin_define_and_adopt_rule_sets(app: Perfledger, role: Role) -> None:
    app.define_rule_set(HR, RuleSet(), "production defaults")
    before = app.recorder.max_notification_id()
    with pytest.raises(PermissionDenied):
        app.define_rule_set(as_role(role, "someone"), PILOT, "my own rules")
    with pytest.raises(PermissionDenied):
        app.adopt_rule_set(as_role(role, "someone"), 1, date(2026, 1, 1))
    assert app.recorder.max_notification_id() == before
    app.define_rule_set(as_role(Role.ADMIN, "admin-1"), PILOT, "admin may")


def test_invalid_rules_and_unknown_versions_record_nothing(app: Perfledger) -> None:
    app.define_rule_set(HR, RuleSet(), "production defaults")
    before = app.recorder.max_notification_id()
    with pytest.raises(InvalidRuleSet) as invalid:
        app.define_rule_set(HR, RuleSet(achievement_cap=Decimal(99)), "too tight")
    assert invalid.value.field == "achievementCap"
    with pytest.raises(NotFound) as unknown:
        app.adopt_rule_set(HR, 2, date(2026, 1, 1))
    assert unknown.value.field == "version"
    assert app.recorder.max_notification_id() == before
    assert app.define_rule_set(HR, PILOT, "next").version == 2  # no number was used up


def test_every_rule_book_command_records_exactly_one_event_however_long_the_book(
    app: Perfledger, database: Database
) -> None:
    # The rule book used to be snapshotted every 50 events, and its snapshot could not be
    # encoded: the 50th command raised after its event had been recorded.
    app.define_rule_set(HR, RuleSet(), "production defaults")  # opens the book: 2 events
    for day in range(1, 61):
        before = app.recorder.max_notification_id() or 0
        receipt = app.adopt_rule_set(HR, 1, date(2026, 1, day % 28 + 1))
        assert receipt.position == before + 1
    other = build_application(database, make_settings())
    try:
        book = other.rule_book()
        assert len(book.adoptions) == 60
        assert book.version == 62
    finally:
        other.close()


def test_the_default_rules_with_360_weights_and_rewards_read_back_exactly(
    app: Perfledger, database: Database
) -> None:
    app.define_rule_set(HR, DEFAULT_RULES, "production defaults")
    other = build_application(database, make_settings())
    try:
        stored = other.rule_book().versions[1]
        assert stored == DEFAULT_RULES
        assert stored.reward_rules() == DEFAULT_RULES.reward_rules()
    finally:
        other.close()


BROKEN_RULE_SETS: list[tuple[RuleSet, type[DomainError], str]] = [
    (
        RuleSet(kpi_weight=Decimal(60), review_weight=Decimal(30)),
        InvalidRuleSet,
        "reviewWeight",
    ),
    (
        RuleSet(
            kpi_weight=Decimal(60),
            review_weight=Decimal(40),
            source_weights={RaterSource.MANAGER: Decimal(50), RaterSource.PEER: Decimal(40)},
        ),
        InvalidRuleSet,
        "sourceWeights",
    ),
    (
        RuleSet(competency_weights={"teamwork": Decimal(99)}),
        InvalidRuleSet,
        "competencyWeights",
    ),
    (
        RuleSet(
            tiers=PILOT.tiers,
            tier_rewards=[TierReward("gold", RewardSpec(RewardKind.TRAINING, title="Course"))],
        ),
        InvalidRuleSet,
        "tierRewards[0].tier",
    ),
    (
        RuleSet(tiers=PILOT.tiers, distribution=[TierShare("gold", Decimal(10))]),
        InvalidRuleSet,
        "distribution[0].tier",
    ),
    (
        RuleSet(
            eligibility=[
                EligibilityRule("streak", "sales", 3, RewardSpec(RewardKind.BONUS)),
            ]
        ),
        InvalidInput,
        "eligibility[0].reward.amount",
    ),
]


@pytest.mark.parametrize(
    ("rules", "error", "field"), BROKEN_RULE_SETS, ids=[f for _, _, f in BROKEN_RULE_SETS]
)
def test_a_rule_set_that_does_not_add_up_is_rejected_naming_the_field_and_records_nothing(
    app: Perfledger, rules: RuleSet, error: type[DomainError], field: str
) -> None:
    app.define_rule_set(HR, RuleSet(), "production defaults")
    before = app.recorder.max_notification_id()
    with pytest.raises(DomainError) as rejected:
        app.define_rule_set(HR, rules, "does not add up")
    assert type(rejected.value) is error
    assert rejected.value.field == field
    assert app.recorder.max_notification_id() == before
    assert len(app.rule_book().versions) == 1
