"""Read model: review cycles, appraisals, their raters and every submitted rating.

Four tables: ``review_cycles`` (the definition and state of each cycle), ``appraisals`` (one per
cycle and reviewee), ``review_raters`` (who rates whom, as which source, how far they got) and
``review_ratings`` (one row per submitted rating, the submitted value beside the calibrated one).

Comments and drafts' comments are stored sealed with the projector's secrets and never held in
memory after their batch: they are only needed on the way into the table, and a long-running
runner should not keep every review's text in its heap.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from domain.reviews import (
    Appraisal,
    Competency,
    CycleStatus,
    RaterSource,
    RatingScale,
    ReviewCycle,
    rater_key,
)
from projections.base import Handler, Sealer, event_type, upsert

log = logging.getLogger("perfledger.projections")

DDL = """
CREATE TABLE IF NOT EXISTS review_cycles (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    period text NOT NULL,
    status text NOT NULL,
    scale_min integer NOT NULL,
    scale_max integer NOT NULL,
    scale_labels jsonb NOT NULL,
    competencies jsonb NOT NULL,
    submissions_due date NOT NULL,
    calibration_due date NOT NULL,
    min_peer_raters integer NOT NULL,
    anonymity_threshold integer NOT NULL,
    scope_departments uuid[] NOT NULL,
    scope_employees uuid[] NOT NULL,
    reviewee_count integer NOT NULL,
    opened_on date,
    position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS appraisals (
    id uuid PRIMARY KEY,
    cycle_id uuid NOT NULL,
    reviewee_id uuid NOT NULL,
    manager_id uuid,
    department_id uuid NOT NULL,
    status text NOT NULL,
    calibrated_score numeric,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS appraisals_cycle ON appraisals (cycle_id);
CREATE INDEX IF NOT EXISTS appraisals_reviewee ON appraisals (reviewee_id);
CREATE TABLE IF NOT EXISTS review_raters (
    appraisal_id uuid NOT NULL,
    rater_key text NOT NULL,
    cycle_id uuid NOT NULL,
    reviewee_id uuid NOT NULL,
    source text NOT NULL,
    rater_employee_id uuid,
    external_ref text,
    status text NOT NULL,
    invited_until timestamptz,
    submitted_at timestamptz,
    comments_sealed bytea,
    draft_json jsonb,
    position bigint NOT NULL,
    PRIMARY KEY (appraisal_id, rater_key)
);
CREATE INDEX IF NOT EXISTS review_raters_employee ON review_raters (rater_employee_id);
CREATE INDEX IF NOT EXISTS review_raters_cycle ON review_raters (cycle_id);
CREATE TABLE IF NOT EXISTS review_ratings (
    appraisal_id uuid NOT NULL,
    rater_key text NOT NULL,
    competency text NOT NULL,
    submitted_value integer,
    calibrated_value integer,
    calibration_reason text,
    calibrated_by text,
    PRIMARY KEY (appraisal_id, rater_key, competency)
);
"""

ASSIGNED, DRAFT, SUBMITTED = "assigned", "draft", "submitted"

RaterId = tuple[UUID, str]  # appraisal, rater key
RatingId = tuple[UUID, str, str]  # appraisal, rater key, competency
ClosedListener = Callable[["AppraisalRow", int], None]


@dataclass(slots=True)
class CycleRow:
    id: UUID
    name: str
    period: str
    status: CycleStatus
    scale: RatingScale
    competencies: list[Competency]
    submissions_due: date
    calibration_due: date
    min_peer_raters: int
    anonymity_threshold: int
    scope_departments: list[UUID]
    scope_employees: list[UUID]
    reviewee_count: int
    opened_on: date | None
    position: int

    def define(self, definition: Any) -> None:
        self.name = definition.name
        self.period = definition.period
        self.scale = definition.scale
        self.competencies = list(definition.competencies)
        self.submissions_due = definition.deadlines.submissions_due
        self.calibration_due = definition.deadlines.calibration_due
        self.min_peer_raters = definition.min_peer_raters
        self.anonymity_threshold = definition.anonymity_threshold
        self.scope_departments = list(definition.scope_departments)
        self.scope_employees = list(definition.scope_employees)

    def values(self) -> tuple[object, ...]:
        return (
            self.id,
            self.name,
            self.period,
            self.status.value,
            self.scale.minimum,
            self.scale.maximum,
            json.dumps(self.scale.labels),
            competencies_json(self.competencies),
            self.submissions_due,
            self.calibration_due,
            self.min_peer_raters,
            self.anonymity_threshold,
            self.scope_departments,
            self.scope_employees,
            self.reviewee_count,
            self.opened_on,
            self.position,
        )


@dataclass(slots=True)
class RatingRow:
    submitted_value: int | None
    calibrated_value: int | None = None
    calibration_reason: str | None = None
    calibrated_by: str | None = None

    @property
    def effective(self) -> int | None:
        return self.calibrated_value if self.calibrated_value is not None else self.submitted_value


@dataclass(slots=True)
class RaterRow:
    key: str
    source: RaterSource
    employee_id: UUID | None
    external_ref: str | None
    status: str
    invited_until: datetime | None
    submitted_at: datetime | None
    position: int
    ratings: dict[str, RatingRow] = field(default_factory=dict)  # competency → rating

    def effective(self) -> dict[str, int | None]:
        """The submitted ratings with calibrations applied."""
        return {competency: r.effective for competency, r in self.ratings.items()}


@dataclass(slots=True)
class AppraisalRow:
    id: UUID
    cycle_id: UUID
    reviewee_id: UUID
    manager_id: UUID | None
    department_id: UUID
    status: CycleStatus
    calibrated_score: Decimal | None
    position: int
    raters: dict[str, RaterRow] = field(default_factory=dict)

    def submitted(self) -> list[RaterRow]:
        return [r for r in self.raters.values() if r.status == SUBMITTED]


def competencies_json(competencies: Sequence[Competency]) -> str:
    return json.dumps(
        [
            {"key": c.key, "name": c.name, "weight": str(c.weight), "levels": list(c.levels)}
            for c in competencies
        ]
    )


def competencies_from_json(text: str) -> list[Competency]:
    return [
        Competency(c["key"], c["name"], Decimal(c["weight"]), list(c["levels"]))
        for c in json.loads(text)
    ]


_CYCLE_UPSERT = """
INSERT INTO review_cycles VALUES (
    $1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16, $17
) ON CONFLICT (id) DO UPDATE SET name = excluded.name, period = excluded.period,
    status = excluded.status, scale_min = excluded.scale_min, scale_max = excluded.scale_max,
    scale_labels = excluded.scale_labels, competencies = excluded.competencies,
    submissions_due = excluded.submissions_due, calibration_due = excluded.calibration_due,
    min_peer_raters = excluded.min_peer_raters,
    anonymity_threshold = excluded.anonymity_threshold,
    scope_departments = excluded.scope_departments, scope_employees = excluded.scope_employees,
    reviewee_count = excluded.reviewee_count, opened_on = excluded.opened_on,
    position = excluded.position
"""
_APPRAISAL_COLUMNS = [
    ("id", "uuid"),
    ("cycle_id", "uuid"),
    ("reviewee_id", "uuid"),
    ("manager_id", "uuid"),
    ("department_id", "uuid"),
    ("status", "text"),
    ("calibrated_score", "numeric"),
    ("position", "bigint"),
]
_RATER_COLUMNS = [
    ("appraisal_id", "uuid"),
    ("rater_key", "text"),
    ("cycle_id", "uuid"),
    ("reviewee_id", "uuid"),
    ("source", "text"),
    ("rater_employee_id", "uuid"),
    ("external_ref", "text"),
    ("status", "text"),
    ("invited_until", "timestamptz"),
    ("submitted_at", "timestamptz"),
    ("position", "bigint"),
]
# Sealed text is written only in the batch that brought it: raters with new text are upserted
# with these two columns as well, the others without them, so their stored text stays.
_RATER_TEXT_COLUMNS = [*_RATER_COLUMNS, ("comments_sealed", "bytea"), ("draft_json", "jsonb")]
_RATER_KEY = ["appraisal_id", "rater_key"]
_RATING_COLUMNS = [
    ("appraisal_id", "uuid"),
    ("rater_key", "text"),
    ("competency", "text"),
    ("submitted_value", "integer"),
    ("calibrated_value", "integer"),
    ("calibration_reason", "text"),
    ("calibrated_by", "text"),
]
_DELETE_RATERS = """
WITH gone AS (
    SELECT * FROM unnest($1::uuid[], $2::text[]) AS t(appraisal_id, rater_key)
), ratings AS (
    DELETE FROM review_ratings x USING gone
    WHERE x.appraisal_id = gone.appraisal_id AND x.rater_key = gone.rater_key
)
DELETE FROM review_raters x USING gone
WHERE x.appraisal_id = gone.appraisal_id AND x.rater_key = gone.rater_key
"""


class ReviewsModel:
    tables: Sequence[str] = ("review_cycles", "appraisals", "review_raters", "review_ratings")
    ddl = DDL

    def __init__(self, secrets: Sealer | None) -> None:
        # Without a sealer no comment is kept: storing it in the clear is never the fallback.
        self.secrets = secrets
        self._warned = False
        # Called when an appraisal closes, while every other model is still at that position.
        self.closed_listeners: list[ClosedListener] = []
        self._reset()

    def _reset(self) -> None:
        self.cycles: dict[UUID, CycleRow] = {}
        self.appraisals: dict[UUID, AppraisalRow] = {}
        self.by_reviewee: dict[UUID, list[UUID]] = {}  # reviewee → appraisal ids
        self.dirty_cycles: set[UUID] = set()
        self.dirty_appraisals: set[UUID] = set()
        self.dirty_raters: set[RaterId] = set()
        self.deleted_raters: set[RaterId] = set()
        self.dirty_ratings: set[RatingId] = set()
        # rater → (comments sealed, draft json): text that arrived in this batch
        self.texts: dict[RaterId, tuple[bytes | None, str | None]] = {}
        # appraisals whose score inputs changed, with the last position that changed them
        self.changed_scores: dict[UUID, int] = {}
        # appraisals whose status alone changed (entering calibration, closing): their scores
        # stand as computed, only the status and position move
        self.changed_status: dict[UUID, int] = {}

    def clear(self) -> None:
        self._reset()

    def handlers(self) -> dict[type, Handler]:
        return {
            event_type(ReviewCycle, "Drafted"): self._drafted,
            event_type(ReviewCycle, "Redefined"): self._redefined,
            event_type(ReviewCycle, "DeadlinesChanged"): self._deadlines_changed,
            event_type(ReviewCycle, "Opened"): self._opened,
            event_type(ReviewCycle, "CalibrationStarted"): self._calibration_started,
            event_type(ReviewCycle, "Closed"): self._cycle_closed,
            event_type(Appraisal, "Started"): self._started,
            event_type(Appraisal, "CalibrationEntered"): self._calibration_entered,
            event_type(Appraisal, "Closed"): self._appraisal_closed,
            event_type(Appraisal, "RaterAssigned"): self._rater_assigned,
            event_type(Appraisal, "RaterUnassigned"): self._rater_unassigned,
            event_type(Appraisal, "ExternalRaterInvited"): self._invited,
            event_type(Appraisal, "ReviewDraftSaved"): self._draft_saved,
            event_type(Appraisal, "ReviewSubmitted"): self._submitted,
            event_type(Appraisal, "RatingCalibrated"): self._rating_calibrated,
            event_type(Appraisal, "ResultCalibrated"): self._result_calibrated,
        }

    # -- reading, for the cycle scorecards --------------------------------------------------------

    def appraisals_of(self, reviewee_id: UUID) -> list[AppraisalRow]:
        return [self.appraisals[i] for i in self.by_reviewee.get(reviewee_id, ())]

    # -- cycles ------------------------------------------------------------------------------------

    def _drafted(self, e: Any, position: int) -> None:
        d = e.definition
        row = CycleRow(
            e.originator_id,
            d.name,
            d.period,
            CycleStatus.DRAFT,
            d.scale,
            [],
            d.deadlines.submissions_due,
            d.deadlines.calibration_due,
            d.min_peer_raters,
            d.anonymity_threshold,
            [],
            [],
            0,
            None,
            position,
        )
        row.define(d)
        self.cycles[row.id] = row
        self.dirty_cycles.add(row.id)

    def _cycle(self, e: Any, position: int) -> CycleRow:
        row = self.cycles[e.originator_id]
        row.position = position
        self.dirty_cycles.add(row.id)
        return row

    def _redefined(self, e: Any, position: int) -> None:
        self._cycle(e, position).define(e.definition)

    def _deadlines_changed(self, e: Any, position: int) -> None:
        row = self._cycle(e, position)
        row.submissions_due = e.deadlines.submissions_due
        row.calibration_due = e.deadlines.calibration_due

    def _opened(self, e: Any, position: int) -> None:
        row = self._cycle(e, position)
        row.status = CycleStatus.OPEN
        row.reviewee_count = len(e.reviewee_ids)
        row.opened_on = e.opened_on

    def _calibration_started(self, e: Any, position: int) -> None:
        self._cycle(e, position).status = CycleStatus.CALIBRATION

    def _cycle_closed(self, e: Any, position: int) -> None:
        self._cycle(e, position).status = CycleStatus.CLOSED

    # -- appraisals --------------------------------------------------------------------------------

    def _index(self, row: AppraisalRow) -> None:
        self.appraisals[row.id] = row
        self.by_reviewee.setdefault(row.reviewee_id, []).append(row.id)

    def _appraisal(self, e: Any, position: int, *, scores: bool = True) -> AppraisalRow:
        row = self.appraisals[e.originator_id]
        if scores:
            self.changed_scores[row.id] = position
        return row

    def _touch(self, row: AppraisalRow, position: int) -> None:
        row.position = position
        self.dirty_appraisals.add(row.id)

    def _started(self, e: Any, position: int) -> None:
        row = AppraisalRow(
            e.originator_id,
            e.cycle_id,
            e.reviewee_id,
            e.manager_id,
            e.department_id,
            CycleStatus.OPEN,
            None,
            position,
        )
        self._index(row)
        self.dirty_appraisals.add(row.id)
        self.changed_scores[row.id] = position
        # Self and the manager of the moment rate from the start; the event says so implicitly.
        for source, who in (
            (RaterSource.SELF, row.reviewee_id),
            (RaterSource.MANAGER, row.manager_id),
        ):
            if who is not None:
                self._add_rater(row, rater_key(source, who), source, who, None, position)

    def _calibration_entered(self, e: Any, position: int) -> None:
        row = self._appraisal(e, position, scores=False)
        row.status = CycleStatus.CALIBRATION
        self._touch(row, position)
        self.changed_status[row.id] = position

    def _appraisal_closed(self, e: Any, position: int) -> None:
        row = self._appraisal(e, position, scores=False)
        row.status = CycleStatus.CLOSED
        self._touch(row, position)
        self.changed_status[row.id] = position
        for listener in self.closed_listeners:
            listener(row, position)

    def _result_calibrated(self, e: Any, position: int) -> None:
        row = self._appraisal(e, position)
        row.calibrated_score = e.score
        self._touch(row, position)

    # -- raters ------------------------------------------------------------------------------------

    def _add_rater(
        self,
        appraisal: AppraisalRow,
        key: str,
        source: RaterSource,
        employee_id: UUID | None,
        external_ref: str | None,
        position: int,
    ) -> None:
        appraisal.raters[key] = RaterRow(
            key, source, employee_id, external_ref, ASSIGNED, None, None, position
        )
        rater_id = (appraisal.id, key)
        self.deleted_raters.discard(rater_id)
        self.dirty_raters.add(rater_id)

    def _rater(self, e: Any, position: int, *, scores: bool = False) -> tuple[UUID, RaterRow]:
        appraisal = self._appraisal(e, position, scores=scores)
        rater = appraisal.raters[e.rater_key]
        rater.position = position
        self.dirty_raters.add((appraisal.id, rater.key))
        return appraisal.id, rater

    def _rater_assigned(self, e: Any, position: int) -> None:
        appraisal = self._appraisal(e, position, scores=False)
        self._add_rater(appraisal, e.rater_key, e.source, e.employee_id, e.external_ref, position)

    def _rater_unassigned(self, e: Any, position: int) -> None:
        appraisal = self._appraisal(e, position, scores=False)
        del appraisal.raters[e.rater_key]
        rater_id = (appraisal.id, e.rater_key)
        self.dirty_raters.discard(rater_id)
        self.texts.pop(rater_id, None)
        self.dirty_ratings = {r for r in self.dirty_ratings if r[:2] != rater_id}
        self.deleted_raters.add(rater_id)

    def _invited(self, e: Any, position: int) -> None:
        _, rater = self._rater(e, position)
        rater.invited_until = e.expires_at

    def _seal(self, text: str) -> bytes | None:
        if not text:
            return None
        if self.secrets is None:
            if not self._warned:
                log.error("reviews read model has no secrets: review comments are not stored")
                self._warned = True
            return None
        return self.secrets.seal(text)

    def _draft_saved(self, e: Any, position: int) -> None:
        appraisal_id, rater = self._rater(e, position)
        rater.status = DRAFT
        sealed = self._seal(e.comments)
        draft = json.dumps(
            {
                "ratings": [{"competency": r.competency, "value": r.value} for r in e.ratings],
                "comments_sealed_b64": (
                    base64.b64encode(sealed).decode("ascii") if sealed is not None else None
                ),
            }
        )
        self.texts[(appraisal_id, rater.key)] = (None, draft)

    def _submitted(self, e: Any, position: int) -> None:
        appraisal_id, rater = self._rater(e, position, scores=True)
        rater.status = SUBMITTED
        rater.submitted_at = e.submitted_at
        rater.ratings = {r.competency: RatingRow(r.value) for r in e.ratings}
        for competency in rater.ratings:
            self.dirty_ratings.add((appraisal_id, rater.key, competency))
        self.texts[(appraisal_id, rater.key)] = (self._seal(e.comments), None)

    def _rating_calibrated(self, e: Any, position: int) -> None:
        appraisal = self._appraisal(e, position)
        rating = appraisal.raters[e.rater_key].ratings[e.competency]
        rating.calibrated_value = e.calibrated
        rating.calibration_reason = e.provenance.reason
        rating.calibrated_by = e.provenance.actor_id
        self.dirty_ratings.add((appraisal.id, e.rater_key, e.competency))

    # -- storage -----------------------------------------------------------------------------------

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT * FROM review_cycles"):
            self.cycles[r["id"]] = CycleRow(
                r["id"],
                r["name"],
                r["period"],
                CycleStatus(r["status"]),
                RatingScale(r["scale_min"], r["scale_max"], json.loads(r["scale_labels"])),
                competencies_from_json(r["competencies"]),
                r["submissions_due"],
                r["calibration_due"],
                r["min_peer_raters"],
                r["anonymity_threshold"],
                list(r["scope_departments"]),
                list(r["scope_employees"]),
                r["reviewee_count"],
                r["opened_on"],
                r["position"],
            )
        for r in await conn.fetch("SELECT * FROM appraisals ORDER BY position, id"):
            self._index(
                AppraisalRow(
                    r["id"],
                    r["cycle_id"],
                    r["reviewee_id"],
                    r["manager_id"],
                    r["department_id"],
                    CycleStatus(r["status"]),
                    r["calibrated_score"],
                    r["position"],
                )
            )
        for r in await conn.fetch(
            "SELECT appraisal_id, rater_key, source, rater_employee_id, external_ref, status, "
            "invited_until, submitted_at, position FROM review_raters"
        ):
            self.appraisals[r["appraisal_id"]].raters[r["rater_key"]] = RaterRow(
                r["rater_key"],
                RaterSource(r["source"]),
                r["rater_employee_id"],
                r["external_ref"],
                r["status"],
                r["invited_until"],
                r["submitted_at"],
                r["position"],
            )
        for r in await conn.fetch("SELECT * FROM review_ratings"):
            rater = self.appraisals[r["appraisal_id"]].raters[r["rater_key"]]
            rater.ratings[r["competency"]] = RatingRow(
                r["submitted_value"],
                r["calibrated_value"],
                r["calibration_reason"],
                r["calibrated_by"],
            )

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.dirty_cycles:
            await conn.executemany(
                _CYCLE_UPSERT, [self.cycles[i].values() for i in sorted(self.dirty_cycles)]
            )
        appraisals = [self.appraisals[i] for i in sorted(self.dirty_appraisals)]
        await upsert(
            conn,
            "appraisals",
            _APPRAISAL_COLUMNS,
            ["id"],
            [
                (
                    a.id,
                    a.cycle_id,
                    a.reviewee_id,
                    a.manager_id,
                    a.department_id,
                    a.status.value,
                    a.calibrated_score,
                    a.position,
                )
                for a in appraisals
            ],
        )
        if self.deleted_raters:
            gone = sorted(self.deleted_raters)
            await conn.execute(_DELETE_RATERS, [g[0] for g in gone], [g[1] for g in gone])
        texts = self.texts
        plain: list[tuple[object, ...]] = []
        with_text: list[tuple[object, ...]] = []
        for rater_id in sorted(self.dirty_raters):
            appraisal_id, key = rater_id
            a = self.appraisals[appraisal_id]
            r = a.raters[key]
            values = (
                appraisal_id,
                key,
                a.cycle_id,
                a.reviewee_id,
                r.source.value,
                r.employee_id,
                r.external_ref,
                r.status,
                r.invited_until,
                r.submitted_at,
                r.position,
            )
            text = texts.get(rater_id)
            if text is None:
                plain.append(values)
            else:
                with_text.append((*values, *text))
        await upsert(conn, "review_raters", _RATER_COLUMNS, _RATER_KEY, plain)
        await upsert(conn, "review_raters", _RATER_TEXT_COLUMNS, _RATER_KEY, with_text)
        await upsert(
            conn,
            "review_ratings",
            _RATING_COLUMNS,
            ["appraisal_id", "rater_key", "competency"],
            [
                (
                    appraisal_id,
                    key,
                    competency,
                    x.submitted_value,
                    x.calibrated_value,
                    x.calibration_reason,
                    x.calibrated_by,
                )
                for appraisal_id, key, competency in sorted(self.dirty_ratings)
                for x in (self.appraisals[appraisal_id].raters[key].ratings[competency],)
            ],
        )

    def committed(self) -> None:
        self.dirty_cycles.clear()
        self.dirty_appraisals.clear()
        self.dirty_raters.clear()
        self.deleted_raters.clear()
        self.dirty_ratings.clear()
        self.texts.clear()
        self.changed_scores.clear()
        self.changed_status.clear()
