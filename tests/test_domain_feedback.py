"""Feedback and 1:1 notes: each rule raises its named error naming the input to blame, and a
refused acknowledgement leaves the feedback without a new event."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from domain.errors import AlreadyAcknowledged, FeedbackToSelf, InvalidInput, PermissionDenied
from domain.feedback import MAX_BODY_LENGTH, Feedback, FeedbackKind, FeedbackVisibility
from domain.goals import Goal, OwnerKind
from domain.provenance import Provenance, Role
from tests.helpers import spec

GIVER = UUID(int=0xA1)
RECEIVER = UUID(int=0xA2)
SOMEONE_ELSE = UUID(int=0xA3)
DEPARTMENT = UUID(int=0xD1)
ACTOR = Provenance(str(GIVER), Role.EMPLOYEE, "corr-1")
TODAY = date(2026, 3, 15)


def goal_of(owner_kind: OwnerKind, owner_id: UUID) -> Goal:
    return Goal.set(
        id=uuid4(),
        owner_kind=owner_kind,
        owner_id=owner_id,
        department_id=DEPARTMENT,
        parent=None,
        spec=spec(),
        provenance=ACTOR,
    )


def give(**overrides: object) -> Feedback:
    values: dict[str, object] = {
        "id": uuid4(),
        "giver_id": GIVER,
        "receiver_id": RECEIVER,
        "kind": FeedbackKind.PRAISE,
        "visibility": FeedbackVisibility.PRIVATE,
        "body": "  Great demo for the key account.  ",
        "goal": None,
        "occurred_on": date(2026, 3, 10),
        "today": TODAY,
        "provenance": ACTOR,
    }
    values.update(overrides)
    return Feedback.give(**values)  # type: ignore[arg-type]


def test_given_feedback_records_who_what_and_when_with_the_body_trimmed() -> None:
    feedback = give(kind=FeedbackKind.IMPROVEMENT, visibility=FeedbackVisibility.SHARED)
    (given,) = feedback.collect_events()
    assert type(given).__name__ == "Given"
    assert feedback.giver_id == GIVER
    assert feedback.receiver_id == RECEIVER
    assert feedback.kind is FeedbackKind.IMPROVEMENT
    assert feedback.visibility is FeedbackVisibility.SHARED
    assert feedback.body == "Great demo for the key account."
    assert feedback.occurred_on == date(2026, 3, 10)
    assert feedback.acknowledged_on is None
    assert given.provenance == ACTOR  # type: ignore[attr-defined]


def test_a_one_on_one_note_is_dated_on_the_meeting_day_which_may_be_today() -> None:
    note = give(kind=FeedbackKind.ONE_ON_ONE, occurred_on=TODAY)
    assert note.occurred_on == TODAY


def test_nobody_gives_feedback_to_themselves() -> None:
    with pytest.raises(FeedbackToSelf) as caught:
        give(receiver_id=GIVER)
    assert caught.value.field == "receiverId"


def test_feedback_cannot_be_dated_in_the_future() -> None:
    with pytest.raises(InvalidInput) as caught:
        give(kind=FeedbackKind.ONE_ON_ONE, occurred_on=date(2026, 3, 16))
    assert caught.value.field == "occurredOn"
    assert "1:1 meeting" in caught.value.message
    assert "2026-03-16" in caught.value.message


@pytest.mark.parametrize("body", ["", "   \n\t"])
def test_a_blank_body_is_refused(body: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        give(body=body)
    assert caught.value.field == "body"
    assert "blank" in caught.value.message


def test_the_body_holds_at_most_5000_characters() -> None:
    assert len(give(body="x" * MAX_BODY_LENGTH).body) == MAX_BODY_LENGTH
    with pytest.raises(InvalidInput) as caught:
        give(body="x" * (MAX_BODY_LENGTH + 1))
    assert caught.value.field == "body"
    assert "5000" in caught.value.message


def test_feedback_may_link_the_receivers_goal_or_a_department_goal() -> None:
    own = goal_of(OwnerKind.EMPLOYEE, RECEIVER)
    department = goal_of(OwnerKind.DEPARTMENT, DEPARTMENT)
    assert give(goal=own).goal_id == own.id
    assert give(goal=department).goal_id == department.id


def test_feedback_cannot_link_another_employees_goal() -> None:
    with pytest.raises(InvalidInput) as caught:
        give(goal=goal_of(OwnerKind.EMPLOYEE, SOMEONE_ELSE))
    assert caught.value.field == "goalId"
    assert "receiver's own goal" in caught.value.message


def test_the_receiver_acknowledges_feedback_once() -> None:
    feedback = give()
    feedback.collect_events()
    receiver = Provenance(str(RECEIVER), Role.EMPLOYEE, "corr-2")
    feedback.acknowledge(RECEIVER, TODAY, receiver)
    (acknowledged,) = feedback.collect_events()
    assert type(acknowledged).__name__ == "Acknowledged"
    assert acknowledged.acknowledged_on == TODAY  # type: ignore[attr-defined]
    assert feedback.acknowledged
    with pytest.raises(AlreadyAcknowledged) as caught:
        feedback.acknowledge(RECEIVER, date(2026, 3, 20), receiver)
    assert caught.value.field == "feedbackId"
    assert "2026-03-15" in caught.value.message
    assert feedback.collect_events() == []
    assert feedback.acknowledged_on == TODAY


@pytest.mark.parametrize("someone", [GIVER, SOMEONE_ELSE])
def test_only_the_receiver_acknowledges(someone: UUID) -> None:
    feedback = give()
    feedback.collect_events()
    with pytest.raises(PermissionDenied):
        feedback.acknowledge(someone, TODAY, ACTOR)
    assert feedback.collect_events() == []
    assert not feedback.acknowledged
