"""Time travel: the read models as they were at a past position of the log.

An as-of answer is computed, not looked up: the events of the subject's aggregates up to the
position are replayed through the same projection code that maintains the live read models, into
temporary tables on a connection of its own, and the query then runs its usual SQL there. So an
as-of scorecard is, by construction, what the live scorecard showed when the log ended at that
position (``tests/test_as_of.py`` checks it against answers taken live), under the rule-set
version then in force, and later facts, calibrations, rule changes or revocations cannot leak in.

What a subject's replay takes:

- an employee: their own record, goals and goal sets, rewards, feedback received, their
  appraisal in every review cycle, plus every review cycle and the rule book;
- a department: all departments (for the tree as it was), the department's own goals, and the
  employees who belonged to it at that position (``department_memberships``), each as above.

Replays leave *checkpoints* per process: the replayed read-model state after every
``CHECKPOINT_EVERY`` events of a subject. A later question about the same subject, at any
position, restores the nearest earlier checkpoint and replays only the few events after it (log
events never change, so a checkpoint never goes stale). They live in memory, within a budget,
least recently used subjects first out.

"As of a time" means as of the last event recorded at or before that time. People and
departments that a result links to (a rater's name, a department's name) are today's directory
entries; every figure is as of the position.
"""

from __future__ import annotations

import bisect
import io
import pickle
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from eventsourcing.persistence import StoredEvent

from domain.errors import DomainError
from domain.goals import goal_set_id
from domain.reviews import appraisal_id
from domain.rules import RULE_BOOK_ID
from projections.base import Sealer
from projections.organisation import MEMBERS_AS_OF
from projections.projector import TRACKING_DDL, Projector

Decode = Callable[[StoredEvent], Any]
Conn = asyncpg.Connection | PoolConnectionProxy  # a connection of its own or a pool's


class AsOfOutOfRange(DomainError):
    """An as-of time or position that the log cannot answer for."""

    code = "AS_OF_OUT_OF_RANGE"


@dataclass(frozen=True)
class AsOfPoint:
    position: int
    recorded_at: datetime


async def resolve_point(
    conn: Conn, at: datetime | None, position: int | None, head: int
) -> AsOfPoint:
    """The log position an ``asOf`` time or ``asOfPosition`` names, checked against the log.

    ``head`` is the last position the read models reflect (the caller waits for them first).
    """
    if at is not None and position is not None:
        raise AsOfOutOfRange("give asOf or asOfPosition, not both", field="asOfPosition")
    if position is not None:
        if position < 1 or position > head:
            raise AsOfOutOfRange(
                f"position {position} is not in the log (positions run from 1 to {head})",
                field="asOfPosition",
            )
        row = await conn.fetchrow(
            "SELECT position, recorded_at FROM audit_trail WHERE position = $1", position
        )
        if row is None:
            raise AsOfOutOfRange(f"position {position} is not in the log", field="asOfPosition")
        return AsOfPoint(row["position"], row["recorded_at"])
    assert at is not None
    if at.tzinfo is None:
        raise AsOfOutOfRange("asOf needs a time zone (for example 2026-06-30T17:00:00Z)")
    if at > datetime.now(UTC):
        raise AsOfOutOfRange(f"asOf {at.isoformat()} is in the future", field="asOf")
    row = await conn.fetchrow(
        "SELECT position, recorded_at FROM audit_trail WHERE recorded_at <= $1 AND position <= $2 "
        "ORDER BY recorded_at DESC, position DESC LIMIT 1",
        at,
        head,
    )
    if row is None:
        first = await conn.fetchval("SELECT min(recorded_at) FROM audit_trail")
        since = "the log is empty" if first is None else f"the first was at {first.isoformat()}"
        raise AsOfOutOfRange(
            f"asOf {at.isoformat()} is before the first recorded event ({since})", field="asOf"
        )
    return AsOfPoint(row["position"], row["recorded_at"])


# -- what a subject's replay takes -----------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """Whose records an as-of answer needs: employees, and departments with their own goals."""

    employees: frozenset[UUID] = frozenset()
    departments: frozenset[UUID] = frozenset()
    all_departments: bool = False

    @property
    def key(self) -> tuple[object, ...]:
        return (
            tuple(sorted(self.employees)),
            tuple(sorted(self.departments)),
            self.all_departments,
        )


