"""A rolled-back trial leaves production exactly as if it had never run.

Two organisations are seeded identically. The same production facts are then recorded in both,
in the same order; in one of them a trial also runs in between: it starts, takes participants'
feedback and provisional rewards, is revised, and is rolled back. Afterwards every production
read model of the two must hold the same rows: every column alike, log positions compared
through the events they name (the trial's events occupy positions of their own, so the same
fact sits at another position), and only wall-clock timestamps left out (the two logs were
written at different moments). The trial's own records, its rewards and the audit trail are
what tells them apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from domain.feedback import FeedbackKind, FeedbackVisibility
from domain.provenance import Provenance, Role
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import DEFAULT_RULES
from service.application import Perfledger
from service.bootstrap import Services, build
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import DEMO
from tests.conftest import make_settings, throwaway_database
from tests.helpers import catch_up, fetch

SEED = 21
THROUGH = date(2026, 8, 31)
HR = Provenance("hr-1", Role.HR, "rollback-test", "pilot")
BONUS = RewardSpec(RewardKind.BONUS, amount=Money(Decimal(500), "EUR"))
# Read models that record the trial itself, by design, rather than production's results.
NOT_PRODUCTION = ("audit", "trial", "pilot")


@pytest.fixture
def control_database(admin_database: Database) -> Iterator[Database]:
    with throwaway_database(admin_database) as fresh:
        yield fresh


@dataclass
class Organisation:
    services: Services

    @property
    def app(self) -> Perfledger:
        return self.services.app


async def seeded(database: Database) -> Organisation:
    services = await build(make_settings(), database)
    await services.call(
        lambda: seed_organisation(
            services.app, employees=40, seed=SEED, through=THROUGH, reviews=DEMO
        )
    )
    for weights, name in (((85, 15), "pilot: heavier KPIs"), ((75, 25), "pilot, revised")):
        rules = replace(
            DEFAULT_RULES, kpi_weight=Decimal(weights[0]), review_weight=Decimal(weights[1])
        )
        services.app.define_rule_set(HR, rules, name)
    await catch_up(services)
    return Organisation(services)


@dataclass(frozen=True)
class Cast:
    """Who the story is about, read from the (identical) seeded organisation."""

    scope: UUID  # the department piloted
    participant: UUID
    manager: UUID
    outsider: UUID
    goals: list[UUID]  # participants' and others' goals, to measure while the trial runs


async def cast_of(organisation: Organisation) -> Cast:
    services = organisation.services
    scope = (await fetch(services, "SELECT id FROM departments WHERE code = 'SALES'"))[0]["id"]
    people = await fetch(
        services,
        "SELECT id, department_id, manager_id FROM employees "
        "WHERE department_id = $1 AND manager_id IS NOT NULL ORDER BY code",
        scope,
    )
    outsider = await fetch(
        services,
        "SELECT id FROM employees WHERE department_id <> $1 ORDER BY code LIMIT 1",
        scope,
    )
    goals = await fetch(
        services,
        "SELECT g.id FROM goals g WHERE g.owner_kind = 'employee' AND g.period = '2026' "
        "AND g.status = 'active' ORDER BY g.owner_id = $1 DESC, g.id LIMIT 6",
        people[0]["id"],
    )
    return Cast(  # asyncpg's UUIDs as the standard library's, as commands take them
        scope=UUID(str(scope)),
        participant=UUID(str(people[0]["id"])),
        manager=UUID(str(people[0]["manager_id"])),
        outsider=UUID(str(outsider[0]["id"])),
        goals=[UUID(str(g["id"])) for g in goals],
    )


Step = Callable[[Perfledger], object]


def production_facts(cast: Cast) -> list[Step]:
    """What happens in production in both organisations, in this order."""
    steps: list[Step] = []

    def measure(goal: UUID, value: Decimal) -> Step:
        return lambda app: app.record_progress(HR, goal, value, date(2026, 9, 15), "test")

    for i, goal in enumerate(cast.goals):
        steps.append(measure(goal, Decimal(40 + 7 * i)))
    steps.append(
        lambda app: app.grant_reward(
            HR.because("closed the Nordics deal"),
            reward_id=UUID(int=9001),
            employee_id=cast.participant,
            spec=BONUS,
            reference_salary=None,
            period="2026-Q3",
            today=date(2026, 9, 16),
        )
    )
    steps.append(
        lambda app: app.give_feedback(
            Provenance(str(cast.manager), Role.MANAGER, "rollback-test"),
            feedback_id=UUID(int=9002),
            giver_id=cast.manager,
            receiver_id=cast.participant,
            kind=FeedbackKind.PRAISE,
            visibility=FeedbackVisibility.SHARED,
            body="Great quarter",
            goal_id=None,
            occurred_on=date(2026, 9, 16),
            today=date(2026, 9, 16),
        )
    )
    return steps


def trial_story(cast: Cast, pilot: int, revised: int) -> list[Step]:
    """The trial, told between production's facts in one organisation only."""
    trial_id = UUID(int=7001)
    participant = Provenance(str(cast.participant), Role.EMPLOYEE, "rollback-test")
    return [
        lambda app: app.start_trial(
            HR,
            trial_id=trial_id,
            name="Sales KPI pilot",
            rule_set_version=pilot,
            scope_departments=[cast.scope],
            scope_employees=[],
            members=[cast.participant],
            period="2026-Q3",
            responsible=["hr-1"],
            show_participants=True,
            today=date(2026, 9, 1),
        ),
        lambda app: app.grant_provisional_reward(
            HR.because("tier A under the pilot"),
            trial_id=trial_id,
            reward_id=UUID(int=7002),
            employee_id=cast.participant,
            spec=BONUS,
            reference_salary=None,
            today=date(2026, 9, 15),
        ),
        lambda app: app.give_trial_feedback(
            participant,
            trial_id=trial_id,
            employee_id=cast.participant,
            text="My KPIs matter more now",
            today=date(2026, 9, 16),
        ),
        lambda app: app.revise_trial(HR.because("after feedback"), trial_id, revised),
        lambda app: app.grant_provisional_reward(
            HR.because("tier A under the revised pilot"),
            trial_id=trial_id,
            reward_id=UUID(int=7003),
            employee_id=cast.participant,
            spec=RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(2)),
            reference_salary=None,
            today=date(2026, 9, 17),
        ),
        lambda app: app.roll_back_trial(
            HR.because("scores drifted up without better results"), trial_id, date(2026, 9, 30)
        ),
    ]


