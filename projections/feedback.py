"""Read model: every piece of feedback and 1:1 note, and monthly counts per employee and kind.

The body is confidential: it is stored sealed (``bytea``) with the service's key and opened by
the API only for viewers allowed to see the feedback. Memory holds everything but the bodies,
which are only needed on the way into the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from domain.feedback import Feedback, FeedbackKind, FeedbackVisibility
from projections.base import Handler, Sealer, event_type, upsert

DDL = """
CREATE TABLE IF NOT EXISTS feedback (
    id uuid PRIMARY KEY,
    giver_id uuid NOT NULL,
    receiver_id uuid NOT NULL,
    kind text NOT NULL,
    visibility text NOT NULL,
    goal_id uuid,
    occurred_on date NOT NULL,
    body_sealed bytea,
    given_at timestamptz NOT NULL,
    position bigint NOT NULL,
    acknowledged_on date,
    acknowledged_position bigint
);
CREATE INDEX IF NOT EXISTS feedback_receiver ON feedback (receiver_id, occurred_on, position);
CREATE INDEX IF NOT EXISTS feedback_giver ON feedback (giver_id, occurred_on, position);
CREATE TABLE IF NOT EXISTS feedback_counts (
    employee_id uuid NOT NULL,
    month text NOT NULL,
    kind text NOT NULL,
    received integer NOT NULL,
    given integer NOT NULL,
    PRIMARY KEY (employee_id, month, kind)
);
"""

_COLUMNS = [
    ("id", "uuid"),
    ("giver_id", "uuid"),
    ("receiver_id", "uuid"),
    ("kind", "text"),
    ("visibility", "text"),
    ("goal_id", "uuid"),
    ("occurred_on", "date"),
    ("body_sealed", "bytea"),
    ("given_at", "timestamptz"),
    ("position", "bigint"),
    ("acknowledged_on", "date"),
    ("acknowledged_position", "bigint"),
]
_COUNT_COLUMNS = [
    ("employee_id", "uuid"),
    ("month", "text"),
    ("kind", "text"),
    ("received", "integer"),
    ("given", "integer"),
]
_ACKNOWLEDGE = """
UPDATE feedback f SET acknowledged_on = t.acknowledged_on,
    acknowledged_position = t.acknowledged_position
FROM unnest($1::uuid[], $2::date[], $3::bigint[])
    AS t(id, acknowledged_on, acknowledged_position)
