"""A deterministic, realistic synthetic organisation, recorded through the domain's own commands.

``seed_organisation`` builds a company (a root department, functions from the design brief, and
teams of about fifty under each function), hires its people with plausible names, hire dates and
group attributes, sets SMART KPI goals that cascade from department goals, confirms every goal
set, records monthly progress, and defines and adopts the production rule set. Then, per
``ReviewPlan``, quarterly review cycles, feedback and rewards (service/seed_reviews.py). Every
fact goes through the aggregates' command methods, so the seed obeys the same invariants as
production.

Determinism: every id and value comes from one ``random.Random(seed)`` consumed in a fixed order,
so the same (employees, seed, year, through) gives identical event payloads apart from their
timestamps.

Speed: aggregates are built in memory and saved in batches, one transaction each, in a
three-stage pipeline: while the builder builds a batch, a writer thread encodes (and encrypts)
the previous one and an inserter thread stores the one before that, so Python's encoding
overlaps PostgreSQL's work instead of waiting for it. A goal's measurements go into the
transaction after the one that set it up, so the log never shows progress on a goal before the
goal and its confirmed goal set.
"""

from __future__ import annotations

import calendar
import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from domain.errors import InvalidInput
from domain.goals import (
    Direction,
    Goal,
    GoalSet,
    GoalSpec,
    Horizon,
    OwnerKind,
    Perspective,
)
from domain.organisation import Department, Employee
from domain.periods import Period, PeriodKind
from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES, RuleBook
from domain.scoring import GoalFacts, score_goals
from service.application import Perfledger, department_id_for, employee_id_for
from service.seed_reviews import DEMO, Person, ReviewPlan, seed_reviews
from service.seed_reviews import estimate as estimate_reviews

MAX_EMPLOYEES = 200_000
TEAM_SIZE = 50
# A transaction holds about this many bytes of stored events. Saves this large bypass psycopg's
# pipeline mode (see service/recorder.py) and commit without waiting for the disk; the last one
# waits, which makes every earlier one durable too.
BATCH_BYTES = 2 * 1024 * 1024
# Approximate stored size of each kind of event, to stay within BATCH_BYTES without encoding twice.
SET_BYTES = {Goal: 1100, GoalSet: 300, Employee: 650, Department: 350, RuleBook: 1200}
PROGRESS_BYTES = 300
RULES_DESCRIPTION = "Initial production rules"

Progress = Callable[[int, int], None]  # (events written so far, estimated total)


@dataclass(frozen=True)
class SeedSummary:
    departments: int
    employees: int
    goals: int
    events: int
    seconds: float
    cycles: int = 0
    appraisals: int = 0
    reviews: int = 0  # submitted
    calibrations: int = 0
    feedback: int = 0
    rewards: int = 0
    # Events written after the organisation (cycles, feedback, rewards), and how long they took.
    review_events: int = 0
    review_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Events written per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def review_rate(self) -> float:
        """Events written per second after the organisation."""
        return self.review_events / self.review_seconds if self.review_seconds > 0 else 0.0


