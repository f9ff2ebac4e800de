"""Trial commands: start a pilot of a rule-set version, revise it, collect participants' feedback,
link provisional rewards, and end it by promotion or rollback.

HR and admins run trials; a participant gives their own feedback; auditors only read. Starting
and ending also write to the trial registry in the same transaction, so two overlapping starts
sent at once conflict there and the second, decided again, is refused. Promoting for everyone
adopts the pilot version in the rule book in the same transaction. Promoting for the scope only
records the promotion: scoring the scope under the promoted version from its effective date is
the comparison's and projections' concern, read from ``Trial.Promoted``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import (
    EmployeeHasLeft,
    InvalidInput,
    PermissionDenied,
    UnknownScopeMembers,
)
from domain.organisation import Department, Employee
from domain.provenance import Provenance, Role
from domain.rewards import Money, Reward, RewardSpec
from domain.rules import RULE_BOOK_ID, RuleBook
from domain.trials import TRIAL_REGISTRY_ID, Trial, TrialRegistry, TrialScope
from service.command_base import CommandsBase, Decision, Receipt

# Who may give feedback on a pilot about themselves (auditors read; externals have no account).
_FEEDBACK_ROLES = frozenset({Role.EMPLOYEE, Role.MANAGER, Role.HR, Role.ADMIN})


class Ancestries:
    """Departments' ancestries (each department, then those above it), each looked up once:
    a trial's members share a handful of departments."""

    def __init__(self, look_up: Callable[[UUID], list[UUID]]) -> None:
        self._look_up = look_up
        self.known: dict[UUID, list[UUID]] = {}

    def of(self, department_id: UUID) -> list[UUID]:
        found = self.known.get(department_id)
        if found is None:
            found = self.known[department_id] = self._look_up(department_id)
        return found


