"""A whole pilot over GraphQL: start, compare live with production, feedback, revise, and roll
back or promote; bad requests are refused and record nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES
from service.application import Perfledger
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import DEMO, cycle_id_for
from tests.conftest import make_settings
from tests.e2e import Server, running
from tests.helpers import position

SEED = 8
HR = Provenance("hr-1", Role.HR, "test", "pilot")
RESULT = "__typename ... on CommandAccepted { id position } ... on CommandRejected { code message }"


@pytest.fixture
async def server(app: Perfledger, database: Database) -> AsyncIterator[Server]:
    seed_organisation(app, employees=60, seed=SEED, through=date(2026, 8, 31), reviews=DEMO)
    settings = make_settings(run_projections=True, wait_timeout_seconds=30.0)
    async with running(settings, database) as running_server:
        yield running_server


async def mutate(server: Server, name: str, data: dict[str, Any], **who: Any) -> Any:
    query = (
        f"mutation($i: {name[0].upper()}{name[1:]}Input!) {{ {name}(input: $i) {{ {RESULT} }} }}"
    )
    body = await server.graphql(query, {"i": data}, **{"role": Role.HR, **who})
    assert "errors" not in body, body
    return body["data"][name]


async def test_a_pilot_from_start_to_rollback(
    app: Perfledger, database: Database, server: Server
) -> None:
    pilot = app.define_rule_set(
        HR, replace(DEFAULT_RULES, kpi_weight=Decimal(85), review_weight=Decimal(15)), "pilot"
    ).version
    better = app.define_rule_set(
        HR, replace(DEFAULT_RULES, kpi_weight=Decimal(75), review_weight=Decimal(25)), "revised"
    ).version
    await server.graphql(
        "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
        {"p": position(app)},
    )
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        sales = await conn.fetchval("SELECT id FROM departments WHERE code = 'SALES'")
        other = await conn.fetchval("SELECT id FROM departments WHERE code = 'OPS'")
    finally:
        await conn.close()
    assert sales is not None
    assert other is not None
    started = await mutate(
        server,
        "startTrial",
        {
            "name": "Sales KPI pilot",
            "ruleSetVersion": pilot,
            "period": "2026",
            "departmentIds": [str(sales)],
            "showParticipants": True,
            "responsible": ["hr-1", "head of sales"],
            "reason": "try heavier KPI weights in Sales",
        },
    )
    assert started["__typename"] == "CommandAccepted", started
    trial_id = started["id"]

    # The same people cannot be in two pilots at once.
    before = position(app)
    clash = await mutate(
        server,
        "startTrial",
        {
            "name": "clash",
            "ruleSetVersion": better,
            "period": "2026",
            "departmentIds": [str(sales)],
            "responsible": ["hr-1"],
            "reason": "again",
        },
    )
    assert clash["code"] == "OVERLAPPING_TRIAL", clash
    assert position(app) == before

    trial = (
        await server.graphql(
            "query($t: ID!) { trial(id: $t) { status participants ruleSetVersion } }",
            {"t": trial_id},
        )
    )["data"]["trial"]
    assert trial["status"] == "running"
    assert trial["participants"] > 5

    comparison = await server.graphql(
        "query($t: ID!, $c: ID!) { trialComparison(trialId: $t, cycleId: $c) { "
        "pilotVersion movedUp movedDown people { employeeId department delta "
        "production { score } pilot { score } } fairness { grouping label } } }",
        {"t": trial_id, "c": str(cycle_id_for(SEED, "2026-Q2"))},
    )
    assert "errors" not in comparison, comparison
    compared = comparison["data"]["trialComparison"]
    assert compared["pilotVersion"] == pilot
    assert compared["people"]
    assert all(p["department"].startswith("SALES") for p in compared["people"])

    # A participant says what they think of it; someone outside the pilot cannot.
    participant = UUID(compared["people"][0]["employeeId"])
    said = await mutate(
        server,
        "giveTrialFeedback",
        {"trialId": trial_id, "text": "fairer for me"},
        role=Role.EMPLOYEE,
        employee=participant,
    )
    assert said["__typename"] == "CommandAccepted", said
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        outsider = await conn.fetchval(
            "SELECT id FROM employees WHERE department_id = $1 LIMIT 1", other
        )
    finally:
        await conn.close()
    refused = await mutate(
        server,
        "giveTrialFeedback",
        {"trialId": trial_id, "text": "me too"},
        role=Role.EMPLOYEE,
        employee=UUID(str(outsider)),
    )
    assert refused["code"] == "NOT_A_TRIAL_PARTICIPANT"

    revised = await mutate(
        server,
        "reviseTrial",
        {"trialId": trial_id, "ruleSetVersion": better, "reason": "after feedback"},
    )
    assert revised["__typename"] == "CommandAccepted", revised
    provisional = await mutate(
        server,
        "grantProvisionalReward",
        {
            "trialId": trial_id,
            "employeeId": str(participant),
            "reward": {"kind": "RECOGNITION", "title": "pilot star"},
            "reason": "top of the pilot's ranking",
        },
    )
    assert provisional["__typename"] == "CommandAccepted", provisional
    rolled = await mutate(
        server, "rollBackTrial", {"trialId": trial_id, "reason": "did not convince"}
    )
    assert rolled["__typename"] == "CommandAccepted", rolled
    # The provisional reward was revoked with the rollback, naming the trial and its reason.
    reward = await server.graphql(
        "query($r: ID!, $p: Int) { reward(id: $r, minPosition: $p) { revoked revokeReason } }",
        {"r": provisional["id"], "p": rolled["position"]},
    )
    assert reward["data"]["reward"]["revoked"] is True, reward
    assert "did not convince" in reward["data"]["reward"]["revokeReason"]
    assert "Sales KPI pilot" in reward["data"]["reward"]["revokeReason"]
    again = await mutate(server, "rollBackTrial", {"trialId": trial_id, "reason": "twice"})
    assert again["code"] == "TRIAL_NOT_RUNNING"
    promoted = await mutate(
        server,
        "promoteTrial",
        {
            "trialId": trial_id,
            "effectiveFrom": "2027-01-01",
            "forEveryone": True,
            "reason": "too late",
        },
    )
    assert promoted["code"] == "TRIAL_NOT_RUNNING"
    ended = (
        await server.graphql(
            "query($t: ID!) { trial(id: $t) { status versionsTried feedbackCount } }",
            {"t": trial_id},
        )
    )["data"]["trial"]
    assert ended == {"status": "rolled_back", "versionsTried": [pilot, better], "feedbackCount": 1}
    # Its scope is free again: a new pilot on Sales may start.
    fresh = await mutate(
        server,
        "startTrial",
        {
            "name": "second try",
            "ruleSetVersion": better,
            "period": "2026",
            "departmentIds": [str(sales)],
            "responsible": ["hr-1"],
            "reason": "again, better",
        },
    )
    assert fresh["__typename"] == "CommandAccepted", fresh
