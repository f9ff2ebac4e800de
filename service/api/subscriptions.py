"""Subscriptions (graphql-transport-ws on /graphql), and the at-risk goals query.

Every update carries the log position it reflects. A subscription given ``afterPosition`` first
replays what changed after it (from the read models), then goes live, with no gap and nothing
twice at the seam (see service/live/feed.py). Scorecards and goals are state: a replay gives each
one that changed after the position once, as it stands now, at the position of its last change.
Several updates may share one position (adopting a rule set re-scores many scorecards at once);
a client cut off in the middle of such a group resumes from the position before it.

Who may subscribe to what follows the queries: refused at subscribe time with a FORBIDDEN error,
and checked again for every update (a manager who loses a report stops receiving theirs).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry

from domain.errors import DomainError
from domain.goals import OwnerKind
from domain.periods import Period
from domain.provenance import Role
from service import auth
from service.api import trial_reads
from service.api.audit_trail import (
    EVERY_ENTRY,
    AuditEntry,
    AuditTrailFilter,
    audience_of,
    entry_of,
    filter_conditions,
)
from service.api.errors import QueryError, forbidden
from service.api.queries import MinPosition, _reach, parse_id
from service.api.scorecards import Scorecard
from service.api.trials import TrialQuery
from service.api.types import Goal, Info
from service.api.visibility import Visibility
from service.api.whatif import WhatIfReport
from service.live.at_risk import GOALS_WITH_RULES, Connection, Standing, at_risk
from service.live.channels import AuditInterest, Indexed, SubjectInterest
from service.live.socket import SocketContext
from service.live.subscriber import Subscriber
from service.live.trials import TrialWatch

Replay = Callable[[Subscriber[Any], int], AsyncIterator[tuple[int, Any]]]

AfterPosition = Annotated[
    int | None,
    strawberry.argument(
        description="Resume: first replay what changed after this log position (the last "
        "`position` you received, or that of the answer you started from), then go live."
    ),
]
AUDIT_REPLAY_PAGE = 500


def _resolver_of(query: type, name: str) -> Callable[..., Awaitable[Any]]:
    """A query field's own resolver function, for a subscription that must answer exactly as
    that query does."""
    fields = query.__strawberry_definition__.fields  # type: ignore[attr-defined]
    field = next(f for f in fields if f.python_name == name)
    resolve: Callable[..., Awaitable[Any]] = field.base_resolver.wrapped_func
    return resolve


# The trialComparison query: (self, info, trial_id, cycle_id, group_by=None, as of...).
_trial_comparison = _resolver_of(TrialQuery, "trial_comparison")


@strawberry.type(description="A scorecard as it stands after a change.")
class ScorecardUpdate:
    position: int = strawberry.field(description="The log position of the change.")
    scorecard: Scorecard


@strawberry.type(description="A goal as it stands after a measurement.")
class GoalProgressUpdate:
    position: int = strawberry.field(description="The log position of the measurement.")
    goal: Goal


@strawberry.type(
    description="A goal trailing the straight line from its period's start (0 %) to its end "
    "(100 %) by more than its rule set's at-risk threshold."
)
class GoalAtRiskAlert:
    position: int = strawberry.field(description="The log position of the goal's last change.")
    goal: Goal
    expected_progress: Decimal = strawberry.field(
        description="Percent of the way from baseline to target expected by asOfDate."
    )
    actual_progress: Decimal = strawberry.field(
        description="Percent of the way the latest measurement covers (direction-aware)."
    )
    threshold: Decimal = strawberry.field(description="Percentage points behind that alert.")
    rule_set_version: int = strawberry.field(
        description="The rule set the goal's scorecard is computed under."
    )
    as_of_date: date = strawberry.field(description="The day the line is drawn at.")

    @classmethod
    def of(cls, position: int, standing: Standing) -> GoalAtRiskAlert:
        found = standing.trajectory
        assert found.actual is not None  # an unmeasured goal is never at risk
        return cls(
            position=position,
            goal=Goal.from_row(standing.goal),
            expected_progress=found.expected,
            actual_progress=found.actual,
            threshold=found.threshold,
            rule_set_version=standing.rule_set_version,
            as_of_date=standing.on,
        )


@strawberry.type(description="A running trial's comparison, recomputed after a relevant change.")
class TrialComparisonUpdate:
    position: int = strawberry.field(
        description="The log position of the last change the comparison reflects."
    )
    comparison: WhatIfReport


def _socket(info: Info) -> SocketContext:
    context = info.context
    if not isinstance(context, SocketContext):
        raise QueryError(
            "BAD_REQUEST", "subscriptions run over a websocket: graphql-transport-ws on /graphql"
        )
    return context


def _after(after_position: int | None) -> int | None:
    if after_position is not None and after_position < 0:
        raise QueryError(
            "INVALID_INPUT", f"afterPosition is {after_position}; it must be 0 or more"
        )
    return after_position


async def _live(
    info: Info, channel: Indexed[Any], interest: Any, after: int | None, replay: Replay
) -> AsyncIterator[tuple[int, Any]]:
    """What ``channel`` offers for ``interest``: first the replay of what came after ``after``,
    then live updates, each with its position; the context is made fresh for each."""
    context = _socket(info)
    feed = context.services.live
    async with feed.joined(channel, context.viewer, interest, context.hang_up) as subscriber:
        if after is not None and after < subscriber.since:
            async for position, payload in replay(subscriber, after):
                context.refresh()
                yield position, payload
        async for update in subscriber.updates():
            if after is not None and update.position <= after:
                continue  # the client had it already (its position ran ahead of this feed)
            context.refresh()
            yield update.position, update.payload


def _once(
    fetch: Callable[[Connection, Subscriber[Any], int], Awaitable[list[Any]]],
    info: Info,
    split: Callable[[Any], tuple[int, Any]],
) -> Replay:
    """A replay read with one query; ``split`` tells each item's position and payload."""

    async def replay(subscriber: Subscriber[Any], after: int) -> AsyncIterator[tuple[int, Any]]:
        async with info.context.pool.acquire() as conn:
            found = await fetch(conn, subscriber, after)
        for item in found:
            yield split(item)

    return replay


