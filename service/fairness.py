"""Running fairness audits on the ledger: inputs from the read models, as of any position.

``domain.fairness`` holds the statistics, pure functions of their inputs; this module feeds
them: one review cycle's submitted and calibrated ratings, each reviewee's final score, tier,
rewards and group attributes, read in one consistent snapshot of the live read models or of the
read models replayed as of a past position (``service.as_of``). A run is recorded as a
``FairnessAudit`` event with the position, the method's version, the parameters (seed included),
the report's digest and the published cells' fingerprints; ``rerun`` computes a recorded audit
again from those and says whether it got the same report.

Group attributes: ``department`` (the reviewee's department in the cycle, by code),
``division`` (that department's top-level department, below the company),
``tenure_band`` (years of service at the end of the cycle's period: <1, 1-3, 3-5, 5+), and
every attribute recorded on employees (``gender``, ``location``, ``contract``, ...).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np
from eventsourcing.application import AggregateNotFoundError

from domain.errors import InvalidInput, NotFound
from domain.fairness import audit as method
from domain.fairness import report as reporting
from domain.fairness.data import Ratings, RatingScale, Subjects
from domain.fairness_audits import FairnessAudit
from domain.periods import Period
from domain.provenance import Provenance
from service.as_of import Subject, replayed

BUILT_IN_ATTRIBUTES = ("department", "division", "tenure_band")

_CYCLE = "SELECT period, scale_min, scale_max FROM review_cycles WHERE id = $1"
_RATINGS = """
SELECT r.reviewee_id, r.rater_key, r.source, r.rater_employee_id, g.competency,
       g.submitted_value, coalesce(g.calibrated_value, g.submitted_value) AS calibrated_value
FROM review_raters r
JOIN review_ratings g ON g.appraisal_id = r.appraisal_id AND g.rater_key = r.rater_key
WHERE r.cycle_id = $1 AND r.status = 'submitted' AND g.submitted_value IS NOT NULL
ORDER BY r.reviewee_id, r.rater_key, g.competency
"""
_DEPARTMENTS = "SELECT id, parent_id, code FROM departments"
_SUBJECTS = """
SELECT a.reviewee_id, a.department_id, d.code AS department, e.attributes, e.hire_date,
       s.score, s.tier, s.kpi_score
FROM appraisals a
JOIN employees e ON e.id = a.reviewee_id
JOIN departments d ON d.id = a.department_id
LEFT JOIN cycle_scorecards s ON s.cycle_id = a.cycle_id AND s.employee_id = a.reviewee_id
WHERE a.cycle_id = $1
ORDER BY a.reviewee_id
"""
_REWARDS = (
    "SELECT employee_id, kind FROM rewards WHERE cycle_id = $1 AND NOT revoked AND in_production"
)
_EARLIER = "SELECT id FROM fairness_audits WHERE cycle_id = $1 ORDER BY position"


def tenure_band(hired: date, at: date) -> str:
    years = (at - hired).days / 365.25
    if years < 1:
        return "<1y"
    if years < 3:
        return "1-3y"
    if years < 5:
        return "3-5y"
    return "5y+"


def division_codes(departments: Sequence[asyncpg.Record]) -> dict[UUID, str]:
    """Each department's division: its ancestor just below the top of the tree (itself when it
    sits there; the top department is its own division)."""
    parent = {r["id"]: r["parent_id"] for r in departments}
    code = {r["id"]: r["code"] for r in departments}
    found: dict[UUID, str] = {}
    for department in parent:
        node, seen = department, set()
        while parent.get(node) is not None and parent.get(parent[node]) is not None:
            if node in seen:  # a cycle cannot be recorded; stop rather than loop
                break
            seen.add(node)
            node = parent[node]
        found[department] = code[node]
    return found


@dataclass(frozen=True)
class CycleInputs:
    """What one cycle's audit reads, as of ``position``."""

    position: int
    submitted: Ratings
    calibrated: Ratings
    subjects: Subjects
    attributes: tuple[str, ...]  # every group attribute one may audit by