WHERE f.id = t.id
"""

CountKey = tuple[UUID, str, FeedbackKind]  # employee, month (2026-03), kind


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(slots=True)
class FeedbackRow:
    id: UUID
    giver_id: UUID
    receiver_id: UUID
    kind: FeedbackKind
    visibility: FeedbackVisibility
    goal_id: UUID | None
    occurred_on: date
    given_at: datetime
    position: int
    acknowledged_on: date | None = None
    acknowledged_position: int | None = None


@dataclass(slots=True)
class Counts:
    received: int = 0
    given: int = 0


class FeedbackModel:
    tables: Sequence[str] = ("feedback", "feedback_counts")
    ddl = DDL

    def __init__(self, sealer: Sealer | None) -> None:
        # Without a sealer (a projector built without the service's key) no body is kept:
        # storing it in the clear is never the fallback.
        self.sealer = sealer
        self.rows: dict[UUID, FeedbackRow] = {}
        self.received_by: dict[UUID, list[FeedbackRow]] = {}
        self.counts_by: dict[CountKey, Counts] = {}
        self.sealed_bodies: dict[UUID, bytes | None] = {}  # rows new in this batch
        self.acknowledged: set[UUID] = set()  # rows whose acknowledgement alone changed
        self.dirty_counts: set[CountKey] = set()

    def clear(self) -> None:
        self.__init__(self.sealer)  # type: ignore[misc]

    def handlers(self) -> dict[type, Handler]:
        return {
            event_type(Feedback, "Given"): self._given,
            event_type(Feedback, "Acknowledged"): self._acknowledged,
        }

    def counts(self, employee_id: UUID, start: date, end: date) -> dict[FeedbackKind, int]:
        """Feedback the employee received that took place from ``start`` to ``end`` inclusive,
        by kind (every kind present, zero included); for the scorecards."""
        totals = dict.fromkeys(FeedbackKind, 0)
        for row in self.received_by.get(employee_id, ()):
            if start <= row.occurred_on <= end:
                totals[row.kind] += 1
        return totals

    def _index(self, row: FeedbackRow) -> None:
        self.rows[row.id] = row
        self.received_by.setdefault(row.receiver_id, []).append(row)

    def _count(self, employee_id: UUID, month: str, kind: FeedbackKind) -> Counts:
        key = (employee_id, month, kind)
        self.dirty_counts.add(key)
        counts = self.counts_by.get(key)
        if counts is None:
            counts = self.counts_by[key] = Counts()
        return counts

    def _given(self, e: Any, position: int) -> None:
        row = FeedbackRow(
            e.originator_id,
            e.giver_id,
            e.receiver_id,
            e.kind,
            e.visibility,
            e.goal_id,
            e.occurred_on,
            e.timestamp,
            position,
        )
        self._index(row)
        self.sealed_bodies[row.id] = self.sealer.seal(e.body) if self.sealer else None
        month = month_of(row.occurred_on)
        self._count(row.receiver_id, month, row.kind).received += 1
        self._count(row.giver_id, month, row.kind).given += 1

    def _acknowledged(self, e: Any, position: int) -> None:
        row = self.rows[e.originator_id]
        row.acknowledged_on = e.acknowledged_on
        row.acknowledged_position = position
        if row.id not in self.sealed_bodies:
            self.acknowledged.add(row.id)

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch(
            "SELECT id, giver_id, receiver_id, kind, visibility, goal_id, occurred_on, given_at, "
            "position, acknowledged_on, acknowledged_position FROM feedback ORDER BY position"
        ):
            self._index(
                FeedbackRow(
                    r["id"],
                    r["giver_id"],
                    r["receiver_id"],
                    FeedbackKind(r["kind"]),
                    FeedbackVisibility(r["visibility"]),
                    r["goal_id"],
                    r["occurred_on"],
                    r["given_at"],
                    r["position"],
                    r["acknowledged_on"],
                    r["acknowledged_position"],
                )
            )
        for r in await conn.fetch("SELECT * FROM feedback_counts"):
            key = (r["employee_id"], r["month"], FeedbackKind(r["kind"]))
            self.counts_by[key] = Counts(r["received"], r["given"])

    async def flush(self, conn: asyncpg.Connection) -> None:
        new = [(self.rows[i], body) for i, body in sorted(self.sealed_bodies.items())]
        await upsert(
            conn,
            "feedback",
            _COLUMNS,
            ["id"],
            [
                (
                    f.id,
                    f.giver_id,
                    f.receiver_id,
                    f.kind.value,
                    f.visibility.value,
                    f.goal_id,
                    f.occurred_on,
                    body,
                    f.given_at,
                    f.position,
                    f.acknowledged_on,
                    f.acknowledged_position,
                )
                for f, body in new
            ],
        )
        if self.acknowledged:
            rows = [self.rows[i] for i in sorted(self.acknowledged)]
            await conn.execute(
                _ACKNOWLEDGE,
                [f.id for f in rows],
                [f.acknowledged_on for f in rows],
                [f.acknowledged_position for f in rows],
            )
        keys = sorted(self.dirty_counts, key=lambda k: (k[0], k[1], k[2].value))
        await upsert(
            conn,
            "feedback_counts",
            _COUNT_COLUMNS,
            ["employee_id", "month", "kind"],
            [
                (employee, month, kind.value, c.received, c.given)
                for employee, month, kind in keys
                for c in (self.counts_by[(employee, month, kind)],)
            ],
        )

    def committed(self) -> None:
        self.sealed_bodies.clear()
        self.acknowledged.clear()
        self.dirty_counts.clear()
