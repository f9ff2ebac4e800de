"""The ``asOf`` / ``asOfPosition`` arguments: answer a query from the read models as they were.

A root resolver that takes them calls :func:`past` first; when the caller asked for the past it
gets back an ``Info`` whose context reads a connection holding the subject's replayed read
models (``service.as_of``), and runs its usual body on it. Who may see what is still decided by
today's roles and org chart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, cast
from uuid import UUID

import asyncpg
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import Info as StrawberryInfo

from domain.errors import DomainError
from projections.projector import Projector
from service.api.context import Context
from service.api.errors import QueryError
from service.api.types import Info
from service.as_of import AsOfPoint, Subject, members_as_of, resolve_point, written

AsOf = Annotated[
    datetime | None,
    strawberry.argument(
        description="Answer as the read models stood at this moment: computed from the events "
        "recorded up to it, under the rule set then in force. With a time zone; not in the "
        "future, not before the first event."
    ),
]
AsOfPosition = Annotated[
    int | None,
    strawberry.argument(
        description="Answer as the read models stood when the log ended at this position "
        "(an audit entry's position). Give asOf or asOfPosition, not both."
    ),
]

AS_OF_SECONDS = 10.0  # the longest a request waits for an as-of connection


class _OneConnection:
    """Looks like a pool to the read path, hands out one connection, one user at a time."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._lock:
            yield self._conn


class PastView:
    """A subject's read models as of a moment, for one request.

    The replayed projector is at hand at once (``projector``: the in-memory rows, which a
    scorecard is answered from directly); the temporary tables that the usual SQL reads are
    written only when a resolver first needs them (``materialise``), on a connection held until
    the request ends.
    """

    as_of = True  # see service.api.past_reads

    def __init__(self, base: Context, projector: Projector, when: AsOfPoint) -> None:
        self.base = base
        self.projector = projector
        self.when = when
        self._info: Info | None = None
        self._lock = asyncio.Lock()

    @property
    def context(self) -> Context:
        if self._info is None:
            raise RuntimeError("the as-of view is not materialised; await materialise() first")
        return self._info.context

    async def materialise(self) -> Info:
        async with self._lock:
            if self._info is None:
                self._info = await self._written()
            return self._info

    async def _written(self) -> Info:
        base, services = self.base, self.base.services
        assert services.as_of_pool is not None
        try:
            replayed = await base.request_scope.enter_async_context(
                written(services.as_of_pool, self.projector, self.when.position, AS_OF_SECONDS)
            )
        except TimeoutError:
            raise QueryError(
                "AS_OF_BUSY",
                "every as-of connection is in use (too many as-of views at once); try again",
            ) from None
        view = Context(
            services=services,
            viewer=base.viewer,
            correlation_id=base.correlation_id,
            external=base.external,
            read_source=cast(asyncpg.Pool, _OneConnection(replayed)),
        )
        view.visibility = base.visibility  # today's rules, and their cache, for the past too
        return cast(Info, _PastInfo(view))


@dataclass
class _PastInfo:
    """Stands in for strawberry's Info in the read functions, which only use ``.context``."""

    context: Context
    as_of: bool = True  # see service.api.past_reads


async def _head(context: Context) -> int:
    """The log's last position, once the read models reflect it (waits a little if needed)."""
    services = context.services
    async with services.read_pool.acquire() as conn:
        head: int = await conn.fetchval(
            f"SELECT coalesce(max(notification_id), 0) FROM {services.events_table}"
        )
    await context.reach(head)
    return head


async def point(context: Context, at: datetime | None, position: int | None) -> AsOfPoint:
    head = await _head(context)
    try:
        async with context.services.read_pool.acquire() as conn:
            return await resolve_point(conn, at, position, head)
    except DomainError as error:
        raise QueryError(error.code, error.message) from None


