"""Perfledger benchmarks. Run through ``bench/run``; see bench/README.md.

Prints one JSON line per figure on stdout (progress goes to stderr) and appends the same lines,
under a heading naming the machine, date and commit, to bench/RESULTS.md.

Every benchmark gets a fresh database: on the embedded PostgreSQL (pgserver, in a temporary
directory) or, with DATABASE_URL set, on that server (the role needs CREATEDB). The organisation
the rebuild, read and mutation benchmarks share is seeded once and then copied per benchmark
(CREATE DATABASE ... TEMPLATE), which is much faster than seeding it again.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import httpx
import psycopg
from psycopg import sql

from domain.periods import Period
from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES
from service import auth
from service.api.pagination import encode_cursor
from service.bootstrap import build, build_application
from service.database import Database, start_embedded
from service.seed import seed_organisation
from service.seed_reviews import NOTHING, ONE_FULL_CYCLE, cycle_id_for
from service.settings import Settings, from_environment

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
PERFLEDGER = ROOT / ".venv" / "bin" / "perfledger"
RESULTS = BENCH / "RESULTS.md"
SECRET = "perfledger-bench-secret-" + "x" * 32
BENCH_USER = uuid.UUID(int=1)
CIPHER_KEY = base64.b64encode(b"perfledger-bench-cipher-key-32b!").decode()

# The shared organisation: a past year, so every month has its measurement whatever today's date
# is, and the dataset is the same on every run. 108 events per employee, measured.
DATASET_YEAR = 2025
DATASET_SEED = 1
EVENTS_PER_EMPLOYEE = 108

READ_QUERY = """query($id: ID!, $period: String!) {
  departmentScorecard(departmentId: $id, period: $period) {
    members { ownerId score tier coverage employee { code name } }
    distribution { mean count }
  }
}"""
CYCLE_QUERY = """query($cycle: ID!, $id: ID!) {
  departmentCycleScorecard(cycleId: $cycle, departmentId: $id, first: 200) {
    count mean
    members { totalCount edges { node {
      score tier kpiScore reviewScore employee { code name }
      sources { source withheld submitted score }
    } } }
  }
}"""
MUTATION = """mutation($input: RecordProgressInput!) {
  recordProgress(input: $input) {
    __typename
    ... on CommandAccepted { position }
    ... on CommandRejected { code message }
  }
}"""

FIGURES = ("seed", "rebuild", "read", "mutation", "reviews", "audit", "fairness", "pilot", "live")
ALIASES = {
    "seed_rate": "seed",
    "review_seed_rate": "reviews",
    "review_rebuild_rate": "reviews",
    "graphql_cycle_read": "reviews",
    "rebuild_rate": "rebuild",
    "graphql_read": "read",
    "service_peak_memory": "read",
    "memory": "read",
    "mutation_throughput": "mutation",
    "audit_verify_rate": "audit",
    "as_of_scorecard": "audit",
    "audit_trail_page": "audit",
    "fairness_audit": "fairness",
    "what_if": "reviews",
    "fanout_latency": "live",
    "fanout_under_write_load": "live",
    "pilot_projection_rate": "pilot",
}


@dataclass(frozen=True)
class Sizes:
    seed_employees: int
    dataset_min_events: int
    warmup_seconds: int
    measure_seconds: int
    # Few enough that warming up touches every goal: the application's aggregate cache then
    # holds them all for both the GraphQL run and the raw reference, so neither pays for loads
    # the other does not.
    mutation_goals: int
    # The reviews benchmark's organisation: one closed cycle, 7 raters x 5 competencies each.
    review_employees: int = 10_000
    read_connections: int = 32
    mutation_connections: int = 16


FULL = Sizes(
    seed_employees=10_000,
    dataset_min_events=1_000_000,
    warmup_seconds=4,
    measure_seconds=12,
    mutation_goals=1_000,
)
QUICK = Sizes(
    seed_employees=500,
    dataset_min_events=30_000,
    warmup_seconds=1,
    measure_seconds=3,
    mutation_goals=300,
    review_employees=500,
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the machine and its cores ----------------------------------------------------------------


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = "? GiB"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return f"nproc {os.cpu_count()} · {model} · {ram} RAM"


@dataclass(frozen=True)
class CpuPlan:
    """Which cores the server under test, the load generator and PostgreSQL run on."""

    server: str
    client: str

    @classmethod
    def for_machine(cls) -> CpuPlan | None:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            return None
        return cls(server=str(cores[0]), client=",".join(str(c) for c in cores[1:]))

    def describe(self) -> str:
        return (
            f"server under test (perfledger serve, the plain endpoint, the raw append threads) "
            f"pinned to core {self.server}; wrk (1 thread) and PostgreSQL (postmaster and "
            f"every backend) pinned to core(s) {self.client}"
        )


def busy_share(seconds: float = 1.0) -> float:
    """How busy the whole machine is, over a short sample (other work skews every figure)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(total1 - total0, 1)


def taskset(cpus: str | None, argv: list[str]) -> list[str]:
    if cpus is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", cpus, *argv]


def _cpu_list(cpus: str) -> set[int]:
    return {int(c) for c in cpus.split(",")}


class CoreSampler:
    """Busy share of each core, and CPU seconds of chosen processes, over a window."""

    def __init__(self, pids: Callable[[], dict[str, list[int]]]) -> None:
        self.pids = pids

    @staticmethod
    def _cores() -> dict[str, tuple[int, int]]:
        cores = {}
        for line in Path("/proc/stat").read_text().splitlines():
            parts = line.split()
            if parts[0].startswith("cpu") and parts[0] != "cpu":
                values = [int(v) for v in parts[1:]]
                idle = values[3] + values[4]
                cores[parts[0]] = (sum(values) - idle, sum(values))
        return cores

    @staticmethod
    def _ticks(pid: int) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(fields[11]) + int(fields[12])

    @contextlib.contextmanager
    def window(self) -> Iterator[dict[str, Any]]:
        result: dict[str, Any] = {}
        groups = self.pids()
        before_cores = self._cores()
        before = {name: {p: self._ticks(p) for p in pids} for name, pids in groups.items()}
        started = time.perf_counter()
        yield result
        seconds = time.perf_counter() - started
        after_cores = self._cores()
        hz = os.sysconf("SC_CLK_TCK")
        for name, ticks in before.items():
            used = sum(max(0, self._ticks(p) - t) for p, t in ticks.items())
            result[f"{name}_cores"] = round(used / hz / seconds, 2)
        for core, (busy, total) in after_cores.items():
            b0, t0 = before_cores.get(core, (0, 0))
            result[f"{core}_busy"] = round((busy - b0) / max(total - t0, 1), 2)


