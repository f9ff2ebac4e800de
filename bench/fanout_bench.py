"""Fan-out benchmark: how long a committed fact takes to reach its live subscribers.

    .venv/bin/python bench/fanout_bench.py [--quick] [--json]

Seeds an organisation (year 2025, seed 1, the organisation only) into a fresh database, starts
``perfledger serve`` in a process of its own, and opens websocket subscribers (graphql-transport-ws
on /graphql) from a second process: each an employee signed in with their own token, subscribed
to ``scorecardUpdated`` for themselves (``position scorecard { ownerId score tier coverage }``).
This process then records measurements (``app.record_progress`` on the application, four writer
threads, at a fixed rate) on the subscribed employees' goals, round robin, so every commit changes
one subscriber's scorecard.

Latency is commit → receipt: from the moment ``record_progress`` returns (the event is committed)
to the moment the subscriber's client reads the update carrying that commit's position off its
socket. Both are ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for every process of the
machine). The path runs through the projection runner (it wakes on the event store's NOTIFY,
projects a batch, commits it and NOTIFYs), the service's live feed (one audit-trail read and one
scorecard read per committed range) and the subscriber's websocket.

Two figures:

- ``fanout_latency``: 1,000 subscribers (quick: 250), 50 commits per second for 20 s (quick: 6 s).
  Target p99 <= 250 ms (a naive fan-out, one query per subscriber per commit, measured p99 of
  about 3.5 s at 1,000 here).
- ``fanout_under_write_load``: 200 subscribers while 200 commits per second run for 20 s
  (quick: 100 subscribers, 6 s), every commit for one of them. Target p99 <= 250 ms.

The reference, measured in the same run: the commit → read-model latency (``projected``: when a
LISTEN connection of the client process hears the projector's NOTIFY for a position at or past
the commit's), which no push can beat; ``over_projected`` is the figures' p50 over the
reference's. A commit's latency runs until its subscriber reads a scorecard reflecting it: the
update at its position, or, when a later commit to the same scorecard was projected in the same
batch, the one update for both (``coalesced`` counts those: a scorecard update is state, the
latest); ``missing`` counts commits no update ever reflected (it must be 0).

Cores, on 2 or more: the service on the first; PostgreSQL and the client process on the others
(as ``bench/run`` pins its servers and load); the writer threads are not pinned (beside
PostgreSQL on a 2-core machine they could not keep 200 commits/s).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/run's own module
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project

from perfbench import (
    SECRET,
    CoreSampler,
    CpuPlan,
    Postgres,
    Server,
    _cpu_list,
    figure,
    log,
    settings_for,
    start_service,
    taskset,
)

from domain.periods import Period
from domain.provenance import Provenance, Role
from service.application import Perfledger
from service.bootstrap import build_application
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import NOTHING

TARGET_P99_MS = 250.0
WRITERS = 8  # enough that 200 commits/s keep their rate while commits take ~20 ms under load
WRITER = Provenance("bench-writer", Role.HR, "fanout-bench")
SUBSCRIPTION = (
    "subscription($e: ID) { scorecardUpdated(employeeId: $e) "
    "{ position scorecard { ownerId score tier coverage } } }"
)
CONNECT_AT_ONCE = 50  # websockets opened concurrently while subscribing


@dataclass(frozen=True)
class Scenario:
    figure: str
    subscribers: int
    rate: float  # commits per second
    seconds: float


@dataclass(frozen=True)
class GoalToMeasure:
    goal: UUID
    owner: UUID
    as_of: date
    baseline: Decimal
    target: Decimal


# -- the client process -----------------------------------------------------------------------


async def _subscriber(
    url: str, employee: str, received: list[tuple[int, str, float]], ready: asyncio.Event
) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    from service import auth

    token = auth.mint(SECRET, UUID(employee), Role.EMPLOYEE, ttl_hours=2)
    async with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], compression=None
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"not acknowledged: {ack}")
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"e": employee}},
                }
            )
        )
        ready.set()
        async for raw in ws:
            at = time.monotonic()
            message = json.loads(raw)
            if message.get("type") == "next":
                update = message["payload"]["data"]["scorecardUpdated"]
                received.append((update["position"], update["scorecard"]["ownerId"], at))


async def run_clients(url: str, employees: list[str], database: dict[str, Any], out: Path) -> None:
    """Subscribe every employee, say "ready" on stdout, record until stdin says stop."""
    import asyncpg

    from projections.projector import PROJECTED_CHANNEL

    received: list[tuple[int, str, float]] = []
    projected: list[tuple[int, float]] = []
    listener = await asyncpg.connect(**database)

    def heard(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        projected.append((int(str(payload)), time.monotonic()))

    await listener.add_listener(PROJECTED_CHANNEL, heard)
    tasks: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def open_one(employee: str) -> None:
        ready = asyncio.Event()
        async with gate:
            task = asyncio.create_task(_subscriber(url, employee, received, ready))
            tasks.append(task)
            waiting = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if task.done():
                task.result()  # it failed: say why

    await asyncio.gather(*(open_one(e) for e in employees))
    await asyncio.sleep(1.0)  # the last subscriptions reach the feed
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    failed = [t for t in tasks if t.done() and t.exception() is not None]
    for task in tasks:
        task.cancel()
    await listener.close()
    summary = json.dumps(
        {
            "received": received,
            "projected": projected,
            "connections": len(tasks) - len(failed),
            "failed": [repr(t.exception())[:200] for t in failed[:3]],
        }
    )
    await asyncio.to_thread(out.write_text, summary)


# -- the writer -------------------------------------------------------------------------------


Commits = dict[int, tuple[float, str]]  # position: (when it returned, whose scorecard)


def write_load(
    app: Perfledger, goals: list[GoalToMeasure], rate: float, seconds: float
) -> tuple[Commits, float, int]:
    """Record ``rate`` measurements a second for ``seconds``, round robin over ``goals``; each
    commit's position with the moment it returned and the goal's owner, the rate achieved, and
    the failures."""
    total = int(rate * seconds)
    rng = random.Random(11)
    commits: Commits = {}
    failures = 0
    lock = threading.Lock()

    def one(goal: GoalToMeasure, share: Decimal) -> None:
        nonlocal failures
        value = goal.baseline + (goal.target - goal.baseline) * share
        try:
            receipt = app.record_progress(WRITER, goal.goal, value, goal.as_of, "bench")
        except Exception:  # counted: the figure says how many commits it covers
            with lock:
                failures += 1
            return
        done = time.monotonic()
        with lock:
            commits[receipt.position] = (done, str(goal.owner))

    started = time.monotonic()
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="writer") as pool:
        for i in range(total):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            share = Decimal(str(round(rng.uniform(0.2, 1.1), 2)))
            pool.submit(one, goals[i % len(goals)], share)
    return commits, total / (time.monotonic() - started), failures


# -- the scenarios ----------------------------------------------------------------------------


def goals_to_measure(database: Database, count: int) -> list[GoalToMeasure]:
    """One open goal of each of ``count`` employees, with a day inside its period."""
    with psycopg.connect(database.psycopg_conninfo()) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (owner_id) id, owner_id, period, baseline, target FROM goals "
            "WHERE owner_kind = 'employee' AND status = 'open' ORDER BY owner_id, period, id "
            "LIMIT %s",
            (count,),
        ).fetchall()
    if len(rows) < count:
        raise RuntimeError(f"only {len(rows)} employees have an open goal; {count} are needed")
    found = []
    for goal, owner, period_text, baseline, target in rows:
        period = Period.parse(period_text)
        as_of = period.start + timedelta(days=(period.end - period.start).days // 2)
        found.append(GoalToMeasure(goal, owner, as_of, Decimal(baseline), Decimal(target)))
    return found


def delivery_latencies(
    commits: Commits, received: list[tuple[int, str, float]]
) -> tuple[list[float], int, int]:
    """For each commit, the time until its subscriber read a scorecard reflecting it: the first
    update for that employee at or past the commit's position (two commits to one scorecard in
    one projected batch arrive as one update, the later state: the earlier is ``coalesced``).
    Also how many were coalesced, and how many never arrived."""
    by_owner: dict[str, list[tuple[int, float]]] = {}
    for position, owner, at in received:
        by_owner.setdefault(owner, []).append((position, at))
    for updates in by_owner.values():
        updates.sort()
    latencies: list[float] = []
    coalesced = missing = 0
    for position, (committed, owner) in commits.items():
        updates = by_owner.get(owner, [])
        index = bisect.bisect_left(updates, (position, -1.0))
        if index == len(updates):
            missing += 1
            continue
        coalesced += updates[index][0] != position
        latencies.append((updates[index][1] - committed) * 1000)
    return latencies, coalesced, missing


def projection_latencies(commits: Commits, heard: list[tuple[int, float]]) -> list[float]:
    """For each commit, the time until the read models announced a position at or past it."""
    heard = sorted(heard)
    positions = [p for p, _ in heard]
    found = []
    for position, (committed, _) in commits.items():
        index = bisect.bisect_left(positions, position)
        if index < len(heard):
            found.append(max(0.0, heard[index][1] - committed) * 1000)
    return found


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _latencies(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    return {
        "p50_ms": round(_percentile(values, 0.5), 1),
        "p90_ms": round(_percentile(values, 0.9), 1),
        "p99_ms": round(_percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1),
        "mean_ms": round(statistics.fmean(values), 1),
    }


class Bench:
    def __init__(self, workdir: Path, pg: Postgres) -> None:
        self.workdir = workdir
        self.pg = pg
        self.cpus = CpuPlan.for_machine()

    @contextlib.contextmanager
    def prepared(self, employees: int) -> Iterator[tuple[Database, Perfledger, Server]]:
        name, database = self.pg.create("live")
        app = build_application(database, settings_for(database))
        service: Server | None = None
        everywhere = os.sched_getaffinity(0)
        try:
            log(f"live: seeding {employees:,} employees (seed 1, year 2025, no reviews)")
            seeded = seed_organisation(app, employees=employees, seed=1, year=2025, reviews=NOTHING)
            log(f"live: {seeded.events:,} events; starting the service")
            service = start_service(
                database, self.workdir, self.cpus.server if self.cpus else None, "live"
            )
            if self.cpus is not None:
                # PostgreSQL beside the clients; the writer threads float: pinned to its core
                # as well, on 2 cores they fell short of 200 commits/s (167/s measured).
                self.pg.pin(_cpu_list(self.cpus.client))
            yield database, app, service
        finally:
            if service is not None:
                service.stop()
            app.close()
            self.pg.drop(name)
            self.pg.pin(everywhere)

    def run(
        self, scenario: Scenario, database: Database, app: Perfledger, service: Server
    ) -> dict[str, Any]:
        goals = goals_to_measure(database, scenario.subscribers)
        employees = [str(g.owner) for g in goals]
        listed = self.workdir / f"{scenario.figure}.employees.json"
        listed.write_text(json.dumps(employees))
        out = self.workdir / f"{scenario.figure}.out.json"
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "clients",
            "--url",
            service.url.replace("http://", "ws://") + "/graphql",
            "--employees",
            str(listed),
            "--database",
            json.dumps(database.asyncpg_kwargs()),
            "--out",
            str(out),
        ]
        log(f"live: {scenario.subscribers:,} subscribers connecting")
        clients = subprocess.Popen(
            taskset(self.cpus.client if self.cpus else None, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert clients.stdin is not None
        assert clients.stdout is not None
        try:
            if clients.stdout.readline().strip() != "ready":
                raise RuntimeError("the clients did not get ready")
            log(
                f"live: {scenario.rate:g} commits/s for {scenario.seconds:g}s over "
                f"{len(goals):,} subscribers' goals"
            )
            sampler = CoreSampler(
                lambda: {"service": [service.process.pid], "clients": [clients.pid]}
            )
            with sampler.window() as cpu:
                commits, achieved, failures = write_load(
                    app, goals, scenario.rate, scenario.seconds
                )
                time.sleep(2.0)  # the last updates arrive
            clients.stdin.write("stop\n")
            clients.stdin.flush()
            clients.wait(timeout=120)
        finally:
            if clients.poll() is None:
                clients.kill()
        result = json.loads(out.read_text())
        latencies, coalesced, missing = delivery_latencies(commits, result["received"])
        reference = projection_latencies(commits, result["projected"])
        return {
            "latencies": latencies,
            "delivery": _latencies(latencies),
            "projected": _latencies(reference),
            "subscribers": result["connections"],
            "failed_connections": result["failed"],
            "commits": len(commits),
            "write_failures": failures,
            "achieved_rate": round(achieved, 1),
            "coalesced": coalesced,
            "missing": missing,
            "cpu": cpu,
        }


def scenarios(quick: bool) -> list[Scenario]:
    if quick:
        return [
            Scenario("fanout_latency", 250, 50, 6),
            Scenario("fanout_under_write_load", 100, 200, 6),
        ]
    return [
        Scenario("fanout_latency", 1000, 50, 20),
        Scenario("fanout_under_write_load", 200, 200, 20),
    ]


def measure(pg: Postgres | None, quick: bool) -> list[dict[str, Any]]:
    """Both figures, on ``pg`` (bench/run's server) or on an embedded one of its own."""
    workdir = Path(tempfile.mkdtemp(prefix="fanout-bench-"))
    own = pg is None
    bench = Bench(workdir, Postgres(workdir) if pg is None else pg)
    lines = []
    try:
        wanted = scenarios(quick)
        employees = max(s.subscribers for s in wanted) + 100
        with bench.prepared(employees) as (database, app, service):
            for scenario in wanted:
                found = bench.run(scenario, database, app, service)
                delivery, projected = found["delivery"], found["projected"]
                lines.append(
                    figure(
                        scenario.figure,
                        delivery["p99_ms"],
                        "ms p99 commit to receipt",
                        TARGET_P99_MS,
                        at_most=True,
                        **delivery,
                        reference_projected=projected,
                        over_projected=round(delivery["p50_ms"] / projected["p50_ms"], 2)
                        if projected.get("p50_ms")
                        else None,
                        subscribers=found["subscribers"],
                        failed_connections=found["failed_connections"],
                        commits=found["commits"],
                        write_failures=found["write_failures"],
                        rate=scenario.rate,
                        achieved_rate=found["achieved_rate"],
                        seconds=scenario.seconds,
                        coalesced=found["coalesced"],
                        missing=found["missing"],
                        cpu=found["cpu"],
                        cores=bench.cpus.describe() if bench.cpus else "not pinned",
                    )
                )
    finally:
        if own:
            bench.pg.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fanout_bench", description=__doc__)
    sub = parser.add_subparsers(dest="mode")
    clients = sub.add_parser("clients", help="(internal) the subscribers' process")
    clients.add_argument("--url", required=True)
    clients.add_argument("--employees", type=Path, required=True)
    clients.add_argument("--database", required=True, help="asyncpg.connect's arguments, JSON")
    clients.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="fewer subscribers, shorter runs")
    parser.add_argument("--json", action="store_true", help="one JSON line per figure")
    args = parser.parse_args(argv)
    if args.mode == "clients":
        employees = json.loads(args.employees.read_text())
        asyncio.run(run_clients(args.url, employees, json.loads(args.database), args.out))
        return 0
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="fanout-run-"))
    for line in measure(None, args.quick):
        print(json.dumps(line) if args.json else json.dumps(line, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
