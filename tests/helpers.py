"""Small builders for tests: a provenance, a standard organisation, a goal spec; and the checks
application tests share: where the log stands, what a rejected command left behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

import asyncpg
import pytest
from eventsourcing.domain import Aggregate

from domain.errors import ConcurrentModification, DomainError
from domain.goals import Direction, GoalSpec, Horizon, OwnerKind, Perspective
from domain.provenance import Provenance, Role
from projections.runner import CatchUp
from service.application import Perfledger, Receipt, department_id_for, employee_id_for
from service.bootstrap import Services

A = TypeVar("A", bound=Aggregate)

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


def load(app: Perfledger, cls: type[A], aggregate_id: UUID) -> A:
    aggregate: object = app.repository.get(aggregate_id)
    assert isinstance(aggregate, cls)
    return aggregate


def position(app: Perfledger) -> int:
    return app.recorder.max_notification_id() or 0


def assert_records_nothing(
    app: Perfledger, command: Callable[[], object], error: type[DomainError], field: str | None
) -> DomainError:
    before = position(app)
    with pytest.raises(DomainError) as caught:
        command()
    assert type(caught.value) is error, caught.value
    assert caught.value.field == field, caught.value.message
    assert position(app) == before
    return caught.value


def patiently(command: Callable[[], Receipt]) -> Receipt:
    """Send again after ConcurrentModification, as a client would: it promises nothing was
    recorded, so a second try cannot double anything."""
    for _ in range(20):
        try:
            return command()
        except ConcurrentModification:
            continue
    raise AssertionError("a command kept losing the race 20 times in a row")


async def catch_up(services: Services) -> CatchUp:
    """Project everything recorded so far."""
    conn = await services.connect()
    try:
        return await services.runner.catch_up(conn)
    finally:
        await conn.close()


async def rebuild(services: Services) -> None:
    """Drop the read models and project the whole log again."""
    conn = await services.connect()
    try:
        await services.projector.reset(conn)
        await services.runner.catch_up(conn)
    finally:
        await conn.close()


async def fetch(services: Services, query: str, *args: object) -> list[asyncpg.Record]:
    async with services.read_pool.acquire() as conn:
        return list(await conn.fetch(query, *args))