async def members_as_of(conn: Conn, departments: Sequence[UUID], position: int) -> frozenset[UUID]:
    rows = await conn.fetch(MEMBERS_AS_OF, list(departments), position)
    return frozenset(r["employee_id"] for r in rows)


_SCOPE = """
SELECT 'goal' AS kind, id, owner_id, period FROM goals WHERE owner_id = ANY($1::uuid[])
UNION ALL
SELECT 'reward', id, NULL, NULL FROM rewards WHERE employee_id = ANY($2::uuid[])
UNION ALL
SELECT 'feedback', id, NULL, NULL FROM feedback WHERE receiver_id = ANY($2::uuid[])
UNION ALL
SELECT 'cycle', id, NULL, NULL FROM review_cycles
UNION ALL
SELECT 'department', id, NULL, NULL FROM departments WHERE $3
"""


async def aggregate_ids(conn: Conn, subject: Subject) -> list[UUID]:
    """Every aggregate whose events a replay of ``subject`` needs, in one round trip (ids never
    disappear from the live read models, so today's tables list everything that ever existed)."""
    owners = [*subject.employees, *subject.departments]
    employees = list(subject.employees)
    ids: set[UUID] = {RULE_BOOK_ID, *subject.employees}
    for r in await conn.fetch(_SCOPE, owners, employees, subject.all_departments):
        ids.add(r["id"])
        if r["kind"] == "goal":
            ids.add(goal_set_id(r["owner_id"], r["period"]))
        elif r["kind"] == "cycle":
            ids.update(appraisal_id(r["id"], e) for e in employees)
    return sorted(ids)


# -- replaying ----------------------------------------------------------------------------------


Key = tuple[object, ...]  # a Subject's key


@dataclass(frozen=True)
class Checkpoint:
    """A subject's replayed read-model state after its first ``events`` events, the last of
    them at ``position``."""

    position: int
    events: int
    state: bytes  # the pickled Projector, so that each use starts from an untouched copy


# A checkpoint every this many of a subject's events: an as-of answer replays fewer than this
# many events after restoring the nearest earlier checkpoint.
CHECKPOINT_EVERY = 64
CHECKPOINT_BUDGET_BYTES = 128 * 1024 * 1024


@dataclass
class Replays:
    """Replays subjects' events into projectors, leaving checkpoints along each subject's
    history (kept, least recently used first out, within a memory budget)."""

    decode: Decode
    events_table: str
    secrets: Sealer | None
    every: int = CHECKPOINT_EVERY
    budget_bytes: int = CHECKPOINT_BUDGET_BYTES
    _checkpoints: OrderedDict[Key, list[Checkpoint]] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def _fresh(self) -> Projector:
        projector = Projector(self.secrets, with_audit_trail=False)
        projector.position = 0
        projector.announce = False
        return projector

    def _nearest(self, key: Key, position: int) -> Checkpoint | None:
        known = self._checkpoints.get(key, [])
        i = bisect.bisect_right([c.position for c in known], position) - 1
        return known[i] if i >= 0 else None

    async def projector(
        self, conn: Conn, subject: Subject, position: int, *, checkpoints: bool = True
    ) -> Projector:
        """A projector holding ``subject``'s read models as of ``position`` (nothing written).

        ``checkpoints=False`` for a one-off replay of a large subject (a whole cycle for a
        fairness audit), whose copies would cost more than they save."""
        ids = await aggregate_ids(conn, subject)
        start = self._nearest(subject.key, position)
        if start is not None:
            projector, after, applied = self._restore(start.state), start.position, start.events
        else:
            projector, after, applied = self._fresh(), 0, 0
        rows = await conn.fetch(
            f"SELECT originator_id, originator_version, topic, state, notification_id "
            f"FROM {self.events_table} WHERE originator_id = ANY($1::uuid[]) "
            f"AND notification_id > $2 AND notification_id <= $3 ORDER BY notification_id",
            ids,
            after,
            position,
        )
        decode, wants = self.decode, projector.wants
        events = [
            (r["notification_id"], decode(StoredEvent(*_stored(r))))
            for r in rows
            if wants(r["topic"])
        ]
        if not checkpoints:
            projector.apply(events)
            return projector
        # Apply up to each multiple of `every` and leave a checkpoint there, then the rest.
        done = 0
        while done < len(events):
            upto = min(len(events), done + self.every - (applied + done) % self.every)
            projector.apply(events[done:upto])
            done = upto
            if (applied + done) % self.every == 0:
                # Pickled before anything is flushed: flushing marks rows clean, and a copy
                # taken after it would not write them again.
                self._keep(subject.key, events[done - 1][0], applied + done, projector)
        return projector

    def _keep(
        self, key: tuple[object, ...], position: int, events: int, projector: Projector
    ) -> None:
        known = self._checkpoints.setdefault(key, [])
        self._checkpoints.move_to_end(key)
        if any(c.position == position for c in known):
            return
        checkpoint = Checkpoint(position, events, self._save(projector))
        bisect.insort(known, checkpoint, key=lambda c: c.position)
        self._bytes += len(checkpoint.state)
        while self._bytes > self.budget_bytes and self._checkpoints:
            _, dropped = self._checkpoints.popitem(last=False)
            self._bytes -= sum(len(c.state) for c in dropped)

    def _save(self, projector: Projector) -> bytes:
        buffer = io.BytesIO()
        _KeylessPickler(buffer, self.secrets).dump(projector)
        return buffer.getvalue()

    def _restore(self, state: bytes) -> Projector:
        projector = _KeyedUnpickler(io.BytesIO(state), self.secrets).load()
        assert isinstance(projector, Projector)
        return projector


