"""Read model: every goal with its spec, current target, status and latest measurement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from domain.goals import (
    Direction,
    Goal,
    GoalSet,
    GoalStatus,
    Horizon,
    OwnerKind,
    Perspective,
    goal_set_id,
)
from projections.base import Handler, event_type, upsert

DDL = """
CREATE TABLE IF NOT EXISTS goals (
    id uuid PRIMARY KEY,
    owner_kind text NOT NULL,
    owner_id uuid NOT NULL,
    department_id uuid NOT NULL,
    parent_goal_id uuid,
    title text NOT NULL,
    metric text NOT NULL,
    unit text NOT NULL,
    direction text NOT NULL,
    baseline numeric NOT NULL,
    initial_target numeric NOT NULL,
    target numeric NOT NULL,
    weight numeric NOT NULL,
    perspective text NOT NULL,
    horizon text NOT NULL,
    period text NOT NULL,
    due_date date NOT NULL,
    status text NOT NULL,
    latest_value numeric,
    latest_as_of date,
    measurements integer NOT NULL,
    set_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS goals_owner ON goals (owner_id, period);
CREATE INDEX IF NOT EXISTS goals_parent ON goals (parent_goal_id);
CREATE TABLE IF NOT EXISTS goal_sets (
    owner_id uuid NOT NULL,
    period text NOT NULL,
    owner_kind text NOT NULL,
    total_weight numeric NOT NULL,
    confirmed boolean NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (owner_id, period)
);
"""

OwnerPeriod = tuple[UUID, str]


@dataclass(slots=True)
class GoalRow:
    id: UUID
    owner_kind: OwnerKind
    owner_id: UUID
    department_id: UUID
    parent_goal_id: UUID | None
    title: str
    metric: str
    unit: str
    direction: Direction
    baseline: Decimal
    initial_target: Decimal
    target: Decimal
    weight: Decimal
    perspective: Perspective
    horizon: Horizon
    period: str
    due_date: date
    status: GoalStatus
    latest_value: Decimal | None
    latest_as_of: date | None
    measurements: int
    set_at: datetime
    position: int


@dataclass(slots=True)
class GoalSetRow:
    owner_id: UUID
    period: str
    owner_kind: OwnerKind
    total_weight: Decimal
    confirmed: bool
    position: int


_COLUMNS = [
    ("id", "uuid"),
    ("owner_kind", "text"),
    ("owner_id", "uuid"),
    ("department_id", "uuid"),
    ("parent_goal_id", "uuid"),
    ("title", "text"),
    ("metric", "text"),
    ("unit", "text"),
    ("direction", "text"),
    ("baseline", "numeric"),
    ("initial_target", "numeric"),
    ("target", "numeric"),
    ("weight", "numeric"),
    ("perspective", "text"),
    ("horizon", "text"),
    ("period", "text"),
    ("due_date", "date"),
    ("status", "text"),
    ("latest_value", "numeric"),
    ("latest_as_of", "date"),
    ("measurements", "integer"),
    ("set_at", "timestamptz"),
    ("position", "bigint"),
]


class GoalsModel:
    tables: Sequence[str] = ("goals", "goal_sets")
    ddl = DDL

    def __init__(self) -> None:
        self.goals: dict[UUID, GoalRow] = {}
        self.by_owner_period: dict[OwnerPeriod, set[UUID]] = {}
        self.periods_of: dict[UUID, set[str]] = {}  # owner → the periods they have goals in
        self.goal_sets: dict[OwnerPeriod, GoalSetRow] = {}
        self.goal_set_keys: dict[UUID, OwnerPeriod] = {}
        self.dirty: set[UUID] = set()  # rows to write whole
        self.progressed: set[UUID] = set()  # rows whose measurement alone changed
        self.dirty_sets: set[OwnerPeriod] = set()
        # (owner, period) whose score inputs changed, with the last position that changed them
        self.changed_scores: dict[OwnerPeriod, int] = {}
        # This batch's measurements (goal, measured on, value) in log order: the table keeps
        # only the latest, the review-cycle scorecards need each month's for streak rules.
        self.measured: list[tuple[UUID, date, Decimal]] = []

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def handlers(self) -> dict[type, Handler]:
        return {
            event_type(Goal, "Set"): self._set,
            event_type(Goal, "ProgressRecorded"): self._progress,
            event_type(Goal, "TargetRevised"): self._target_revised,
            event_type(Goal, "Closed"): self._closed,
            event_type(Goal, "Abandoned"): self._abandoned,
            event_type(GoalSet, "Started"): self._goal_set_started,
            event_type(GoalSet, "GoalAdded"): self._goal_added,
            event_type(GoalSet, "GoalWithdrawn"): self._goal_withdrawn,
            event_type(GoalSet, "Confirmed"): self._goal_set_confirmed,
        }

    def _index(self, row: GoalRow) -> None:
        self.by_owner_period.setdefault((row.owner_id, row.period), set()).add(row.id)
        self.periods_of.setdefault(row.owner_id, set()).add(row.period)

    def _set(self, e: Any, position: int) -> None:
        spec = e.spec
        row = GoalRow(
            e.originator_id,
            e.owner_kind,
            e.owner_id,
            e.department_id,
            e.parent_goal_id,
            spec.title,
            spec.metric,
            spec.unit,
            spec.direction,
            spec.baseline,
            spec.target,
            spec.target,
            spec.weight,
            spec.perspective,
            spec.horizon,
            spec.period,
            spec.due_date,
            GoalStatus.OPEN,
            None,
            None,
            0,
            e.timestamp,
            position,
        )
        self.goals[row.id] = row
        self._index(row)
        self._touch(row, position)

    def _touch(self, row: GoalRow, position: int, *, progress_only: bool = False) -> None:
        row.position = position
        if progress_only:
            self.progressed.add(row.id)
        else:
            self.dirty.add(row.id)
        self.changed_scores[(row.owner_id, row.period)] = position

    def _progress(self, e: Any, position: int) -> None:
        row = self.goals[e.originator_id]
        row.measurements += 1
        # The latest measurement is the one with the latest date; on the same date, the one
        # recorded last (a correction).
        if row.latest_as_of is None or e.as_of >= row.latest_as_of:
            row.latest_value = e.value
            row.latest_as_of = e.as_of
        self._touch(row, position, progress_only=True)
        self.measured.append((row.id, e.as_of, e.value))

    def _target_revised(self, e: Any, position: int) -> None:
        row = self.goals[e.originator_id]
        row.target = e.target
        self._touch(row, position)

    def _closed(self, e: Any, position: int) -> None:
        row = self.goals[e.originator_id]
        row.status = GoalStatus.CLOSED
        self._touch(row, position)

    def _abandoned(self, e: Any, position: int) -> None:
        row = self.goals[e.originator_id]
        row.status = GoalStatus.ABANDONED
        self._touch(row, position)

    def _goal_set_started(self, e: Any, position: int) -> None:
        key = (e.owner_id, e.period)
        self.goal_set_keys[e.originator_id] = key
        self.goal_sets[key] = GoalSetRow(
            e.owner_id, e.period, e.owner_kind, Decimal(0), False, position
        )
        self.dirty_sets.add(key)

    def _goal_set(self, e: Any, position: int) -> GoalSetRow:
        row = self.goal_sets[self.goal_set_keys[e.originator_id]]
        row.position = position
        self.dirty_sets.add((row.owner_id, row.period))
        return row

    def _goal_added(self, e: Any, position: int) -> None:
        self._goal_set(e, position).total_weight += e.weight

    def _goal_withdrawn(self, e: Any, position: int) -> None:
        self._goal_set(e, position).total_weight -= self.goals[e.goal_id].weight

    def _goal_set_confirmed(self, e: Any, position: int) -> None:
        self._goal_set(e, position).confirmed = True

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT * FROM goals"):
            row = GoalRow(
                r["id"],
                OwnerKind(r["owner_kind"]),
                r["owner_id"],
                r["department_id"],
                r["parent_goal_id"],
                r["title"],
                r["metric"],
                r["unit"],
                Direction(r["direction"]),
                r["baseline"],
                r["initial_target"],
                r["target"],
                r["weight"],
                Perspective(r["perspective"]),
                Horizon(r["horizon"]),
                r["period"],
                r["due_date"],
                GoalStatus(r["status"]),
                r["latest_value"],
                r["latest_as_of"],
                r["measurements"],
                r["set_at"],
                r["position"],
            )
            self.goals[row.id] = row
            self._index(row)
        for r in await conn.fetch("SELECT * FROM goal_sets"):
            key = (r["owner_id"], r["period"])
            self.goal_set_keys[goal_set_id(*key)] = key
            self.goal_sets[key] = GoalSetRow(
                r["owner_id"],
                r["period"],
                OwnerKind(r["owner_kind"]),
                r["total_weight"],
                r["confirmed"],
                r["position"],
            )

    async def flush(self, conn: asyncpg.Connection) -> None:
        rows = [self.goals[i] for i in sorted(self.dirty)]
        await upsert(
            conn,
            "goals",
            _COLUMNS,
            ["id"],
            [
                (
                    g.id,
                    g.owner_kind.value,
                    g.owner_id,
                    g.department_id,
                    g.parent_goal_id,
                    g.title,
                    g.metric,
                    g.unit,
                    g.direction.value,
                    g.baseline,
                    g.initial_target,
                    g.target,
                    g.weight,
                    g.perspective.value,
                    g.horizon.value,
                    g.period,
                    g.due_date,
                    g.status.value,
                    g.latest_value,
                    g.latest_as_of,
                    g.measurements,
                    g.set_at,
                    g.position,
                )
                for g in rows
            ],
        )
        # Most changes are new measurements: update just those columns (far less to encode).
        progressed = sorted(self.progressed - self.dirty)
        if progressed:
            rows_ = [self.goals[i] for i in progressed]
            await conn.execute(
                "UPDATE goals AS g SET latest_value = t.v, latest_as_of = t.a, "
                "measurements = t.m, position = t.p "
                "FROM unnest($1::uuid[], $2::numeric[], $3::date[], $4::integer[], $5::bigint[]) "
                "AS t(id, v, a, m, p) WHERE g.id = t.id",
                progressed,
                [g.latest_value for g in rows_],
                [g.latest_as_of for g in rows_],
                [g.measurements for g in rows_],
                [g.position for g in rows_],
            )
        sets = [self.goal_sets[k] for k in sorted(self.dirty_sets, key=lambda k: (k[0], k[1]))]
        await upsert(
            conn,
            "goal_sets",
            [
                ("owner_id", "uuid"),
                ("period", "text"),
                ("owner_kind", "text"),
                ("total_weight", "numeric"),
                ("confirmed", "boolean"),
                ("position", "bigint"),
            ],
            ["owner_id", "period"],
            [
                (s.owner_id, s.period, s.owner_kind.value, s.total_weight, s.confirmed, s.position)
                for s in sets
            ],
        )

    def committed(self) -> None:
        self.dirty.clear()
        self.progressed.clear()
        self.dirty_sets.clear()
        self.changed_scores.clear()
        self.measured.clear()
