"""Read model: departments and employees as they are now, and who belonged where, when.

``department_memberships`` keeps each stay of an employee in a department as a range of log
positions (``until_position`` is NULL for the current one), so that a department's members as
of any past position are one indexed query away (the as-of department distribution).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from domain.organisation import Department, Employee
from projections.base import Handler, event_type, upsert

DDL = """
CREATE TABLE IF NOT EXISTS departments (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    parent_id uuid,
    opened_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS departments_parent ON departments (parent_id);
CREATE TABLE IF NOT EXISTS employees (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    department_id uuid NOT NULL,
    manager_id uuid,
    job_title text NOT NULL,
    hire_date date NOT NULL,
    leave_date date,
    attributes jsonb NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS employees_department ON employees (department_id, code);
CREATE INDEX IF NOT EXISTS employees_manager ON employees (manager_id);
CREATE TABLE IF NOT EXISTS department_memberships (
    employee_id uuid NOT NULL,
    department_id uuid NOT NULL,
    from_position bigint NOT NULL,
    until_position bigint,
    PRIMARY KEY (employee_id, from_position)
);
CREATE INDEX IF NOT EXISTS department_memberships_department
    ON department_memberships (department_id, from_position);
"""

# The departments at and below those in $1 (a uuid[]), as the common table "tree": queries
# append their own SELECT over it.
DEPARTMENT_TREE = """
WITH RECURSIVE tree AS (
    SELECT id FROM departments WHERE id = ANY($1::uuid[])
    UNION
    SELECT d.id FROM departments d JOIN tree t ON d.parent_id = t.id
)
"""

# Today's members (not yet left) of departments ($1) and their sub-departments.
_PRESENT_MEMBERS = (
    DEPARTMENT_TREE
    + """
SELECT id FROM employees WHERE department_id IN (SELECT id FROM tree) AND leave_date IS NULL
"""
)


async def present_members(
    conn: asyncpg.Connection | PoolConnectionProxy, departments: list[UUID]
) -> list[UUID]:
    """Today's members of ``departments`` and their sub-departments, from the directory (as the
    standard library's UUIDs, which commands record)."""
    return [UUID(str(r["id"])) for r in await conn.fetch(_PRESENT_MEMBERS, departments)]


MEMBERS_AS_OF = """
SELECT employee_id FROM department_memberships
WHERE department_id = ANY($1::uuid[]) AND from_position <= $2
  AND (until_position IS NULL OR until_position > $2)
"""


@dataclass(slots=True)
class DepartmentRow:
    id: UUID
    code: str
    name: str
    parent_id: UUID | None
    opened_at: datetime
    position: int


@dataclass(slots=True)
class EmployeeRow:
    id: UUID
    code: str
    name: str
    department_id: UUID
    manager_id: UUID | None
    job_title: str
    hire_date: date
    leave_date: date | None
    attributes: dict[str, str] = field(default_factory=dict)
    position: int = 0


class OrganisationModel:
    tables: Sequence[str] = ("departments", "employees", "department_memberships")
    ddl = DDL

    def __init__(self) -> None:
        self.departments: dict[UUID, DepartmentRow] = {}
        self.employees: dict[UUID, EmployeeRow] = {}
        self.dirty_departments: set[UUID] = set()
        self.dirty_employees: set[UUID] = set()
        self.transferred: set[UUID] = set()  # employees whose department changed this batch
        # employee -> (department, from position) of their current stay
        self.stays: dict[UUID, tuple[UUID, int]] = {}
        # (employee, from position) -> (department, until position or None), changed this batch
        self.dirty_stays: dict[tuple[UUID, int], tuple[UUID, int | None]] = {}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def handlers(self) -> dict[type, Handler]:
        return {
            event_type(Department, "Opened"): self._department_opened,
            event_type(Department, "Renamed"): self._department_renamed,
            event_type(Department, "Moved"): self._department_moved,
            event_type(Employee, "Hired"): self._hired,
            event_type(Employee, "Transferred"): self._transferred,
            event_type(Employee, "ManagerChanged"): self._manager_changed,
            event_type(Employee, "AttributesSet"): self._attributes_set,
            event_type(Employee, "Left"): self._left,
        }

    def _department_opened(self, e: Any, position: int) -> None:
        self.departments[e.originator_id] = DepartmentRow(
            e.originator_id, e.code, e.name, e.parent_id, e.timestamp, position
        )
        self.dirty_departments.add(e.originator_id)

    def _department(self, e: Any, position: int) -> DepartmentRow:
        row = self.departments[e.originator_id]
        row.position = position
        self.dirty_departments.add(row.id)
        return row

    def _department_renamed(self, e: Any, position: int) -> None:
        self._department(e, position).name = e.name

    def _department_moved(self, e: Any, position: int) -> None:
        self._department(e, position).parent_id = e.parent_id

    def _hired(self, e: Any, position: int) -> None:
        self.employees[e.originator_id] = EmployeeRow(
            e.originator_id,
            e.code,
            e.name,
            e.department_id,
            e.manager_id,
            e.job_title,
            e.hire_date,
            None,
            dict(e.attributes),
            position,
        )
        self.dirty_employees.add(e.originator_id)
        self._stay(e.originator_id, e.department_id, position)

    def _stay(self, employee_id: UUID, department_id: UUID, position: int) -> None:
        """Close the employee's current stay (if any) at ``position`` and open one in
        ``department_id`` from there."""
        current = self.stays.get(employee_id)
        if current is not None:
            self.dirty_stays[(employee_id, current[1])] = (current[0], position)
        self.stays[employee_id] = (department_id, position)
        self.dirty_stays[(employee_id, position)] = (department_id, None)

    def _employee(self, e: Any, position: int) -> EmployeeRow:
        row = self.employees[e.originator_id]
        row.position = position
        self.dirty_employees.add(row.id)
        return row

    def _transferred(self, e: Any, position: int) -> None:
        self._employee(e, position).department_id = e.department_id
        self.transferred.add(e.originator_id)
        self._stay(e.originator_id, e.department_id, position)

    def _manager_changed(self, e: Any, position: int) -> None:
        self._employee(e, position).manager_id = e.manager_id

    def _attributes_set(self, e: Any, position: int) -> None:
        self._employee(e, position).attributes = dict(e.attributes)

    def _left(self, e: Any, position: int) -> None:
        self._employee(e, position).leave_date = e.leave_date

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT * FROM departments"):
            self.departments[r["id"]] = DepartmentRow(
                r["id"], r["code"], r["name"], r["parent_id"], r["opened_at"], r["position"]
            )
        for r in await conn.fetch("SELECT * FROM employees"):
            self.employees[r["id"]] = EmployeeRow(
                r["id"],
                r["code"],
                r["name"],
                r["department_id"],
                r["manager_id"],
                r["job_title"],
                r["hire_date"],
                r["leave_date"],
                json.loads(r["attributes"]),
                r["position"],
            )
        for r in await conn.fetch(
            "SELECT employee_id, department_id, from_position FROM department_memberships "
            "WHERE until_position IS NULL"
        ):
            self.stays[r["employee_id"]] = (r["department_id"], r["from_position"])

    async def flush(self, conn: asyncpg.Connection) -> None:
        departments = [self.departments[i] for i in sorted(self.dirty_departments)]
        await upsert(
            conn,
            "departments",
            [
                ("id", "uuid"),
                ("code", "text"),
                ("name", "text"),
                ("parent_id", "uuid"),
                ("opened_at", "timestamptz"),
                ("position", "bigint"),
            ],
            ["id"],
            [(d.id, d.code, d.name, d.parent_id, d.opened_at, d.position) for d in departments],
        )
        employees = [self.employees[i] for i in sorted(self.dirty_employees)]
        await upsert(
            conn,
            "employees",
            [
                ("id", "uuid"),
                ("code", "text"),
                ("name", "text"),
                ("department_id", "uuid"),
                ("manager_id", "uuid"),
                ("job_title", "text"),
                ("hire_date", "date"),
                ("leave_date", "date"),
                ("attributes_json", "text"),
                ("position", "bigint"),
            ],
            ["id"],
            [
                (
                    x.id,
                    x.code,
                    x.name,
                    x.department_id,
                    x.manager_id,
                    x.job_title,
                    x.hire_date,
                    x.leave_date,
                    json.dumps(x.attributes),
                    x.position,
                )
                for x in employees
            ],
        )
        stays = sorted(self.dirty_stays.items())
        await upsert(
            conn,
            "department_memberships",
            [
                ("employee_id", "uuid"),
                ("from_position", "bigint"),
                ("department_id", "uuid"),
                ("until_position", "bigint"),
            ],
            ["employee_id", "from_position"],
            [(emp, since, dept, until) for (emp, since), (dept, until) in stays],
        )

    def committed(self) -> None:
        self.dirty_stays.clear()
        self.dirty_departments.clear()
        self.dirty_employees.clear()
        self.transferred.clear()