async def optional_position(
    context: Context, at: datetime | None, position: int | None
) -> int | None:
    """The position an optional asOf / asOfPosition names (None: neither given, the present)."""
    if at is None and position is None:
        return None
    return (await point(context, at, position)).position


async def past_view(
    info: Info,
    subject: Subject,
    at: datetime | None,
    position: int | None,
    *,
    department_members_of: list[UUID] | None = None,
) -> PastView | None:
    """None when neither ``at`` nor ``position`` is given (the live read models answer);
    otherwise ``subject``'s read models as of that moment (one view per subject and moment per
    request). ``department_members_of``: departments whose members then join the subject."""
    if at is None and position is None:
        return None
    context = info.context
    when = await point(context, at, position)
    services = context.services
    async with services.read_pool.acquire() as conn:
        if department_members_of is not None:
            members = await members_as_of(conn, department_members_of, when.position)
            subject = Subject(
                employees=subject.employees | members,
                departments=subject.departments,
                all_departments=subject.all_departments,
            )
        key = (subject.key, when.position)
        known = context.as_of_views.get(key)
        if isinstance(known, PastView):
            return known
        assert services.replays is not None
        projector = await services.replays.projector(conn, subject, when.position)
    view = PastView(context, projector, when)
    context.as_of_views[key] = view
    return view


async def past(
    info: Info,
    subject: Subject,
    at: datetime | None,
    position: int | None,
    *,
    department_members_of: list[UUID] | None = None,
) -> Info | None:
    """As ``past_view``, materialised: an Info whose read functions run their usual SQL on the
    replayed read models."""
    view = await past_view(info, subject, at, position, department_members_of=department_members_of)
    return None if view is None else await view.materialise()


async def employee_view(
    info: Info, employee: UUID, at: datetime | None, position: int | None
) -> Info:
    """``info`` itself for the live answer, or one reading ``employee``'s records as of the
    moment asked for."""
    return await past(info, Subject(employees=frozenset({employee})), at, position) or info


async def past_department(
    info: Info,
    department: UUID,
    include_sub_departments: bool,
    at: datetime | None,
    position: int | None,
) -> Info:
    """An Info reading a department's read models as of a moment: every department (the tree as
    it stood), the department's (and its sub-departments') goals, and everyone who belonged
    to them then."""
    when = await point(info.context, at, position)
    departments = [department]
    if include_sub_departments:
        services = info.context.services
        assert services.replays is not None
        async with services.read_pool.acquire() as conn:
            tree = await services.replays.projector(
                conn, Subject(all_departments=True), when.position
            )
        children: dict[UUID, list[UUID]] = {}
        for row in tree.organisation.departments.values():
            if row.parent_id is not None:
                children.setdefault(row.parent_id, []).append(row.id)
        at_hand = [department]
        while at_hand:
            below = children.get(at_hand.pop(), [])
            departments.extend(below)
            at_hand.extend(below)
    subject = Subject(departments=frozenset(departments), all_departments=True)
    view = await past(info, subject, None, when.position, department_members_of=departments)
    assert view is not None
    return view


class CloseRequestScope(SchemaExtension):
    """Gives back what a request held for its whole execution (as-of views' connections)."""

    async def on_execute(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, Context):
                await context.request_scope.aclose()


@strawberry.type(description="A moment of the log: a position and when its event was recorded.")
class LogPoint:
    position: int
    recorded_at: datetime


@strawberry.type
class AsOfQuery:
    @strawberry.field(
        description="The log position an asOf time names (the last event recorded at or before "
        "it), or the time of an asOfPosition: what an as-of answer is computed from."
    )
    async def as_of_point(
        self,
        info: StrawberryInfo[Context, None],
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> LogPoint:
        if as_of is None and as_of_position is None:
            raise QueryError("INVALID_INPUT", "give asOf or asOfPosition")
        when = await point(info.context, as_of, as_of_position)
        return LogPoint(position=when.position, recorded_at=when.recorded_at)
