"""Feedback and 1:1 notes over GraphQL: give and acknowledge; read what you may see; 1:1 coverage.

Shared feedback is visible to everyone signed in. Private feedback is visible to its giver, its
receiver, the receiver's managers and hr, auditors and admins; to anyone else it does not exist
(an item query answers null, lists leave it out). Bodies are stored sealed and opened only on
items that passed that check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg
import strawberry

from domain.errors import DomainError
from domain.feedback import FeedbackKind, FeedbackVisibility
from domain.periods import Period, PeriodKind
from service.api.errors import QueryError, forbidden
from service.api.mutations import CommandResult, execute, new_id, optional_uuid, uuid_of
from service.api.pagination import Connection, Edge, decode_cursor, encode_cursor, page_size
from service.api.queries import MinPosition, _reach, parse_id
from service.api.types import Employee, Goal, Info, PageInfo

FeedbackKindType = strawberry.enum(FeedbackKind, name="FeedbackKind")
FeedbackVisibilityType = strawberry.enum(
    FeedbackVisibility,
    name="FeedbackVisibility",
    description="PRIVATE: the giver, the receiver, the receiver's managers, hr and auditors. "
    "SHARED: everyone signed in.",
)

# The furthest-ahead time zone is UTC+14: no calendar day anywhere is later than this one, so a
# note dated "today" by its writer is never refused as lying in the future.
_AHEAD_OF_UTC = timedelta(hours=14)


def latest_date_anywhere() -> date:
    return (datetime.now(UTC) + _AHEAD_OF_UTC).date()


def utc_today() -> date:
    return datetime.now(UTC).date()


# -- reading ------------------------------------------------------------------------------------


@strawberry.type(name="Feedback", description="Feedback or the notes of a 1:1 meeting.")
class FeedbackItem:
    id: strawberry.ID
    kind: FeedbackKindType  # type: ignore[valid-type]
    visibility: FeedbackVisibilityType  # type: ignore[valid-type]
    occurred_on: date = strawberry.field(description="When it happened; for a 1:1, the meeting.")
    given_at: datetime
    position: int = strawberry.field(description="Log position at which it was given.")
    acknowledged_on: date | None
    giver_id: strawberry.Private[UUID]
    receiver_id: strawberry.Private[UUID]
    goal_id: strawberry.Private[UUID | None]
    body_sealed: strawberry.Private[bytes | None]

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> FeedbackItem:
        return cls(
            id=strawberry.ID(str(r["id"])),
            kind=FeedbackKind(r["kind"]),
            visibility=FeedbackVisibility(r["visibility"]),
            occurred_on=r["occurred_on"],
            given_at=r["given_at"],
            position=r["position"],
            acknowledged_on=r["acknowledged_on"],
            giver_id=r["giver_id"],
            receiver_id=r["receiver_id"],
            goal_id=r["goal_id"],
            body_sealed=r["body_sealed"],
        )

    @strawberry.field
    def acknowledged(self) -> bool:
        return self.acknowledged_on is not None

    @strawberry.field(description="The text (null only if this service keeps no bodies).")
    def body(self, info: Info) -> str | None:
        # Every FeedbackItem is built from rows filtered by _VISIBLE, so opening is allowed here.
        if self.body_sealed is None:
            return None
        return info.context.services.secrets.open(self.body_sealed)

    @strawberry.field
    async def giver(self, info: Info) -> Employee | None:
        return await info.context.loaders.employee.load(self.giver_id)

    @strawberry.field
    async def receiver(self, info: Info) -> Employee | None:
        return await info.context.loaders.employee.load(self.receiver_id)

    @strawberry.field(description="The goal it is about, if any and if you may see it.")
    async def goal(self, info: Info) -> Goal | None:
        if self.goal_id is None:
            return None
        return await info.context.loaders.goal.load(self.goal_id)


@dataclass(frozen=True)
class _Audience:
    """A viewer's visibility as SQL: ``condition`` over ``feedback`` with its arguments."""

    condition: str
    args: list[object]


async def _audience(info: Info) -> _Audience:
    people = await info.context.visibility.people()
    if people is None:
        return _Audience("TRUE", [])
    # people: the viewer and, for a manager, everyone below them (the receivers they manage).
    return _Audience(
        "(visibility = 'shared' OR giver_id = $1 OR receiver_id = ANY($2::uuid[]))",
        [info.context.viewer.employee_id, list(people)],
    )


