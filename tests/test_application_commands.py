"""Commands on PostgreSQL: a rejected command records nothing; who may set goals and record
progress; idempotency keys; ids that are already taken."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from domain.errors import (
    AlreadyExists,
    InvalidInput,
    ManagerCycle,
    MeasurementOutsidePeriod,
    NotFound,
    PermissionDenied,
    WeightsExceeded,
)
from domain.goals import Goal, GoalSet, OwnerKind, goal_set_id
from domain.provenance import Role
from service.application import Perfledger, department_id_for, employee_id_for
from service.idempotency import IdempotencyKeyReused
from tests.helpers import HR, Org, as_role, assert_records_nothing, load, position, set_goal, spec

A = TypeVar("A", bound=Aggregate)


# -- a rejected command records nothing -------------------------------------------------------


def test_a_goal_overflowing_the_weights_records_nothing(app: Perfledger, org: Org) -> None:
    set_goal(app, org.alice, weight=Decimal(60))
    goal_id = uuid4()
    assert_records_nothing(
        app,
        lambda: app.set_goal(
            HR, goal_id=goal_id, owner_kind=OwnerKind.EMPLOYEE, owner_id=org.alice,
            parent_goal_id=None, spec=spec(weight=Decimal("40.01")),
        ),
        WeightsExceeded,
        "weight",
    )  # fmt: skip
    assert goal_id not in app.repository
    # The rejected attempt left no trace in the goal set either: exactly 40 still fit.
    set_goal(app, org.alice, weight=Decimal(40))
    goal_set = load(app, GoalSet, goal_set_id(org.alice, "2026-Q1"))
    assert goal_set.total_weight == Decimal(100)


def test_a_goal_for_an_unknown_employee_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: app.set_goal(
            HR, goal_id=uuid4(), owner_kind=OwnerKind.EMPLOYEE, owner_id=uuid4(),
            parent_goal_id=None, spec=spec(),
        ),
        NotFound,
        "ownerId",
    )  # fmt: skip


def test_a_goal_for_an_unknown_department_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: app.set_goal(
            HR, goal_id=uuid4(), owner_kind=OwnerKind.DEPARTMENT, owner_id=org.alice,
            parent_goal_id=None, spec=spec(),
        ),
        NotFound,
        "ownerId",
    )  # fmt: skip


def test_hiring_into_an_unknown_department_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: app.hire_employee(
            HR, code="E9", name="Nobody", department_id=department_id_for("NOWHERE"),
            manager_id=None, job_title="Clerk", hire_date=date(2026, 1, 1), attributes={},
        ),
        NotFound,
        "departmentId",
    )  # fmt: skip
    assert employee_id_for("E9") not in app.repository


def test_opening_a_department_under_an_unknown_parent_records_nothing(app: Perfledger) -> None:
    assert_records_nothing(
        app,
        lambda: app.open_department(HR, code="KEY", name="Key accounts", parent_id=uuid4()),
        NotFound,
        "parentId",
    )


@pytest.mark.parametrize("whose", ["own", "colleague"])
def test_an_employee_setting_a_goal_is_denied_and_records_nothing(
    app: Perfledger, org: Org, whose: str
) -> None:
    # Even their own goals: an employee agrees goals with a manager, who sets them.
    owner = org.alice if whose == "own" else org.bob
    assert_records_nothing(
        app,
        lambda: app.set_goal(
            as_role(Role.EMPLOYEE, org.alice), goal_id=uuid4(), owner_kind=OwnerKind.EMPLOYEE,
            owner_id=owner, parent_goal_id=None, spec=spec(),
        ),
        PermissionDenied,
        None,
    )  # fmt: skip


@pytest.mark.parametrize("actor", ["someone-else", "owner"])
def test_an_auditor_recording_progress_is_denied_and_records_nothing(
    app: Perfledger, org: Org, actor: str
) -> None:
    goal = set_goal(app, org.alice)
    auditor = as_role(Role.AUDITOR, org.alice if actor == "owner" else "auditor-1")
    assert_records_nothing(
        app,
        lambda: app.record_progress(auditor, goal, Decimal(3), date(2026, 2, 1), "audit"),
        PermissionDenied,
        None,
    )


def test_progress_outside_the_period_records_nothing(app: Perfledger, org: Org) -> None:
    goal = set_goal(app, org.alice)
    assert_records_nothing(
        app,
        lambda: app.record_progress(HR, goal, Decimal(3), date(2026, 4, 1), "crm"),
        MeasurementOutsidePeriod,
        "asOf",
    )


def test_a_manager_cycle_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app, lambda: app.change_manager(HR, org.boss, org.alice), ManagerCycle, "managerId"
    )


def test_a_duplicate_employee_code_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: app.hire_employee(
            HR, code=" E2 ", name="Alice again", department_id=org.sales, manager_id=None,
            job_title="Clerk", hire_date=date(2026, 1, 1), attributes={},
        ),
        AlreadyExists,
        "code",
    )  # fmt: skip


# -- who may set goals and record progress ----------------------------------------------------


@pytest.fixture
def deeper_org(app: Perfledger, org: Org) -> dict[str, UUID]:
    """CEO above the boss above Alice and Bob; Carol in service under her own manager, Dan."""
    app.hire_employee(
        HR, code="CEO", name="Chief", department_id=org.sales, manager_id=None,
        job_title="CEO", hire_date=date(2019, 1, 1), attributes={},
    )  # fmt: skip
    ceo = employee_id_for("CEO")
    app.change_manager(HR, org.boss, ceo)
    app.open_department(HR, code="SERVICE", name="Customer service", parent_id=None)
    service = department_id_for("SERVICE")
    for code, manager in (("DAN", None), ("CAROL", employee_id_for("DAN"))):
        app.hire_employee(
            HR, code=code, name=code.title(), department_id=service, manager_id=manager,
            job_title="Agent", hire_date=date(2022, 1, 1), attributes={},
        )  # fmt: skip
    return {"ceo": ceo, "dan": employee_id_for("DAN"), "carol": employee_id_for("CAROL")}


def goal_by(app: Perfledger, actor: UUID, owner: UUID) -> UUID:
    goal_id = uuid4()
    app.set_goal(
        as_role(Role.MANAGER, actor), goal_id=goal_id, owner_kind=OwnerKind.EMPLOYEE,
        owner_id=owner, parent_goal_id=None, spec=spec(weight=Decimal(10)),
    )  # fmt: skip
    return goal_id


def test_a_manager_sets_goals_for_direct_and_indirect_reports(
    app: Perfledger, org: Org, deeper_org: dict[str, UUID]
) -> None:
    direct = goal_by(app, org.boss, org.alice)
    indirect = goal_by(app, deeper_org["ceo"], org.bob)
    for goal_id, owner in ((direct, org.alice), (indirect, org.bob)):
        goal = load(app, Goal, goal_id)
        assert goal.owner_id == owner


@pytest.mark.parametrize(
    ("actor", "owner"),
    [
        ("alice", "bob"),  # a peer, even with the manager role
        ("boss", "boss"),  # oneself
        ("boss", "ceo"),  # one's own manager
        ("boss", "carol"),  # someone in another line
        ("dan", "alice"),  # another line's manager
    ],
)
def test_a_manager_may_not_set_goals_for_anyone_outside_their_reports(
    app: Perfledger, org: Org, deeper_org: dict[str, UUID], actor: str, owner: str
) -> None:
    people = {"alice": org.alice, "bob": org.bob, "boss": org.boss, **deeper_org}
    assert_records_nothing(
        app, lambda: goal_by(app, people[actor], people[owner]), PermissionDenied, None
    )


def test_a_manager_loses_the_right_when_the_report_moves_to_another_manager(
    app: Perfledger, org: Org, deeper_org: dict[str, UUID]
) -> None:
    goal_by(app, org.boss, org.alice)
    app.change_manager(HR, org.alice, deeper_org["dan"])
    assert_records_nothing(app, lambda: goal_by(app, org.boss, org.alice), PermissionDenied, None)
    goal_by(app, deeper_org["dan"], org.alice)


def test_an_employee_records_progress_on_their_own_goal(app: Perfledger, org: Org) -> None:
    goal_id = set_goal(app, org.alice)
    receipt = app.record_progress(
        as_role(Role.EMPLOYEE, org.alice), goal_id, Decimal("4.5"), date(2026, 2, 1), "crm"
    )
    assert receipt.id == goal_id
    assert receipt.version == 2
    assert receipt.position == position(app)
    goal = load(app, Goal, goal_id)
    assert goal.measurements == 1


def test_an_employee_may_not_record_progress_on_a_colleagues_goal(
    app: Perfledger, org: Org
) -> None:
    bobs_goal = set_goal(app, org.bob)
    assert_records_nothing(
        app,
        lambda: app.record_progress(
            as_role(Role.EMPLOYEE, org.alice), bobs_goal, Decimal(3), date(2026, 2, 1), "crm"
        ),
        PermissionDenied,
        None,
    )


def test_a_manager_records_progress_on_a_reports_goal(app: Perfledger, org: Org) -> None:
    goal_id = set_goal(app, org.bob)
    app.record_progress(
        as_role(Role.MANAGER, org.boss), goal_id, Decimal(3), date(2026, 2, 1), "1:1"
    )
    goal = load(app, Goal, goal_id)
    assert goal.measurements == 1


# -- ids already taken ------------------------------------------------------------------------


def test_setting_a_goal_with_an_existing_id_raises_already_exists(
    app: Perfledger, org: Org
) -> None:
    goal_id = set_goal(app, org.alice, weight=Decimal(10))
    assert_records_nothing(
        app,
        lambda: app.set_goal(
            HR, goal_id=goal_id, owner_kind=OwnerKind.EMPLOYEE, owner_id=org.bob,
            parent_goal_id=None, spec=spec(weight=Decimal(10)),
        ),
        AlreadyExists,
        "id",
    )  # fmt: skip


def test_setting_a_goal_with_the_id_of_another_aggregate_raises_already_exists(
    app: Perfledger, org: Org
) -> None:
    assert_records_nothing(
        app,
        lambda: app.set_goal(
            HR, goal_id=org.bob, owner_kind=OwnerKind.EMPLOYEE, owner_id=org.alice,
            parent_goal_id=None, spec=spec(),
        ),
        AlreadyExists,
        "id",
    )  # fmt: skip


# -- idempotency keys -------------------------------------------------------------------------


def test_the_same_command_with_the_same_key_is_recorded_once(app: Perfledger, org: Org) -> None:
    goal_id = uuid4()

    def send() -> tuple[UUID | None, int | None]:
        receipt = app.set_goal(
            HR, goal_id=goal_id, owner_kind=OwnerKind.EMPLOYEE, owner_id=org.alice,
            parent_goal_id=None, spec=spec(), idempotency_key="goal-1",
        )  # fmt: skip
        return receipt.id, receipt.version

    before = position(app)
    first = send()
    recorded = position(app) - before
    assert first == (goal_id, 1)
    assert send() == first
    assert position(app) - before == recorded
    goal_set = load(app, GoalSet, goal_set_id(org.alice, "2026-Q1"))
    assert goal_set.weights == {goal_id: Decimal(50)}


def test_repeated_progress_with_the_same_key_is_recorded_once(app: Perfledger, org: Org) -> None:
    goal_id = set_goal(app, org.alice)
    receipts = [
        app.record_progress(HR, goal_id, Decimal(3), date(2026, 2, 1), "crm", idempotency_key="p1")
        for _ in range(3)
    ]
    assert {(r.id, r.version) for r in receipts} == {(goal_id, 2)}
    goal = load(app, Goal, goal_id)
    assert goal.measurements == 1


def test_the_same_key_with_different_arguments_is_refused(app: Perfledger, org: Org) -> None:
    goal_id = set_goal(app, org.alice)
    app.record_progress(HR, goal_id, Decimal(3), date(2026, 2, 1), "crm", idempotency_key="p1")
    assert_records_nothing(
        app,
        lambda: app.record_progress(
            HR, goal_id, Decimal(4), date(2026, 2, 1), "crm", idempotency_key="p1"
        ),
        IdempotencyKeyReused,
        "idempotencyKey",
    )
    # The key also may not be reused for another command.
    assert_records_nothing(
        app,
        lambda: app.set_goal(
            HR, goal_id=uuid4(), owner_kind=OwnerKind.EMPLOYEE, owner_id=org.bob,
            parent_goal_id=None, spec=spec(), idempotency_key="p1",
        ),
        IdempotencyKeyReused,
        "idempotencyKey",
    )  # fmt: skip


def test_keys_belong_to_the_caller(app: Perfledger, org: Org) -> None:
    goal_id = set_goal(app, org.alice)
    manager = as_role(Role.MANAGER, org.boss)
    first = app.record_progress(HR, goal_id, Decimal(3), date(2026, 2, 1), "crm", "same-key")
    second = app.record_progress(manager, goal_id, Decimal(3), date(2026, 2, 1), "crm", "same-key")
    assert (first.version, second.version) == (2, 3)


def test_a_rejected_command_does_not_use_up_its_key(app: Perfledger, org: Org) -> None:
    goal_id = set_goal(app, org.alice)
    with pytest.raises(MeasurementOutsidePeriod):
        app.record_progress(HR, goal_id, Decimal(3), date(2026, 5, 1), "crm", idempotency_key="k")
    receipt = app.record_progress(
        HR, goal_id, Decimal(3), date(2026, 2, 1), "crm", idempotency_key="k"
    )
    assert receipt.version == 2


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_an_idempotency_key_has_1_to_200_characters(app: Perfledger, org: Org, key: str) -> None:
    goal_id = set_goal(app, org.alice)
    assert_records_nothing(
        app,
        lambda: app.record_progress(HR, goal_id, Decimal(3), date(2026, 2, 1), "crm", key),
        InvalidInput,
        "idempotencyKey",
    )
