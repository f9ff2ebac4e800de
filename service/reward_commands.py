"""Reward commands: grant on someone's judgement, approve what the rules proposed, revoke.

A reward is given by the employee's managers (anyone above them in the reporting line) or by hr;
nobody rewards themselves. Revoking records a second event with its reason; nothing is deleted.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import AlreadyExists, PermissionDenied
from domain.organisation import Employee
from domain.provenance import Provenance
from domain.rewards import Money, Reward, RewardSpec
from service.command_base import CommandsBase, Decision, Receipt


class RewardCommands(CommandsBase):
    def _rewardable(self, provenance: Provenance, employee_id: UUID, doing: str) -> Employee:
        """The employee, checked to be one the caller may reward now."""
        employee = self._load(Employee, employee_id, "employee", "employeeId")
        if provenance.actor_id == str(employee_id):
            raise PermissionDenied("nobody can reward themselves", field="employeeId")
        self._require_may_manage(provenance, employee_id, doing)
        employee.require_active("be rewarded", field="employeeId")
        return employee

    def grant_reward(
        self,
        provenance: Provenance,
        *,
        reward_id: UUID,
        employee_id: UUID,
        spec: RewardSpec,
        reference_salary: Money | None,
        period: str | None,
        today: date,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            self._rewardable(provenance, employee_id, "grant rewards")
            # Any aggregate with this id blocks it: otherwise the save conflicts on every retry.
            if self._load_optional(Aggregate, reward_id) is not None:
                raise AlreadyExists(f"reward {reward_id} already exists", field="id")
            reward = Reward.grant(
                id=reward_id,
                employee_id=employee_id,
                spec=spec,
                basis=None,
                reference_salary=reference_salary,
                period=period,
                granted_on=today,
                provenance=provenance,
            )
            return [reward], reward.id, reward.version

        arguments = {
            "reward_id": reward_id,
            "employee_id": employee_id,
            "spec": repr(spec),
            "reference_salary": repr(reference_salary),
            "period": period,
            "reason": provenance.reason,
        }
        return self._execute(provenance, "grantReward", arguments, decide, idempotency_key)

    def revoke_reward(self, provenance: Provenance, reward_id: UUID, today: date) -> Receipt:
        def decide() -> Decision:
            reward = self._load(Reward, reward_id, "reward", "rewardId")
            self._require_may_manage(provenance, reward.employee_id, "revoke rewards")
            reward.revoke(today, provenance)
            return [reward], reward.id, reward.version

        return self._execute(provenance, "revokeReward", {}, decide)