async def _feedback_page(
    info: Info,
    party: str,
    employee_id: UUID,
    kind: FeedbackKind | None,
    first: int,
    after: str | None,
) -> Connection[FeedbackItem]:
    """Feedback where ``party`` (giver_id or receiver_id; never a caller's text) is the
    employee, newest first (by date, then by the order it was given)."""
    limit = page_size(first)
    key = decode_cursor(after)
    audience = await _audience(info)
    args = list(audience.args)
    args.append(employee_id)
    conditions = [audience.condition, f"{party} = ${len(args)}"]
    if kind is not None:
        args.append(kind.value)
        conditions.append(f"kind = ${len(args)}")
    where = " AND ".join(conditions)
    async with info.context.pool.acquire() as conn:
        total: int = await conn.fetchval(f"SELECT count(*) FROM feedback WHERE {where}", *args)
        if key is not None:
            if len(key) != 2:
                raise QueryError("INVALID_CURSOR", "the 'after' cursor is not a feedback cursor")
            try:
                args.extend([date.fromisoformat(key[0]), int(key[1])])
            except ValueError:
                raise QueryError(
                    "INVALID_CURSOR", "the 'after' cursor is not a feedback cursor"
                ) from None
            where += f" AND (occurred_on, position) < (${len(args) - 1}, ${len(args)})"
        rows = await conn.fetch(
            f"SELECT * FROM feedback WHERE {where} "
            f"ORDER BY occurred_on DESC, position DESC LIMIT {limit + 1}",
            *args,
        )
    nodes = [FeedbackItem.from_row(r) for r in rows[:limit]]

    def cursor(item: FeedbackItem) -> str:
        return encode_cursor([item.occurred_on.isoformat(), str(item.position)])

    return Connection(
        edges=[Edge(cursor=cursor(n), node=n) for n in nodes],
        page_info=PageInfo(
            has_next_page=len(rows) > limit, end_cursor=cursor(nodes[-1]) if nodes else None
        ),
        total=total,
    )


@strawberry.type(description="One direct report's 1:1s with their manager in a month.")
class ReportCoverage:
    employee: Employee
    one_on_ones: int = strawberry.field(description="1:1 notes dated in the month.")
    last_one_on_one: date | None = strawberry.field(
        description="The latest 1:1 on or before the month's end."
    )
    covered: bool = strawberry.field(description="At least one 1:1 in the month.")


@strawberry.type(
    description="Which of a manager's direct reports had a 1:1 with them in a month "
    "(notes written by either of the two count)."
)
class OneOnOneCoverage:
    month: str
    manager: Employee
    reports: list[ReportCoverage]
    uncovered: list[Employee] = strawberry.field(description="Reports without a 1:1 this month.")

    @strawberry.field
    def uncovered_count(self) -> int:
        return len(self.uncovered)

    @strawberry.field
    def covered_count(self) -> int:
        return len(self.reports) - len(self.uncovered)


# The manager's direct reports employed on the month's last day, with the 1:1 notes between them
# and the manager (in either direction) up to that day.
_COVERAGE = """
SELECT e.*,
    count(f.id) FILTER (WHERE f.occurred_on >= $2) AS held,
    max(f.occurred_on) AS last_held
FROM employees e
LEFT JOIN feedback f ON f.kind = 'one_on_one' AND f.occurred_on <= $3
    AND ((f.giver_id = e.id AND f.receiver_id = $1) OR (f.giver_id = $1 AND f.receiver_id = e.id))
WHERE e.manager_id = $1 AND e.hire_date <= $3 AND (e.leave_date IS NULL OR e.leave_date >= $3)
GROUP BY e.id
ORDER BY e.code
"""


def _month(value: str) -> Period:
    try:
        period = Period.parse(value, field="month")
    except DomainError as error:
        raise QueryError(error.code, error.message) from None
    if period.kind is not PeriodKind.MONTH:
        raise QueryError("INVALID_INPUT", f"month {value!r} must be a month, such as 2026-03")
    return period


async def one_on_one_coverage(info: Info, month: str, manager_id: UUID) -> OneOnOneCoverage:
    ctx = info.context
    if not ctx.visibility.everyone and manager_id != ctx.viewer.employee_id:
        raise forbidden("the 1:1 coverage of another manager")
    period = _month(month)
    manager = await ctx.loaders.employee.load(manager_id)
    if manager is None:
        raise QueryError("NOT_FOUND", f"manager {manager_id} does not exist")
    async with ctx.pool.acquire() as conn:
        rows = await conn.fetch(_COVERAGE, manager_id, period.start, period.end)
    reports = [
        ReportCoverage(
            employee=Employee.from_row(r),
            one_on_ones=r["held"],
            last_one_on_one=r["last_held"],
            covered=r["held"] > 0,
        )
        for r in rows
    ]
    return OneOnOneCoverage(
        month=str(period),
        manager=manager,
        reports=reports,
        uncovered=[report.employee for report in reports if not report.covered],
    )


