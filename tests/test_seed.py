"""The synthetic organisation: recorded through the domain on PostgreSQL, complete, consistent,
reproducible from its seed, and only ever into an empty store."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from domain.errors import InvalidInput
from domain.goals import Direction, Goal, GoalSet, OwnerKind
from domain.organisation import Department, Employee
from domain.periods import Period
from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES, RuleBook
from projections.base import event_type
from service.application import Perfledger
from service.bootstrap import Services
from service.database import Database
from service.seed import MAX_EMPLOYEES, default_through, seed_organisation
from tests.helpers import HR, catch_up

THROUGH = date(2026, 6, 30)  # Jan-Jun measured: Q1 and Q2 complete, Q3 and Q4 not begun


def events_of(app: Perfledger) -> list[Any]:
    return [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 10_000_000)]


def payloads(app: Perfledger) -> list[tuple[object, ...]]:
    """Every event in log order: decoded, and as stored, both without its timestamp."""
    out: list[tuple[object, ...]] = []
    for notification in app.recorder.select_notifications(1, 10_000_000):
        event = app.mapper.to_domain_event(notification)
        decoded = {k: v for k, v in vars(event).items() if k != "timestamp"}
        stored = json.loads(notification.state)
        del stored["timestamp"]
        out.append((notification.originator_id, notification.topic, decoded, stored))
    return out


def of(events: list[Any], aggregate: type, name: str) -> list[Any]:
    cls = event_type(aggregate, name)
    return [e for e in events if type(e) is cls]


@pytest.fixture
def fresh_app(admin_database: Database) -> Iterator[Callable[[], Perfledger]]:
    """Applications on databases of their own, as many as a test asks for."""
    made: list[tuple[str, Perfledger]] = []

    def make() -> Perfledger:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(admin_database.psycopg_conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        app = Perfledger(env=admin_database.with_dbname(name).eventsourcing_env())
        made.append((name, app))
        return app

    yield make
    for name, app in made:
        app.close()
        with psycopg.connect(admin_database.psycopg_conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_sixty_employees_make_a_complete_organisation_recorded_by_the_seed(
    app: Perfledger,
) -> None:
    reported: list[tuple[int, int]] = []
    summary = seed_organisation(
        app, employees=60, seed=7, through=THROUGH, progress=lambda *a: reported.append(a)
    )
    events = events_of(app)

    assert summary.employees == 60
    assert summary.events == len(events) == app.recorder.max_notification_id()
    assert summary.goals == len(of(events, Goal, "Set"))
    assert summary.seconds > 0
    assert summary.rate == pytest.approx(summary.events / summary.seconds)
    assert reported
    assert reported[-1][0] == summary.events
    assert [done for done, _ in reported] == sorted(done for done, _ in reported)
    assert all(total >= done for done, total in reported)
    # Everything was recorded by the seed, as the system (calibrations and rewards with reasons).
    assert {e.provenance.because(None) for e in events if hasattr(e, "provenance")} == {
        Provenance("seed", Role.SYSTEM, "seed-7")
    }

    # A company, five functions under it, one team of about ten under each function.
    departments = {e.originator_id: e for e in of(events, Department, "Opened")}
    assert summary.departments == len(departments) == 11
    roots = [d for d in departments.values() if d.parent_id is None]
    assert len(roots) == 1
    functions = [d for d in departments.values() if d.parent_id == roots[0].originator_id]
    assert {d.code for d in functions} == {"SALES", "CS", "OPS", "HR", "FIN"}
    function_ids = {d.originator_id for d in functions}
    assert all(
        d.parent_id in function_ids
        for d in departments.values()
        if d is not roots[0] and d not in functions
    )

    # A CEO, a head per function reporting to the CEO, a team lead per team, the rest below.
    hired = {e.originator_id: e for e in of(events, Employee, "Hired")}
    assert len(hired) == 60
    assert len({e.code for e in hired.values()}) == 60
    (ceo,) = [e for e in hired.values() if e.manager_id is None]
    assert ceo.department_id == roots[0].originator_id
    heads = [e for e in hired.values() if e.manager_id == ceo.originator_id]
    assert {e.department_id for e in heads} == function_ids
    leads = [e for e in hired.values() if e.job_title == "Team lead"]
    assert len(leads) == 5
    staff = [e for e in hired.values() if e not in (ceo, *heads, *leads)]
    assert all(hired[e.manager_id].job_title == "Team lead" for e in staff)
    for employee in hired.values():
        assert set(employee.attributes) == {"gender", "location", "age_band", "contract"}
        assert employee.hire_date < date(2026, 1, 1)
        assert " " in employee.name

    # Rules: the production defaults, adopted five years back.
    (defined,) = of(events, RuleBook, "VersionDefined")
    (adopted,) = of(events, RuleBook, "VersionAdopted")
    assert (defined.version, defined.description) == (1, "Initial production rules")
    assert defined.rules == DEFAULT_RULES.validated()
    assert (adopted.version, adopted.effective_from) == (1, date(2021, 1, 1))


def test_every_goal_set_totals_exactly_100_and_is_confirmed(app: Perfledger) -> None:
    seed_organisation(app, employees=60, seed=11, through=THROUGH)
    events = events_of(app)
    goals = {e.originator_id: e for e in of(events, Goal, "Set")}
    started = {e.originator_id: e for e in of(events, GoalSet, "Started")}
    weights: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for added in of(events, GoalSet, "GoalAdded"):
        weights[added.originator_id] += added.weight
        members[added.originator_id].append(added.goal_id)
    confirmed = {e.originator_id: e.total_weight for e in of(events, GoalSet, "Confirmed")}

    assert set(confirmed) == set(started)
    assert set(weights.values()) == {Decimal(100)}
    assert set(confirmed.values()) == {Decimal(100)}
    assert sorted(g for ids in members.values() for g in ids) == sorted(goals)

    employees = {e.originator_id for e in of(events, Employee, "Hired")}
    periods_of: dict[uuid.UUID, set[str]] = defaultdict(set)
    for goal_set in started.values():
        periods_of[goal_set.owner_id].add(goal_set.period)
        ids = members[goal_set.originator_id]
        assert all(goals[g].owner_id == goal_set.owner_id for g in ids)
        assert all(goals[g].spec.period == goal_set.period for g in ids)
        if goal_set.owner_kind is OwnerKind.EMPLOYEE:
            # 3-5 year goals, two goals a quarter
            assert 3 <= len(ids) <= 5 if goal_set.period == "2026" else len(ids) == 2
    for employee in employees:
        assert periods_of[employee] == {"2026", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"}

    for goal in goals.values():
        spec = goal.spec
        assert spec.due_date == Period.parse(spec.period).end
        lower = spec.direction is Direction.LOWER_IS_BETTER
        assert (spec.target < spec.baseline) if lower else (spec.target > spec.baseline)
        if spec.metric in {"time_to_hire", "response_time"}:
            assert lower
    # Employee goals cascade from their department's goals.
    cascaded = [
        g for g in goals.values() if g.owner_kind is OwnerKind.EMPLOYEE and g.parent_goal_id
    ]
    assert len(cascaded) > len(employees)
    assert all(goals[g.parent_goal_id].owner_kind is OwnerKind.DEPARTMENT for g in cascaded)
    assert all(goals[g.parent_goal_id].spec.metric == g.spec.metric for g in cascaded)


def test_progress_is_recorded_for_every_month_ended_by_the_through_date(
    app: Perfledger,
) -> None:
    seed_organisation(app, employees=30, seed=5, through=date(2026, 5, 20))
    events = events_of(app)
    goals = {e.originator_id: e.spec for e in of(events, Goal, "Set")}
    readings: dict[uuid.UUID, list[date]] = defaultdict(list)
    for reading in of(events, Goal, "ProgressRecorded"):
        readings[reading.originator_id].append(reading.as_of)
        assert reading.source in {"crm", "hris", "survey", "ticketing", "erp"}
    month_ends = [Period.parse(f"2026-{m:02d}").end for m in range(1, 5)]  # Jan-Apr
    for goal_id, spec in goals.items():
        period = Period.parse(spec.period)
        assert readings[goal_id] == [d for d in month_ends if period.contains(d)]
    # Each goal is set, and its goal set confirmed, before any progress on it is logged.
    index = {(e.originator_id, e.originator_version): i for i, e in enumerate(events)}
    set_of = {e.goal_id: e.originator_id for e in of(events, GoalSet, "GoalAdded")}
    confirmed_at = {
        e.originator_id: index[(e.originator_id, e.originator_version)]
        for e in of(events, GoalSet, "Confirmed")
    }
    first_reading: dict[uuid.UUID, int] = {}
    for reading in of(events, Goal, "ProgressRecorded"):
        position = index[(reading.originator_id, reading.originator_version)]
        first_reading.setdefault(reading.originator_id, position)
    assert first_reading
    for goal_id, i in first_reading.items():
        assert index[(goal_id, 1)] < i
        assert confirmed_at[set_of[goal_id]] < i


def test_the_same_seed_gives_the_same_events_and_another_seed_does_not(
    fresh_app: Callable[[], Perfledger],
) -> None:
    first, again, other = fresh_app(), fresh_app(), fresh_app()
    seed_organisation(first, employees=25, seed=3, through=THROUGH)
    seed_organisation(again, employees=25, seed=3, through=THROUGH)
    seed_organisation(other, employees=25, seed=4, through=THROUGH)
    assert payloads(first) == payloads(again)
    assert payloads(first) != payloads(other)
    names = {e.name for e in of(events_of(first), Employee, "Hired")}
    assert names != {e.name for e in of(events_of(other), Employee, "Hired")}


def test_seeding_into_a_store_that_holds_events_is_refused_and_records_nothing(
    app: Perfledger,
) -> None:
    app.open_department(HR, code="OLD", name="Already here", parent_id=None)
    before = app.recorder.max_notification_id()
    with pytest.raises(InvalidInput, match="the store is not empty; seed only into an empty"):
        seed_organisation(app, employees=5, seed=1)
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize("employees", [0, -3, MAX_EMPLOYEES + 1])
def test_employee_counts_outside_1_to_200000_are_rejected(app: Perfledger, employees: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        seed_organisation(app, employees=employees, seed=1)
    assert raised.value.field == "employees"
    assert app.recorder.max_notification_id() is None


def test_a_single_employee_is_a_ceo_of_a_company(app: Perfledger) -> None:
    summary = seed_organisation(app, employees=1, seed=1, through=THROUGH)
    assert (summary.employees, summary.departments) == (1, 1)
    (ceo,) = of(events_of(app), Employee, "Hired")
    assert ceo.job_title == "Chief executive officer"


def test_progress_runs_to_the_last_whole_month_by_default() -> None:
    assert default_through(2025, today=date(2026, 11, 21)) == date(2025, 12, 31)
    assert default_through(2026, today=date(2026, 11, 21)) == date(2026, 10, 31)
    assert default_through(2026, today=date(2026, 1, 15)) == date(2025, 12, 31)  # none yet
    assert default_through(2027, today=date(2026, 11, 21)) == date(2026, 10, 31)  # none yet


async def test_every_seeded_employee_gets_scorecards_under_rule_set_1(
    services: Services,
) -> None:
    summary = await services.call(
        seed_organisation, services.app, employees=60, seed=2, through=THROUGH
    )
    caught_up = await catch_up(services)
    assert caught_up.position == summary.events
    async with services.read_pool.acquire() as read:
        rows = await read.fetch(
            "SELECT owner_id, period, rule_set_version, score, measured_count "
            "FROM scorecards WHERE owner_kind = 'employee'"
        )
    periods: dict[uuid.UUID, set[str]] = defaultdict(set)
    for row in rows:
        periods[row["owner_id"]].add(row["period"])
    assert len(periods) == 60
    assert all(p == {"2026", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"} for p in periods.values())
    assert {row["rule_set_version"] for row in rows} == {1}
    scored = Counter(row["period"] for row in rows if row["score"] is not None)
    # Measured periods are scored for everyone; quarters not yet begun are not.
    assert scored == {"2026": 60, "2026-Q1": 60, "2026-Q2": 60}
