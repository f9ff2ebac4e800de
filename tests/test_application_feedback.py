"""Feedback commands on PostgreSQL: everyone gives feedback as themselves, only to active
colleagues, about the receiver's or a department's goals; only the receiver acknowledges; a
refused command records nothing."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    AlreadyAcknowledged,
    AlreadyExists,
    EmployeeHasLeft,
    FeedbackToSelf,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from domain.feedback import Feedback, FeedbackKind, FeedbackVisibility
from domain.goals import OwnerKind
from domain.provenance import Provenance, Role
from service.application import Perfledger, Receipt
from service.bootstrap import build_application
from service.database import Database
from service.idempotency import IdempotencyKeyReused
from tests.conftest import make_settings
from tests.helpers import HR, Org, as_role, assert_records_nothing, load, position, set_goal, spec

TODAY = date(2026, 3, 15)


def give(
    app: Perfledger,
    giver: UUID,
    receiver: UUID,
    *,
    role: Role = Role.EMPLOYEE,
    provenance: Provenance | None = None,
    **overrides: object,
) -> Receipt:
    values: dict[str, object] = {
        "feedback_id": uuid4(),
        "giver_id": giver,
        "receiver_id": receiver,
        "kind": FeedbackKind.PRAISE,
        "visibility": FeedbackVisibility.PRIVATE,
        "body": "Handled the renewal calmly.",
        "goal_id": None,
        "occurred_on": date(2026, 3, 10),
        "today": TODAY,
        "idempotency_key": None,
    }
    values.update(overrides)
    return app.give_feedback(provenance or as_role(role, giver), **values)  # type: ignore[arg-type]


def test_a_colleague_gives_feedback_and_it_survives_the_store(
    app: Perfledger, org: Org, database: Database
) -> None:
    goal = set_goal(app, org.bob)
    receipt = give(
        app,
        org.alice,
        org.bob,
        kind=FeedbackKind.IMPROVEMENT,
        visibility=FeedbackVisibility.SHARED,
        goal_id=goal,
    )
    assert receipt.position == position(app)
    fresh = build_application(database, make_settings())  # no cache: decoded from the store
    try:
        assert receipt.id is not None
        feedback = load(fresh, Feedback, receipt.id)
    finally:
        fresh.close()
    assert (feedback.giver_id, feedback.receiver_id) == (org.alice, org.bob)
    assert feedback.kind is FeedbackKind.IMPROVEMENT
    assert feedback.visibility is FeedbackVisibility.SHARED
    assert feedback.goal_id == goal
    assert feedback.occurred_on == date(2026, 3, 10)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.HR, Role.ADMIN])
def test_managers_hr_and_admins_give_feedback_as_themselves(
    app: Perfledger, org: Org, role: Role
) -> None:
    receipt = give(app, org.boss, org.alice, role=role, kind=FeedbackKind.ONE_ON_ONE)
    assert receipt.id is not None
    assert load(app, Feedback, receipt.id).giver_id == org.boss


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.HR, Role.ADMIN])
def test_nobody_gives_feedback_in_someone_elses_name(app: Perfledger, org: Org, role: Role) -> None:
    assert_records_nothing(
        app,
        lambda: give(app, org.alice, org.bob, provenance=as_role(role, org.boss)),
        PermissionDenied,
        "giverId",
    )


def test_auditors_give_no_feedback(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.bob, role=Role.AUDITOR), PermissionDenied, None
    )


def test_feedback_to_oneself_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.alice), FeedbackToSelf, "receiverId"
    )


def test_feedback_to_an_unknown_employee_records_nothing(app: Perfledger, org: Org) -> None:
    error = assert_records_nothing(
        app, lambda: give(app, org.alice, uuid4()), NotFound, "receiverId"
    )
    assert "does not exist" in error.message


def test_people_who_have_left_neither_give_nor_receive_feedback(app: Perfledger, org: Org) -> None:
    app.record_leaving(HR, org.bob, date(2026, 2, 28))
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.bob), EmployeeHasLeft, "receiverId"
    )
    assert_records_nothing(app, lambda: give(app, org.bob, org.alice), EmployeeHasLeft, "giverId")


def test_a_future_date_or_a_blank_body_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: give(app, org.alice, org.bob, occurred_on=date(2026, 3, 16)),
        InvalidInput,
        "occurredOn",
    )
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.bob, body=" "), InvalidInput, "body"
    )


def test_the_linked_goal_must_exist_and_concern_the_receiver(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.bob, goal_id=uuid4()), NotFound, "goalId"
    )
    alices_goal = set_goal(app, org.alice)
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.bob, goal_id=alices_goal), InvalidInput, "goalId"
    )
    department_goal = uuid4()
    app.set_goal(
        HR,
        goal_id=department_goal,
        owner_kind=OwnerKind.DEPARTMENT,
        owner_id=org.sales,
        parent_goal_id=None,
        spec=spec(),
    )
    receipt = give(app, org.alice, org.bob, goal_id=department_goal)
    assert receipt.id is not None
    assert load(app, Feedback, receipt.id).goal_id == department_goal


def test_a_taken_id_records_nothing(app: Perfledger, org: Org) -> None:
    feedback_id = uuid4()
    give(app, org.alice, org.bob, feedback_id=feedback_id)
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.bob, feedback_id=feedback_id), AlreadyExists, "id"
    )
    assert_records_nothing(
        app, lambda: give(app, org.alice, org.bob, feedback_id=org.boss), AlreadyExists, "id"
    )


def test_a_retried_request_records_the_feedback_once(app: Perfledger, org: Org) -> None:
    feedback_id = uuid4()
    first = give(app, org.alice, org.bob, feedback_id=feedback_id, idempotency_key="k-1")
    again = give(app, org.alice, org.bob, feedback_id=feedback_id, idempotency_key="k-1")
    assert again == first
    assert_records_nothing(
        app,
        lambda: give(app, org.alice, org.bob, body="Something else", idempotency_key="k-1"),
        IdempotencyKeyReused,
        "idempotencyKey",
    )


def test_the_receiver_acknowledges_once(app: Perfledger, org: Org) -> None:
    receipt = give(app, org.alice, org.bob)
    assert receipt.id is not None
    feedback_id = receipt.id
    acknowledged = app.acknowledge_feedback(as_role(Role.EMPLOYEE, org.bob), feedback_id, TODAY)
    assert acknowledged.version == 2
    assert load(app, Feedback, feedback_id).acknowledged_on == TODAY
    assert_records_nothing(
        app,
        lambda: app.acknowledge_feedback(as_role(Role.EMPLOYEE, org.bob), feedback_id, TODAY),
        AlreadyAcknowledged,
        "feedbackId",
    )


@pytest.mark.parametrize(
    ("role", "who"),
    [(Role.EMPLOYEE, "alice"), (Role.MANAGER, "boss"), (Role.HR, "boss"), (Role.AUDITOR, "bob")],
)
def test_nobody_but_the_receiver_acknowledges(
    app: Perfledger, org: Org, role: Role, who: str
) -> None:
    receipt = give(app, org.alice, org.bob)
    assert receipt.id is not None
    feedback_id = receipt.id
    actor = as_role(role, getattr(org, who))
    assert_records_nothing(
        app,
        lambda: app.acknowledge_feedback(actor, feedback_id, TODAY),
        PermissionDenied,
        None,
    )


def test_acknowledging_unknown_feedback_records_nothing(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: app.acknowledge_feedback(as_role(Role.EMPLOYEE, org.bob), org.alice, TODAY),
        NotFound,
        "feedbackId",
    )


def test_seeding_records_feedback_on_someones_behalf(app: Perfledger, org: Org) -> None:
    system = Provenance("seed", Role.SYSTEM, "seed-1")
    receipt = give(app, org.boss, org.bob, provenance=system, kind=FeedbackKind.ONE_ON_ONE)
    assert receipt.id is not None
    assert load(app, Feedback, receipt.id).giver_id == org.boss
