"""Commands for continuous feedback and 1:1 notes: give feedback, acknowledge it."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.errors import PermissionDenied
from domain.feedback import Feedback, FeedbackKind, FeedbackVisibility
from domain.goals import Goal
from domain.organisation import Employee
from domain.provenance import Provenance, Role
from service.command_base import CommandsBase, Decision, Receipt


class FeedbackCommands(CommandsBase):
    def give_feedback(
        self,
        provenance: Provenance,
        *,
        feedback_id: UUID,
        giver_id: UUID,
        receiver_id: UUID,
        kind: FeedbackKind,
        visibility: FeedbackVisibility,
        body: str,
        goal_id: UUID | None,
        occurred_on: date,
        today: date,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            _require_acting_as(provenance, giver_id, "give feedback", "giverId")
            giver = self._load(Employee, giver_id, "employee", "giverId")
            giver.require_active("give feedback", field="giverId")
            receiver = self._load(Employee, receiver_id, "employee", "receiverId")
            receiver.require_active("receive feedback", field="receiverId")
            # Any aggregate with this id blocks it: otherwise the save conflicts on every retry.
            self._require_new(feedback_id, "feedback")
            goal = self._load(Goal, goal_id, "goal", "goalId") if goal_id else None
            feedback = Feedback.give(
                id=feedback_id,
                giver_id=giver_id,
                receiver_id=receiver_id,
                kind=kind,
                visibility=visibility,
                body=body,
                goal=goal,
                occurred_on=occurred_on,
                today=today,
                provenance=provenance,
            )
            return [feedback], feedback.id, feedback.version

        arguments = {
            "feedback_id": feedback_id,
            "giver_id": giver_id,
            "receiver_id": receiver_id,
            "kind": kind.value,
            "visibility": visibility.value,
            "body": body,
            "goal_id": goal_id,
            "occurred_on": occurred_on,
        }
        return self._execute(provenance, "giveFeedback", arguments, decide, idempotency_key)

    def acknowledge_feedback(
        self, provenance: Provenance, feedback_id: UUID, today: date
    ) -> Receipt:
        def decide() -> Decision:
            feedback = self._load(Feedback, feedback_id, "feedback", "feedbackId")
            if provenance.actor_role is Role.AUDITOR:
                raise PermissionDenied("auditors cannot acknowledge feedback")
            feedback.acknowledge(_actor(provenance), today, provenance)
            return [feedback], feedback.id, feedback.version

        return self._execute(provenance, "acknowledgeFeedback", {}, decide)


def _require_acting_as(provenance: Provenance, employee_id: UUID, doing: str, field: str) -> None:
    """Feedback is personal: everyone, hr and admin included, gives it as themselves. Only the
    system (seeding, migrations) records it on someone's behalf."""
    if provenance.actor_role is Role.SYSTEM:
        return
    if provenance.actor_role is Role.AUDITOR:
        raise PermissionDenied(f"auditors cannot {doing}")
    if _actor(provenance) != employee_id:
        raise PermissionDenied(f"you can only {doing} as yourself", field=field)


def _actor(provenance: Provenance) -> UUID:
    try:
        return UUID(provenance.actor_id)
    except ValueError:
        return UUID(int=0)