# -- PostgreSQL -------------------------------------------------------------------------------


class Postgres:
    """The server the benchmarks run on, and the fresh databases they get on it."""

    def __init__(self, workdir: Path) -> None:
        url = os.environ.get("DATABASE_URL")
        self.embedded = not url
        self.data_dir = workdir / "pg"
        self.admin = Database.from_url(url) if url else start_embedded(self.data_dir)
        self.created: list[str] = []
        self.postmaster = self._find_postmaster()
        with psycopg.connect(self.admin.psycopg_conninfo()) as conn:
            row = conn.execute("SELECT current_setting('server_version_num')").fetchone()
        self.version_num = int(row[0]) if row else 0
        self.version = f"{self.version_num // 10000}.{self.version_num % 10000}"

    def describe(self) -> str:
        where = "embedded (pgserver)" if self.embedded else "DATABASE_URL"
        pinned = "" if self.postmaster else "; its processes not found here, so not pinned"
        return f"PostgreSQL {self.version}, {where}{pinned}"

    def _find_postmaster(self) -> int | None:
        """The postmaster's pid when the server runs on this machine (for pinning it)."""
        with psycopg.connect(self.admin.psycopg_conninfo()) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            if row is None:
                return None
            try:  # while connected: the backend exits with its connection
                status = Path(f"/proc/{row[0]}/status").read_text()
            except OSError:
                return None  # a remote server
        parent = next(int(line.split()[1]) for line in status.splitlines() if "PPid:" in line)
        comm = Path(f"/proc/{parent}/comm").read_text().strip() if parent > 1 else ""
        return parent if comm.startswith("postgres") else None

    def processes(self) -> list[int]:
        if self.postmaster is None:
            return []
        pids = [self.postmaster]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[1]) == self.postmaster:
                        pids.append(int(entry.name))
        return pids

    def pin(self, cpus: set[int]) -> None:
        """Move the postmaster and its backends (and any it forks later) onto ``cpus``."""
        for pid in self.processes():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, cpus)

    def create(self, label: str, template: str | None = None) -> tuple[str, Database]:
        name = f"bench_{label}_{os.getpid()}_{len(self.created)}"
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            # FILE_COPY copies the files as they are; the default (WAL_LOG, PostgreSQL 15+)
            # writes a large template through the WAL, which is far slower.
            strategy = sql.SQL(" STRATEGY = FILE_COPY" if self.version_num >= 150000 else "")
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(
                sql.Identifier(name), sql.Identifier(template), strategy
            )
        with psycopg.connect(self.admin.psycopg_conninfo(), autocommit=True) as conn:
            conn.execute(query)
        self.created.append(name)
        return name, self.admin.with_dbname(name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin.psycopg_conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(psycopg.Error):
                self.drop(name)
        if self.embedded:
            import pgserver

            with contextlib.suppress(Exception):
                pgserver.get_server(self.data_dir).cleanup()  # type: ignore[attr-defined]


def service_env(database: Database, port: int | None = None) -> dict[str, str]:
    """What `perfledger serve` gets: the same variables a deployment would set."""
    env = {
        "DATABASE_URL": database.psycopg_conninfo(),
        "PERFLEDGER_JWT_SECRET": SECRET,
        # The event store is encrypted at rest with this key (a deployment sets its own).
        "PERFLEDGER_CIPHER_KEY": CIPHER_KEY,
        "PERFLEDGER_SEED_DEMO": "false",
        "PERFLEDGER_HOST": "127.0.0.1",
    }
    if port is not None:
        env["PERFLEDGER_PORT"] = str(port)
    return env


def settings_for(database: Database) -> Settings:
    """The settings the CLI would read from that environment."""
    saved = dict(os.environ)
    os.environ.update(service_env(database))
    try:
        return from_environment()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def max_position(database: Database) -> int:
    with psycopg.connect(database.psycopg_conninfo()) as conn:
        row = conn.execute("SELECT max(notification_id) FROM perfledger_events").fetchone()
    return int(row[0] or 0) if row else 0


# -- servers and load -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server under test in a process of its own, on a loopback port."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], port: int, logdir: Path
    ) -> None:
        self.name = name
        self.port = port
        self.log_path = logdir / f"{name}.log"
        self.log = self.log_path.open("w")
        self.quiet_after = 0.0
        self.process = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def wait_healthy(self, ready: Callable[[dict[str, Any]], bool], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    response = client.get(f"{self.url}/healthz")
                    if response.status_code == 200 and ready(response.json()):
                        return
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready in {timeout}s:\n{self.log_tail()}")

    def wait_quiet(self, timeout: float = 180) -> float:
        """Wait until the server idles (under 5% of a core for a second): the service loads
        its read models into memory after it reports healthy, and that must not count."""
        started = time.monotonic()
        hz = os.sysconf("SC_CLK_TCK")
        while time.monotonic() - started < timeout:
            before = CoreSampler._ticks(self.process.pid)
            time.sleep(1.0)
            if (CoreSampler._ticks(self.process.pid) - before) / hz < 0.05:
                break
        return time.monotonic() - started

    def peak_rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def start_service(database: Database, logdir: Path, cpus: str | None, name: str) -> Server:
    port = free_port()
    argv = taskset(cpus, [str(PERFLEDGER), "serve"])
    server = Server(name, argv, service_env(database, port), port, logdir)
    expected = max_position(database)

    def ready(health: dict[str, Any]) -> bool:
        return bool(
            health.get("status") == "ok"
            and health.get("projectionRunnerActive")
            and (health.get("readModelPosition") or 0) >= expected
        )

    server.wait_healthy(ready)
    server.quiet_after = server.wait_quiet()
    return server


def start_plain(database: Database, logdir: Path, cpus: str | None) -> Server:
    port = free_port()
    # The same uvicorn configuration as `perfledger serve`: one process, default loop and
    # HTTP implementations, no access log.
    argv = taskset(
        cpus,
        [
            str(PYTHON),
            "-m",
            "uvicorn",
            "--app-dir",
            str(BENCH),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "plain_app:app",
        ],
    )
    server = Server("plain", argv, {"DATABASE_URL": database.psycopg_conninfo()}, port, logdir)
    server.wait_healthy(lambda health: health.get("status") == "ok")
    server.quiet_after = server.wait_quiet()
    return server


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    log("wrk is missing; installing it with apt-get")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if os.geteuid() != 0:
        install = ["sudo", "-n", *install]
    if subprocess.run(install, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        subprocess.run([*install[:-4], "apt-get", "update", "-q"], check=False)
        subprocess.run(install, stdout=subprocess.DEVNULL, check=True)


def wrk(
    url: str,
    bodies: Path,
    *,
    connections: int,
    seconds: int,
    cpus: str | None,
    must_contain: str,
    must_not_contain: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    argv = taskset(
        cpus,
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "rotate.lua"),
            url,
            "--",
            str(bodies),
            must_contain,
            must_not_contain or "-",
            token or "-",
        ],
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_SUMMARY "):
            summary: dict[str, Any] = json.loads(line.removeprefix("WRK_SUMMARY "))
            seconds_run = summary["duration_us"] / 1e6
            good = summary["checked"] - summary["bad"]
            summary["rps"] = round(good / seconds_run, 1)
            used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            summary["wrk_cores"] = round(used / seconds_run, 2)
            return summary
    raise RuntimeError(f"wrk gave no summary (exit {done.returncode}):\n{done.stdout}{done.stderr}")


def with_client(cpu: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """Add the load generator's share, and what is left: other work on the machine."""
    cpu = {**cpu, "wrk_cores": summary["wrk_cores"]}
    busy = sum(v for k, v in cpu.items() if k.startswith("cpu") and k.endswith("_busy"))
    ours = cpu.get("server_cores", 0) + cpu.get("postgres_cores", 0) + summary["wrk_cores"]
    cpu["other_cores"] = round(max(0.0, busy - ours), 2)
    return cpu


def latency_figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "rps": summary["rps"],
        "p50_ms": round(summary["p50_us"] / 1000, 2),
        "p99_ms": round(summary["p99_us"] / 1000, 2),
        "requests": summary["requests"],
        "bad": summary["bad"],
        "errors": summary["connect_errors"]
        + summary["read_errors"]
        + summary["write_errors"]
        + summary["timeouts"],
    }


# -- the benchmarks ---------------------------------------------------------------------------


def figure(
    name: str,
    value: float,
    unit: str,
    target: float | None,
    *,
    at_most: bool = False,
    **details: Any,
) -> dict[str, Any]:
    """One measured figure; its target is a floor (``>=``) or, with ``at_most``, a ceiling."""
    sign = "<=" if at_most else ">="
    return {
        "figure": name,
        "value": round(value, 3) if value < 10 else round(value, 1),
        "unit": unit,
        "target": None if target is None else f"{sign} {target:g}",
        "met": None if target is None else (value <= target if at_most else value >= target),
        **details,
    }


class Bench:
    def __init__(self, sizes: Sizes, workdir: Path, emit: Callable[[dict[str, Any]], None]) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.emit = emit
        self.pg = Postgres(workdir)
        self.cpus = CpuPlan.for_machine()
        self.dataset: str | None = None  # template database name
        self.dataset_info: dict[str, Any] = {}
        self.token = auth.mint(SECRET, BENCH_USER, Role.HR, ttl_hours=4)

    @property
    def server_cpus(self) -> str | None:
        return self.cpus.server if self.cpus else None

    @property
    def client_cpus(self) -> str | None:
        return self.cpus.client if self.cpus else None

    @contextlib.contextmanager
    def pinned_postgres(self) -> Iterator[None]:
        if self.cpus is None:
            yield
            return
        self.pg.pin(_cpu_list(self.cpus.client))
        try:
            yield
        finally:
            self.pg.pin(os.sched_getaffinity(0))

    # 1. seeding

    def seed(self) -> None:
        employees = self.sizes.seed_employees
        name, database = self.pg.create("seed")
        log(f"seed: seeding {employees:,} employees (seed 1) into a fresh database")
        app = build_application(database, settings_for(database))
        try:
            summary = seed_organisation(app, employees=employees, seed=1, progress=_progress)
        finally:
            app.close()
            _progress_end()
        self.pg.drop(name)
        self.emit(
            figure(
                "seed_rate",
                summary.rate,
                "events/s",
                10_000,
                events=summary.events,
                employees=summary.employees,
                departments=summary.departments,
                goals=summary.goals,
                seconds=round(summary.seconds, 1),
            )
        )

    # 2. the shared organisation, rebuilt as `perfledger rebuild` does, and raw decoding

    def ensure_dataset(self, report: bool) -> None:
        if self.dataset is not None:
            return
        employees = math.ceil(self.sizes.dataset_min_events * 1.02 / EVENTS_PER_EMPLOYEE)
        name, database = self.pg.create("org")
        log(
            f"dataset: seeding {employees:,} employees (seed {DATASET_SEED}, year "
            f"{DATASET_YEAR}) for at least {self.sizes.dataset_min_events:,} events"
        )
        app = build_application(database, settings_for(database))
        try:
            # The organisation only, as before reviews existed, so these figures stay comparable
            # with earlier runs; the reviews benchmark has a log with a review cycle.
            summary = seed_organisation(
                app,
                employees=employees,
                seed=DATASET_SEED,
                year=DATASET_YEAR,
                progress=_progress,
                reviews=NOTHING,
            )
        finally:
            app.close()
            _progress_end()
        log(f"dataset: {summary.events:,} events in {summary.seconds:.0f}s; rebuilding")
        rebuilt = asyncio.run(rebuild_like_cli(database))
        log(f"rebuild: {rebuilt['events']:,} events in {rebuilt['seconds']:.1f}s; decoding")
        decoded = decode_everything(database)
        self.dataset = name
        self.dataset_info = {"employees": summary.employees, "events": summary.events}
        if not report:
            return
        ratio = rebuilt["rate"] / decoded["rate"]
        self.emit(
            figure(
                "rebuild_rate",
                rebuilt["rate"],
                "events/s",
                30_000,
                events=rebuilt["events"],
                seconds=round(rebuilt["seconds"], 1),
                catch_up_rate=round(rebuilt["catch_up_rate"], 1),
                reference_decode_rate=round(decoded["rate"], 1),
                rebuild_over_decode=round(ratio, 3),
                enough_events=rebuilt["events"] >= self.sizes.dataset_min_events,
            )
        )

    # 3. reads: departmentScorecard over GraphQL beside a plain endpoint

    def read(self) -> None:
        self.ensure_dataset(report=False)
        assert self.dataset is not None
        name, database = self.pg.create("read", template=self.dataset)
        period = str(DATASET_YEAR)
        teams = asyncio.run(_teams(database, period))
        gql_bodies = self.workdir / "read-graphql.jsonl"
        gql_bodies.write_text(
            "".join(
                json.dumps({"query": READ_QUERY, "variables": {"id": str(t), "period": period}})
                + "\n"
                for t, _ in teams
            )
        )
        plain_bodies = self.workdir / "read-plain.jsonl"
        plain_bodies.write_text(
            "".join(json.dumps({"departmentId": str(t), "period": period}) + "\n" for t, _ in teams)
        )
        conns = self.sizes.read_connections
        results: dict[str, Any] = {}
        with self.pinned_postgres():
            log(f"read: perfledger serve on {len(teams)} teams, {conns} connections")
            service = start_service(database, self.workdir, self.server_cpus, "service-read")
            try:
                expected = _graphql_rows(service.url, self.token, teams[0][0], period)
                results["graphql"] = self._load(
                    service, f"{service.url}/graphql", gql_bodies, conns, "members", '"errors"'
                )
                peak_kib = service.peak_rss_kib()
            finally:
                service.stop()
            log("read: plain Starlette + asyncpg endpoint")
            plain = start_plain(database, self.workdir, self.server_cpus)
            try:
                same = _plain_rows(plain.url, teams[0][0], period) == expected
                results["plain"] = self._load(
                    plain, f"{plain.url}/scorecard", plain_bodies, conns, "members", None
                )
            finally:
                plain.stop()
        self.pg.drop(name)
        ratio = results["graphql"]["rps"] / results["plain"]["rps"]
        self.emit(
            figure(
                "graphql_read",
                ratio,
                "graphql/plain throughput",
                0.3,
                graphql=results["graphql"],
                plain=results["plain"],
                connections=conns,
                departments=len(teams),
                mean_members=round(sum(n for _, n in teams) / len(teams), 1),
                same_rows=same,
                measure_seconds=self.sizes.measure_seconds,
            )
        )
        self.emit(
            figure(
                "service_peak_memory",
                peak_kib / 1024,
                "MiB",
                None,
                measured="VmHWM of the perfledger serve process after the read benchmark",
                employees=self.dataset_info.get("employees"),
                events=self.dataset_info.get("events"),
            )
        )

    def _load(
        self,
        server: Server,
        url: str,
        bodies: Path,
        connections: int,
        must: str,
        must_not: str | None,
    ) -> dict[str, Any]:
        token = self.token if url.endswith("/graphql") else None
        common = {
            "connections": connections,
            "cpus": self.client_cpus,
            "must_contain": must,
            "must_not_contain": must_not,
            "token": token,
        }
        warm = wrk(url, bodies, seconds=self.sizes.warmup_seconds, **common)  # type: ignore[arg-type]
        if warm["bad"]:
            raise RuntimeError(
                f"{server.name}: bad responses while warming up: {warm['first_bad']}"
            )
        sampler = CoreSampler(
            lambda: {"server": [server.process.pid], "postgres": self.pg.processes()}
        )
        with sampler.window() as cpu:
            summary = wrk(url, bodies, seconds=self.sizes.measure_seconds, **common)  # type: ignore[arg-type]
        if summary["bad"]:
            log(f"{server.name}: {summary['bad']} bad responses, e.g. {summary['first_bad']}")
        return {
            **latency_figures(summary),
            "cpu": with_client(cpu, summary),
            "idle_after_start_s": round(server.quiet_after, 1),
        }

    # 4. mutations: recordProgress over GraphQL beside raw appends on the application

    def mutation(self) -> None:
        self.ensure_dataset(report=False)
        assert self.dataset is not None
        conns = self.sizes.mutation_connections
        goals = self._goals(self.sizes.mutation_goals)
        goals_path = self.workdir / "goals.json"
        goals_path.write_text(json.dumps(goals))
        bodies = self.workdir / "mutations.jsonl"
        bodies.write_text(
            "".join(
                json.dumps(
                    {
                        "query": MUTATION,
                        "variables": {
                            "input": {
                                "goalId": g["id"],
                                "value": g["value"],
                                "asOf": g["asOf"],
                                "source": "bench",
                            }
                        },
                    }
                )
                + "\n"
                for g in goals
            )
        )
        with self.pinned_postgres():
            name, database = self.pg.create("mutation_graphql", template=self.dataset)
            log(f"mutation: recordProgress over GraphQL, {len(goals)} goals, {conns} connections")
            service = start_service(database, self.workdir, self.server_cpus, "service-mutation")
            try:
                url = f"{service.url}/graphql"
                common: dict[str, Any] = {
                    "connections": conns,
                    "cpus": self.client_cpus,
                    "must_contain": "CommandAccepted",
                    "token": self.token,
                }
                warm = wrk(url, bodies, seconds=self.sizes.warmup_seconds, **common)
                if warm["bad"]:
                    raise RuntimeError(f"mutation warm-up: bad responses: {warm['first_bad']}")
                before = max_position(database)
                sampler = CoreSampler(
                    lambda: {"server": [service.process.pid], "postgres": self.pg.processes()}
                )
                with sampler.window() as cpu:
                    summary = wrk(url, bodies, seconds=self.sizes.measure_seconds, **common)
                recorded = max_position(database) - before
            finally:
                service.stop()
            self.pg.drop(name)
            graphql = {
                **latency_figures(summary),
                "events_recorded": recorded,
                "cpu": with_client(cpu, summary),
                "idle_after_start_s": round(service.quiet_after, 1),
            }

            name, database = self.pg.create("mutation_raw", template=self.dataset)
            log(f"mutation: raw appends on the application, {conns} threads")
            raw = self._raw(database, goals_path, conns)
            self.pg.drop(name)
        ratio = graphql["rps"] / raw["rate"]
        self.emit(
            figure(
                "mutation_throughput",
                ratio,
                "graphql/raw throughput",
                0.7,
                graphql=graphql,
                raw={"rps": round(raw["rate"], 1), "operations": raw["operations"]},
                connections=conns,
                goals=len(goals),
                measure_seconds=self.sizes.measure_seconds,
            )
        )

    # 5. reviews: a full cycle seeded, the log rebuilt, departmentCycleScorecard under load

    # 7. fairness: a whole cycle's audit, 10,000 employees x 7 raters x 5 competencies

    def fairness(self) -> None:
        employees = 10_000 if self.sizes is FULL else 1_000
        log(f"fairness: a synthetic cycle of {employees:,} employees (bench/fairness_bench.py)")
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "fairness_bench.py"),
                "--employees",
                str(employees),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        line = json.loads(done.stdout.strip().splitlines()[-1])
        self.emit(
            figure(
                "fairness_audit",
                line["value"],
                "s (median of 3)",
                2.0,
                at_most=True,
                **{
                    k: v
                    for k, v in line.items()
                    if k not in ("figure", "value", "unit", "target", "met")
                },
            )
        )

    # 8. pilot: the live pilot projection against production's rate (bench/pilot_bench.py)

    def pilot(self) -> None:
        import pilot_bench  # bench/ is this script's directory, first on sys.path

        employees = 3_000 if self.sizes is FULL else 300
        log(f"pilot: {employees:,} employees, a trial over a third of them (bench/pilot_bench.py)")
        result = pilot_bench.measure(self.pg, settings_for, employees)
        ratio = result.pop("ratio")
        self.emit(figure("pilot_projection_rate", ratio, "ratio", 0.5, **result))

    # 9. live: subscriptions' fan-out, commit to receipt (bench/fanout_bench.py)

    def live(self) -> None:
        import fanout_bench  # bench/ is this script's directory, first on sys.path

        for line in fanout_bench.measure(self.pg, quick=self.sizes is QUICK):
            self.emit(line)

    # 6. audit: verify throughput, as-of scorecards, audit-trail pages

    def audit(self) -> None:
        self.ensure_dataset(report=False)
        assert self.dataset is not None
        name, database = self.pg.create("audit", template=self.dataset)
        try:
            log("audit: chaining the log, then `audit verify` over all of it")
            verified = verify_against_reading(database)
            self.emit(
                figure(
                    "audit_verify_rate",
                    verified["rate"],
                    "events/s",
                    50_000,
                    events=verified["events"],
                    seconds=round(verified["verify_seconds"], 1),
                    chain_build_seconds=verified["chain_build_seconds"],
                    reference_read_and_hash_rate=round(verified["reference_rate"], 1),
                    verify_over_reference=round(verified["rate"] / verified["reference_rate"], 3),
                )
            )
            self._as_of(database)
        finally:
            self.pg.drop(name)

    def _as_of(self, database: Database) -> None:
        employee, goal, period = asyncio.run(_as_of_subject(database))
        log(f"audit: {AS_OF_EXTRA_MEASUREMENTS:,} more measurements for one employee's goal")
        app = build_application(database, settings_for(database))
        hr = Provenance("bench", Role.HR, "bench", "as-of benchmark")
        start = Period.parse(period).start
        try:
            for i in range(AS_OF_EXTRA_MEASUREMENTS):
                day = start + timedelta(days=i % 360)
                app.record_progress(hr, goal, Decimal(i % 97), day, "bench")
        finally:
            app.close()
        with self.pinned_postgres():
            service = start_service(database, self.workdir, self.server_cpus, "service-audit")
            try:
                positions = asyncio.run(_positions_of(database, employee))
                rng = random.Random(7)
                picks = [rng.choice(positions) for _ in range(300)]
                variables = {"e": str(employee), "period": period}
                as_of = [{"query": AS_OF_QUERY, "variables": {**variables, "p": p}} for p in picks]
                live = [{"query": AS_OF_QUERY, "variables": variables}] * 300
                _timed_posts(service.url, self.token, live[:20])  # warm-up
                live_ms = _timed_posts(service.url, self.token, live)
                # the first visit replays from the start and leaves checkpoints; then measure
                _timed_posts(service.url, self.token, as_of[:5])
                as_of_ms = _timed_posts(service.url, self.token, as_of)
                self.emit(
                    figure(
                        "as_of_scorecard",
                        _percentiles(as_of_ms)["p50_ms"],
                        "ms p50",
                        20,
                        at_most=True,
                        employee_events=len(positions),
                        as_of=_percentiles(as_of_ms),
                        reference_live_same_query=_percentiles(live_ms),
                        as_of_over_live_p50=round(
                            _percentiles(as_of_ms)["p50_ms"] / _percentiles(live_ms)["p50_ms"], 2
                        ),
                    )
                )
                self._trail_pages(service, database, employee)
            finally:
                service.stop()

    def _trail_pages(self, service: Server, database: Database, employee: uuid.UUID) -> None:
        deep = encode_cursor([str(max_position(database) - 1_000)])
        # The seed records everything today; a recent hour is a range with entries in it.
        month_start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        month_end = datetime.now(UTC).isoformat()
        cases = {
            "first_page": {},
            "employee": {"filter": {"employeeId": str(employee)}},
            "event_type": {"filter": {"eventType": "Goal.ProgressRecorded"}},
            "time_range": {"filter": {"from": month_start, "to": month_end}},
            "deep_cursor": {"after": deep},
        }
        figures: dict[str, Any] = {}
        for label, variables in cases.items():
            bodies = [{"query": TRAIL_QUERY, "variables": variables}] * 100
            _timed_posts(service.url, self.token, bodies[:5])
            figures[label] = _percentiles(_timed_posts(service.url, self.token, bodies))
        worst = max(f["p50_ms"] for f in figures.values())
        counted = [{"query": TRAIL_COUNT_QUERY, "variables": {}}] * 20
        figures["first_page_with_total_count"] = _percentiles(
            _timed_posts(service.url, self.token, counted)
        )
        self.emit(
            figure(
                "audit_trail_page",
                worst,
                "ms p50 (slowest filter)",
                None,
                events=self.dataset_info.get("events"),
                page_size=50,
                **figures,
            )
        )

    def reviews(self) -> None:
        employees = self.sizes.review_employees
        name, database = self.pg.create("reviews")
        log(
            f"reviews: seeding {employees:,} employees (seed {DATASET_SEED}, year "
            f"{DATASET_YEAR}) and one full review cycle: self, manager, 4 peers, 1 customer, "
            "5 competencies"
        )
        app = build_application(database, settings_for(database))
        try:
            summary = seed_organisation(
                app,
                employees=employees,
                seed=DATASET_SEED,
                year=DATASET_YEAR,
                progress=_progress,
                reviews=ONE_FULL_CYCLE,
            )
        finally:
            app.close()
            _progress_end()
        self.emit(
            figure(
                "review_seed_rate",
                summary.review_rate,
                "events/s",
                10_000,
                review_events=summary.review_events,
                seconds=round(summary.review_seconds, 1),
                appraisals=summary.appraisals,
                reviews_submitted=summary.reviews,
                calibrations=summary.calibrations,
                whole_seed={
                    "events": summary.events,
                    "rate": round(summary.rate, 1),
                    "seconds": round(summary.seconds, 1),
                },
            )
        )
        log(f"reviews: {summary.events:,} events in the log; rebuilding")
        rebuilt = asyncio.run(rebuild_like_cli(database))
        log(f"reviews: rebuilt {rebuilt['events']:,} events in {rebuilt['seconds']:.1f}s; decoding")
        decoded = decode_everything(database)
        self.emit(
            figure(
                "review_rebuild_rate",
                rebuilt["rate"],
                "events/s",
                30_000,
                events=rebuilt["events"],
                review_events=summary.review_events,
                seconds=round(rebuilt["seconds"], 1),
                catch_up_rate=round(rebuilt["catch_up_rate"], 1),
                reference_decode_rate=round(decoded["rate"], 1),
                rebuild_over_decode=round(rebuilt["rate"] / decoded["rate"], 3),
            )
        )
        try:
            cycle = str(cycle_id_for(DATASET_SEED, f"{DATASET_YEAR}-Q4"))
            self._cycle_read(database, cycle)
            self._what_if(database, uuid.UUID(cycle))
        finally:
            self.pg.drop(name)

    def _what_if(self, database: Database, cycle: uuid.UUID) -> None:
        """A pilot rule set against production over the whole cycle (10,000 people, a year of
        KPI history behind their scores), and the reference: reading the same facts."""
        app = build_application(database, settings_for(database))
        hr = Provenance("bench", Role.HR, "bench", "what-if benchmark")
        try:
            pilot = app.define_rule_set(
                hr,
                replace(DEFAULT_RULES, kpi_weight=Decimal(80), review_weight=Decimal(20)),
                "pilot",
            ).version
        finally:
            app.close()
        assert pilot is not None
        figures = asyncio.run(_time_what_if(database, cycle, pilot))
        self.emit(
            figure(
                "what_if",
                figures["seconds"],
                "s",
                5.0,
                at_most=True,
                people=figures["people"],
                moved=figures["moved"],
                reference_read_facts_seconds=round(figures["reference"], 3),
                what_if_over_reference=round(figures["seconds"] / figures["reference"], 2),
            )
        )

    def _cycle_read(self, database: Database, cycle: str) -> None:
        teams = asyncio.run(_cycle_teams(database, cycle))
        gql_bodies = self.workdir / "cycle-read-graphql.jsonl"
        gql_bodies.write_text(
            "".join(
                json.dumps({"query": CYCLE_QUERY, "variables": {"cycle": cycle, "id": str(t)}})
                + "\n"
                for t, _ in teams
            )
        )
        plain_bodies = self.workdir / "cycle-read-plain.jsonl"
        plain_bodies.write_text(
            "".join(json.dumps({"cycleId": cycle, "departmentId": str(t)}) + "\n" for t, _ in teams)
        )
        conns = self.sizes.read_connections
        results: dict[str, Any] = {}
        with self.pinned_postgres():
            log(f"reviews: departmentCycleScorecard on {len(teams)} teams, {conns} connections")
            service = start_service(database, self.workdir, self.server_cpus, "service-cycles")
            try:
                expected = _cycle_graphql_rows(service.url, self.token, cycle, teams[0][0])
                results["graphql"] = self._load(
                    service, f"{service.url}/graphql", gql_bodies, conns, "edges", '"errors"'
                )
            finally:
                service.stop()
            log("reviews: plain Starlette + asyncpg endpoint")
            plain = start_plain(database, self.workdir, self.server_cpus)
            try:
                answer = httpx.post(
                    f"{plain.url}/cycle-scorecard",
                    json={"cycleId": cycle, "departmentId": str(teams[0][0])},
                    timeout=30,
                )
                answer.raise_for_status()
                same = answer.json()["data"] == expected
                results["plain"] = self._load(
                    plain, f"{plain.url}/cycle-scorecard", plain_bodies, conns, "edges", None
                )
            finally:
                plain.stop()
        self.emit(
            figure(
                "graphql_cycle_read",
                results["graphql"]["rps"] / results["plain"]["rps"],
                "graphql/plain throughput",
                0.3,
                graphql=results["graphql"],
                plain=results["plain"],
                connections=conns,
                departments=len(teams),
                mean_members=round(sum(n for _, n in teams) / len(teams), 1),
                same_rows=same,
                measure_seconds=self.sizes.measure_seconds,
            )
        )

    def _goals(self, count: int) -> list[dict[str, str]]:
        """Open employee goals, each with a date inside its period and a plausible value."""
        assert self.dataset is not None
        database = self.pg.admin.with_dbname(self.dataset)
        with psycopg.connect(database.psycopg_conninfo()) as conn:
            rows = conn.execute(
                "SELECT id, period, baseline, target FROM goals "
                "WHERE owner_kind = 'employee' AND status = 'open' ORDER BY id LIMIT %s",
                (count,),
            ).fetchall()
        rng = random.Random(7)
        goals = []
        for goal_id, period_text, baseline, target in rows:
            period = Period.parse(period_text)
            days = (period.end - period.start).days
            as_of: date = period.start + timedelta(days=rng.randint(0, days))
            value = Decimal(baseline) + (Decimal(target) - Decimal(baseline)) * Decimal(
                str(round(rng.uniform(0.2, 1.1), 2))
            )
            goals.append({"id": str(goal_id), "asOf": as_of.isoformat(), "value": f"{value:.2f}"})
        return goals

    def _raw(self, database: Database, goals_path: Path, threads: int) -> dict[str, Any]:
        argv = taskset(
            self.server_cpus,
            [
                str(PYTHON),
                str(BENCH / "raw_append.py"),
                database.psycopg_conninfo(),
                str(goals_path),
                str(threads),
                str(self.sizes.warmup_seconds),
                str(self.sizes.measure_seconds),
            ],
        )
        timeout = self.sizes.warmup_seconds + self.sizes.measure_seconds + 120
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"raw_append failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


AS_OF_QUERY = """query($e: ID!, $period: String!, $p: Int) {
  scorecard(employeeId: $e, period: $period, asOfPosition: $p) {
    score tier coverage ruleSetVersion goals { goalId achievement contribution }
  }
}"""
TRAIL_QUERY = """query($filter: AuditTrailFilter, $after: String) {
  auditTrail(filter: $filter, first: 50, after: $after) {
    edges { cursor node { position eventType actorId summary } }
  }
}"""
# The same first page with its total count: counting every match of a filter over a million
# entries costs more than the page, which is why totalCount is computed only when asked for.
TRAIL_COUNT_QUERY = TRAIL_QUERY.replace("edges {", "totalCount edges {")
AS_OF_EXTRA_MEASUREMENTS = 1_000
OWN_KEYS = ("figure", "value", "unit", "target", "met")  # what figure() sets itself


# The what-if's reference: reading the facts it scores, the plain way (the cycle's appraisals
# with their people, and every submitted rating as a row of its own, calibrations applied).
WHAT_IF_REFERENCE = (
    """SELECT a.id, a.reviewee_id, a.calibrated_score, d.code AS department, e.code, e.name
    FROM appraisals a JOIN departments d ON d.id = a.department_id
    JOIN employees e ON e.id = a.reviewee_id WHERE a.cycle_id = $1 ORDER BY e.code""",
    """SELECT r.appraisal_id, r.rater_key, r.source, g.competency,
    coalesce(g.calibrated_value, g.submitted_value) AS value
    FROM review_raters r
    JOIN review_ratings g ON g.appraisal_id = r.appraisal_id AND g.rater_key = r.rater_key
    WHERE r.cycle_id = $1 AND r.status = 'submitted'""",
)


async def _time_what_if(database: Database, cycle: uuid.UUID, pilot: int) -> dict[str, Any]:
    """``whatif.compare`` over the whole cycle (median of 3), after the read models caught up with
    the pilot version; the reference reads the same facts without scoring them."""
    from service import whatif

    services = await build(settings_for(database).with_(run_projections=False), database)
    try:
        conn = await services.connect()
        try:
            await services.runner.catch_up(conn)
            runs, result = [], None
            for _ in range(3):
                started = time.perf_counter()
                result = await whatif.compare(conn, cycle, pilot, position=0)
                runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            for query in WHAT_IF_REFERENCE:
                await conn.fetch(query, cycle)
            reference = time.perf_counter() - started
        finally:
            await conn.close()
    finally:
        await services.stop()
    assert result is not None
    return {
        "seconds": sorted(runs)[1],
        "people": len(result.people),
        "moved": len(result.moved(1)) + len(result.moved(-1)),
        "reference": reference,
    }


def verify_against_reading(database: Database) -> dict[str, Any]:
    """`perfledger audit verify` over the whole log, and the reference: reading the same stored
    bytes and hashing each (the least any verifier must do)."""
    from service.audit import bring_chain_up_to_date, verify

    app = build_application(database, settings_for(database))
    try:
        started = time.perf_counter()
        bring_chain_up_to_date(app, database)
        chained = time.perf_counter() - started
        head = app.recorder.max_notification_id() or 0
        with psycopg.connect(database.psycopg_conninfo()) as conn:
            started = time.perf_counter()
            result = verify(app, conn, 1, head)
            verify_seconds = time.perf_counter() - started
            assert result.intact, result
            import hashlib

            started = time.perf_counter()
            with conn.cursor(binary=True, name="read_all") as cursor:
                cursor.itersize = 5000
                cursor.execute("SELECT notification_id, state FROM perfledger_events ORDER BY 1")
                read = sum(1 for _, state in cursor if hashlib.sha256(state).digest())
            read_seconds = time.perf_counter() - started
    finally:
        app.close()
    return {
        "events": result.checked,
        "chain_build_seconds": round(chained, 1),
        "verify_seconds": verify_seconds,
        "rate": result.checked / verify_seconds,
        "reference_rate": read / read_seconds,
    }


async def _as_of_subject(database: Database) -> tuple[uuid.UUID, uuid.UUID, str]:
    """An employee and one of their open goals of the dataset year (to measure many times)."""
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        row = await conn.fetchrow(
            "SELECT owner_id, id, period FROM goals WHERE owner_kind = 'employee' "
            "AND status = 'open' AND period = $1 ORDER BY owner_id, id LIMIT 1",
            str(DATASET_YEAR),
        )
    finally:
        await conn.close()
    assert row is not None, "the dataset has no open yearly employee goal"
    return row["owner_id"], row["id"], row["period"]


async def _positions_of(database: Database, employee: uuid.UUID) -> list[int]:
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        rows = await conn.fetch(
            "SELECT position FROM audit_trail WHERE employee_ids @> ARRAY[$1]::uuid[] "
            "ORDER BY position",
            employee,
        )
    finally:
        await conn.close()
    return [r["position"] for r in rows]


def _timed_posts(url: str, token: str, bodies: list[dict[str, Any]]) -> list[float]:
    """Latency of each request in turn, in ms (one client, no concurrency: what one user feels)."""
    times = []
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        for body in bodies:
            started = time.perf_counter()
            response = client.post(f"{url}/graphql", json=body)
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            answer = response.json()
            if answer.get("errors"):
                raise RuntimeError(f"GraphQL errors: {answer['errors'][:1]}")
    return times


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)

    return {"p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "requests": len(times)}


async def rebuild_like_cli(database: Database) -> dict[str, Any]:
    """What `perfledger rebuild` does (service/cli.py), timed from the reset to the last batch."""
    services = await build(settings_for(database).with_(run_projections=False), database)
    try:
        lock = await services.connect()
        if not await services.runner.try_lock(lock):
            raise RuntimeError("another projection runner holds the lock")
        work = await services.connect()
        await asyncio.to_thread(services.app.recorder.max_notification_id)
        started = time.perf_counter()
        await services.projector.reset(work)
        result = await services.runner.catch_up(work)
        seconds = time.perf_counter() - started
        await work.close()
        await lock.close()
    finally:
        await services.stop()
    return {
        "events": result.events,
        "seconds": seconds,
        "rate": result.events / seconds,
        "catch_up_rate": result.rate,
    }


def decode_everything(database: Database, batch: int = 5000) -> dict[str, Any]:
    """The reference: read the whole log through the recorder and decode every event."""
    app = build_application(database, settings_for(database))
    try:
        recorder, decode = app.recorder, app.mapper.to_domain_event
        events, after = 0, 0
        started = time.perf_counter()
        while True:
            notifications = recorder.select_notifications(after, batch, inclusive_of_start=False)
            if not notifications:
                break
            for notification in notifications:
                decode(notification)
            events += len(notifications)
            after = notifications[-1].id
        seconds = time.perf_counter() - started
    finally:
        app.close()
    return {"events": events, "seconds": seconds, "rate": events / seconds}


async def _teams(database: Database, period: str) -> list[tuple[uuid.UUID, int]]:
    """Departments with a team's worth of employee scorecards for the period."""
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        rows = await conn.fetch(
            "SELECT department_id, count(*) AS n FROM scorecards "
            "WHERE owner_kind = 'employee' AND period = $1 "
            "GROUP BY department_id HAVING count(*) >= 20 ORDER BY department_id",
            period,
        )
    finally:
        await conn.close()
    if not rows:
        raise RuntimeError("no team has 20 or more scorecards; is the dataset too small?")
    return [(r["department_id"], r["n"]) for r in rows]


async def _cycle_teams(database: Database, cycle: str) -> list[tuple[uuid.UUID, int]]:
    """Departments with a team's worth of scorecards in the cycle."""
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        rows = await conn.fetch(
            "SELECT department_id, count(*) AS n FROM cycle_scorecards WHERE cycle_id = $1 "
            "GROUP BY department_id HAVING count(*) >= 20 ORDER BY department_id",
            uuid.UUID(cycle),
        )
    finally:
        await conn.close()
    if not rows:
        raise RuntimeError("no team has 20 or more cycle scorecards; is the dataset too small?")
    return [(r["department_id"], r["n"]) for r in rows]


def _cycle_graphql_rows(url: str, token: str, cycle: str, team: uuid.UUID) -> Any:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": CYCLE_QUERY, "variables": {"cycle": cycle, "id": str(team)}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    if response.status_code != 200 or "errors" in body:
        raise RuntimeError(f"departmentCycleScorecard failed: {response.text[:500]}")
    return body["data"]


def _graphql_rows(url: str, token: str, team: uuid.UUID, period: str) -> Any:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": READ_QUERY, "variables": {"id": str(team), "period": period}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    if response.status_code != 200 or "errors" in body:
        raise RuntimeError(f"departmentScorecard failed: {response.text[:500]}")
    return body["data"]


def _plain_rows(url: str, team: uuid.UUID, period: str) -> Any:
    response = httpx.post(
        f"{url}/scorecard", json={"departmentId": str(team), "period": period}, timeout=30
    )
    response.raise_for_status()
    return response.json()["data"]


_last_progress = [0.0]


def _progress(done: int, total: int) -> None:
    now = time.monotonic()
    if now - _last_progress[0] >= 2:
        _last_progress[0] = now
        sys.stderr.write(f"\r  {done:,}/{total:,} events")
        sys.stderr.flush()


def _progress_end() -> None:
    sys.stderr.write("\n")
    sys.stderr.flush()


# -- the report -------------------------------------------------------------------------------


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [
        line
        for line in git("status", "--porcelain").splitlines()
        if not line[3:].startswith("bench/")
    ]
    return f"{commit} + uncommitted changes" if changed else commit


def append_results(
    lines: list[dict[str, Any]],
    mode: str,
    command: str,
    bench: Bench | None,
    load_before: float,
    commit: str,
) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    heading = [
        f"## {when} · commit {commit} · {mode}",
        "",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        f"- sizes: {json.dumps(asdict(bench.sizes)) if bench else '?'}",
        f"- machine busy before the run: {load_before:.0%} of all cores; load average after: "
        f"{os.getloadavg()[0]:.2f}",
    ]
    if bench is not None:
        heading.append(f"- database: {bench.pg.describe()}, a fresh database per benchmark")
        split = bench.cpus.describe() if bench.cpus else "one core: nothing pinned"
        heading.append(f"- cores (read and mutation benchmarks): {split}")
    text = "\n".join(heading) + "\n\n```json\n"
    text += "".join(json.dumps(line) + "\n" for line in lines) + "```\n\n"
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by `bench/run` (see README.md); newest at the "
            "bottom.\n\n"
        )
    with RESULTS.open("a") as out:
        out.write(text)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(f"interrupted by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument(
        "figures",
        nargs="*",
        metavar="FIGURE",
        help=f"any of {', '.join(FIGURES)} (or the figure names); all by default",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument(
        "--no-record", action="store_true", help="print only; do not append to RESULTS.md"
    )
    args = parser.parse_args(argv)
    wanted: list[str] = []
    for name in args.figures or FIGURES:
        key = ALIASES.get(name, name)
        if key not in FIGURES:
            parser.error(f"unknown figure {name!r}; choose from {', '.join(FIGURES)}")
        if key not in wanted:
            wanted.append(key)
    sizes = QUICK if args.quick else FULL
    mode = "quick" if args.quick else "full"
    command = " ".join(["bench/run", *(argv if argv is not None else sys.argv[1:])])
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _interrupt)
    signal.alarm(3600 if not args.quick else 900)  # a hard bound, far above the expected time
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="perfbench-run-"))
    if "read" in wanted or "mutation" in wanted:
        ensure_wrk()

    lines: list[dict[str, Any]] = []

    def emit(line: dict[str, Any]) -> None:
        lines.append(line)
        print(json.dumps(line), flush=True)

    commit = git_commit()  # now: the tree may change while the benchmarks run
    load_before = busy_share()
    if load_before > 0.15:
        log(f"warning: the machine is {load_before:.0%} busy before the run; figures will suffer")
    workdir = Path(tempfile.mkdtemp(prefix="perfbench-"))
    bench: Bench | None = None
    started = time.monotonic()
    try:
        bench = Bench(sizes, workdir, emit)
        steps = {
            "seed": bench.seed,
            "rebuild": lambda: bench.ensure_dataset(report=True) if bench else None,
            "read": bench.read,
            "mutation": bench.mutation,
            "reviews": bench.reviews,
            "audit": bench.audit,
            "fairness": bench.fairness,
            "live": bench.live,
            "pilot": bench.pilot,
        }
        for key in FIGURES:
            if key in wanted:
                try:
                    steps[key]()
                except Exception as error:  # record it and go on with the other figures
                    log(f"{key} failed: {error!r}")
                    emit({"figure": key, "error": repr(error)[:500]})
    finally:
        if bench is not None:
            bench.pg.close()
        log(f"done in {time.monotonic() - started:.0f}s")
        if lines and not args.no_record:
            took = f"{mode}, {time.monotonic() - started:.0f}s"
            now = git_commit()
            label = (
                commit if now == commit else f"{commit} (the tree moved to {now} during the run)"
            )
            append_results(lines, took, command, bench, load_before, label)
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any("error" in line for line in lines) else 0


if __name__ == "__main__":
    raise SystemExit(main())
