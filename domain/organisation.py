"""The organisation: departments, employees and the reporting lines between them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import DepartmentCycle, EmployeeHasLeft, InvalidInput, ManagerCycle
from domain.provenance import Provenance


class Department(Aggregate):
    @event("Opened")
    def __init__(
        self,
        id: UUID,
        code: str,
        name: str,
        parent_id: UUID | None,
        provenance: Provenance,
    ) -> None:
        self.code = code
        self.name = name
        self.parent_id = parent_id

    @classmethod
    def open(
        cls,
        *,
        id: UUID,
        code: str,
        name: str,
        parent_id: UUID | None,
        provenance: Provenance,
    ) -> Department:
        return cls(
            id=id,
            code=text.code(code),
            name=text.required_text(name, field="name"),
            parent_id=parent_id,
            provenance=provenance,
        )

    def rename(self, name: str, provenance: Provenance) -> None:
        self._renamed(text.required_text(name, field="name"), provenance)

    @event("Renamed")
    def _renamed(self, name: str, provenance: Provenance) -> None:
        self.name = name

    def move_under(
        self, parent_id: UUID | None, parent_ancestry: Sequence[UUID], provenance: Provenance
    ) -> None:
        """Re-parent; ``parent_ancestry`` is the new parent followed by its ancestors."""
        if parent_id == self.parent_id:
            raise InvalidInput("the department already sits under that parent", field="parentId")
        if self.id in parent_ancestry:
            raise DepartmentCycle(
                f"department {self.code} cannot sit under one of its own sub-departments",
                field="parentId",
            )
        self._moved(parent_id, provenance)

    @event("Moved")
    def _moved(self, parent_id: UUID | None, provenance: Provenance) -> None:
        self.parent_id = parent_id


class Employee(Aggregate):
    @event("Hired")
    def __init__(
        self,
        id: UUID,
        code: str,
        name: str,
        department_id: UUID,
        manager_id: UUID | None,
        job_title: str,
        hire_date: date,
        attributes: dict[str, str],
        provenance: Provenance,
    ) -> None:
        self.code = code
        self.name = name
        self.department_id = department_id
        self.manager_id = manager_id
        self.job_title = job_title
        self.hire_date = hire_date
        self.attributes = attributes
        self.leave_date: date | None = None

    @classmethod
    def hire(
        cls,
        *,
        id: UUID,
        code: str,
        name: str,
        department_id: UUID,
        manager: Employee | None,
        job_title: str,
        hire_date: date,
        attributes: dict[str, str],
        provenance: Provenance,
    ) -> Employee:
        if manager is not None:
            manager.require_active("manage anyone", field="managerId")
        return cls(
            id=id,
            code=text.code(code),
            name=text.required_text(name, field="name"),
            department_id=department_id,
            manager_id=manager.id if manager else None,
            job_title=text.required_text(job_title, field="jobTitle"),
            hire_date=hire_date,
            attributes=text.attributes(attributes),
            provenance=provenance,
        )

    @property
    def has_left(self) -> bool:
        return self.leave_date is not None

    def require_active(self, doing: str, *, field: str | None = None) -> None:
        if self.has_left:
            raise EmployeeHasLeft(f"employee {self.code} has left and cannot {doing}", field=field)

    def transfer(self, department_id: UUID, effective: date, provenance: Provenance) -> None:
        self.require_active("be transferred")
        if department_id == self.department_id:
            raise InvalidInput(
                f"employee {self.code} already belongs to that department", field="departmentId"
            )
        if effective < self.hire_date:
            raise InvalidInput("a transfer cannot take effect before hiring", field="effective")
        self._transferred(department_id, effective, provenance)

    @event("Transferred")
    def _transferred(self, department_id: UUID, effective: date, provenance: Provenance) -> None:
        self.department_id = department_id

    def change_manager(
        self, manager: Employee | None, manager_chain: Sequence[UUID], provenance: Provenance
    ) -> None:
        """``manager_chain`` is the new manager followed by every manager above them."""
        self.require_active("change manager")
        new_id = manager.id if manager else None
        if new_id == self.manager_id:
            raise InvalidInput(
                f"employee {self.code} already reports to that manager", field="managerId"
            )
        if manager is not None:
            manager.require_active("manage anyone", field="managerId")
            if self.id in manager_chain:
                raise ManagerCycle(
                    f"{manager.code} reports (directly or not) to {self.code}, "
                    f"so {self.code} cannot report to {manager.code}",
                    field="managerId",
                )
        self._manager_changed(new_id, provenance)

    @event("ManagerChanged")
    def _manager_changed(self, manager_id: UUID | None, provenance: Provenance) -> None:
        self.manager_id = manager_id

    def set_attributes(self, attributes: dict[str, str], provenance: Provenance) -> None:
        self._attributes_set(text.attributes(attributes), provenance)

    @event("AttributesSet")
    def _attributes_set(self, attributes: dict[str, str], provenance: Provenance) -> None:
        self.attributes = attributes

    def leave(self, leave_date: date, provenance: Provenance) -> None:
        self.require_active("leave again")
        if leave_date < self.hire_date:
            raise InvalidInput("leave date lies before the hire date", field="leaveDate")
        self._left(leave_date, provenance)

    @event("Left")
    def _left(self, leave_date: date, provenance: Provenance) -> None:
        self.leave_date = leave_date


ORG_STRUCTURE_ID = uuid5(UUID("6f1d6c2e-6a53-4f0e-9a44-4f57e3b0a001"), "org-structure")


class OrgStructure(Aggregate):
    """Serialises changes of reporting lines and department nesting.

    A cycle check reads several aggregates; two concurrent changes (A under B, B under A) could each
    pass it. Every such change also records an event here, so the second writer hits a version
    conflict, retries, and then sees the first change.
    """

    @event("Started")
    def __init__(self, id: UUID, provenance: Provenance) -> None:
        pass

    @classmethod
    def start(cls, provenance: Provenance) -> OrgStructure:
        return cls(id=ORG_STRUCTURE_ID, provenance=provenance)

    def note_change(self, subject_id: UUID, provenance: Provenance) -> None:
        self._changed(subject_id, provenance)

    @event("Changed")
    def _changed(self, subject_id: UUID, provenance: Provenance) -> None:
        pass