async def read_inputs(conn: asyncpg.Connection, cycle_id: UUID, position: int) -> CycleInputs:
    """The cycle's inputs from the read models ``conn`` reads (live or replayed)."""
    cycle = await conn.fetchrow(_CYCLE, cycle_id)
    if cycle is None:
        raise NotFound(f"review cycle {cycle_id} does not exist (as of position {position})")
    scale = RatingScale(float(cycle["scale_min"]), float(cycle["scale_max"]))
    period_end = Period.parse(cycle["period"]).end
    rows = await conn.fetch(_RATINGS, cycle_id)
    people = await conn.fetch(_SUBJECTS, cycle_id)
    rewards = await conn.fetch(_REWARDS, cycle_id)

    ids = [str(r["reviewee_id"]) for r in people]
    index = {r["reviewee_id"]: i for i, r in enumerate(people)}
    recorded = [json.loads(r["attributes"]) for r in people]
    names = sorted({k for attributes in recorded for k in attributes} - set(BUILT_IN_ATTRIBUTES))
    divisions = division_codes(await conn.fetch(_DEPARTMENTS))
    groups: dict[str, list[str | None]] = {
        "department": [r["department"] for r in people],
        "division": [divisions.get(r["department_id"]) for r in people],
        "tenure_band": [tenure_band(r["hire_date"], period_end) for r in people],
    }
    for name in names:
        groups[name] = [attributes.get(name) or None for attributes in recorded]
    score = np.array(
        [np.nan if r["score"] is None else float(r["score"]) for r in people], dtype=np.float64
    )
    selections: dict[str, np.ndarray[Any, np.dtype[np.bool_]]] = {}
    for tier in sorted({r["tier"] for r in people if r["tier"] is not None}):
        selections[f"tier:{tier}"] = np.array([r["tier"] == tier for r in people])
    for r in rewards:
        chosen = selections.setdefault(f"reward:{r['kind']}", np.zeros(len(people), dtype=bool))
        if r["employee_id"] in index:
            chosen[index[r["employee_id"]]] = True
    kpi = np.array(
        [np.nan if r["kpi_score"] is None else float(r["kpi_score"]) for r in people],
        dtype=np.float64,
    )
    subjects = Subjects(ids, groups, score, selections, kpi)
    submitted = _ratings(rows, "submitted_value", scale)
    calibrated = _ratings(rows, "calibrated_value", scale)
    return CycleInputs(position, submitted, calibrated, subjects, (*BUILT_IN_ATTRIBUTES, *names))


def _ratings(rows: Sequence[asyncpg.Record], column: str, scale: RatingScale) -> Ratings:
    """Rater ids are people (the same person as manager and as peer is one rater with two
    sources); an external rater is their own key."""
    return Ratings.from_rows(
        [
            (
                str(r["reviewee_id"]),
                str(r["rater_employee_id"] or r["rater_key"]),
                r["source"],
                r["competency"],
                float(r[column]),
            )
            for r in rows
        ],
        scale,
    )


# -- running, recording, running again ------------------------------------------------------------


@asynccontextmanager
async def snapshot(
    services: Any, cycle_id: UUID, position: int | None
) -> AsyncIterator[tuple[asyncpg.Connection, int]]:
    """A connection reading the read models as of ``position`` (None: the live ones, in one
    repeatable-read snapshot), and the position it reads."""
    async with services.read_pool.acquire() as conn:
        live = await services.projector.tracked_position(conn)
        if position is None or position == live:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                # The tracking row read inside the snapshot: what these reads reflect.
                live = await services.projector.tracked_position(conn)
                yield conn, live
            return
        reviewees = frozenset(
            r["reviewee_id"]
            for r in await conn.fetch(
                "SELECT reviewee_id FROM appraisals WHERE cycle_id = $1", cycle_id
            )
        )
    subject = Subject(employees=reviewees, all_departments=True)
    async with replayed(services, subject, position, checkpoints=False) as past:
        yield past, position


@dataclass(frozen=True)
class AuditRun:
    audit_id: UUID | None  # None: computed, not recorded
    cycle_id: UUID
    position: int
    parameters: method.AuditParameters
    report: reporting.FairnessReport
    digest: str
    attributes: tuple[str, ...]
    recorded_digest: str | None = None  # a re-run: what the recorded run's report hashed to
    recorded_at_position: int | None = None  # where the audit's event went in the log
    inputs: CycleInputs | None = None  # what it read (for the HTML report's distributions)
    earlier: tuple[UUID, ...] = ()  # the recorded audits it compared its cells with

    @property
    def reproduced(self) -> bool | None:
        return None if self.recorded_digest is None else self.recorded_digest == self.digest


