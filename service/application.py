"""The write side: one eventsourcing Application, one method per use case.

Every method loads what it needs, lets the aggregates decide, and saves everything it touched in
one call (one transaction). A concurrent change of the same aggregate makes that save fail as a
whole; the method then reloads and decides again, a few times, before reporting the conflict.
Nothing is ever half-recorded, and a rejected command records nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder

from domain.errors import (
    AlreadyExists,
    PermissionDenied,
)
from domain.goals import Goal, GoalSet, GoalSpec, OwnerKind, goal_set_id
from domain.organisation import ORG_STRUCTURE_ID, Department, Employee, OrgStructure
from domain.periods import Period
from domain.provenance import Provenance, Role
from domain.rules import RULE_BOOK_ID, RuleBook, RuleSet
from service.command_base import (
    HR_ROLES,
    CommandsBase,
    Decision,
    Receipt,
    department_id_for,
    employee_id_for,
)
from service.fairness_commands import FairnessCommands
from service.feedback_commands import FeedbackCommands
from service.review_commands import ReviewCommands
from service.reward_commands import RewardCommands
from service.transcodings import register_domain_transcodings
from service.trial_commands import TrialCommands

__all__ = ["HR_ROLES", "Perfledger", "Receipt", "department_id_for", "employee_id_for"]


class Perfledger(
    ReviewCommands,
    FeedbackCommands,
    RewardCommands,
    FairnessCommands,
    TrialCommands,
    CommandsBase,
):
    name = "Perfledger"
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
    }
    # Not RuleBook: its state (versions keyed by int, Adoption records) does not survive JSON,
    # and a failed snapshot raised after the command's events were already recorded.
    snapshotting_intervals = {OrgStructure: 200}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def _require_may_run_goal(self, provenance: Provenance, goal: Goal, doing: str) -> None:
        if goal.owner_kind is OwnerKind.EMPLOYEE:
            self._require_may_manage(provenance, goal.owner_id, doing)
        else:
            self._require_may_run_department(provenance, goal.owner_id, doing)

    # -- organisation ---------------------------------------------------------------------------

    def open_department(
        self,
        provenance: Provenance,
        *,
        code: str,
        name: str,
        parent_id: UUID | None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "open departments")
            department_id = department_id_for(code.strip())
            if self._load_optional(Department, department_id) is not None:
                raise AlreadyExists(f"department code {code!r} is already used", field="code")
            if parent_id is not None:
                self._load(Department, parent_id, "department", "parentId")
            department = Department.open(
                id=department_id, code=code, name=name, parent_id=parent_id, provenance=provenance
            )
            return [department], department.id, department.version

        arguments = {"code": code, "name": name, "parent_id": parent_id}
        return self._execute(provenance, "openDepartment", arguments, decide, idempotency_key)

    def rename_department(self, provenance: Provenance, department_id: UUID, name: str) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "rename departments")
            department = self._load(Department, department_id, "department", "departmentId")
            department.rename(name, provenance)
            return [department], department.id, department.version

        return self._execute(provenance, "renameDepartment", {}, decide)

    def move_department(
        self, provenance: Provenance, department_id: UUID, parent_id: UUID | None
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "move departments")
            structure = self._org_structure(provenance)
            department = self._load(Department, department_id, "department", "departmentId")
            ancestry = self.department_ancestry(parent_id) if parent_id is not None else []
            department.move_under(parent_id, ancestry, provenance)
            structure.note_change(department.id, provenance)
            return [department, structure], department.id, department.version

        return self._execute(provenance, "moveDepartment", {}, decide)

    def _org_structure(self, provenance: Provenance) -> OrgStructure:
        structure = self._load_optional(OrgStructure, ORG_STRUCTURE_ID)
        return structure if structure is not None else OrgStructure.start(provenance)

    def hire_employee(
        self,
        provenance: Provenance,
        *,
        code: str,
        name: str,
        department_id: UUID,
        manager_id: UUID | None,
        job_title: str,
        hire_date: date,
        attributes: dict[str, str],
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "hire employees")
            employee_id = employee_id_for(code.strip())
            if self._load_optional(Employee, employee_id) is not None:
                raise AlreadyExists(f"employee code {code!r} is already used", field="code")
            self._load(Department, department_id, "department", "departmentId")
            manager = (
                self._load(Employee, manager_id, "manager", "managerId") if manager_id else None
            )
            employee = Employee.hire(
                id=employee_id,
                code=code,
                name=name,
                department_id=department_id,
                manager=manager,
                job_title=job_title,
                hire_date=hire_date,
                attributes=attributes,
                provenance=provenance,
            )
            return [employee], employee.id, employee.version

        arguments = {
            "code": code,
            "name": name,
            "department_id": department_id,
            "manager_id": manager_id,
            "job_title": job_title,
            "hire_date": hire_date,
            "attributes": attributes,
        }
        return self._execute(provenance, "hireEmployee", arguments, decide, idempotency_key)

    def transfer_employee(
        self, provenance: Provenance, employee_id: UUID, department_id: UUID, effective: date
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "transfer employees")
            employee = self._load(Employee, employee_id, "employee", "employeeId")
            self._load(Department, department_id, "department", "departmentId")
            employee.transfer(department_id, effective, provenance)
            return [employee], employee.id, employee.version

        return self._execute(provenance, "transferEmployee", {}, decide)

    def change_manager(
        self, provenance: Provenance, employee_id: UUID, manager_id: UUID | None
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "change reporting lines")
            structure = self._org_structure(provenance)
            employee = self._load(Employee, employee_id, "employee", "employeeId")
            manager = None
            chain: list[UUID] = []
            if manager_id is not None:
                manager = self._load(Employee, manager_id, "manager", "managerId")
                chain = [manager_id, *self.manager_chain(manager_id)]
            employee.change_manager(manager, chain, provenance)
            structure.note_change(employee.id, provenance)
            return [employee, structure], employee.id, employee.version

        return self._execute(provenance, "changeManager", {}, decide)

    def set_employee_attributes(
        self, provenance: Provenance, employee_id: UUID, attributes: dict[str, str]
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "set group attributes")
            employee = self._load(Employee, employee_id, "employee", "employeeId")
            employee.set_attributes(attributes, provenance)
            return [employee], employee.id, employee.version

        return self._execute(provenance, "setEmployeeAttributes", {}, decide)

    def record_leaving(
        self, provenance: Provenance, employee_id: UUID, leave_date: date
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "record leaving")
            employee = self._load(Employee, employee_id, "employee", "employeeId")
            employee.leave(leave_date, provenance)
            return [employee], employee.id, employee.version

        return self._execute(provenance, "recordLeaving", {}, decide)

    # -- goals ----------------------------------------------------------------------------------

    def set_goal(
        self,
        provenance: Provenance,
        *,
        goal_id: UUID,
        owner_kind: OwnerKind,
        owner_id: UUID,
        parent_goal_id: UUID | None,
        spec: GoalSpec,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            if owner_kind is OwnerKind.EMPLOYEE:
                owner = self._load(Employee, owner_id, "employee", "ownerId")
                owner.require_active("take on goals", field="ownerId")
                department_id = owner.department_id
                self._require_may_manage(provenance, owner_id, "set an employee's goals")
            else:
                self._load(Department, owner_id, "department", "ownerId")
                department_id = owner_id
                self._require_may_run_department(provenance, owner_id, "set department goals")
            # Any aggregate with this id blocks it: otherwise the save conflicts on every retry.
            self._require_new(goal_id, "goal")
            parent = (
                self._load(Goal, parent_goal_id, "goal", "parentGoalId") if parent_goal_id else None
            )
            goal = Goal.set(
                id=goal_id,
                owner_kind=owner_kind,
                owner_id=owner_id,
                department_id=department_id,
                parent=parent,
                spec=spec,
                provenance=provenance,
            )
            goal_set = self._load_optional(GoalSet, goal_set_id(owner_id, goal.spec.period))
            if goal_set is None:
                goal_set = GoalSet.start(owner_kind, owner_id, goal.spec.period, provenance)
            goal_set.add(goal.id, goal.spec.weight, provenance)
            return [goal, goal_set], goal.id, goal.version

        arguments = {
            "goal_id": goal_id,
            "owner_kind": owner_kind.value,
            "owner_id": owner_id,
            "parent_goal_id": parent_goal_id,
            "spec": repr(spec),
        }
        return self._execute(provenance, "setGoal", arguments, decide, idempotency_key)

    def record_progress(
        self,
        provenance: Provenance,
        goal_id: UUID,
        value: Decimal,
        as_of: date,
        source: str,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            goal = self._load(Goal, goal_id, "goal", "goalId")
            own_goal = (
                goal.owner_kind is OwnerKind.EMPLOYEE and str(goal.owner_id) == provenance.actor_id
            )
            if not own_goal:
                self._require_may_run_goal(provenance, goal, "record progress on this goal")
            if provenance.actor_role is Role.AUDITOR:
                raise PermissionDenied("auditors cannot record progress")
            goal.record_progress(value, as_of, source, provenance)
            return [goal], goal.id, goal.version

        arguments = {"goal_id": goal_id, "value": value, "as_of": as_of, "source": source}
        return self._execute(provenance, "recordProgress", arguments, decide, idempotency_key)

    def revise_target(self, provenance: Provenance, goal_id: UUID, target: Decimal) -> Receipt:
        def decide() -> Decision:
            goal = self._load(Goal, goal_id, "goal", "goalId")
            self._require_may_run_goal(provenance, goal, "revise targets")
            goal.revise_target(target, provenance)
            return [goal], goal.id, goal.version

        return self._execute(provenance, "reviseTarget", {}, decide)

    def close_goal(self, provenance: Provenance, goal_id: UUID) -> Receipt:
        def decide() -> Decision:
            goal = self._load(Goal, goal_id, "goal", "goalId")
            self._require_may_run_goal(provenance, goal, "close goals")
            goal.close(provenance)
            return [goal], goal.id, goal.version

        return self._execute(provenance, "closeGoal", {}, decide)

    def abandon_goal(self, provenance: Provenance, goal_id: UUID) -> Receipt:
        def decide() -> Decision:
            goal = self._load(Goal, goal_id, "goal", "goalId")
            self._require_may_run_goal(provenance, goal, "abandon goals")
            goal.abandon(provenance)
            goal_set = self._load(
                GoalSet, goal_set_id(goal.owner_id, goal.spec.period), "goal set", "goalId"
            )
            goal_set.withdraw(goal.id, provenance)
            return [goal, goal_set], goal.id, goal.version

        return self._execute(provenance, "abandonGoal", {}, decide)

    def confirm_goals(self, provenance: Provenance, owner_id: UUID, period: str) -> Receipt:
        def decide() -> Decision:
            normalised = str(Period.parse(period))
            goal_set = self._load(
                GoalSet,
                goal_set_id(owner_id, normalised),
                f"goal set for {normalised} of",
                "ownerId",
            )
            if goal_set.owner_kind is OwnerKind.EMPLOYEE:
                self._require_may_manage(provenance, owner_id, "confirm goals")
            else:
                self._require_may_run_department(provenance, owner_id, "confirm goals")
            goal_set.confirm(provenance)
            return [goal_set], goal_set.id, goal_set.version

        return self._execute(provenance, "confirmGoals", {}, decide)

    # -- rules ----------------------------------------------------------------------------------

    def _rule_book(self, provenance: Provenance) -> RuleBook:
        book = self._load_optional(RuleBook, RULE_BOOK_ID)
        return book if book is not None else RuleBook.open(provenance)

    def define_rule_set(self, provenance: Provenance, rules: RuleSet, description: str) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "define rule sets")
            book = self._rule_book(provenance)
            version = book.define(rules, description, provenance)
            return [book], book.id, version

        return self._execute(provenance, "defineRuleSet", {}, decide)

    def adopt_rule_set(self, provenance: Provenance, version: int, effective_from: date) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "adopt rule sets")
            book = self._rule_book(provenance)
            book.adopt(version, effective_from, provenance)
            return [book], book.id, version

        return self._execute(provenance, "adoptRuleSet", {}, decide)

    def rule_book(self) -> RuleBook:
        """The rule book as recorded (NotFound before the first rule-set is defined)."""
        return self._load(RuleBook, RULE_BOOK_ID, "rule book", "version")
