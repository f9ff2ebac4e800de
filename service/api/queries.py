"""Queries: read models only, never aggregates. Each accepts `minPosition` (read-your-writes)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import strawberry

from domain.errors import DomainError
from domain.goals import GoalStatus
from domain.periods import Period
from service.api.as_of import AsOf, AsOfPosition, employee_view, past_department, past_view
from service.api.errors import QueryError, forbidden
from service.api.pagination import (
    Connection,
    Edge,
    decode_cursor,
    encode_cursor,
    page_by_code,
    page_size,
)
from service.api.past_reads import remember
from service.api.rules import RuleSetVersion
from service.api.scorecards import (
    DepartmentScorecard,
    Scorecard,
    department_scorecard,
    scorecard_for,
)
from service.api.types import Department, Employee, Goal, GoalStatusType, Info, PageInfo, RoleType
from service.as_of import Subject

MinPosition = Annotated[
    int | None,
    strawberry.argument(
        description="Answer only once the read models reflect this log position "
        "(a mutation's `position`); waits a few seconds at most."
    ),
]


def parse_id(value: strawberry.ID | str, field: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise QueryError("INVALID_ID", f"{field} {value!r} is not a valid id") from None


async def _reach(info: Info, position: int | None) -> None:
    try:
        await info.context.reach(position)
    except DomainError as error:
        raise QueryError(error.code, error.message) from None


@strawberry.type
class Viewer:
    employee_id: strawberry.ID
    role: RoleType  # type: ignore[valid-type]

    @strawberry.field
    async def employee(self, info: Info) -> Employee | None:
        return await info.context.loaders.employee.load(UUID(self.employee_id))


@strawberry.type
class ReadModelStatus:
    position: int = strawberry.field(description="The last log position the read models reflect.")


@strawberry.type
class Query:
    @strawberry.field(description="Who you are signed in as.")
    def viewer(self, info: Info) -> Viewer:
        v = info.context.viewer
        return Viewer(employee_id=strawberry.ID(str(v.employee_id)), role=v.role)

    @strawberry.field
    def read_models(self, info: Info) -> ReadModelStatus:
        return ReadModelStatus(position=info.context.services.watcher.position)

    @strawberry.field
    async def departments(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        parent_id: strawberry.ID | None = None,
        min_position: MinPosition = None,
    ) -> Connection[Department]:
        await _reach(info, min_position)
        filters: list[tuple[str, object]] = []
        if parent_id is not None:
            filters.append(("parent_id", parse_id(parent_id, "parentId")))
        return await page_by_code(
            info.context.pool,
            "departments",
            filters,
            first,
            after,
            Department.from_row,
            lambda department: department.code,
        )

    @strawberry.field
    async def department(
        self, info: Info, id: strawberry.ID, min_position: MinPosition = None
    ) -> Department | None:
        await _reach(info, min_position)
        return await info.context.loaders.department.load(parse_id(id, "id"))

    @strawberry.field(
        description="The directory: everyone may list people; performance data "
        "on them follows your role."
    )
    async def employees(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        department_id: strawberry.ID | None = None,
        manager_id: strawberry.ID | None = None,
        min_position: MinPosition = None,
    ) -> Connection[Employee]:
        await _reach(info, min_position)
        filters: list[tuple[str, object]] = []
        if department_id is not None:
            filters.append(("department_id", parse_id(department_id, "departmentId")))
        if manager_id is not None:
            filters.append(("manager_id", parse_id(manager_id, "managerId")))
        page = await page_by_code(
            info.context.pool,
            "employees",
            filters,
            first,
            after,
            Employee.from_row,
            lambda employee: employee.code,
        )
        for edge in page.edges:
            info.context.loaders.employee.prime(UUID(edge.node.id), edge.node)
        return page

    @strawberry.field
    async def employee(
        self, info: Info, id: strawberry.ID, min_position: MinPosition = None
    ) -> Employee | None:
        await _reach(info, min_position)
        return await info.context.loaders.employee.load(parse_id(id, "id"))

    @strawberry.field(description="Goals you may see, by period, title and id.")
    async def goals(
        self,
        info: Info,
        owner_id: strawberry.ID | None = None,
        department_id: strawberry.ID | None = None,
        period: str | None = None,
        status: GoalStatusType | None = None,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> Connection[Goal]:
        await _reach(info, min_position)
        if owner_id is None and (as_of is not None or as_of_position is not None):
            raise QueryError("INVALID_INPUT", "an as-of list of goals needs ownerId")
        if owner_id is not None:
            owner = parse_id(owner_id, "ownerId")
            info = await employee_view(info, owner, as_of, as_of_position)
        limit = page_size(first)
        key = decode_cursor(after)
        conditions: list[str] = ["TRUE"]
        args: list[object] = []
        visible = await info.context.visibility.people()
        if visible is not None:
            args.append(list(visible))
            conditions.append(f"(owner_kind = 'department' OR owner_id = ANY(${len(args)}))")
        if owner_id is not None:
            args.append(parse_id(owner_id, "ownerId"))
            conditions.append(f"owner_id = ${len(args)}")
        if department_id is not None:
            args.append(parse_id(department_id, "departmentId"))
            conditions.append(f"department_id = ${len(args)}")
        if period is not None:
            args.append(period)
            conditions.append(f"period = ${len(args)}")
        if status is not None:
            args.append(GoalStatus(status).value)
            conditions.append(f"status = ${len(args)}")
        where = " AND ".join(conditions)
        async with info.context.pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM goals WHERE {where}", *args)
            if key is not None:
                if len(key) != 3:
                    raise QueryError("INVALID_CURSOR", "the 'after' cursor is not a goals cursor")
                args.extend([key[0], key[1], parse_id(key[2], "after")])
                n = len(args)
                where += f" AND (period, title, id) > (${n - 2}, ${n - 1}, ${n})"
            rows = await conn.fetch(
                f"SELECT * FROM goals WHERE {where} ORDER BY period, title, id LIMIT {limit + 1}",
                *args,
            )
        nodes = remember([Goal.from_row(r) for r in rows[:limit]], info)
        return Connection(
            edges=[Edge(cursor=encode_cursor([n.period, n.title, n.id]), node=n) for n in nodes],
            page_info=PageInfo(
                has_next_page=len(rows) > limit,
                end_cursor=encode_cursor([nodes[-1].period, nodes[-1].title, nodes[-1].id])
                if nodes
                else None,
            ),
            total=total,
        )

    @strawberry.field
    async def goal(
        self, info: Info, id: strawberry.ID, min_position: MinPosition = None
    ) -> Goal | None:
        await _reach(info, min_position)
        return await info.context.loaders.goal.load(parse_id(id, "id"))

    @strawberry.field(
        description="An employee's KPI scorecard for a period (2026, 2026-Q1, "
        "2026-03), with the breakdown that explains it."
    )
    async def scorecard(
        self,
        info: Info,
        employee_id: strawberry.ID,
        period: str,
        min_position: MinPosition = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> Scorecard | None:
        await _reach(info, min_position)
        employee = parse_id(employee_id, "employeeId")
        past = await past_view(info, Subject(frozenset({employee})), as_of, as_of_position)
        if past is not None:
            # As of a moment: straight from the replayed rows, no temporary tables needed.
            if not await info.context.visibility.sees(employee):
                raise QueryError("FORBIDDEN", "your role does not allow you to see this scorecard")
            try:
                row = past.projector.scorecards.row(employee, str(Period.parse(period)))
            except DomainError as error:
                raise QueryError(error.code, error.message) from None
            return remember(None if row is None else Scorecard.from_row(row), past)
        try:
            return await scorecard_for(info.context, employee, period)
        except DomainError as error:
            raise QueryError(error.code, error.message) from None

    @strawberry.field(
        description="A department's member scorecards you may see, with mean, "
        "spread, tier counts and score buckets over them."
    )
    async def department_scorecard(
        self,
        info: Info,
        department_id: strawberry.ID,
        period: str,
        include_sub_departments: bool = False,
        min_position: MinPosition = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> DepartmentScorecard:
        await _reach(info, min_position)
        department = parse_id(department_id, "departmentId")
        if as_of is not None or as_of_position is not None:
            info = await past_department(
                info, department, include_sub_departments, as_of, as_of_position
            )
        try:
            answer = await department_scorecard(
                info.context,
                department,
                period,
                include_sub_departments=include_sub_departments,
            )
        except DomainError as error:
            raise QueryError(error.code, error.message) from None
        return remember(answer, info)

    @strawberry.field(description="Every rule-set version, oldest first (0: built-in defaults).")
    async def rule_sets(self, info: Info, min_position: MinPosition = None) -> list[RuleSetVersion]:
        await _reach(info, min_position)
        async with info.context.pool.acquire() as conn:
            versions = [r["version"] for r in await conn.fetch("SELECT version FROM rule_sets")]
        loaded = await info.context.loaders.rule_set.load_many([0, *sorted(versions)])
        return [v for v in loaded if v is not None]

    @strawberry.field(
        description="The production rule-set version in force on a day: for the organisation "
        "as a whole, or with employeeId for that person (scoped adoptions included)."
    )
    async def production_rules(
        self,
        info: Info,
        on: date,
        employee_id: strawberry.ID | None = None,
        min_position: MinPosition = None,
    ) -> RuleSetVersion | None:
        await _reach(info, min_position)
        person = None if employee_id is None else parse_id(employee_id, "employeeId")
        if person is not None and not await info.context.visibility.sees(person):
            raise forbidden("this employee's rules")
        async with info.context.pool.acquire() as conn:
            version = await conn.fetchval(
                "SELECT version FROM rule_adoptions WHERE effective_from <= $1 "
                "AND (employee_ids IS NULL OR $2::uuid = ANY(employee_ids)) "
                "ORDER BY effective_from DESC, position DESC LIMIT 1",
                on,
                person,
            )
        return await info.context.loaders.rule_set.load(version or 0)