def _stored(r: asyncpg.Record) -> tuple[UUID, int, str, bytes]:
    return r["originator_id"], r["originator_version"], r["topic"], r["state"]


class _KeylessPickler(pickle.Pickler):
    """Pickles a projector's memory but not the sealing key its models hold: that stays a
    reference, put back from this process's own object on restore."""

    def __init__(self, buffer: io.BytesIO, secrets: Sealer | None) -> None:
        super().__init__(buffer, protocol=5)
        self.secrets = secrets

    def persistent_id(self, obj: object) -> str | None:
        return "secrets" if obj is not None and obj is self.secrets else None


class _KeyedUnpickler(pickle.Unpickler):
    def __init__(self, buffer: io.BytesIO, secrets: Sealer | None) -> None:
        super().__init__(buffer)  # only ever bytes this process pickled itself
        self.secrets = secrets

    def persistent_load(self, pid: object) -> object:
        if pid != "secrets":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self.secrets


# -- temporary tables ---------------------------------------------------------------------------


@asynccontextmanager
async def replayed(
    services: Any, subject: Subject, position: int, *, checkpoints: bool = True
) -> AsyncIterator[asyncpg.Connection]:
    """A connection reading ``subject``'s read models as of ``position`` (``services`` is the
    service's Services: its read pool, as-of pool and replays)."""
    async with services.read_pool.acquire() as conn:
        projector = await services.replays.projector(
            conn, subject, position, checkpoints=checkpoints
        )
    async with written(services.as_of_pool, projector, position, 30.0) as past:
        yield past


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Give a connection of the as-of pool empty temporary copies of every read-model table.

    Temporary tables come first in PostgreSQL's search path, so every query on this connection
    reads them instead of the live ones; the replayed rows go in within a transaction that is
    rolled back when the request ends.
    """
    ddl = "\n".join(model.ddl for model in Projector(with_audit_trail=False).models)
    await conn.execute("SET search_path TO pg_temp")
    try:
        await conn.execute(TRACKING_DDL)
        await conn.execute(ddl)
    finally:
        await conn.execute("RESET search_path")
    await conn.execute(
        "INSERT INTO pg_temp.projection_tracking (name, position) VALUES ('read_models', 0)"
    )


@asynccontextmanager
async def written(
    pool: asyncpg.Pool, projector: Projector, position: int, wait_seconds: float
) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose read-model tables hold ``projector``'s rows as of ``position`` for
    as long as the context lasts; nothing stays behind."""
    async with pool.acquire(timeout=wait_seconds) as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            connection: asyncpg.Connection = conn  # type: ignore[assignment]
            await projector.write_rows(connection)
            yield connection
        finally:
            await transaction.rollback()
