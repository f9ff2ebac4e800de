"""A running trial's comparison, live: the same report as the trialComparison query, again after
a change to a participant; commits that arrive together are recomputed once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, cast
from uuid import UUID, uuid4

import asyncpg
import pytest

from domain.provenance import Role
from domain.rules import DEFAULT_RULES
from service.application import Perfledger
from service.auth import Viewer
from service.database import Database
from service.live.batch import Batch
from service.live.subscriber import Subscriber
from service.live.trials import TrialWatch
from tests.conftest import make_settings
from tests.e2e import Server, running
from tests.helpers import HR, Org, set_goal
from tests.live_client import opened
from tests.review_builders import cycle_definition
from tests.test_subscriptions import read_models_at, record

CYCLE = UUID(int=42)
COMPARISON = """
pilotVersion
people { employeeId production { kpiScore } pilot { kpiScore } }
"""


@pytest.fixture
async def server(app: Perfledger, database: Database, org: Org) -> AsyncIterator[Server]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=30.0)
    async with running(settings, database) as started:
        yield started


def start_pilot(app: Perfledger, org: Org) -> UUID:
    """Sales reviewed in Q1; a pilot weighing reviews at 15 % runs on Sales for Q1."""
    for person, gender in ((org.alice, "f"), (org.bob, "m")):  # the fairness view groups by it
        app.set_employee_attributes(HR, person, {"gender": gender})
    app.draft_review_cycle(HR, cycle_id=CYCLE, definition=cycle_definition(org.sales))
    app.open_review_cycle(HR, CYCLE, [org.alice, org.bob], date(2026, 3, 1))
    pilot = app.define_rule_set(
        HR, replace(DEFAULT_RULES, kpi_weight=Decimal(85), review_weight=Decimal(15)), "pilot"
    ).version
    assert pilot is not None
    trial = uuid4()
    app.start_trial(
        HR.because("try reviews in the score"),
        trial_id=trial,
        name="Sales pilot",
        rule_set_version=pilot,
        scope_departments=[org.sales],
        scope_employees=[],
        members=[org.boss, org.alice, org.bob],
        period="2026-Q1",
        responsible=["hr-1"],
        show_participants=False,
        today=date(2026, 3, 1),
    )
    return trial


def kpi_of(report: dict[str, Any], employee: UUID) -> str | None:
    person = next(p for p in report["people"] if p["employeeId"] == str(employee))
    score: str | None = person["production"]["kpiScore"]
    return score


async def test_the_comparison_comes_now_and_again_after_a_participant_changes(
    app: Perfledger, server: Server, org: Org
) -> None:
    goal = set_goal(app, org.alice, weight=Decimal(100))
    trial = start_pilot(app, org)
    await read_models_at(server, app)
    variables = {"t": str(trial), "c": str(CYCLE)}
    query = await server.graphql(
        "query($t: ID!, $c: ID!) { trialComparison(trialId: $t, cycleId: $c) "
        f"{{ {COMPARISON} }} }}",
        variables,
    )
    assert "errors" not in query, query
    async with (
        opened(server, Role.HR, org.boss) as hr,
        opened(server, Role.EMPLOYEE, org.alice) as alice,
    ):
        subscription = (
            "subscription($t: ID!, $c: ID!) { trialComparisonUpdated(trialId: $t, cycleId: $c) "
            f"{{ position comparison {{ {COMPARISON} }} }} }}"
        )
        refused = await alice.subscribe(subscription, variables)
        error = (await alice.next(refused))["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN"
        live = await hr.subscribe(subscription, variables)
        now = (await hr.next(live))["data"]["trialComparisonUpdated"]
        assert now["comparison"] == query["data"]["trialComparison"]
        assert kpi_of(now["comparison"], org.alice) is None  # nothing measured yet

        recorded = await record(server, goal, "4", "2026-03-01")
        update = (await hr.next(live))["data"]["trialComparisonUpdated"]
        assert update["position"] >= recorded
        assert kpi_of(update["comparison"], org.alice) == "50.00"  # 4 of 8


async def test_commits_arriving_together_are_recomputed_once() -> None:
    computed: list[int] = []
    trial, cycle, alice = UUID(int=1), UUID(int=2), UUID(int=3)

    async def compute() -> str:
        computed.append(len(computed) + 1)
        return f"report {len(computed)}"

    async def participants() -> frozenset[UUID]:
        return frozenset({alice})

    watch = TrialWatch((trial, cycle), compute, participants, lambda: 10, debounce=0.05)
    subscriber: Subscriber[str] = Subscriber(
        Viewer(UUID(int=9), Role.HR), None, since=10, capacity=8, hang_up=lambda *_: None
    )
    watch.subscribers.add(subscriber)
    try:
        assert await watch.current() == (10, "report 1")

        def batch(position: int, touched: UUID) -> Batch:
            row = {
                "position": position,
                "aggregate_id": UUID(int=5),
                "aggregate_type": "Goal",
                "event_type": "ProgressRecorded",
                "employee_ids": [touched],
                "reviewee_id": None,
            }
            return Batch(position - 1, position, cast(list[asyncpg.Record], [row]))

        batches = [batch(11 + n, alice) for n in range(5)] + [batch(21, UUID(int=4))]
        touched = [watch.touches(b) for b in batches]
        assert touched == [11, 12, 13, 14, 15, None]  # someone outside the trial: no touch
        for position in touched[:-1]:
            assert position is not None
            watch.touch(position)
        update = await asyncio.wait_for(anext(subscriber.updates()), 10)
        assert (update.position, update.payload) == (15, "report 2")
        assert computed == [1, 2]
    finally:
        await watch.stop()
