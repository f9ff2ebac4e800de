"""Every domain event survives the application's mapper exactly: same types, same digits."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, DomainEventProtocol, Snapshot

from domain.goals import Direction, Goal, GoalSet, GoalSpec, Horizon, OwnerKind, Perspective
from domain.organisation import Department, Employee, OrgStructure
from domain.periods import Period
from domain.provenance import Provenance, Role
from domain.reviews import RaterSource
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import EligibilityRule, RuleBook, RuleSet, Tier, TierReward, TierShare
from service.application import Perfledger
from service.idempotency import ProcessedRequest

AGGREGATES: tuple[type[Aggregate], ...] = (
    Department,
    Employee,
    OrgStructure,
    Goal,
    GoalSet,
    RuleBook,
    ProcessedRequest,
)

PLAIN = Provenance("hr-1", Role.HR, "corr-1")
WITH_REASON = Provenance("00000000-0000-0000-0000-0000000000b0", Role.MANAGER, "corr-2", "Q2 plan")
DEPARTMENT = UUID(int=0xD1)
OTHER_DEPARTMENT = UUID(int=0xD2)
HIRING = GoalSpec(
    title="Time to hire",
    metric="time_to_hire",
    unit="days",
    direction=Direction.LOWER_IS_BETTER,
    baseline=Decimal("45.0"),
    target=Decimal("30"),
    weight=Decimal("8.50"),
    perspective=Perspective.INTERNAL_PROCESS,
    horizon=Horizon.SHORT_TERM,
    period="2026-Q1",
    due_date=date(2026, 3, 31),
)
RULES = RuleSet(
    achievement_cap=Decimal("150.0"),
    achievement_floor=Decimal("0.00"),
    perspective_weights={
        Perspective.FINANCIAL: Decimal("40.5"),
        Perspective.CUSTOMER: Decimal("30"),
        Perspective.LEARNING_AND_GROWTH: Decimal("29.50"),
    },
    tiers=[Tier("star", Decimal("90.00")), Tier("solid", Decimal("60")), Tier("rest", Decimal(0))],
)
FULL_RULES = RuleSet(
    achievement_cap=Decimal("130.0"),
    tiers=[Tier("A", Decimal("90.0")), Tier("B", Decimal(60)), Tier("C", Decimal(0))],
    kpi_weight=Decimal("62.50"),
    review_weight=Decimal("37.5"),
    source_weights={
        RaterSource.MANAGER: Decimal("50.0"),
        RaterSource.PEER: Decimal("20"),
        RaterSource.CUSTOMER: Decimal("20.00"),
        RaterSource.SELF: Decimal(10),
    },
    competency_weights={"teamwork": Decimal("40.0"), "customer_focus": Decimal("60")},
    tier_rewards=[
        TierReward("A", RewardSpec(RewardKind.BONUS, amount=Money(Decimal("1500.00"), "EUR"))),
        TierReward("A", RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal("1.5"), title="Rest")),
        TierReward("B", RewardSpec(RewardKind.COMMISSION, percent_of_salary=Decimal("2.50"))),
        TierReward("C", RewardSpec(RewardKind.TRAINING, title="Negotiation course")),
    ],
    eligibility=[
        EligibilityRule(
            "sales_streak",
            "sales_growth_monthly",
            3,
            RewardSpec(RewardKind.RECOGNITION, title="Star of the month"),
        )
    ],
    distribution=[TierShare("A", Decimal("20.0")), TierShare("C", Decimal(15))],
)


def all_event_types() -> set[str]:
    return {
        f"{aggregate.__name__}.{name}"
        for aggregate in AGGREGATES
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, aggregate.Event)
        and name not in {"Event", "Created"}
    }


def sample_events() -> Iterator[DomainEventProtocol[UUID]]:
    """At least one event of every type, with awkward values: trailing zeros, reasons, nesting."""
    sales = Department.open(
        id=DEPARTMENT, code="SALES", name="Sales", parent_id=None, provenance=PLAIN
    )
    key_accounts = Department.open(
        id=UUID(int=0xD3), code="KEY", name="Key accounts", parent_id=DEPARTMENT, provenance=PLAIN
    )
    key_accounts.rename("Key Accounts", WITH_REASON)
    key_accounts.move_under(None, [], WITH_REASON)
    key_accounts.move_under(OTHER_DEPARTMENT, [OTHER_DEPARTMENT], PLAIN)
    yield from sales.collect_events()
    yield from key_accounts.collect_events()

    boss = Employee.hire(
        id=UUID(int=0xE1), code="E1", name="Bo", department_id=DEPARTMENT, manager=None,
        job_title="Head of Sales", hire_date=date(2020, 2, 29), attributes={},
        provenance=PLAIN,
    )  # fmt: skip
    alice = Employee.hire(
        id=UUID(int=0xE2), code="E2", name="Alice", department_id=DEPARTMENT, manager=boss,
        job_title="Account manager", hire_date=date(2021, 5, 1),
        attributes={"location": "Berlin", "gender": "f"}, provenance=WITH_REASON,
    )  # fmt: skip
    alice.transfer(OTHER_DEPARTMENT, date(2026, 1, 1), PLAIN)
    alice.change_manager(None, [], WITH_REASON)
    alice.change_manager(boss, [boss.id], PLAIN)
    alice.set_attributes({"gender": "x"}, PLAIN)
    alice.leave(date(2026, 12, 31), WITH_REASON)
    yield from boss.collect_events()
    yield from alice.collect_events()

    structure = OrgStructure.start(PLAIN)
    structure.note_change(alice.id, PLAIN)
    yield from structure.collect_events()

    department_goal = Goal.set(
        id=UUID(int=0x61), owner_kind=OwnerKind.DEPARTMENT, owner_id=DEPARTMENT,
        department_id=DEPARTMENT, parent=None, spec=HIRING, provenance=PLAIN,
    )  # fmt: skip
    goal = Goal.set(
        id=UUID(int=0x62), owner_kind=OwnerKind.EMPLOYEE, owner_id=alice.id,
        department_id=DEPARTMENT, parent=department_goal, spec=HIRING, provenance=WITH_REASON,
    )  # fmt: skip
    goal.record_progress(Decimal("36.10"), date(2026, 2, 28), "ats", PLAIN)
    goal.record_progress(Decimal("-0.000"), date(2026, 3, 1), "ats", WITH_REASON)
    goal.revise_target(Decimal("32.50"), WITH_REASON)
    goal.close(PLAIN)
    department_goal.abandon(WITH_REASON)
    yield from department_goal.collect_events()
    yield from goal.collect_events()

    goal_set = GoalSet.start(OwnerKind.EMPLOYEE, alice.id, "2026-Q1", PLAIN)
    goal_set.add(goal.id, Decimal("8.50"), PLAIN)
    goal_set.withdraw(goal.id, WITH_REASON)
    goal_set.add(UUID(int=0x63), Decimal("100.00"), PLAIN)
    goal_set.confirm(WITH_REASON)
    yield from goal_set.collect_events()

    book = RuleBook.open(PLAIN)
    book.define(RULES, "balanced scorecard pilot", WITH_REASON)
    book.define(RuleSet(), "no perspectives, no tiers", PLAIN)
    book.define(FULL_RULES, "360 weights, rewards, eligibility and a guideline", PLAIN)
    book.adopt(1, date(2026, 4, 1), PLAIN)
    book.adopt_for(2, date(2026, 7, 1), [UUID(int=0xE2), UUID(int=0xE1)], WITH_REASON)
    yield from book.collect_events()

    request = ProcessedRequest(
        id=UUID(int=0x70), actor_id="hr-1", key="k-1", command="setGoal", fingerprint="ab12",
        result_id=str(goal.id), result_version=None,
    )  # fmt: skip
    yield from request.collect_events()


SAMPLES = list(sample_events())


def event_name(event: object) -> str:
    return type(event).__qualname__


def assert_identical(original: Any, decoded: Any, where: str) -> None:
    """Equal, of the same types all the way down, and spelt the same (Decimal digits included)."""
    assert type(decoded) is type(original), where
    assert decoded == original, where
    assert repr(decoded) == repr(original), where
    if isinstance(original, dict):
        assert list(decoded) == list(original), where
        for key in original:
            assert_identical(original[key], decoded[key], f"{where}[{key!r}]")
    elif isinstance(original, list | tuple):
        for index, (left, right) in enumerate(zip(original, decoded, strict=True)):
            assert_identical(left, right, f"{where}[{index}]")
    elif hasattr(original, "__dataclass_fields__"):
        for name in original.__dataclass_fields__:
            assert_identical(getattr(original, name), getattr(decoded, name), f"{where}.{name}")


@pytest.fixture(scope="module")
def app() -> Iterator[Perfledger]:
    application = Perfledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def test_the_samples_cover_every_event_type() -> None:
    assert {event_name(e) for e in SAMPLES} == all_event_types()
    assert len(all_event_types()) == 24


@pytest.mark.parametrize("event", SAMPLES, ids=[event_name(e) for e in SAMPLES])
def test_an_event_round_trips_exactly_through_the_mapper(
    app: Perfledger, event: DomainEventProtocol[UUID]
) -> None:
    stored = app.mapper.to_stored_event(event)
    decoded = app.mapper.to_domain_event(stored)
    assert type(decoded) is type(event)
    assert vars(decoded).keys() == vars(event).keys()
    for name, value in vars(event).items():
        assert_identical(value, vars(decoded)[name], f"{event_name(event)}.{name}")


def test_decimals_keep_their_digits_in_storage(app: Perfledger) -> None:
    added = next(e for e in SAMPLES if event_name(e) == "GoalSet.GoalAdded")
    stored = app.mapper.to_stored_event(added)
    assert b'"8.50"' in stored.state
    decoded = app.mapper.to_domain_event(stored)
    assert str(vars(decoded)["weight"]) == "8.50"


def test_a_goal_spec_keeps_its_decimals_date_and_enums(app: Perfledger) -> None:
    created = next(e for e in SAMPLES if event_name(e) == "Goal.Set")
    stored = app.mapper.to_stored_event(created)
    assert b"2026-03-31" in stored.state
    spec: GoalSpec = vars(app.mapper.to_domain_event(stored))["spec"]
    assert (str(spec.baseline), str(spec.target), str(spec.weight)) == ("45.0", "30", "8.50")
    assert type(spec.due_date) is date
    assert spec.direction is Direction.LOWER_IS_BETTER
    assert spec.perspective is Perspective.INTERNAL_PROCESS
    assert spec.horizon is Horizon.SHORT_TERM
    assert Period.parse(spec.period).end == spec.due_date


def test_a_rule_set_keeps_perspective_weights_and_tiers(app: Perfledger) -> None:
    defined = next(e for e in SAMPLES if event_name(e) == "RuleBook.VersionDefined")
    decoded = app.mapper.to_domain_event(app.mapper.to_stored_event(defined))
    rules: RuleSet = vars(decoded)["rules"]
    assert rules == RULES.validated()
    assert {p: str(w) for p, w in rules.perspective_weights.items()} == {
        Perspective.CUSTOMER: "30",
        Perspective.FINANCIAL: "40.5",
        Perspective.LEARNING_AND_GROWTH: "29.50",
    }
    assert [(t.name, str(t.min_score)) for t in rules.tiers] == [
        ("star", "90.00"),
        ("solid", "60"),
        ("rest", "0"),
    ]
    assert str(rules.achievement_cap) == "150.0"


def test_a_full_rule_set_keeps_its_360_weights_rewards_and_guideline(app: Perfledger) -> None:
    defined = [e for e in SAMPLES if event_name(e) == "RuleBook.VersionDefined"][-1]
    decoded = app.mapper.to_domain_event(app.mapper.to_stored_event(defined))
    rules: RuleSet = vars(decoded)["rules"]
    assert_identical(FULL_RULES.validated(), rules, "rules")
    assert type(next(iter(rules.source_weights))) is RaterSource
    assert rules.reward_rules() == FULL_RULES.validated().reward_rules()
    assert list(rules.reward_rules()) == [
        "tier:A:0",
        "tier:A:1",
        "tier:B:0",
        "tier:C:0",
        "eligibility:sales_streak",
    ]


def test_a_rule_set_recorded_before_360_weights_and_rewards_existed_still_decodes(
    app: Perfledger,
) -> None:
    defined = next(e for e in SAMPLES if event_name(e) == "RuleBook.VersionDefined")
    stored = app.mapper.to_stored_event(defined)
    state = json.loads(stored.state)
    old_keys = {"achievement_cap", "achievement_floor", "perspective_weights", "tiers"}
    rules_data = state["rules"]["_data_"]
    state["rules"]["_data_"] = {k: v for k, v in rules_data.items() if k in old_keys}
    old = dataclasses.replace(stored, state=json.dumps(state).encode())
    rules: RuleSet = vars(app.mapper.to_domain_event(old))["rules"]
    assert rules == dataclasses.replace(
        RULES.validated(),
        kpi_weight=Decimal(100),
        review_weight=Decimal(0),
        source_weights={},
        competency_weights={},
        tier_rewards=[],
        eligibility=[],
        distribution=[],
    )
    assert rules.reward_rules() == {}


@pytest.mark.parametrize("provenance", [PLAIN, WITH_REASON], ids=["without_reason", "with_reason"])
def test_provenance_round_trips_with_and_without_a_reason(
    app: Perfledger, provenance: Provenance
) -> None:
    structure = OrgStructure.start(PLAIN)
    structure.note_change(UUID(int=1), provenance)
    changed = structure.collect_events()[-1]
    decoded = app.mapper.to_domain_event(app.mapper.to_stored_event(changed))
    assert vars(decoded)["provenance"] == provenance
    assert type(vars(decoded)["provenance"].actor_role) is Role


def test_an_org_structure_snapshot_round_trips(app: Perfledger) -> None:
    structure = OrgStructure.start(PLAIN)
    structure.note_change(UUID(int=1), PLAIN)
    structure.collect_events()
    snapshot = Snapshot.take(structure)
    decoded = app.mapper.to_domain_event(app.mapper.to_stored_event(snapshot))
    assert vars(decoded).keys() == vars(snapshot).keys()
    for name, value in vars(snapshot).items():
        assert_identical(value, vars(decoded)[name], f"snapshot.{name}")
    assert isinstance(decoded, Snapshot)
    restored = decoded.mutate(None)
    assert isinstance(restored, OrgStructure)
    assert restored.version == structure.version
