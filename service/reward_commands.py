"""Reward commands: grant on someone's judgement, approve what the rules proposed, revoke.

A reward is given by the employee's managers (anyone above them in the reporting line) or by hr;
nobody rewards themselves. Revoking records a second event with its reason; nothing is deleted.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.periods import Period
from domain.provenance import Provenance
from domain.reviews import CycleStatus, ReviewCycle
from domain.rewards import Money, Reward, RewardBasis, RewardSpec, proposed_reward_id
from domain.rules import DEFAULT_RULES, RULE_BOOK_ID, RuleBook, RuleSet
from service.command_base import CommandsBase, Decision, Receipt


class RewardCommands(CommandsBase):
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
            self._require_new(reward_id, "reward")
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

    def rules_for_cycle(self, cycle: ReviewCycle, employee_id: UUID) -> tuple[int, RuleSet]:
        """The production rule set an employee is judged under in a cycle: the one in force
        for them when its period began (version 0: the built-in defaults, before any
        adoption)."""
        book = self._load_optional(RuleBook, RULE_BOOK_ID)
        start = Period.parse(cycle.period).start
        version = book.version_in_force(start, employee_id) if book else None
        if book is None or version is None:
            return 0, DEFAULT_RULES
        return version, book.versions[version]

    def approve_proposed_reward(
        self,
        provenance: Provenance,
        *,
        cycle_id: UUID,
        employee_id: UUID,
        rule_key: str,
        tier: str | None,
        score: Decimal | None,
        reference_salary: Money | None,
        today: date,
    ) -> Receipt:
        """Grant what a rule of the cycle's rule set proposes to the employee.

        The reward's id derives from (cycle, employee, rule), so a proposal is approved at most
        once: approving it again is AlreadyExists, even after the approved reward was revoked,
        because the approval stays a fact of the history (grant anew by hand if it should
        stand after all). ``tier`` and ``score`` are the result the proposal was made from, as
        the caller read it; they are recorded as the reward's basis, and a tier rule's own tier
        must match. Without a reason, the recorded reason states the rule that proposed it.
        """

        def decide() -> Decision:
            self._require_hr(provenance, "approve proposed rewards")
            cycle = self._load(ReviewCycle, cycle_id, "review cycle", "cycleId")
            cycle.require(CycleStatus.CLOSED, "approve the rewards its results propose")
            self._rewardable(provenance, employee_id, "approve proposed rewards")
            if employee_id not in cycle.reviewee_ids:
                raise InvalidInput(
                    f"employee {employee_id} was not reviewed in this cycle", field="employeeId"
                )
            key = rule_key.strip()
            version, rules = self.rules_for_cycle(cycle, employee_id)
            spec = rules.reward_rules().get(key)
            if spec is None:
                known = ", ".join(sorted(rules.reward_rules())) or "none"
                raise NotFound(
                    f"rule-set version {version}, in force for {cycle.period}, proposes no "
                    f"reward by rule {key!r} (its reward rules: {known})",
                    field="ruleKey",
                )
            _check_tier(key, tier)
            reward_id = proposed_reward_id(cycle_id, employee_id, key)
            if self._load_optional(Aggregate, reward_id) is not None:
                raise AlreadyExists(
                    f"rule {key!r} of this cycle was already approved for this employee "
                    "(an approval stays approved, even once its reward is revoked)",
                    field="ruleKey",
                )
            basis = RewardBasis(cycle_id, version, key, tier, score)
            reason = provenance.reason
            if reason is None or not reason.strip():
                reason = f"approved as proposed by {basis.describe()} in {cycle.period}"
            reward = Reward.grant(
                id=reward_id,
                employee_id=employee_id,
                spec=spec,
                basis=basis,
                reference_salary=reference_salary,
                period=cycle.period,
                granted_on=today,
                provenance=provenance.because(reason),
            )
            return [reward], reward.id, reward.version

        return self._execute(provenance, "approveProposedReward", {}, decide)


def _check_tier(rule_key: str, tier: str | None) -> None:
    """A tier rule ("tier:A:0") proposes only to people in that tier."""
    if not rule_key.startswith("tier:"):
        return
    rule_tier = rule_key.removeprefix("tier:").rsplit(":", 1)[0]  # a tier name may hold ":"
    if tier != rule_tier:
        raise InvalidInput(
            f"rule {rule_key!r} rewards tier {rule_tier}, not {tier or 'no tier'}", field="tier"
        )