async def _earlier_audits(services: Any, cycle_id: UUID) -> list[UUID]:
    """The audits recorded for the cycle so far (whose published cells a new one must not
    difference against), as the read models list them."""
    async with services.read_pool.acquire() as conn:
        rows = await conn.fetch(_EARLIER, cycle_id)
    return [UUID(str(r["id"])) for r in rows]


async def _fingerprints_of(services: Any, audits: Sequence[UUID]) -> list[Any]:
    """Their published cells' fingerprints, from the log itself (the truth, never lagging)."""

    def load() -> list[Any]:
        return [services.app.repository.get(a).fingerprints for a in audits]

    return list(await asyncio.to_thread(load))


async def compute(
    services: Any,
    cycle_id: UUID,
    parameters: method.AuditParameters,
    position: int | None,
    *,
    earlier: Sequence[UUID] | None = None,
) -> AuditRun:
    """The audit of ``cycle_id`` as of ``position`` (None: now), not recorded. ``earlier``: the
    recorded audits whose published cells the differencing rule compares with (None: all the
    cycle's audits recorded so far)."""
    async with snapshot(services, cycle_id, position) as (conn, at):
        inputs = await read_inputs(conn, cycle_id, at)
    used = {a for grouping in parameters.groupings for a in grouping}
    unknown = sorted(a for a in used if a not in inputs.attributes)
    if unknown:
        raise InvalidInput(
            f"unknown group attribute {', '.join(unknown)}; this cycle has "
            f"{', '.join(inputs.attributes)}",
            field="groupBy",
        )
    if earlier is None:
        earlier = await _earlier_audits(services, cycle_id)
    previous = await _fingerprints_of(services, earlier)
    audit_inputs = method.AuditInputs(
        submitted=inputs.submitted,
        calibrated=inputs.calibrated,
        subjects=inputs.subjects,
        cycle=str(cycle_id),
        previous=tuple(previous),
    )
    report = await asyncio.to_thread(method.run_audit, audit_inputs, parameters)
    return AuditRun(
        None,
        cycle_id,
        inputs.position,
        parameters,
        report,
        reporting.report_digest(report),
        inputs.attributes,
        inputs=inputs,
        earlier=tuple(earlier),
    )


async def run_and_record(
    services: Any,
    provenance: Provenance,
    cycle_id: UUID,
    parameters: method.AuditParameters,
    position: int | None,
) -> AuditRun:
    """Compute the audit and record that it was run (the event names its inputs and digest)."""
    run = await compute(services, cycle_id, parameters, position)
    audit_id = uuid.uuid4()
    fingerprints = {
        grouping: {label: list(pair) for label, pair in cells.items()}
        for grouping, cells in reporting.cell_fingerprints(run.report).items()
    }
    receipt = await services.call(
        services.app.record_fairness_audit,
        provenance,
        audit_id=audit_id,
        cycle_id=cycle_id,
        position=run.position,
        method_version=method.METHOD_VERSION,
        parameters=parameters.to_json(),
        digest=run.digest,
        fingerprints=fingerprints,
        flags=len(reporting.flags(run.report)),
        earlier=list(run.earlier),
    )
    return replace(run, audit_id=audit_id, recorded_at_position=receipt.position)


async def rerun(services: Any, audit_id: UUID) -> AuditRun:
    """A recorded audit computed again from what its event holds (read from the log, not from a
    read model): as of its position, with its parameters and seed, against the cells of the same
    earlier audits."""

    def load() -> FairnessAudit | None:
        try:
            found = services.app.repository.get(audit_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, FairnessAudit) else None

    recorded = await asyncio.to_thread(load)
    if recorded is None:
        raise NotFound(f"fairness audit {audit_id} was not recorded", field="auditId")
    if recorded.method_version != method.METHOD_VERSION:
        raise InvalidInput(
            f"audit {audit_id} ran method {recorded.method_version}; this release has "
            f"{method.METHOD_VERSION} and cannot reproduce it",
            field="auditId",
        )
    parameters = method.AuditParameters.from_json(recorded.parameters)
    run = await compute(
        services, recorded.cycle_id, parameters, recorded.position, earlier=recorded.earlier
    )
    return replace(run, audit_id=audit_id, recorded_digest=recorded.digest)