class TrialCommands(CommandsBase):
    # -- reading ----------------------------------------------------------------------------------

    def trial(self, trial_id: UUID) -> Trial:
        """The trial as recorded (NotFound if there is none with that id)."""
        return self._load(Trial, trial_id, "trial", "trialId")

    def trial_registry(self) -> TrialRegistry | None:
        """The running trials' scopes (None before the first trial started)."""
        return self._load_optional(TrialRegistry, TRIAL_REGISTRY_ID)

    # -- starting ---------------------------------------------------------------------------------

    def start_trial(
        self,
        provenance: Provenance,
        *,
        trial_id: UUID,
        name: str,
        rule_set_version: int,
        scope_departments: Sequence[UUID],
        scope_employees: Sequence[UUID],
        members: Sequence[UUID],
        period: str,
        responsible: Sequence[str],
        show_participants: bool,
        today: date,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Start piloting ``rule_set_version`` on the scope for ``period``.

        ``members`` are the current members of the scope departments and their sub-departments,
        resolved by the caller from the directory read model (as a review cycle's reviewees
        are); each is checked here against the recorded organisation: it exists, has not left
        and lies within the scope. The named employees always take part.
        """

        def decide() -> Decision:
            self._require_hr(provenance, "start trials")
            self._require_new(trial_id, "trial")
            scope = TrialScope(list(scope_departments), list(scope_employees)).checked()
            self._require_known(scope)
            ancestry = Ancestries(self.department_ancestry)
            participants = self._participants(scope, members, today, ancestry)
            trial = Trial.start(
                id=trial_id,
                name=name,
                rule_set_version=rule_set_version,
                scope=scope,
                participants=list(participants),
                period=period,
                responsible=responsible,
                show_participants=show_participants,
                started_on=today,
                rule_book=self._load_optional(RuleBook, RULE_BOOK_ID),
                provenance=provenance,
            )
            registry = self._registry(provenance)
            for department in {*trial.scope_departments, *registry.claimed_departments()}:
                ancestry.of(department)
            registry.claim(
                trial.id,
                trial.name,
                trial.scope_departments,
                participants,
                ancestry.known,
                provenance,
            )
            return [trial, registry], trial.id, trial.version

        arguments = {
            "trial_id": trial_id,
            "name": name,
            "rule_set_version": rule_set_version,
            "scope_departments": list(scope_departments),
            "scope_employees": list(scope_employees),
            "members": list(members),
            "period": period,
            "responsible": list(responsible),
            "show_participants": show_participants,
        }
        return self._execute(provenance, "startTrial", arguments, decide, idempotency_key)

    def _require_known(self, scope: TrialScope) -> None:
        """Every department and employee the scope names exists; the error names all that do
        not, so the caller fixes the scope in one go."""
        departments = [d for d in scope.departments if self._load_optional(Department, d) is None]
        employees = [e for e in scope.employees if self._load_optional(Employee, e) is None]
        if not departments and not employees:
            return
        parts = []
        if departments:
            parts.append("unknown departments " + ", ".join(map(str, departments)))
        if employees:
            parts.append("unknown employees " + ", ".join(map(str, employees)))
        raise UnknownScopeMembers(f"the trial's scope names {'; '.join(parts)}", field="scope")

    def _participants(
        self, scope: TrialScope, members: Sequence[UUID], today: date, ancestry: Ancestries
    ) -> dict[UUID, UUID]:
        """The named employees and the departments' members, each checked: present today and
        within the scope; each mapped to their department (whose ancestry lands in
        ``ancestry``, for the overlap check)."""
        people: dict[UUID, UUID] = {}
        for i, employee_id in enumerate(scope.employees):
            employee = self._load(Employee, employee_id, "employee", f"scope.employeeIds[{i}]")
            self._require_present(employee, today, f"scope.employeeIds[{i}]")
            ancestry.of(employee.department_id)
            people[employee_id] = employee.department_id
        in_departments = set(scope.departments)
        for i, employee_id in enumerate(dict.fromkeys(members)):
            employee = self._load(Employee, employee_id, "employee", f"members[{i}]")
            self._require_present(employee, today, f"members[{i}]")
            above = ancestry.of(employee.department_id)
            if employee_id not in people and in_departments.isdisjoint(above):
                raise InvalidInput(
                    f"employee {employee.code} is outside the trial's scope", field=f"members[{i}]"
                )
            people[employee_id] = employee.department_id
        return people

    @staticmethod
    def _require_present(employee: Employee, today: date, field: str) -> None:
        if employee.leave_date is not None and employee.leave_date <= today:
            raise EmployeeHasLeft(
                f"employee {employee.code} has left and cannot take part in a trial", field=field
            )

    def _registry(self, provenance: Provenance) -> TrialRegistry:
        registry = self._load_optional(TrialRegistry, TRIAL_REGISTRY_ID)
        return registry if registry is not None else TrialRegistry.open(provenance)

    # -- while running ----------------------------------------------------------------------------

    def revise_trial(
        self, provenance: Provenance, trial_id: UUID, rule_set_version: int
    ) -> Receipt:
        """Move the pilot to another version; the provenance's reason is required."""

        def decide() -> Decision:
            self._require_hr(provenance, "revise trials")
            trial = self.trial(trial_id)
            trial.revise(rule_set_version, self._load_optional(RuleBook, RULE_BOOK_ID), provenance)
            return [trial], trial.id, trial.version

        return self._execute(provenance, "reviseTrial", {}, decide)

    def give_trial_feedback(
        self,
        provenance: Provenance,
        *,
        trial_id: UUID,
        employee_id: UUID,
        text: str,
        today: date,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """A participant's own feedback on the pilot; nobody gives it on their behalf."""

        def decide() -> Decision:
            if provenance.actor_role not in _FEEDBACK_ROLES:
                raise PermissionDenied("your role cannot give feedback on a trial")
            if provenance.actor_id != str(employee_id):
                raise PermissionDenied(
                    "participants give their own feedback on a trial, nobody else's",
                    field="employeeId",
                )
            trial = self.trial(trial_id)
            employee = self._load(Employee, employee_id, "employee", "employeeId")
            ancestry = self.department_ancestry(employee.department_id)
            trial.give_feedback(employee_id, text, today, ancestry, provenance)
            return [trial], trial.id, trial.version

        arguments = {"trial_id": trial_id, "employee_id": employee_id, "text": text}
        return self._execute(provenance, "giveTrialFeedback", arguments, decide, idempotency_key)

    def grant_provisional_reward(
        self,
        provenance: Provenance,
        *,
        trial_id: UUID,
        reward_id: UUID,
        employee_id: UUID,
        spec: RewardSpec,
        reference_salary: Money | None,
        today: date,
    ) -> Receipt:
        """Grant a reward decided under the pilot rules and link it to the trial, in one
        transaction: there is never a moment when it stands without being provisional. The
        reward is for the trial's period; the provenance's reason is required, as for any grant.
        The receipt names the reward."""

        def decide() -> Decision:
            self._require_hr(provenance, "grant provisional rewards")
            trial = self.trial(trial_id)
            trial.require_running("take provisional rewards")
            self._rewardable(provenance, employee_id, "grant provisional rewards")
            self._require_new(reward_id, "reward")
            reward = Reward.grant(
                id=reward_id,
                employee_id=employee_id,
                spec=spec,
                basis=None,
                reference_salary=reference_salary,
                period=trial.period,
                granted_on=today,
                provenance=provenance,
                trial_id=trial.id,
            )
            self._link(trial, reward, provenance)
            return [reward, trial], reward.id, reward.version

        return self._execute(provenance, "grantProvisionalReward", {}, decide)

    def _link(self, trial: Trial, reward: Reward, provenance: Provenance) -> None:
        ancestry = self._ancestry_of_employee(reward.employee_id)
        trial.link_reward(reward, ancestry, provenance)

    def _ancestry_of_employee(self, employee_id: UUID) -> list[UUID]:
        employee = self._load_optional(Employee, employee_id)
        return [] if employee is None else self.department_ancestry(employee.department_id)

    # -- ending -----------------------------------------------------------------------------------

    def promote_trial(
        self,
        provenance: Provenance,
        trial_id: UUID,
        effective_from: date,
        for_everyone: bool,
        members: Sequence[UUID] = (),
    ) -> Receipt:
        """End the trial by promotion, freeing its scope, and confirm its provisional rewards,
        in one transaction. The rule book adopts the pilot version from ``effective_from``: for
        everyone, or for the scope only: its participants and ``members`` (today's members of
        the scope departments, resolved by the caller from the directory; each is checked to
        lie within the scope, so someone who joined since the start moves too)."""

        def decide() -> Decision:
            self._require_hr(provenance, "promote trials")
            trial = self.trial(trial_id)
            trial.promote(effective_from, for_everyone, provenance)
            registry = self._registry(provenance)
            registry.release(trial.id, provenance)
            book = self._load(RuleBook, RULE_BOOK_ID, "rule book", "ruleSetVersion")
            if for_everyone:
                book.adopt(trial.rule_set_version, effective_from, provenance)
            else:
                people = self._covered(trial, members)
                book.adopt_for(trial.rule_set_version, effective_from, people, provenance)
            confirmed: list[Aggregate] = []
            for reward_id in trial.reward_ids:
                reward = self._load(Reward, reward_id, "reward", "rewardId")
                if reward.provisional:
                    reward.confirm(effective_from, provenance)
                    confirmed.append(reward)
            return [trial, registry, book, *confirmed], trial.id, trial.version

        return self._execute(provenance, "promoteTrial", {}, decide)

    def _covered(self, trial: Trial, members: Sequence[UUID]) -> list[UUID]:
        """The trial's participants and those of ``members`` it covers today; a member it does
        not cover is refused by name."""
        people = dict.fromkeys(trial.participants)
        for i, employee_id in enumerate(dict.fromkeys(members)):
            if employee_id in people:
                continue
            employee = self._load(Employee, employee_id, "employee", f"members[{i}]")
            if not trial.covers(employee_id, self.department_ancestry(employee.department_id)):
                raise InvalidInput(
                    f"employee {employee.code} is outside the trial's scope", field=f"members[{i}]"
                )
            people[employee_id] = None
        return list(people)

    def roll_back_trial(self, provenance: Provenance, trial_id: UUID, today: date) -> Receipt:
        """End the trial without effect, freeing its scope, and revoke every provisional reward
        still standing, in the same transaction, with the trial's reason."""

        def decide() -> Decision:
            self._require_hr(provenance, "roll back trials")
            trial = self.trial(trial_id)
            trial.roll_back(today, provenance)
            registry = self._registry(provenance)
            registry.release(trial.id, provenance)
            because = provenance.because(f"rollback of trial “{trial.name}”: {trial.end_reason}")
            revoked: list[Aggregate] = []
            for reward_id in trial.reward_ids:
                reward = self._load(Reward, reward_id, "reward", "rewardId")
                if not reward.revoked:
                    reward.revoke(today, because)
                    revoked.append(reward)
            return [trial, registry, *revoked], trial.id, trial.version

        return self._execute(provenance, "rollBackTrial", {}, decide)