def interleaved(facts: list[Step], story: list[Step]) -> list[Step]:
    """The trial's steps between production's: one of each, alternating, then the rest."""
    steps: list[Step] = []
    for i in range(max(len(facts), len(story))):
        steps.extend(story[i : i + 1])
        steps.extend(facts[i : i + 1])
    return steps


async def run(organisation: Organisation, steps: list[Step]) -> None:
    for step in steps:
        await organisation.services.call(step, organisation.app)
    await catch_up(organisation.services)


# -- comparing read models ----------------------------------------------------------------------


def production_tables(services: Services) -> list[str]:
    tables = [t for model in services.projector.models for t in model.tables]
    return sorted(t for t in tables if not any(word in t for word in NOT_PRODUCTION))


async def positions_by_event(services: Services) -> dict[int, tuple[UUID, int]]:
    """Each log position → the event it holds, as (aggregate id, version)."""
    rows = await fetch(
        services,
        f"SELECT notification_id, originator_id, originator_version FROM {services.events_table}",
    )
    return {r["notification_id"]: (r["originator_id"], r["originator_version"]) for r in rows}


async def table_rows(
    services: Services, table: str, events: dict[int, tuple[UUID, int]]
) -> list[tuple[Any, ...]]:
    """The table's rows, wall-clock timestamps left out, every position replaced by the event
    it names (a position that names no event stays as it is: 0 means "none yet"), sealed text
    opened (sealing the same text twice gives different bytes)."""
    columns = await fetch(
        services,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    kept = [c["column_name"] for c in columns if not c["data_type"].startswith("timestamp")]
    names = {c["column_name"] for c in columns}
    where = " WHERE in_production" if "in_production" in names else ""
    select = ", ".join(f'"{name}"' for name in kept)
    rows = await fetch(services, f'SELECT {select} FROM "{table}"{where}')
    sealed = {c["column_name"] for c in columns if c["data_type"] == "bytea"}

    def shown(name: str, value: Any) -> Any:
        if value is None:
            return None
        if _is_position(name):
            return events.get(value, value)
        if name in sealed:
            return services.secrets.open(value)
        return value

    return sorted((tuple(shown(name, r[name]) for name in kept) for r in rows), key=repr)


def _is_position(column: str) -> bool:
    return column == "position" or column.endswith("_position")


async def production_state(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    events = await positions_by_event(services)
    return {
        table: await table_rows(services, table, events) for table in production_tables(services)
    }


# -- the test --------------------------------------------------------------------------------------


async def test_a_rolled_back_trial_leaves_production_as_a_control_organisation_without_it(
    database: Database, control_database: Database
) -> None:
    piloted, control = await seeded(database), await seeded(control_database)
    try:
        cast = await cast_of(piloted)
        assert cast == await cast_of(control)  # seeded identically
        versions = sorted(piloted.app.rule_book().versions)
        pilot, revised = versions[-2], versions[-1]
        facts = production_facts(cast)
        await run(piloted, interleaved(facts, trial_story(cast, pilot, revised)))
        await run(control, facts)

        # The trial ran: its events and its rewards are there, revoked with its reason.
        trial_rewards = await fetch(
            piloted.services,
            "SELECT id, revoked, in_production, revoke_reason FROM rewards "
            "WHERE trial_id IS NOT NULL ORDER BY id",
        )
        assert [(r["id"], r["revoked"], r["in_production"]) for r in trial_rewards] == [
            (UUID(int=7002), True, False),
            (UUID(int=7003), True, False),
        ]
        assert all("rollback of trial" in r["revoke_reason"] for r in trial_rewards)
        assert await fetch(
            piloted.services,
            "SELECT 1 FROM audit_trail WHERE aggregate_type = 'Trial' LIMIT 1",
        )

        # Production is exactly the control organisation's, table by table.
        expected = await production_state(control.services)
        actual = await production_state(piloted.services)
        assert {"scorecards", "cycle_scorecards", "rewards", "goals"} <= set(expected)
        assert actual.keys() == expected.keys()
        for table in expected:
            assert actual[table] == expected[table], f"{table} differs from the control's"
        # ... and not vacuously: the production facts recorded after the start are there.
        participant_rewards = [r for r in expected["rewards"] if UUID(int=9001) in r]
        assert len(participant_rewards) == 1
    finally:
        await piloted.services.stop()
        await control.services.stop()
