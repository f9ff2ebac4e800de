"""GraphQL object types over the read models. Nested fields go through the request's loaders,
and every field that exposes performance data asks the request's Visibility first."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import asyncpg
import strawberry

from domain.goals import Direction, GoalStatus, Horizon, OwnerKind, Perspective
from domain.provenance import Role

if TYPE_CHECKING:
    from service.api.context import Context
    from service.api.scorecards import DepartmentScorecard, Scorecard

    Info = strawberry.Info[Context, None]
else:
    Info = strawberry.Info  # the context type only exists for the type checker

DirectionType = strawberry.enum(Direction, name="Direction")
PerspectiveType = strawberry.enum(
    Perspective, name="Perspective", description="Balanced-scorecard perspective."
)
HorizonType = strawberry.enum(Horizon, name="Horizon")
OwnerKindType = strawberry.enum(OwnerKind, name="OwnerKind")
GoalStatusType = strawberry.enum(GoalStatus, name="GoalStatus")
RoleType = strawberry.enum(Role, name="Role")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Attribute:
    key: str
    value: str


@strawberry.type(description="A department; departments nest under a parent.")
class Department:
    id: strawberry.ID
    code: str
    name: str
    opened_at: datetime
    parent_id: strawberry.Private[UUID | None]

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Department:
        return cls(
            id=strawberry.ID(str(r["id"])),
            code=r["code"],
            name=r["name"],
            opened_at=r["opened_at"],
            parent_id=r["parent_id"],
        )

    @strawberry.field
    async def parent(self, info: Info) -> Department | None:
        if self.parent_id is None:
            return None
        return await info.context.loaders.department.load(self.parent_id)

    @strawberry.field(description="Scorecards of the department's members that you may see.")
    async def scorecard(
        self, info: Info, period: str
    ) -> Annotated[DepartmentScorecard, strawberry.lazy("service.api.scorecards")]:
        from service.api.scorecards import department_scorecard

        return await department_scorecard(info.context, UUID(self.id), period)


@strawberry.type(description="A person in the organisation.")
class Employee:
    id: strawberry.ID
    code: str
    name: str
    job_title: str
    hire_date: date
    leave_date: date | None
    department_id: strawberry.Private[UUID]
    manager_id: strawberry.Private[UUID | None]
    attributes_json: strawberry.Private[str]  # parsed only for those who may see it

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Employee:
        return cls(
            id=strawberry.ID(str(r["id"])),
            code=r["code"],
            name=r["name"],
            job_title=r["job_title"],
            hire_date=r["hire_date"],
            leave_date=r["leave_date"],
            department_id=r["department_id"],
            manager_id=r["manager_id"],
            attributes_json=r["attributes"],
        )

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await info.context.loaders.department.load(self.department_id)

    @strawberry.field
    async def manager(self, info: Info) -> Employee | None:
        if self.manager_id is None:
            return None
        return await info.context.loaders.employee.load(self.manager_id)

    @strawberry.field(
        description="Group attributes used by fairness audits: hr, auditors and admins only "
        "(null for other roles)."
    )
    def attributes(self, info: Info) -> list[Attribute] | None:
        if not info.context.visibility.sees_attributes:
            return None
        values: dict[str, str] = json.loads(self.attributes_json)
        return [Attribute(key=k, value=v) for k, v in sorted(values.items())]

    @strawberry.field(description="Goals you may see (empty if you may not see this person's).")
    async def goals(self, info: Info, period: str | None = None) -> list[Goal]:
        if not await info.context.visibility.sees(UUID(self.id)):
            return []
        return await info.context.loaders.goals_of.load((UUID(self.id), period))

    @strawberry.field(description="The scorecard for a period, if you may see it.")
    async def scorecard(
        self, info: Info, period: str
    ) -> Annotated[Scorecard, strawberry.lazy("service.api.scorecards")] | None:
        from service.api.scorecards import scorecard_for

        return await scorecard_for(info.context, UUID(self.id), period)


@strawberry.type(description="A SMART KPI goal of an employee or a department.")
class Goal:
    id: strawberry.ID
    owner_kind: OwnerKindType  # type: ignore[valid-type]
    owner_id: strawberry.ID
    title: str
    metric: str
    unit: str
    direction: DirectionType  # type: ignore[valid-type]
    baseline: Decimal
    initial_target: Decimal
    target: Decimal
    weight: Decimal
    perspective: PerspectiveType  # type: ignore[valid-type]
    horizon: HorizonType  # type: ignore[valid-type]
    period: str
    due_date: date
    status: GoalStatusType  # type: ignore[valid-type]
    latest_value: Decimal | None
    latest_as_of: date | None
    measurements: int
    set_at: datetime
    position: int = strawberry.field(description="Log position of the last event reflected.")
    department_id: strawberry.Private[UUID]
    parent_goal_id: strawberry.Private[UUID | None]

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Goal:
        return cls(
            id=strawberry.ID(str(r["id"])),
            owner_kind=OwnerKind(r["owner_kind"]),
            owner_id=strawberry.ID(str(r["owner_id"])),
            title=r["title"],
            metric=r["metric"],
            unit=r["unit"],
            direction=Direction(r["direction"]),
            baseline=r["baseline"],
            initial_target=r["initial_target"],
            target=r["target"],
            weight=r["weight"],
            perspective=Perspective(r["perspective"]),
            horizon=Horizon(r["horizon"]),
            period=r["period"],
            due_date=r["due_date"],
            status=GoalStatus(r["status"]),
            latest_value=r["latest_value"],
            latest_as_of=r["latest_as_of"],
            measurements=r["measurements"],
            set_at=r["set_at"],
            position=r["position"],
            department_id=r["department_id"],
            parent_goal_id=r["parent_goal_id"],
        )

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await info.context.loaders.department.load(self.department_id)

    @strawberry.field(description="The department goal this goal cascades from.")
    async def parent_goal(self, info: Info) -> Goal | None:
        if self.parent_goal_id is None:
            return None
        return await info.context.loaders.goal.load(self.parent_goal_id)

    @strawberry.field(description="The employee who owns the goal, for employee goals.")
    async def employee(self, info: Info) -> Employee | None:
        if self.owner_kind is not OwnerKind.EMPLOYEE:
            return None
        return await info.context.loaders.employee.load(UUID(self.owner_id))


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)