# -- the catalogue: KPIs per function -----------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    """A KPI as a goal template. ``cumulative`` KPIs count up from zero over the period (new
    customers); the others are levels that move from the baseline towards the target."""

    metric: str
    title: str
    unit: str
    perspective: Perspective
    baseline: float
    target: float
    source: str
    decimals: int = 1
    cumulative: bool = False
    floor: float | None = 0.0
    ceiling: float | None = None

    @property
    def direction(self) -> Direction:
        return (
            Direction.LOWER_IS_BETTER if self.target < self.baseline else Direction.HIGHER_IS_BETTER
        )


FIN = Perspective.FINANCIAL
CUS = Perspective.CUSTOMER
INT = Perspective.INTERNAL_PROCESS
LRN = Perspective.LEARNING_AND_GROWTH


def _percent(
    metric: str,
    title: str,
    perspective: Perspective,
    baseline: float,
    target: float,
    source: str,
    *,
    decimals: int = 1,
) -> Kpi:
    return Kpi(metric, title, "%", perspective, baseline, target, source, decimals, ceiling=100.0)


def _count(
    metric: str, title: str, unit: str, perspective: Perspective, target: float, source: str
) -> Kpi:
    return Kpi(metric, title, unit, perspective, 0, target, source, decimals=0, cumulative=True)


SALES_GROWTH_QUARTER = Kpi(
    "sales_growth_quarterly", "Quarterly sales growth", "%", FIN, 0, 8, "crm", floor=None
)
CUSTOMER_SATISFACTION = _percent(
    "customer_satisfaction", "Customer satisfaction index", CUS, 82, 90, "survey"
)
RETENTION = _percent("retention_rate", "Employee retention rate", LRN, 85, 92, "hris")
TRAINING = _percent("training_completion", "Training completion rate", LRN, 70, 95, "hris")
RESPONSE_TIME = Kpi("response_time", "First response time", "hours", INT, 8, 4, "ticketing")
TIME_TO_HIRE = Kpi("time_to_hire", "Time to hire", "days", INT, 45, 30, "hris", decimals=0)
DAYS_TO_CLOSE = Kpi("days_to_close", "Days to close the books", "days", INT, 10, 6, "erp")
INVOICE_ACCURACY = _percent(
    "invoice_accuracy", "Invoice accuracy", INT, 96, 99.5, "erp", decimals=2
)
ON_TIME_DELIVERY = _percent("on_time_delivery", "On-time delivery rate", CUS, 90, 97, "erp")
DEFECT_RATE = _percent("defect_rate", "Defect rate", INT, 3, 1.5, "erp", decimals=2)


@dataclass(frozen=True)
class Function:
    code: str
    name: str
    head_title: str
    share: int  # percent of the staff below the CEO
    female_share: float
    titles: tuple[str, ...]
    year_kpis: tuple[Kpi, ...]  # an employee's year goals are 3-5 of these
    quarter_kpis: tuple[Kpi, ...]  # two of these every quarter


COMPANY = Function(
    code="GROUP",
    name="Brightline Group",
    head_title="Chief executive officer",
    share=0,
    female_share=0.45,
    titles=(),
    year_kpis=(
        Kpi("revenue_growth", "Annual revenue growth", "%", FIN, 0, 10, "crm", floor=None),
        Kpi("ebit_margin", "EBIT margin", "%", FIN, 8, 11, "erp", floor=None),
        CUSTOMER_SATISFACTION,
        RETENTION,
    ),
    quarter_kpis=(SALES_GROWTH_QUARTER, CUSTOMER_SATISFACTION),
)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        code="SALES",
        name="Sales and key accounts",
        head_title="Head of sales",
        share=35,
        female_share=0.45,
        titles=(
            "Account manager",
            "Key account manager",
            "Sales representative",
            "Inside sales representative",
        ),
        year_kpis=(
            Kpi(
                "sales_growth_monthly",
                "Monthly sales growth rate",
                "%",
                FIN,
                0,
                2.5,
                "crm",
                floor=None,
            ),
            CUSTOMER_SATISFACTION,
            _percent("market_share", "Market share in territory", CUS, 12, 14, "crm"),
            _count("new_customers", "New customers", "customers", CUS, 24, "crm"),
            _percent("renewal_rate", "Renewal rate", CUS, 80, 88, "crm"),
        ),
        quarter_kpis=(
            SALES_GROWTH_QUARTER,
            _count("new_customers", "New customers", "customers", CUS, 6, "crm"),
        ),
    ),
    Function(
        code="CS",
        name="Customer service",
        head_title="Head of customer service",
        share=30,
        female_share=0.55,
        titles=("Customer service agent", "Senior customer service agent", "Support specialist"),
        year_kpis=(
            RESPONSE_TIME,
            Kpi(
                "star_rating",
                "Service star rating",
                "stars",
                CUS,
                3.9,
                4.5,
                "survey",
                2,
                floor=1.0,
                ceiling=5.0,
            ),
            _percent(
                "first_contact_resolution", "First-contact resolution", INT, 65, 80, "ticketing"
            ),
            CUSTOMER_SATISFACTION,
            _count("tickets_resolved", "Tickets resolved", "tickets", INT, 2400, "ticketing"),
        ),
        quarter_kpis=(
            RESPONSE_TIME,
            _count("tickets_resolved", "Tickets resolved", "tickets", INT, 600, "ticketing"),
        ),
    ),
    Function(
        code="OPS",
        name="Operations",
        head_title="Head of operations",
        share=15,
        female_share=0.35,
        titles=(
            "Operations coordinator",
            "Logistics specialist",
            "Process engineer",
            "Warehouse supervisor",
        ),
        year_kpis=(
            ON_TIME_DELIVERY,
            DEFECT_RATE,
            Kpi("cost_per_order", "Cost per order", "EUR", FIN, 12.5, 11, "erp", 2),
            _percent("capacity_utilisation", "Capacity utilisation", INT, 75, 85, "erp"),
            TRAINING,
        ),
        quarter_kpis=(ON_TIME_DELIVERY, DEFECT_RATE),
    ),
    Function(
        code="HR",
        name="Human resources",
        head_title="Head of human resources",
        share=10,
        female_share=0.70,
        titles=(
            "HR generalist",
            "Recruiter",
            "HR business partner",
            "Learning and development specialist",
        ),
        year_kpis=(
            RETENTION,
            TIME_TO_HIRE,
            TRAINING,
            _percent("engagement", "Employee engagement score", LRN, 68, 75, "survey"),
            Kpi("hr_case_resolution", "HR case resolution time", "days", INT, 10, 5, "ticketing"),
        ),
        quarter_kpis=(TIME_TO_HIRE, TRAINING),
    ),
    Function(
        code="FIN",
        name="Finance",
        head_title="Head of finance",
        share=10,
        female_share=0.50,
        titles=("Accountant", "Financial analyst", "Controller", "Accounts payable specialist"),
        year_kpis=(
            DAYS_TO_CLOSE,
            INVOICE_ACCURACY,
            Kpi("days_sales_outstanding", "Days sales outstanding", "days", FIN, 55, 45, "erp", 0),
            Kpi("budget_variance", "Budget variance", "%", FIN, 6, 2, "erp"),
            TRAINING,
        ),
        quarter_kpis=(DAYS_TO_CLOSE, INVOICE_ACCURACY),
    ),
)

# -- people ---------------------------------------------------------------------------------------

FEMALE_NAMES = (
    "Anna", "Maria", "Sofia", "Emma", "Olivia", "Julia", "Laura", "Sarah", "Lena", "Marta",
    "Ines", "Chloe", "Hannah", "Zofia", "Carmen", "Lucia", "Amelia", "Grace", "Mia", "Elena",
    "Katarzyna", "Beatriz", "Fatima", "Aisha", "Priya", "Mei", "Nora", "Clara", "Ewa", "Isabel",
)  # fmt: skip
MALE_NAMES = (
    "James", "Lukas", "Daniel", "Pablo", "Jan", "Tomas", "David", "Oliver", "Felix", "Jakub",
    "Miguel", "Thomas", "Noah", "Piotr", "Jonas", "Samuel", "Carlos", "Ahmed", "Ravi", "Wei",
    "Henry", "Leon", "Mateo", "Adam", "Ricardo", "Omar", "Paul", "Marek", "Diego", "Ben",
)  # fmt: skip
ALL_FIRST_NAMES = FEMALE_NAMES + MALE_NAMES + ("Alex", "Sam", "Robin", "Kim", "Charlie", "Jo")
LAST_NAMES = (
    "Smith", "Müller", "García", "Kowalski", "Silva", "Schmidt", "Jones", "Fernández", "Nowak",
    "Santos", "Fischer", "Brown", "López", "Wiśniewski", "Pereira", "Weber", "Taylor", "Martín",
    "Wójcik", "Costa", "Wagner", "Wilson", "Sánchez", "Kamińska", "Oliveira", "Becker", "Evans",
    "Romero", "Lewandowski", "Ferreira", "Hoffmann", "Khan", "Patel", "Nguyen", "Chen", "Meyer",
    "Walker", "Torres", "Zieliński", "Almeida", "Schulz", "Hughes", "Ruiz", "Szymański",
    "Rodrigues", "Koch", "Clarke", "Navarro", "Dąbrowski", "Martins",
)  # fmt: skip
LOCATIONS = ("Berlin", "London", "Madrid", "Warsaw", "Lisbon")
LOCATION_WEIGHTS = (30, 25, 15, 18, 12)
REMOTE_SHARE = 0.08
AGE_BANDS = ("18-29", "30-39", "40-49", "50+")
AGE_BAND_WEIGHTS = (22, 33, 25, 20)
PART_TIME_SHARE = 0.12


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = 0.0
    out: list[float] = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


LOCATION_CUM = _cumulative(LOCATION_WEIGHTS)
AGE_BAND_CUM = _cumulative(AGE_BAND_WEIGHTS)


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; ties to the first)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def default_through(year: int, today: date | None = None) -> date:
    """Progress exists for every whole month so far: to Dec 31 of a past year, else to the end
    of the month before today (before Jan 31 of ``year``: no progress at all)."""
    today = today or date.today()
    if year < today.year:
        return date(year, 12, 31)
    return today.replace(day=1) - timedelta(days=1)


# -- the generator --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Measured:
    """A goal and its monthly readings, recorded in the transaction after the one setting it up."""

    goal: Goal
    source: str
    readings: list[tuple[Decimal, date]]


class _Seeder:
    def __init__(
        self,
        app: Perfledger,
        *,
        seed: int,
        year: int,
        through: date,
        estimate: int,
        progress: Progress | None,
        writer: Executor,
        inserter: Executor,
    ) -> None:
        self.app = app
        self.writer = writer  # encodes batches
        self.inserter = inserter  # stores them, in order
        self.in_flight: Future[int] | None = None  # the batch being encoded
        self.inserting: Future[int] | None = None  # the batch being stored
        self.rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        self.provenance = Provenance("seed", Role.SYSTEM, f"seed-{seed}")
        self.year = year
        self.quarters = [Period(year, PeriodKind.QUARTER, q) for q in range(1, 5)]
        month_ends = [Period(year, PeriodKind.MONTH, m).end for m in range(1, 13)]
        self.year_months = [(m, end) for m, end in enumerate(month_ends, 1) if end <= through]
        self.quarter_months = [
            [(m - 3 * q, end) for m, end in self.year_months if 3 * q < m <= 3 * q + 3]
            for q in range(4)
        ]
        self.estimate = estimate
        self.progress = progress
        self.set_up: list[Aggregate] = []
        self.measured: list[_Measured] = []
        self.carried: list[_Measured] = []  # measured in the next transaction
        self.set_up_bytes = 0
        self.measured_bytes = 0
        self.events = 0
        self.departments = 0
        self.employees = 0
        self.goals = 0
        self.people: list[Person] = []  # for the review seed, in hiring order
        self.unsynced = False  # the last write committed without waiting for the disk
        self.rules = DEFAULT_RULES.validated()  # what the rule book adopts: KPI scores under it

    # batching

    def add(self, aggregate: Aggregate, size: int) -> None:
        """Queue an aggregate of the review seed (``size``: its events' approximate bytes)."""
        self.set_up.append(aggregate)
        self.set_up_bytes += size
        self.maybe_flush()

    def settle(self) -> None:
        """Write everything queued, the last batch's measurements too, and wait for it."""
        self.flush()
        if self.carried:
            self.flush()
        self.drain()

    def _add(self, aggregate: Aggregate) -> None:
        self.set_up.append(aggregate)
        self.set_up_bytes += SET_BYTES[type(aggregate)] * len(aggregate.pending_events)

    def maybe_flush(self) -> None:
        if self.set_up_bytes + self.measured_bytes >= BATCH_BYTES:
            self.flush()

    def flush(self, *, durable: bool = False) -> None:
        """Hand the batch to the writer thread, once it has written the previous one.

        One transaction holds the measurements of the previous batch (whose goals the previous
        transaction stored), then this batch's new facts: the log never shows progress before
        its goal, and each batch costs one transaction. Python builds the next batch while
        PostgreSQL stores this one. The writer owns the batch's aggregates from here on; the
        builder only reads the ids and status of the department goals and managers it keeps as
        parents, which recording progress does not change.
        """
        set_up, measured = self.set_up, self.carried
        self.carried, self.set_up, self.measured = self.measured, [], []
        self.set_up_bytes = self.measured_bytes = 0
        self.wait()
        self.in_flight = self.writer.submit(self._write, set_up, measured, durable)

    def finish(self) -> None:
        # Commits that wait for the disk: each makes every earlier (bulk) commit durable too.
        self.flush(durable=True)
        self.flush(durable=True)  # the last batch's measurements
        self.drain()
        recorder = self.app.recorder
        if self.unsynced and isinstance(recorder, PostgresApplicationRecorder):
            # Nothing was left for a waiting commit (the last batch was written by settle()):
            # a transaction that takes a transaction id commits durably, and with it
            # everything committed before.
            with recorder.datastore.transaction(commit=True) as curs:
                curs.execute("SELECT txid_current()")

    def wait(self) -> None:
        """Wait until the writer has taken the batch it encodes (stored the one before)."""
        if self.in_flight is None:
            return
        self.stored(self.in_flight.result())
        self.in_flight = None

    def drain(self) -> None:
        """Wait until every batch handed over is stored."""
        self.wait()
        if self.inserting is not None:
            self.stored(self.inserting.result())
            self.inserting = None

    def stored(self, events: int) -> None:
        self.events += events
        if self.progress is not None:
            self.progress(self.events, max(self.estimate, self.events))

    def _write(self, set_up: list[Aggregate], measured: list[_Measured], durable: bool) -> int:
        """On the writer thread: record the measurements, encode the batch's events as the
        application's save would, and hand them to the inserter once it stored the previous
        batch (so batches are stored in order, and at most one waits). Returns the number of
        events of that previous batch."""
        provenance = self.provenance
        for item in measured:
            for value, as_of in item.readings:
                item.goal.record_progress(value, as_of, item.source, provenance)
        aggregates = [*(item.goal for item in measured), *set_up]
        encode = self.app.mapper.to_stored_event
        stored = [encode(event) for aggregate in aggregates for event in aggregate.collect_events()]
        done = 0
        if self.inserting is not None:
            done = self.inserting.result()
            self.inserting = None
        if stored:
            self.inserting = self.inserter.submit(self._insert, stored, durable)
        return done

    def _insert(self, stored: list[StoredEvent], durable: bool) -> int:
        # The recorder directly: the application's save would only add caching the seed does
        # not want (a store this size does not fit the aggregate cache anyway).
        self.app.recorder.insert_events(stored, bulk=not durable)
        self.unsynced = not durable
        return len(stored)

    def readings(
        self,
        kpi: Kpi,
        baseline: float,
        target: float,
        bias: float,
        months: Sequence[tuple[int, date]],
        length: int,
    ) -> list[tuple[Decimal, date]]:
        """Monthly values: ``bias`` is the share of the way to target reached by the period's
        end, give or take. Drawn here, in the builder, so the random sequence stays fixed."""
        rng = self.rng
        fmt = f".{kpi.decimals}f"
        gap = target - baseline
        value = baseline
        out: list[tuple[Decimal, date]] = []
        for number, month_end in months:
            if kpi.cumulative:
                # Counts only go up; some months are better than others.
                value += gap * bias / length * max(0.0, 1.0 + rng.gauss(0.0, 0.25))
            else:
                # Levels drift from the baseline towards where this owner ends up, with noise.
                share = bias * (0.3 + 0.7 * number / length) + rng.gauss(0.0, 0.06)
                value = baseline + gap * share
                if kpi.floor is not None and value < kpi.floor:
                    value = kpi.floor
                if kpi.ceiling is not None and value > kpi.ceiling:
                    value = kpi.ceiling
            # round() then + 0.0 turns a -0.0 into 0.0, so "-0.0" never reaches the log.
            out.append((Decimal(format(round(value, kpi.decimals) + 0.0, fmt)), month_end))
        return out

    # ids and small draws

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def weights(self, count: int) -> list[Decimal]:
        """``count`` weights in steps of 5, each at least 10, totalling exactly 100."""
        units = [2] * count
        for index in self.rng.choices(range(count), k=20 - 2 * count):
            units[index] += 1
        return [Decimal(5 * unit) for unit in units]

    # goals

    def goal_set(
        self,
        owner_kind: OwnerKind,
        owner_id: uuid.UUID,
        department_id: uuid.UUID,
        period: Period,
        kpis: Sequence[Kpi],
        *,
        parents: Sequence[dict[str, Goal]],
        bias: Callable[[], float],
        scale: int = 1,
        jitter: bool = False,
        facts: list[GoalFacts] | None = None,
    ) -> dict[str, Goal]:
        """Set one goal per KPI for the owner and period, weights totalling 100, and confirm;
        with ``facts``, add each goal's facts as of its last reading to it, for scoring."""
        rng, provenance = self.rng, self.provenance
        period_text = str(period)
        if period.kind is PeriodKind.YEAR:
            horizon, months, length = Horizon.LONG_TERM, self.year_months, 12
        else:
            horizon, months, length = (
                Horizon.SHORT_TERM,
                self.quarter_months[period.index - 1],
                3,
            )
        goal_set = GoalSet.start(owner_kind, owner_id, period_text, self.provenance)
        goals: dict[str, Goal] = {}
        for kpi, weight in zip(kpis, self.weights(len(kpis)), strict=True):
            baseline = kpi.baseline
            target = kpi.target * scale if kpi.cumulative else kpi.target
            if jitter and not kpi.cumulative:
                # Individual starting points differ; never so much that the target is passed.
                baseline += (target - baseline) * rng.uniform(-0.3, 0.3)
            spec_baseline = _decimal(baseline, kpi.decimals)
            spec_target = _decimal(target, kpi.decimals)
            parent = next((p[kpi.metric] for p in parents if kpi.metric in p), None)
            goal = Goal.set(
                id=self.new_id(),
                owner_kind=owner_kind,
                owner_id=owner_id,
                department_id=department_id,
                parent=parent,
                spec=GoalSpec(
                    title=kpi.title,
                    metric=kpi.metric,
                    unit=kpi.unit,
                    direction=kpi.direction,
                    baseline=spec_baseline,
                    target=spec_target,
                    weight=weight,
                    perspective=kpi.perspective,
                    horizon=horizon,
                    period=period_text,
                    due_date=period.end,
                ),
                provenance=provenance,
            )
            goal_set.add(goal.id, weight, provenance)
            goals[kpi.metric] = goal
            self._add(goal)
            if months:
                readings = self.readings(
                    kpi, float(spec_baseline), float(spec_target), bias(), months, length
                )
                self.measured.append(_Measured(goal, kpi.source, readings))
                self.measured_bytes += PROGRESS_BYTES * len(months)
            if facts is not None:
                facts.append(
                    GoalFacts(
                        goal.id,
                        kpi.title,
                        weight,
                        kpi.direction,
                        spec_baseline,
                        spec_target,
                        kpi.perspective,
                        readings[-1][0] if months else None,
                    )
                )
        goal_set.confirm(provenance)
        self._add(goal_set)
        self.goals += len(goals)
        return goals

    def department(
        self,
        code: str,
        name: str,
        parent_id: uuid.UUID | None,
        kpis: Sequence[Kpi],
        *,
        parents: Sequence[dict[str, Goal]],
        headcount: int,
        performance: float,
    ) -> tuple[uuid.UUID, dict[str, Goal]]:
        department = Department.open(
            id=department_id_for(code),
            code=code,
            name=name,
            parent_id=parent_id,
            provenance=self.provenance,
        )
        self._add(department)
        self.departments += 1
        goals = self.goal_set(
            OwnerKind.DEPARTMENT,
            department.id,
            department.id,
            Period(self.year, PeriodKind.YEAR, 1),
            kpis,
            parents=parents,
            bias=lambda: performance + self.rng.gauss(0.0, 0.05),
            scale=headcount,
        )
        return department.id, goals

    def employee(
        self,
        function: Function,
        department_id: uuid.UUID,
        manager: Employee | None,
        job_title: str,
        *,
        location: str,
        tenure_years: float,
        performance: float,
        parents: Sequence[dict[str, Goal]],
    ) -> Employee:
        rng = self.rng
        self.employees += 1
        code = f"E{self.employees:06d}"
        draw = rng.random()
        first: tuple[str, ...]
        if draw < function.female_share:
            gender, first = "female", FEMALE_NAMES
        elif draw < 0.98:
            gender, first = "male", MALE_NAMES
        else:
            gender, first = ("non_binary" if draw < 0.995 else "undisclosed"), ALL_FIRST_NAMES
        days = 1 + min(int(rng.expovariate(1.0 / (tenure_years * 365.0))), 25 * 365)
        employee = Employee.hire(
            id=employee_id_for(code),
            code=code,
            name=f"{rng.choice(first)} {rng.choice(LAST_NAMES)}",
            department_id=department_id,
            manager=manager,
            job_title=job_title,
            hire_date=date(self.year, 1, 1) - timedelta(days=days),
            attributes={
                "gender": gender,
                "location": "Remote" if rng.random() < REMOTE_SHARE else location,
                "age_band": rng.choices(AGE_BANDS, cum_weights=AGE_BAND_CUM)[0],
                "contract": "part_time" if rng.random() < PART_TIME_SHARE else "full_time",
            },
            provenance=self.provenance,
        )
        self._add(employee)
        # Skill is drawn independently of every group attribute: any gap a fairness audit
        # finds in seeded KPI data comes from chance or the mix of functions, not from the
        # seed (the review seed plants rating biases on purpose; see service/seed_reviews.py).
        skill = min(1.35, max(0.35, rng.gauss(performance, 0.17)))
        person = Person(
            id=employee.id,
            code=code,
            name=employee.name,
            manager_id=employee.manager_id,
            department_id=department_id,
            function=function.code,
            team_lead=job_title == "Team lead",
            contract=employee.attributes["contract"],
            skill=skill,
            gender=gender,
        )
        self.people.append(person)

        def bias() -> float:
            return min(1.5, max(0.2, skill + rng.gauss(0.0, 0.12)))

        count = rng.choice((3, 4, 4, 5))
        year_kpis = rng.sample(function.year_kpis, min(count, len(function.year_kpis)))
        self.goal_set(
            OwnerKind.EMPLOYEE,
            employee.id,
            department_id,
            Period(self.year, PeriodKind.YEAR, 1),
            year_kpis,
            parents=parents,
            bias=bias,
            jitter=True,
        )
        for quarter in self.quarters:
            facts: list[GoalFacts] = []
            goals = self.goal_set(
                OwnerKind.EMPLOYEE,
                employee.id,
                department_id,
                quarter,
                rng.sample(function.quarter_kpis, 2),
                parents=parents,
                bias=bias,
                jitter=True,
                facts=facts,
            )
            person.kpi.append(score_goals(facts, self.rules).score)
            person.goals.append(next(iter(goals.values()), None))
        self.maybe_flush()
        return employee

    def rule_book(self) -> None:
        book = RuleBook.open(self.provenance)
        version = book.define(DEFAULT_RULES, RULES_DESCRIPTION, self.provenance)
        book.adopt(version, date(self.year - 5, 1, 1), self.provenance)
        self._add(book)

    def organisation(self, employees: int) -> None:
        rng = self.rng
        company_id, company_goals = self.department(
            COMPANY.code,
            COMPANY.name,
            None,
            COMPANY.year_kpis,
            parents=(),
            headcount=employees,
            performance=0.95,
        )
        ceo = self.employee(
            COMPANY,
            company_id,
            None,
            COMPANY.head_title,
            location=LOCATIONS[0],
            tenure_years=8.0,
            performance=0.95,
            parents=(company_goals,),
        )
        functions = FUNCTIONS[: min(len(FUNCTIONS), employees - 1)]
        staff = _apportion(employees - 1 - len(functions), [f.share for f in functions])
        for function, members in zip(functions, staff, strict=True):
            function_performance = rng.gauss(0.92, 0.04)
            function_id, function_goals = self.department(
                function.code,
                function.name,
                company_id,
                rng.sample(function.year_kpis, rng.choice((3, 4))),
                parents=(company_goals,),
                headcount=members + 1,
                performance=function_performance,
            )
            head = self.employee(
                function,
                function_id,
                ceo,
                function.head_title,
                location=LOCATIONS[0],
                tenure_years=6.0,
                performance=function_performance,
                parents=(function_goals,),
            )
            teams = max(1, round(members / TEAM_SIZE)) if members else 0
            sizes = _apportion(members, [rng.uniform(0.85, 1.15) for _ in range(teams)])
            per_location: dict[str, int] = {}
            for number, size in enumerate(sizes, 1):
                location = rng.choices(LOCATIONS, cum_weights=LOCATION_CUM)[0]
                per_location[location] = per_location.get(location, 0) + 1
                team_name = f"{function.name} {location} {per_location[location]}"
                team_performance = function_performance + rng.gauss(0.0, 0.06)
                team_id, team_goals = self.department(
                    f"{function.code}-{number:03d}",
                    team_name,
                    function_id,
                    [k for k in function.year_kpis if k.metric in function_goals],
                    parents=(function_goals,),
                    headcount=size,
                    performance=team_performance,
                )
                lead: Employee | None = None
                for _ in range(size):
                    hired = self.employee(
                        function,
                        team_id,
                        lead or head,
                        "Team lead" if lead is None else rng.choice(function.titles),
                        location=location,
                        tenure_years=4.0 if lead is None else 3.0,
                        performance=team_performance,
                        parents=(team_goals, function_goals),
                    )
                    lead = lead or hired


def _decimal(value: float, decimals: int) -> Decimal:
    return Decimal(format(round(value, decimals) + 0.0, f".{decimals}f"))


def _estimate(employees: int, year_months: int, quarter_months: Sequence[int]) -> int:
    """Roughly how many events a seed writes (year goals average four per person)."""
    per_year_goal = 2 + year_months
    per_employee = 1 + 2 + 4 * per_year_goal + sum(2 + 2 * (2 + m) for m in quarter_months)
    departments = 1 + len(FUNCTIONS) + employees // TEAM_SIZE
    return 3 + employees * per_employee + departments * (3 + 4 * per_year_goal)


def seed_organisation(
    app: Perfledger,
    *,
    employees: int,
    seed: int,
    year: int = 2026,
    through: date | None = None,
    progress: Progress | None = None,
    reviews: ReviewPlan = DEMO,
) -> SeedSummary:
    """Record a synthetic organisation of ``employees`` people into an empty event store.

    ``through`` is the last day monthly progress may be dated: every month of ``year`` that has
    ended by then gets a measurement per goal. By default it is Dec 31 for a past year and
    otherwise the end of the month before today (see ``default_through``), so a seed never
    measures the future. ``progress(events_written, estimated_total)`` is called after each
    batch. ``reviews`` says which review cycles, feedback and rewards follow the organisation
    (service/seed_reviews.py); nothing is dated after ``through`` either.
    """
    if not 1 <= employees <= MAX_EMPLOYEES:
        raise InvalidInput(
            f"employees is {employees}; it must lie between 1 and {MAX_EMPLOYEES:,}",
            field="employees",
        )
    if not 1905 <= year <= 2200:
        raise InvalidInput(f"year {year} lies outside 1905 to 2200", field="year")
    if app.recorder.max_notification_id():
        raise InvalidInput("the store is not empty; seed only into an empty store")
    started = time.perf_counter()
    through = min(through or default_through(year), date(year, 12, 31))
    months = [m for m in range(1, 13) if date(year, m, calendar.monthrange(year, m)[1]) <= through]
    quarter_months = [sum(1 for m in months if 3 * q < m <= 3 * q + 3) for q in range(4)]
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-writer") as writer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-inserter") as inserter,
    ):
        seeder = _Seeder(
            app,
            seed=seed,
            year=year,
            through=through,
            estimate=_estimate(employees, len(months), quarter_months)
            + estimate_reviews(employees, year, through, reviews),
            progress=progress,
            writer=writer,
            inserter=inserter,
        )
        seeder.rule_book()
        seeder.organisation(employees)
        # The organisation is written in full first, so the review phase is timed on its own.
        seeder.settle()
        organisation_events, reviews_started = seeder.events, time.perf_counter()
        counts = seed_reviews(
            seeder,
            seeder.people,
            seed=seed,
            year=year,
            through=through,
            root_department=department_id_for(COMPANY.code),
            provenance=seeder.provenance,
            rules=seeder.rules,
            plan=reviews,
        )
        seeder.finish()
    finished = time.perf_counter()
    return SeedSummary(
        departments=seeder.departments,
        employees=seeder.employees,
        goals=seeder.goals,
        events=seeder.events,
        seconds=finished - started,
        cycles=counts.cycles,
        appraisals=counts.appraisals,
        reviews=counts.reviews,
        calibrations=counts.calibrations,
        feedback=counts.feedback,
        rewards=counts.rewards,
        review_events=seeder.events - organisation_events,
        review_seconds=finished - reviews_started,
    )