_EXISTS = """
SELECT EXISTS (SELECT 1 FROM employees WHERE id = $1) AS employee,
       EXISTS (SELECT 1 FROM departments WHERE id = $1) AS department
"""


async def _subject(
    info: Info,
    owner: strawberry.ID | None,
    department: strawberry.ID | None,
    names: tuple[str, str],
    *,
    period: str | None = None,
) -> SubjectInterest:
    """Exactly one of an owner (employee, or a department for its own goals) and a department;
    an employee you may not see is refused here (a department's members are filtered per
    update, as the department queries filter them)."""
    _socket(info)
    if (owner is None) == (department is None):
        raise QueryError("INVALID_INPUT", f"give exactly one of {names[0]} and {names[1]}")
    if period is not None:
        try:
            period = str(Period.parse(period))
        except DomainError as error:
            raise QueryError(error.code, error.message) from None
    given, name = (owner, names[0]) if owner is not None else (department, names[1])
    assert given is not None
    subject = parse_id(given, name)
    async with info.context.pool.acquire() as conn:
        exists = await conn.fetchrow(_EXISTS, subject)
    assert exists is not None
    if owner is not None:
        if not exists["employee"] and not exists["department"]:
            raise QueryError("NOT_FOUND", f"{names[0]} {subject} names no employee or department")
        if exists["employee"] and not await info.context.visibility.sees(subject):
            raise forbidden(f"the performance data of employee {subject} ({names[0]})")
    elif not exists["department"]:
        raise QueryError("NOT_FOUND", f"{names[1]} {subject} names no department")
    return SubjectInterest(
        owner=subject if owner is not None else None,
        department=subject if department is not None else None,
        period=period,
    )


