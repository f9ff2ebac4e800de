"""The audit trail over GraphQL: every event as an entry, filtered, paged by log position.

Who reaches which entries:
- auditors, hr and admins: every entry; employees and managers: only entries touching themselves
  or, for managers, someone below them (plus the reviews they wrote themselves). Asking for
  anyone else's entries is FORBIDDEN rather than an empty page.
- auditors and hr read the full summaries (comments, feedback bodies, attribute values) and the
  anonymous raters (peers, customers); for everyone else, admins included, an entry about an
  anonymous rater comes without the rater, without its actor when the rater acted, without its
  reason, and with the safe summary.
- anonymity follows the person: entries about the anonymous raters of one's own appraisal are
  not shown to the reviewee at all (not even their number), whatever the role, auditors aside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import strawberry

from domain.provenance import Role
from service.api.errors import QueryError, forbidden
from service.api.pagination import Connection, Edge, decode_cursor, encode_cursor, page_size
from service.api.queries import MinPosition, _reach, parse_id
from service.api.types import Info, PageInfo, RoleType

FULL_VIEW = frozenset({Role.AUDITOR, Role.HR})
EVERY_ENTRY = frozenset({Role.AUDITOR, Role.HR, Role.ADMIN})


@strawberry.input(description="Every given filter must hold; none given: every entry you may see.")
class AuditTrailFilter:
    employee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Entries touching this employee: their goals, reviews of them, reviews "
        "they wrote, feedback they gave or got, their rewards, their organisation changes.",
    )
    aggregate_id: strawberry.ID | None = None
    actor_id: str | None = strawberry.field(
        default=None, description="Who acted: an employee id, or e.g. 'seed' for the system."
    )
    event_type: str | None = strawberry.field(
        default=None,
        description="An event type, alone (TargetRevised) or with its aggregate type "
        "(Goal.TargetRevised).",
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Recorded at or after this moment."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Recorded at or before this moment."
    )


@strawberry.type(description="One event of the log, as the caller may see it.")
class AuditEntry:
    position: int
    recorded_at: datetime
    aggregate_id: strawberry.ID
    aggregate_type: str
    aggregate_version: int
    event_type: str
    actor_id: str | None = strawberry.field(
        description="Null when the actor is an anonymous rater you may not know, or unknown."
    )
    actor_role: RoleType | None  # type: ignore[valid-type]
    actor_hidden: bool = strawberry.field(
        description="The actor is withheld from you (an anonymous rater)."
    )
    reason: str | None
    correlation_id: str | None
    employee_ids: list[strawberry.ID] = strawberry.field(
        description="The employees the event touches (anonymous raters never appear here)."
    )
    rater_key: str | None = strawberry.field(
        description="The anonymous rater (peer or customer) the entry is about; auditors, hr "
        "and the rater themselves only."
    )
    summary: str = strawberry.field(description="What changed, before → after where it applies.")
    full_summary: bool = strawberry.field(
        description="The summary includes confidential parts (comments, feedback bodies, "
        "attribute values, anonymous raters): auditors and hr only."
    )


@dataclass(frozen=True)
class Audience:
    """The SQL condition (and its arguments, $1 onwards) for the entries a viewer may see."""

    condition: str
    args: tuple[object, ...]


async def audience_of(info: Info) -> Audience:
    """Which audit entries the viewer may read, as an SQL condition (audience rules)."""
    viewer = info.context.viewer
    me = viewer.employee_id
    # Anonymity follows the person: even hr and admins do not learn their own raters here.
    hide_own_raters = (
        "NOT (rater_key IS NOT NULL AND reviewee_id IS NOT DISTINCT FROM $1 "
        "AND private_party_id IS DISTINCT FROM $1)"
    )
    if viewer.role is Role.AUDITOR:
        return Audience("TRUE", ())
    if viewer.role in EVERY_ENTRY:
        return Audience(hide_own_raters, (me,))
    # Everyone else, managers included, reaches only the entries about themselves: other
    # people's entries are for auditors, hr and admins.
    return Audience(
        f"{hide_own_raters} AND (employee_ids @> ARRAY[$1]::uuid[] OR private_party_id = $1)",
        (me,),
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def filter_conditions(
    info: Info, audit_filter: AuditTrailFilter | None, args: list[object]
) -> list[str]:
    """The filter as SQL over ``args`` (extended here); the columns are the API's own."""
    if audit_filter is None:
        return []
    viewer = info.context.viewer
    full = viewer.role in FULL_VIEW
    conditions: list[str] = []

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if audit_filter.employee_id is not None:
        employee = parse_id(audit_filter.employee_id, "filter.employeeId")
        if viewer.role not in EVERY_ENTRY and employee != viewer.employee_id:
            raise forbidden("the audit entries of another employee (filter.employeeId)")
        p = arg(employee)
        # Reviews someone wrote as an anonymous rater count as theirs only for those who may
        # know the rater: listing them for anyone else would name the rater.
        if full or employee == viewer.employee_id:
            conditions.append(f"(employee_ids @> ARRAY[{p}::uuid] OR private_party_id = {p})")
        else:
            conditions.append(f"employee_ids @> ARRAY[{p}::uuid]")
    if audit_filter.aggregate_id is not None:
        conditions.append(
            f"aggregate_id = {arg(parse_id(audit_filter.aggregate_id, 'filter.aggregateId'))}"
        )
    if audit_filter.actor_id is not None:
        p = arg(audit_filter.actor_id)
        if full:
            conditions.append(f"actor_id = {p}")
        else:
            # A hidden actor must not be found by asking for them.
            me = arg(str(viewer.employee_id))
            conditions.append(f"actor_id = {p} AND (NOT actor_anonymous OR actor_id = {me})")
    if audit_filter.event_type is not None:
        aggregate_type, dot, event_type = audit_filter.event_type.rpartition(".")
        conditions.append(f"event_type = {arg(event_type)}")
        if dot:
            conditions.append(f"aggregate_type = {arg(aggregate_type)}")
    start = _utc(audit_filter.from_) if audit_filter.from_ is not None else None
    end = _utc(audit_filter.to) if audit_filter.to is not None else None
    if start is not None and end is not None and start > end:
        raise QueryError(
            "INVALID_RANGE",
            f"filter.from ({start.isoformat()}) lies after filter.to ({end.isoformat()})",
        )
    if start is not None:
        conditions.append(f"recorded_at >= {arg(start)}")
    if end is not None:
        conditions.append(f"recorded_at <= {arg(end)}")
    return conditions


