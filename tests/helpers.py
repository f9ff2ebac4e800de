"""Small builders for tests: a provenance, a standard organisation, a goal spec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from domain.goals import Direction, GoalSpec, Horizon, OwnerKind, Perspective
from domain.provenance import Provenance, Role
from service.application import Perfledger, department_id_for, employee_id_for

HR = Provenance("hr-1", Role.HR, "test")


def as_role(role: Role, actor: UUID | str, reason: str | None = None) -> Provenance:
    return Provenance(str(actor), role, "test", reason)


def spec(**overrides: object) -> GoalSpec:
    values: dict[str, object] = {
        "title": "Quarterly sales growth",
        "metric": "sales_growth",
        "unit": "%",
        "direction": Direction.HIGHER_IS_BETTER,
        "baseline": Decimal(0),
        "target": Decimal(8),
        "weight": Decimal(50),
        "perspective": Perspective.FINANCIAL,
        "horizon": Horizon.SHORT_TERM,
        "period": "2026-Q1",
        "due_date": date(2026, 3, 31),
    }
    values.update(overrides)
    return GoalSpec(**values)  # type: ignore[arg-type]


@dataclass
class Org:
    sales: UUID
    boss: UUID
    alice: UUID
    bob: UUID


def small_org(app: Perfledger) -> Org:
    app.open_department(HR, code="SALES", name="Sales", parent_id=None)
    sales = department_id_for("SALES")
    app.hire_employee(
        HR,
        code="E1",
        name="Bo Boss",
        department_id=sales,
        manager_id=None,
        job_title="Head of Sales",
        hire_date=date(2020, 1, 1),
        attributes={"gender": "f"},
    )
    boss = employee_id_for("E1")
    for code, name in (("E2", "Alice"), ("E3", "Bob")):
        app.hire_employee(
            HR,
            code=code,
            name=name,
            department_id=sales,
            manager_id=boss,
            job_title="Account manager",
            hire_date=date(2021, 5, 1),
            attributes={},
        )
    return Org(sales, boss, employee_id_for("E2"), employee_id_for("E3"))


def set_goal(app: Perfledger, owner: UUID, **overrides: object) -> UUID:
    goal_id = uuid4()
    app.set_goal(
        HR,
        goal_id=goal_id,
        owner_kind=OwnerKind.EMPLOYEE,
        owner_id=owner,
        parent_goal_id=None,
        spec=spec(**overrides),
    )
    return goal_id