async def _audit_missed(
    info: Info, audit_filter: AuditTrailFilter
) -> Callable[[Subscriber[Any], int], AsyncIterator[tuple[int, asyncpg.Record]]]:
    """The audit-trail query's own audience and filter, in pages, up to the subscriber's
    ``since``."""
    audience = await audience_of(info)
    args = list(audience.args)
    where = " AND ".join([audience.condition, *await filter_conditions(info, audit_filter, args)])
    query = (
        f"SELECT * FROM audit_trail WHERE {where} AND position > ${len(args) + 1} "
        f"AND position <= ${len(args) + 2} ORDER BY position LIMIT {AUDIT_REPLAY_PAGE}"
    )

    async def replay(
        subscriber: Subscriber[Any], after: int
    ) -> AsyncIterator[tuple[int, asyncpg.Record]]:
        last = after
        while True:
            async with info.context.pool.acquire() as conn:
                rows = await conn.fetch(query, *args, last, subscriber.since)
            for r in rows:
                yield r["position"], r
            if len(rows) < AUDIT_REPLAY_PAGE:
                return
            last = rows[-1]["position"]

    return replay


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Scorecards as they change: one employee's (employeeId), or a department's "
        "members' and its own (departmentId), optionally of one period. Managers receive their "
        "reports', employees their own, hr, auditors and admins everyone's."
    )
    async def scorecard_updated(
        self,
        info: Info,
        employee_id: strawberry.ID | None = None,
        department_id: strawberry.ID | None = None,
        period: str | None = None,
        after_position: AfterPosition = None,
    ) -> AsyncGenerator[ScorecardUpdate, None]:
        after = _after(after_position)
        interest = await _subject(
            info, employee_id, department_id, ("employeeId", "departmentId"), period=period
        )
        channel = info.context.services.live.scorecards

        async def missed(
            conn: Connection, subscriber: Subscriber[Any], since: int
        ) -> list[asyncpg.Record]:
            return await channel.replay(conn, subscriber, interest, since)

        replay = _once(missed, info, lambda r: (r["position"], r))
        async for position, row in _live(info, channel, interest, after, replay):
            yield ScorecardUpdate(position=position, scorecard=Scorecard.from_row(row))

    @strawberry.subscription(
        description="Goals as measurements are recorded: one owner's (ownerId: an employee, or "
        "a department for its own goals) or a department's (departmentId)."
    )
    async def goal_progress_recorded(
        self,
        info: Info,
        owner_id: strawberry.ID | None = None,
        department_id: strawberry.ID | None = None,
        after_position: AfterPosition = None,
    ) -> AsyncGenerator[GoalProgressUpdate, None]:
        after = _after(after_position)
        interest = await _subject(info, owner_id, department_id, ("ownerId", "departmentId"))
        channel = info.context.services.live.progress

        async def missed(
            conn: Connection, subscriber: Subscriber[Any], since: int
        ) -> list[asyncpg.Record]:
            return await channel.replay(conn, subscriber, interest, since)

        replay = _once(missed, info, lambda r: (r["at"], r))
        async for position, row in _live(info, channel, interest, after, replay):
            yield GoalProgressUpdate(position=position, goal=Goal.from_row(row))

    @strawberry.subscription(
        description="Goals left behind their expected trajectory by a measurement or a target "
        "revision (judged on the day of their latest measurement); a replay gives the goals "
        "changed since afterPosition that are at risk now."
    )
    async def goal_at_risk(
        self,
        info: Info,
        owner_id: strawberry.ID | None = None,
        department_id: strawberry.ID | None = None,
        after_position: AfterPosition = None,
    ) -> AsyncGenerator[GoalAtRiskAlert, None]:
        after = _after(after_position)
        interest = await _subject(info, owner_id, department_id, ("ownerId", "departmentId"))
        channel = info.context.services.live.at_risk

        async def missed(
            conn: Connection, subscriber: Subscriber[Any], since: int
        ) -> list[tuple[int, Standing]]:
            return await channel.replay(conn, subscriber, interest, since)

        replay = _once(missed, info, lambda pair: pair)
        async for position, standing in _live(info, channel, interest, after, replay):
            yield GoalAtRiskAlert.of(position, standing)

    @strawberry.subscription(
        description="New audit-trail entries as they are recorded (auditors, hr and admins), "
        "with the audit trail's anonymity rules; eventType as in the audit trail's filter."
    )
    async def audit_tail(
        self,
        info: Info,
        after_position: AfterPosition = None,
        employee_id: strawberry.ID | None = None,
        event_type: str | None = None,
    ) -> AsyncGenerator[AuditEntry, None]:
        _socket(info)
        after = _after(after_position)
        if info.context.viewer.role not in EVERY_ENTRY:
            raise forbidden("the audit tail (auditors, hr and admins only)")
        employee = parse_id(employee_id, "employeeId") if employee_id is not None else None
        aggregate_type, dot, event = (event_type or "").rpartition(".")
        interest = AuditInterest(
            employee=employee,
            event_type=event or None,
            aggregate_type=aggregate_type if dot else None,
        )
        replay = await _audit_missed(
            info, AuditTrailFilter(employee_id=employee_id, event_type=event_type)
        )
        channel = info.context.services.live.audit
        async for _, row in _live(info, channel, interest, after, replay):
            yield entry_of(info, row)

    @strawberry.subscription(
        description="A running trial's comparison with production, as trialComparison answers "
        "it: now, then again after each change to the trial, its participants, the cycle or the "
        "rules, recomputed at most about once a second whatever the number of subscribers (hr, "
        "auditors, admins)."
    )
    async def trial_comparison_updated(
        self, info: Info, trial_id: strawberry.ID, cycle_id: strawberry.ID
    ) -> AsyncGenerator[TrialComparisonUpdate, None]:
        context = _socket(info)
        trial_reads.require_reader(info, "trial comparisons")
        key = (parse_id(trial_id, "trialId"), parse_id(cycle_id, "cycleId"))
        await trial_reads.trial_row(info, key[0])  # an unknown trial: NOT_FOUND now

        async def compare() -> WhatIfReport:
            report: WhatIfReport = await _trial_comparison(None, info, trial_id, cycle_id)
            return report

        async def participants() -> frozenset[UUID]:
            return frozenset(await trial_reads.participants_at(info, key[0], None))

        feed = context.services.live
        subscriber = await feed.subscriber(context.viewer, context.hang_up)

        def watch() -> TrialWatch:
            return TrialWatch(key, compare, participants, lambda: feed.horizon)

        async with feed.trials.joined(subscriber, key, watch) as watching:
            position, report = await watching.current()
            yield TrialComparisonUpdate(position=position, comparison=report)
            async for update in subscriber.updates():
                if update.position > position:  # not the computation it joined with, again
                    position = update.position
                    context.refresh()
                    yield TrialComparisonUpdate(position=position, comparison=update.payload)


