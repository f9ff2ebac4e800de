"""Live pilot projection benchmark: does the pilot projection keep up with production's?

Called by ``bench/run pilot`` (bench/perfbench.py); target: the read models project the log at
least half as fast with a large trial running as without it (ratio >= 0.5).

The log: an organisation seeded for 2025 up to the end of November (monthly measurements of
every goal, and the fourth-quarter review cycle open with all seven reviews of every reviewee
submitted: ``ONE_FULL_CYCLE``), then a pilot rule set (another achievement cap, other KPI and
review weights, other tiers) started as a trial for 2025 over the largest divisions, at least a
third of the organisation, and then December: a measurement of every goal of the year and of
the fourth quarter, for everyone, each employee's in one transaction, as a monthly import.

The read models are rebuilt up to just before the trial started (``head``, timed for
context), and that database is copied; on each copy the rest of the log (the trial's start,
which scores every participant under the pilot, then December, where every fact of a
participant moves their pilot rows beside production's) is projected, alternately by the read
models without the pilot projection (production's rate: the reference) and by all of them, twice
each in the same run; each side's best run counts. ``value`` is the ratio of the two rates;
``pilot_flush_seconds`` is the time the pilot projection itself took in a run (its flushes,
where it computes and writes its rows), the cost of the trial measured directly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from domain.goals import Goal, GoalStatus
from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES, Tier
from projections.organisation import DEPARTMENT_TREE
from service.bootstrap import Services, build, build_application
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import ONE_FULL_CYCLE
from service.settings import Settings

YEAR = 2025
SEED = 1
THROUGH = date(YEAR, 11, 30)
DECEMBER = date(YEAR, 12, 15)
HR = Provenance("bench", Role.HR, "bench", "pilot projection benchmark")
PILOT = replace(
    DEFAULT_RULES,
    achievement_cap=Decimal(150),
    kpi_weight=Decimal(75),
    review_weight=Decimal(25),
    tiers=[Tier("A", Decimal(85)), Tier("B", Decimal(70)), Tier("C", Decimal(0))],
)
RUNS = 2  # per side, alternating
WRITERS = 4  # threads loading goals for December's import (the loads wait on PostgreSQL)


class Databases(Protocol):
    def create(self, label: str, template: str | None = None) -> tuple[str, Database]: ...

    def drop(self, name: str) -> None: ...


SettingsFor = Callable[[Database], Settings]

_DEPARTMENTS = "SELECT id, parent_id, code FROM departments"
_HEADCOUNTS = "SELECT department_id, count(*) AS people FROM employees GROUP BY department_id"
_MEMBERS = DEPARTMENT_TREE + "SELECT id FROM employees WHERE department_id IN (SELECT id FROM tree)"
_GOALS = f"""
SELECT owner_id, id, target, latest_value FROM goals
WHERE owner_kind = 'employee' AND period IN ('{YEAR}', '{YEAR}-Q4') AND status = 'open'
ORDER BY owner_id, id
"""


def measure(databases: Databases, settings_for: SettingsFor, employees: int) -> dict[str, Any]:
    """Write the log described above into a fresh database and time the projections over it
    (``databases``: perfbench's Postgres, which creates databases, from a template too)."""
    name, database = databases.create("pilot")
    try:
        settings = settings_for(database)
        prepared = prepare(database, settings, employees)
        head = asyncio.run(project_head(database, settings, prepared["split"]))
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(RUNS):
            for with_pilot in (False, True):
                copy, copied = databases.create("pilot-tail", template=name)
                try:
                    tail = project_tail(copied, settings_for(copied), with_pilot)
                    runs[with_pilot].append(asyncio.run(tail))
                finally:
                    databases.drop(copy)
    finally:
        databases.drop(name)
    production = max(runs[False], key=lambda r: r["rate"])
    pilot = max(runs[True], key=lambda r: r["rate"])
    return {
        **prepared,
        "ratio": pilot["rate"] / production["rate"],
        "production": production,
        "with_pilot": pilot,
        "head": head,
        "runs": {"production": runs[False], "with_pilot": runs[True]},
    }


def prepare(database: Database, settings: Settings, employees: int) -> dict[str, Any]:
    app = build_application(database, settings)
    try:
        started = time.perf_counter()
        summary = seed_organisation(
            app, employees=employees, seed=SEED, year=YEAR, through=THROUGH, reviews=ONE_FULL_CYCLE
        )
        seeded = time.perf_counter() - started
        version = app.define_rule_set(HR, PILOT, "pilot: higher cap, KPI-heavy").version
        assert version is not None
        scope, members, goals = asyncio.run(_directory(database, settings, employees))
        split = app.recorder.max_notification_id() or 0  # the trial's events come next
        app.start_trial(
            HR,
            trial_id=uuid.uuid4(),
            name="KPI-heavy pilot",
            rule_set_version=version,
            scope_departments=scope,
            scope_employees=[],
            members=members,
            period=str(YEAR),
            responsible=["bench"],
            show_participants=True,
            today=THROUGH,
        )
        started = time.perf_counter()
        december = _december(app, goals)
        written = time.perf_counter() - started
        events = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    return {
        "employees": summary.employees,
        "participants": len(members),
        "scope_share": round(len(members) / summary.employees, 3),
        "events": events,
        "tail_events": events - split,
        "december_measurements": december,
        "split": split,
        "seed_seconds": round(seeded, 1),
        "december_seconds": round(written, 1),
    }


async def _directory(
    database: Database, settings: Settings, employees: int
) -> tuple[list[uuid.UUID], list[uuid.UUID], dict[uuid.UUID, list[Any]]]:
    """The largest divisions until they hold a third of the organisation, their members, and
    everyone's open goals of the year and of the fourth quarter (from the read models)."""
    services = await build(settings.with_(run_projections=False), database)
    try:
        conn = await services.connect()
        try:
            await services.runner.catch_up(conn)
            scope: list[uuid.UUID] = []
            covered = 0
            for division, people in _divisions(
                await conn.fetch(_DEPARTMENTS), await conn.fetch(_HEADCOUNTS)
            ):
                if covered * 3 >= employees:
                    break
                scope.append(division)
                covered += people
            members = [uuid.UUID(str(r["id"])) for r in await conn.fetch(_MEMBERS, scope)]
            goals: dict[uuid.UUID, list[Any]] = defaultdict(list)
            for r in await conn.fetch(_GOALS):
                goals[uuid.UUID(str(r["owner_id"]))].append(r)
        finally:
            await conn.close()
    finally:
        await services.stop()
    return scope, members, goals


def _divisions(departments: list[Any], headcounts: list[Any]) -> list[tuple[uuid.UUID, int]]:
    """The departments just below the top, each with the people in it and below it, largest
    first."""
    parent = {r["id"]: r["parent_id"] for r in departments}
    code = {r["id"]: r["code"] for r in departments}
    top = {d for d, p in parent.items() if p is None}
    people: dict[Any, int] = defaultdict(int)
    for r in headcounts:
        node = r["department_id"]
        while node is not None and parent.get(node) not in top and parent.get(node) is not None:
            node = parent[node]
        if node is not None and node not in top:
            people[node] += r["people"]
    ranked = sorted(people.items(), key=lambda item: (-item[1], code[item[0]]))
    return [(uuid.UUID(str(d)), n) for d, n in ranked]


def _december(app: Any, goals: dict[uuid.UUID, list[Any]]) -> int:
    """December's measurement of every open goal, one transaction per employee."""

    def measured(rows: list[Any]) -> int:
        touched = []
        for r in rows:
            goal = app.repository.get(uuid.UUID(str(r["id"])))
            assert isinstance(goal, Goal)
            if goal.status is not GoalStatus.OPEN:
                continue
            latest = r["latest_value"] if r["latest_value"] is not None else r["target"]
            goal.record_progress(latest * Decimal("1.03"), DECEMBER, "december import", HR)
            touched.append(goal)
        if touched:
            app.save(*touched)
        return len(touched)

    with ThreadPoolExecutor(WRITERS) as pool:
        return sum(pool.map(measured, goals.values()))


def _without_pilot(services: Services) -> None:
    """The read models as production has them: every model but the pilot projection."""
    projector = services.projector
    projector.models = [m for m in projector.models if m is not projector.pilot_scorecards]
    projector._wire()


async def project_head(database: Database, settings: Settings, split: int) -> dict[str, float]:
    """``perfledger rebuild`` up to ``split`` (no trial runs yet), timed."""
    services = await build(settings.with_(run_projections=False), database)
    try:
        work = await services.connect()
        try:
            started = time.perf_counter()
            await services.projector.reset(work)
            head = await services.runner.catch_up(work, until=split)
            seconds = time.perf_counter() - started
        finally:
            await work.close()
    finally:
        await services.stop()
    return {"events": head.events, "seconds": round(seconds, 2), "rate": round(head.rate, 1)}


async def project_tail(
    database: Database, settings: Settings, with_pilot: bool
) -> dict[str, float]:
    """The rest of the log projected onto read models that stand just before the trial, with
    or without the pilot projection; timed from the first batch, the read models' memory
    loaded before."""
    services = await build(settings.with_(run_projections=False), database)
    try:
        if not with_pilot:
            _without_pilot(services)
        spent = _time_flushes(services.projector.pilot_scorecards)
        work = await services.connect()
        try:
            await services.projector.load(work)
            tail = await services.runner.catch_up(work)
            rows = await work.fetchval("SELECT count(*) FROM pilot_kpi_scorecards")
        finally:
            await work.close()
    finally:
        await services.stop()
    return {
        "events": tail.events,
        "seconds": round(tail.seconds, 2),
        "rate": round(tail.rate, 1),
        "pilot_rows": rows,
        "pilot_flush_seconds": round(spent[0], 2),
    }


def _time_flushes(model: Any) -> list[float]:
    """Time the pilot projection's own work (its flushes compute and write its rows): the
    cost a trial adds, measured directly, beside the noisier difference of two runs."""
    spent = [0.0]
    flush = model.flush

    async def timed(conn: Any) -> None:
        started = time.perf_counter()
        await flush(conn)
        spent[0] += time.perf_counter() - started

    model.flush = timed
    return spent