@strawberry.type
class FeedbackQuery:
    @strawberry.field(
        description="Feedback an employee received (default: you) that you may see, newest first."
    )
    async def feedback_received(
        self,
        info: Info,
        employee_id: strawberry.ID | None = None,
        kind: FeedbackKindType | None = None,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> Connection[FeedbackItem]:
        await _reach(info, min_position)
        employee = _employee_or_viewer(info, employee_id)
        return await _feedback_page(info, "receiver_id", employee, _kind(kind), first, after)

    @strawberry.field(
        description="Feedback an employee gave (default: you) that you may see, newest first."
    )
    async def feedback_given(
        self,
        info: Info,
        employee_id: strawberry.ID | None = None,
        kind: FeedbackKindType | None = None,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> Connection[FeedbackItem]:
        await _reach(info, min_position)
        employee = _employee_or_viewer(info, employee_id)
        return await _feedback_page(info, "giver_id", employee, _kind(kind), first, after)

    @strawberry.field(description="One piece of feedback; null if it does not exist for you.")
    async def feedback_item(
        self, info: Info, id: strawberry.ID, min_position: MinPosition = None
    ) -> FeedbackItem | None:
        await _reach(info, min_position)
        audience = await _audience(info)
        args = [*audience.args, parse_id(id, "id")]
        async with info.context.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT * FROM feedback WHERE {audience.condition} AND id = ${len(args)}", *args
            )
        return FeedbackItem.from_row(row) if row is not None else None

    @strawberry.field(
        description="A manager's direct reports (default: you) and their 1:1s in a month "
        "(YYYY-MM). Managers see their own; hr, auditors and admins anyone's."
    )
    async def one_on_one_coverage(
        self,
        info: Info,
        month: str,
        manager_id: strawberry.ID | None = None,
        min_position: MinPosition = None,
    ) -> OneOnOneCoverage:
        await _reach(info, min_position)
        manager = _employee_or_viewer(info, manager_id, field="managerId")
        return await one_on_one_coverage(info, month, manager)


def _employee_or_viewer(
    info: Info, employee_id: strawberry.ID | None, field: str = "employeeId"
) -> UUID:
    if employee_id is None:
        return info.context.viewer.employee_id
    return parse_id(employee_id, field)


def _kind(kind: object | None) -> FeedbackKind | None:
    return None if kind is None else FeedbackKind(kind)


# -- writing ------------------------------------------------------------------------------------


@strawberry.input(description="Feedback or 1:1 notes, given by you.")
class GiveFeedbackInput:
    receiver_id: strawberry.ID
    kind: FeedbackKindType  # type: ignore[valid-type]
    visibility: FeedbackVisibilityType  # type: ignore[valid-type]
    body: str = strawberry.field(description="Up to 5000 characters.")
    occurred_on: date = strawberry.field(description="When it happened; for a 1:1, the meeting.")
    goal_id: strawberry.ID | None = strawberry.field(
        default=None, description="The receiver's goal or a department goal it is about."
    )
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Choose the feedback's id yourself (optional)."
    )


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(description="Give feedback or record 1:1 notes, as yourself.")
    async def give_feedback(self, info: Info, input: GiveFeedbackInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.give_feedback(
                ctx.provenance(),
                feedback_id=optional_uuid(input.id, "id") or new_id(ctx.viewer.employee_id, ctx),
                giver_id=ctx.viewer.employee_id,
                receiver_id=uuid_of(input.receiver_id, "receiverId"),
                kind=FeedbackKind(input.kind),
                visibility=FeedbackVisibility(input.visibility),
                body=input.body,
                goal_id=optional_uuid(input.goal_id, "goalId"),
                occurred_on=input.occurred_on,
                today=latest_date_anywhere(),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Acknowledge feedback you received (once).")
    async def acknowledge_feedback(self, info: Info, feedback_id: strawberry.ID) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.acknowledge_feedback(
                ctx.provenance(), uuid_of(feedback_id, "feedbackId"), utc_today()
            ),
        )