@strawberry.type
class LiveQuery:
    @strawberry.field(
        description="Open goals behind their expected trajectory by more than their rule set's "
        "threshold, most behind first: a manager's reports' (managerId), a department's "
        "(departmentId), or all you may see. asOfDate: the day to draw the line at (default: "
        "each goal's latest measurement day)."
    )
    async def at_risk_goals(
        self,
        info: Info,
        manager_id: strawberry.ID | None = None,
        department_id: strawberry.ID | None = None,
        as_of_date: date | None = None,
        min_position: MinPosition = None,
    ) -> list[GoalAtRiskAlert]:
        await _reach(info, min_position)
        if manager_id is not None and department_id is not None:
            raise QueryError("INVALID_INPUT", "give at most one of managerId and departmentId")
        context = info.context
        visible = await context.visibility.people()
        where, args = "g.status = 'open'", list[object]()
        if manager_id is not None:
            manager = parse_id(manager_id, "managerId")
            if visible is not None and manager not in visible:
                raise forbidden(f"the goals of the reports of {manager} (managerId)")
            reports = await _reports(info, manager)
            if visible is not None:
                reports &= visible
            where += " AND g.owner_id = ANY($1::uuid[])"
            args.append(list(reports))
        elif department_id is not None:
            where += " AND g.department_id = $1"
            args.append(parse_id(department_id, "departmentId"))
        async with context.pool.acquire() as conn:
            rows = await conn.fetch(f"{GOALS_WITH_RULES} WHERE {where}", *args)
            found = await at_risk(conn, context.services.live.thresholds, rows, as_of_date)
        shown = [
            s
            for s in found
            if s.goal["owner_kind"] == OwnerKind.DEPARTMENT.value
            or visible is None
            or s.goal["owner_id"] in visible
        ]
        shown.sort(key=lambda s: (-(s.trajectory.behind or Decimal(0)), str(s.goal["id"])))
        return [GoalAtRiskAlert.of(s.goal["position"], s) for s in shown]


async def _reports(info: Info, manager: UUID) -> set[UUID]:
    """Everyone below ``manager`` (as the manager's own view has them), without the manager."""
    people = await Visibility(auth.Viewer(manager, Role.MANAGER), info.context.pool).people()
    return set(people or ()) - {manager}
