"""Reward commands on PostgreSQL: who may grant and revoke, that a rejected command leaves nothing,
and that revoking adds to the history instead of erasing the grant."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    AlreadyExists,
    CycleNotInState,
    EmployeeHasLeft,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ReasonRequired,
    ReferenceSalaryRequired,
    RewardAlreadyRevoked,
)
from domain.provenance import Provenance, Role
from domain.reviews import (
    Competency,
    CycleDeadlines,
    CycleDefinition,
    RatingScale,
    ReviewCycle,
)
from domain.rewards import (
    Money,
    Reward,
    RewardBasis,
    RewardKind,
    RewardOrigin,
    RewardSpec,
    proposed_reward_id,
)
from domain.rules import DEFAULT_RULES, TierReward
from service.application import Perfledger, employee_id_for
from service.bootstrap import build_application
from service.command_base import Receipt
from service.database import Database
from tests.conftest import make_settings
from tests.helpers import HR, Org, as_role, assert_records_nothing, position

TODAY = date(2026, 4, 2)
BONUS = RewardSpec(RewardKind.BONUS, amount=Money(Decimal("750.00"), "EUR"))
SHARE = RewardSpec(RewardKind.COMMISSION, percent_of_salary=Decimal("1.5"))
SALARY = Money(Decimal("48000"), "EUR")


@pytest.fixture
def carl(app: Perfledger, org: Org) -> UUID:
    """Reports to Alice, who reports to the boss: the boss is two levels above Carl."""
    app.hire_employee(
        HR,
        code="E4",
        name="Carl",
        department_id=org.sales,
        manager_id=org.alice,
        job_title="Sales assistant",
        hire_date=date(2024, 2, 1),
        attributes={},
    )
    return employee_id_for("E4")


def grant(
    app: Perfledger,
    provenance: Provenance,
    employee: UUID,
    spec: RewardSpec = BONUS,
    *,
    reference_salary: Money | None = None,
    reward_id: UUID | None = None,
    idempotency_key: str | None = None,
) -> Receipt:
    return app.grant_reward(
        provenance,
        reward_id=reward_id or uuid4(),
        employee_id=employee,
        spec=spec,
        reference_salary=reference_salary,
        period="2026-Q1",
        today=TODAY,
        idempotency_key=idempotency_key,
    )


def reward(app: Perfledger, reward_id: UUID | None) -> Reward:
    assert reward_id is not None
    aggregate: object = app.repository.get(reward_id)
    assert isinstance(aggregate, Reward)
    return aggregate


# -- who may grant -----------------------------------------------------------------------------


def test_the_direct_manager_grants_a_reward_with_a_reason(app: Perfledger, org: Org) -> None:
    receipt = grant(app, as_role(Role.MANAGER, org.boss, "closed the Lyon deal"), org.alice)
    granted = reward(app, receipt.id)
    assert granted.employee_id == org.alice
    assert granted.origin is RewardOrigin.MANUAL
    assert granted.granted_amount == BONUS.amount
    assert granted.period == "2026-Q1"
    assert granted.granted_on == TODAY
    assert receipt.position == position(app)


def test_a_manager_further_up_the_line_grants_too(app: Perfledger, org: Org, carl: UUID) -> None:
    receipt = grant(app, as_role(Role.MANAGER, org.boss, "helped close Lyon"), carl)
    assert reward(app, receipt.id).employee_id == carl


def test_hr_and_admin_grant_to_anyone(app: Perfledger, org: Org) -> None:
    grant(app, HR.because("retention"), org.boss)
    grant(app, as_role(Role.ADMIN, "admin-1", "retention"), org.bob)


@pytest.mark.parametrize(
    ("role", "actor"),
    [
        (Role.MANAGER, "bob"),  # a peer, not above Alice
        (Role.EMPLOYEE, "boss"),  # above Alice, but not acting as a manager
        (Role.AUDITOR, "hr"),
    ],
)
def test_others_may_not_grant_and_nothing_is_recorded(
    app: Perfledger, org: Org, role: Role, actor: str
) -> None:
    actors: dict[str, UUID | str] = {"bob": org.bob, "boss": org.boss, "hr": "auditor-1"}
    actor_id = actors[actor]
    assert_records_nothing(
        app,
        lambda: grant(app, as_role(role, actor_id, "well done"), org.alice),
        PermissionDenied,
        None,
    )


def test_nobody_rewards_themselves(app: Perfledger, org: Org) -> None:
    hr_person = as_role(Role.HR, org.boss, "I deserve it")
    assert_records_nothing(
        app, lambda: grant(app, hr_person, org.boss), PermissionDenied, "employeeId"
    )


def test_the_employee_must_exist_and_not_have_left(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app, lambda: grant(app, HR.because("x"), uuid4()), NotFound, "employeeId"
    )
    app.record_leaving(HR, org.bob, date(2026, 3, 31))
    assert_records_nothing(
        app, lambda: grant(app, HR.because("farewell"), org.bob), EmployeeHasLeft, "employeeId"
    )


# -- what is granted ---------------------------------------------------------------------------


def test_a_percentage_reward_records_salary_and_computed_amount(app: Perfledger, org: Org) -> None:
    receipt = grant(
        app, HR.because("quarter target met"), org.alice, SHARE, reference_salary=SALARY
    )
    granted = reward(app, receipt.id)
    assert granted.reference_salary == SALARY
    assert granted.granted_amount == Money(Decimal("720.00"), "EUR")


def test_a_percentage_reward_without_salary_is_rejected_naming_it(
    app: Perfledger, org: Org
) -> None:
    assert_records_nothing(
        app,
        lambda: grant(app, HR.because("target met"), org.alice, SHARE),
        ReferenceSalaryRequired,
        "referenceSalary",
    )


def test_a_fixed_amount_reward_with_a_salary_is_rejected(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: grant(app, HR.because("target met"), org.alice, reference_salary=SALARY),
        InvalidInput,
        "referenceSalary",
    )


def test_a_grant_without_reason_or_with_a_bad_spec_records_nothing(
    app: Perfledger, org: Org
) -> None:
    assert_records_nothing(app, lambda: grant(app, HR, org.alice), ReasonRequired, "reason")
    assert_records_nothing(
        app,
        lambda: grant(app, HR.because("x"), org.alice, RewardSpec(RewardKind.RECOGNITION)),
        InvalidInput,
        "reward.title",
    )


def test_a_reward_id_is_used_once(app: Perfledger, org: Org) -> None:
    reward_id = uuid4()
    grant(app, HR.because("first"), org.alice, reward_id=reward_id)
    assert_records_nothing(
        app,
        lambda: grant(app, HR.because("second"), org.bob, reward_id=reward_id),
        AlreadyExists,
        "id",
    )


def test_a_retried_grant_with_the_same_key_is_recorded_once(app: Perfledger, org: Org) -> None:
    reward_id = uuid4()
    first = grant(app, HR.because("x"), org.alice, reward_id=reward_id, idempotency_key="k1")
    again = grant(app, HR.because("x"), org.alice, reward_id=reward_id, idempotency_key="k1")
    assert again.id == first.id == reward_id
    assert position(app) == first.position


def test_the_granted_event_round_trips_through_the_store(
    app: Perfledger, org: Org, database: Database
) -> None:
    receipt = grant(app, HR.because("target met"), org.alice, SHARE, reference_salary=SALARY)
    fresh = build_application(database, make_settings())
    try:
        stored = reward(fresh, receipt.id)
    finally:
        fresh.close()
    assert stored.spec == SHARE
    assert stored.granted_amount == Money(Decimal("720.00"), "EUR")
    assert isinstance(stored.spec.kind, RewardKind)
    assert isinstance(stored.origin, RewardOrigin)


# -- revoking ----------------------------------------------------------------------------------


def test_rewards_revoke_keeps_the_grant_in_the_history(app: Perfledger, org: Org) -> None:
    receipt = grant(app, as_role(Role.MANAGER, org.boss, "Lyon deal"), org.alice)
    assert receipt.id is not None
    revoked = app.revoke_reward(
        as_role(Role.MANAGER, org.boss, "deal fell through"), receipt.id, date(2026, 4, 9)
    )
    current = reward(app, receipt.id)
    assert current.revoked_on == date(2026, 4, 9)
    assert current.spec == BONUS
    events = list(app.events.get(receipt.id))
    assert [type(e).__name__ for e in events] == ["Granted", "Revoked"]
    assert events[0].provenance.reason == "Lyon deal"  # type: ignore[attr-defined]
    assert events[1].provenance.reason == "deal fell through"  # type: ignore[attr-defined]
    assert revoked.position == position(app)


def test_rewards_revoke_twice_is_rejected_and_records_nothing(app: Perfledger, org: Org) -> None:
    receipt = grant(app, HR.because("x"), org.alice)
    assert receipt.id is not None
    reward_id = receipt.id
    app.revoke_reward(HR.because("mistake"), reward_id, TODAY)
    assert_records_nothing(
        app,
        lambda: app.revoke_reward(HR.because("mistake again"), reward_id, TODAY),
        RewardAlreadyRevoked,
        None,
    )


def test_rewards_revoke_needs_a_reason_and_the_right_people(
    app: Perfledger, org: Org, carl: UUID
) -> None:
    receipt = grant(app, as_role(Role.MANAGER, org.alice, "x"), carl)
    assert receipt.id is not None
    reward_id = receipt.id
    assert_records_nothing(
        app, lambda: app.revoke_reward(HR, reward_id, TODAY), ReasonRequired, "reason"
    )
    assert_records_nothing(
        app,
        lambda: app.revoke_reward(as_role(Role.MANAGER, org.bob, "no"), reward_id, TODAY),
        PermissionDenied,
        None,
    )
    assert_records_nothing(
        app,
        lambda: app.revoke_reward(as_role(Role.EMPLOYEE, carl, "no"), reward_id, TODAY),
        PermissionDenied,
        None,
    )
    # The boss, two levels up, may revoke what Alice granted.
    app.revoke_reward(as_role(Role.MANAGER, org.boss, "duplicate"), reward_id, TODAY)
    assert reward(app, reward_id).revoked


def test_revoking_an_unknown_reward_is_not_found(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app, lambda: app.revoke_reward(HR.because("x"), uuid4(), TODAY), NotFound, "rewardId"
    )


# -- approving what the rules proposed --------------------------------------------------------


def review_cycle(
    app: Perfledger, org: Org, *, closed: bool = True, period: str = "2026-Q1"
) -> UUID:
    """A cycle over Alice and Bob, run to its end (or left in calibration)."""
    cycle = ReviewCycle.draft(
        uuid4(),
        CycleDefinition(
            name=f"{period} review",
            period=period,
            scope_departments=[org.sales],
            scope_employees=[],
            competencies=[
                Competency("teamwork", "Teamwork", Decimal(100), ["poor", "fair", "good"])
            ],
            scale=RatingScale(1, 3),
            deadlines=CycleDeadlines(date(2026, 4, 15), date(2026, 4, 30)),
        ),
        HR,
    )
    cycle.open([org.alice, org.bob], date(2026, 4, 1), HR)
    cycle.start_calibration(HR)
    if closed:
        cycle.close(HR)
    app.save(cycle)
    return cycle.id


def approve(
    app: Perfledger,
    cycle_id: UUID,
    employee: UUID,
    rule_key: str = "tier:A:0",
    *,
    provenance: Provenance = HR,
    tier: str | None = "A",
    reference_salary: Money | None = SALARY,
) -> Receipt:
    return app.approve_proposed_reward(
        provenance,
        cycle_id=cycle_id,
        employee_id=employee,
        rule_key=rule_key,
        tier=tier,
        score=Decimal("93.40"),
        reference_salary=reference_salary,
        today=TODAY,
    )


def test_an_approved_proposal_records_the_rule_and_version_that_made_it(
    app: Perfledger, org: Org
) -> None:
    cycle_id = review_cycle(app, org)
    receipt = approve(app, cycle_id, org.alice)
    assert receipt.id == proposed_reward_id(cycle_id, org.alice, "tier:A:0")
    granted = reward(app, receipt.id)
    # The built-in defaults (version 0) give tier A 10% of salary.
    assert granted.spec == DEFAULT_RULES.reward_rules()["tier:A:0"]
    assert granted.granted_amount == Money(Decimal("4800.00"), "EUR")
    assert granted.origin is RewardOrigin.RULES
    assert granted.basis == RewardBasis(cycle_id, 0, "tier:A:0", "A", Decimal("93.40"))
    assert granted.period == "2026-Q1"
    events = list(app.events.get(receipt.id))
    reason = events[0].provenance.reason  # type: ignore[attr-defined]
    assert reason == (
        "approved as proposed by rule tier:A:0 of rule-set version 0, tier A, score 93.40 "
        "in 2026-Q1"
    )


def test_an_approvers_reason_is_kept(app: Perfledger, org: Org) -> None:
    cycle_id = review_cycle(app, org)
    receipt = approve(
        app,
        cycle_id,
        org.bob,
        "eligibility:sales_streak",
        tier=None,
        reference_salary=None,
        provenance=HR.because("checked the CRM"),
    )
    assert receipt.id is not None
    event = next(iter(app.events.get(receipt.id)))
    assert event.provenance.reason == "checked the CRM"  # type: ignore[attr-defined]
    assert reward(app, receipt.id).granted_amount == Money(Decimal(1000), "EUR")


def test_a_proposal_is_approved_once_even_after_its_reward_was_revoked(
    app: Perfledger, org: Org
) -> None:
    cycle_id = review_cycle(app, org)
    receipt = approve(app, cycle_id, org.alice)
    assert_records_nothing(app, lambda: approve(app, cycle_id, org.alice), AlreadyExists, "ruleKey")
    assert receipt.id is not None
    app.revoke_reward(HR.because("score corrected"), receipt.id, TODAY)
    assert_records_nothing(app, lambda: approve(app, cycle_id, org.alice), AlreadyExists, "ruleKey")
    # Another rule of the same cycle is another proposal.
    approve(app, cycle_id, org.alice, "tier:A:1", reference_salary=None)


def test_the_rule_set_in_force_when_the_period_began_decides(app: Perfledger, org: Org) -> None:
    leave = RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(2))
    rules = replace(DEFAULT_RULES, tier_rewards=[TierReward("A", leave)])
    app.define_rule_set(HR, rules, "tier A gets leave")
    app.define_rule_set(HR, replace(DEFAULT_RULES, tier_rewards=[]), "no rewards")
    app.adopt_rule_set(HR, 1, date(2026, 1, 1))
    app.adopt_rule_set(HR, 2, date(2026, 2, 1))  # adopted after the quarter began: not for it
    cycle_id = review_cycle(app, org)
    receipt = approve(app, cycle_id, org.alice, reference_salary=None)
    granted = reward(app, receipt.id)
    assert granted.spec == leave
    assert granted.basis is not None
    assert granted.basis.rule_set_version == 1
    assert_records_nothing(
        app, lambda: approve(app, cycle_id, org.alice, "tier:A:1"), NotFound, "ruleKey"
    )


def test_a_proposal_of_an_open_or_unknown_cycle_cannot_be_approved(
    app: Perfledger, org: Org
) -> None:
    calibrating = review_cycle(app, org, closed=False)
    assert_records_nothing(
        app, lambda: approve(app, calibrating, org.alice), CycleNotInState, "cycleId"
    )
    assert_records_nothing(app, lambda: approve(app, uuid4(), org.alice), NotFound, "cycleId")


def test_approving_checks_rule_tier_and_reviewee(app: Perfledger, org: Org) -> None:
    cycle_id = review_cycle(app, org)
    assert_records_nothing(
        app, lambda: approve(app, cycle_id, org.alice, "tier:Z:0"), NotFound, "ruleKey"
    )
    assert_records_nothing(
        app, lambda: approve(app, cycle_id, org.alice, tier="B"), InvalidInput, "tier"
    )
    assert_records_nothing(
        app, lambda: approve(app, cycle_id, org.boss), InvalidInput, "employeeId"
    )
    assert_records_nothing(
        app,
        lambda: approve(app, cycle_id, org.alice, reference_salary=None),
        ReferenceSalaryRequired,
        "referenceSalary",
    )


def test_only_hr_approves_proposals(app: Perfledger, org: Org) -> None:
    cycle_id = review_cycle(app, org)
    assert_records_nothing(
        app,
        lambda: approve(app, cycle_id, org.alice, provenance=as_role(Role.MANAGER, org.boss)),
        PermissionDenied,
        None,
    )