def entry_of(info: Info, r: asyncpg.Record) -> AuditEntry:
    """An audit-trail row as the viewer may see it: anonymous raters redacted below the full
    view, sealed summaries opened only for it."""
    viewer = info.context.viewer
    full = viewer.role in FULL_VIEW
    own_rating = r["private_party_id"] is not None and r["private_party_id"] == viewer.employee_id
    redacted = r["rater_key"] is not None and not full and not own_rating
    actor_hidden = redacted and r["actor_anonymous"]
    summary = r["summary"]
    sealed = r["summary_sealed"]
    if full and sealed is not None:
        summary = info.context.services.secrets.open(sealed)
    role = r["actor_role"]
    return AuditEntry(
        position=r["position"],
        recorded_at=r["recorded_at"],
        aggregate_id=strawberry.ID(str(r["aggregate_id"])),
        aggregate_type=r["aggregate_type"],
        aggregate_version=r["aggregate_version"],
        event_type=r["event_type"],
        actor_id=None if actor_hidden else r["actor_id"],
        actor_role=None if actor_hidden or role is None else Role(role),
        actor_hidden=actor_hidden,
        reason=None if redacted else r["reason"],
        correlation_id=r["correlation_id"],
        employee_ids=[strawberry.ID(str(i)) for i in r["employee_ids"]],
        rater_key=None if redacted else r["rater_key"],
        summary=summary,
        full_summary=full,
    )


async def audit_trail_page(
    info: Info, audit_filter: AuditTrailFilter | None, first: int, after: str | None
) -> Connection[AuditEntry]:
    limit = page_size(first)
    key = decode_cursor(after)
    audience = await audience_of(info)
    args = list(audience.args)
    conditions = [audience.condition, *await filter_conditions(info, audit_filter, args)]
    where = " AND ".join(conditions)
    count_args = list(args)
    count_query = f"SELECT count(*) FROM audit_trail WHERE {where}"

    async def count() -> int:
        async with info.context.pool.acquire() as conn:
            found: int = await conn.fetchval(count_query, *count_args)
            return found

    async with info.context.pool.acquire() as conn:
        if key is not None:
            if len(key) != 1 or not key[0].isdigit():
                raise QueryError("INVALID_CURSOR", "the 'after' cursor is not an audit cursor")
            args.append(int(key[0]))
            where += f" AND position > ${len(args)}"
        rows = await conn.fetch(
            f"SELECT * FROM audit_trail WHERE {where} ORDER BY position LIMIT {limit + 1}", *args
        )
    nodes = [entry_of(info, r) for r in rows[:limit]]

    def cursor(entry: AuditEntry) -> str:
        return encode_cursor([str(entry.position)])

    return Connection(
        edges=[Edge(cursor=cursor(n), node=n) for n in nodes],
        page_info=PageInfo(
            has_next_page=len(rows) > limit, end_cursor=cursor(nodes[-1]) if nodes else None
        ),
        total=count,
    )


@strawberry.type
class AuditTrailQuery:
    @strawberry.field(
        description="Every event as an audit entry, in log order. Auditors, hr and admins see "
        "every entry; everyone else, managers included, only the entries about themselves. "
        "Anonymous raters and comments follow the reviews' anonymity rules "
        "for everyone but auditors and hr."
    )
    async def audit_trail(
        self,
        info: Info,
        filter: AuditTrailFilter | None = None,
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> Connection[AuditEntry]:
        await _reach(info, min_position)
        return await audit_trail_page(info, filter, first, after)
