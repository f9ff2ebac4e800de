"""Continuous feedback and 1:1 meeting notes between two employees, acknowledged by the receiver."""

from __future__ import annotations

from datetime import date
from enum import Enum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import (
    AlreadyAcknowledged,
    FeedbackToSelf,
    InvalidInput,
    PermissionDenied,
)
from domain.goals import Goal, OwnerKind
from domain.provenance import Provenance

MAX_BODY_LENGTH = 5000


class FeedbackKind(Enum):
    PRAISE = "praise"
    IMPROVEMENT = "improvement"
    ONE_ON_ONE = "one_on_one"  # notes of a 1:1 meeting; occurred_on is the meeting date


class FeedbackVisibility(Enum):
    PRIVATE = "private"  # the giver, the receiver, the receiver's managers, hr and auditors
    SHARED = "shared"  # everyone signed in


class Feedback(Aggregate):
    @event("Given")
    def __init__(
        self,
        id: UUID,
        giver_id: UUID,
        receiver_id: UUID,
        kind: FeedbackKind,
        visibility: FeedbackVisibility,
        body: str,
        goal_id: UUID | None,
        occurred_on: date,
        provenance: Provenance,
    ) -> None:
        self.giver_id = giver_id
        self.receiver_id = receiver_id
        self.kind = kind
        self.visibility = visibility
        self.body = body
        self.goal_id = goal_id
        self.occurred_on = occurred_on
        self.acknowledged_on: date | None = None

    @classmethod
    def give(
        cls,
        *,
        id: UUID,
        giver_id: UUID,
        receiver_id: UUID,
        kind: FeedbackKind,
        visibility: FeedbackVisibility,
        body: str,
        goal: Goal | None,
        occurred_on: date,
        today: date,
        provenance: Provenance,
    ) -> Feedback:
        """``goal`` is the goal the feedback is about, already loaded; ``today`` is the caller's
        date, so that a note cannot be dated after it was written."""
        if giver_id == receiver_id:
            raise FeedbackToSelf(
                "feedback goes to someone else: giver and receiver are the same person",
                field="receiverId",
            )
        if occurred_on > today:
            what = "the 1:1 meeting" if kind is FeedbackKind.ONE_ON_ONE else "the feedback"
            raise InvalidInput(
                f"{what} cannot have taken place on {occurred_on.isoformat()}, "
                f"after today ({today.isoformat()})",
                field="occurredOn",
            )
        if goal is not None and not _concerns(goal, receiver_id):
            raise InvalidInput(
                f"goal {goal.id} is neither the receiver's own goal nor a department goal",
                field="goalId",
            )
        return cls(
            id=id,
            giver_id=giver_id,
            receiver_id=receiver_id,
            kind=kind,
            visibility=visibility,
            body=text.required_text(body, field="body", max_length=MAX_BODY_LENGTH),
            goal_id=goal.id if goal is not None else None,
            occurred_on=occurred_on,
            provenance=provenance,
        )

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_on is not None

    def acknowledge(self, by: UUID, today: date, provenance: Provenance) -> None:
        # No check against occurred_on: the giver's calendar day may be ahead of ours.
        if by != self.receiver_id:
            raise PermissionDenied("only the receiver of feedback may acknowledge it")
        if self.acknowledged_on is not None:
            raise AlreadyAcknowledged(
                f"this feedback was already acknowledged on {self.acknowledged_on.isoformat()}",
                field="feedbackId",
            )
        self._acknowledged(today, provenance)

    @event("Acknowledged")
    def _acknowledged(self, acknowledged_on: date, provenance: Provenance) -> None:
        self.acknowledged_on = acknowledged_on


def _concerns(goal: Goal, receiver_id: UUID) -> bool:
    if goal.owner_kind is OwnerKind.DEPARTMENT:
        return True
    return goal.owner_id == receiver_id
