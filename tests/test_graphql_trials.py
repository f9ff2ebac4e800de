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
from service.application import Perfledger, employee_id_for
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

    # Read your write: the trial as its read model has it once it reflects the start.
    trial = (
        await server.graphql(
            "query($t: ID!, $p: Int) { trial(id: $t, minPosition: $p) { status participants "
            "ruleSetVersion } }",
            {"t": trial_id, "p": started["position"]},
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
    # It stays the trial's: listed with the trial, never among production's rewards, and seen
    # only by hr, auditors, admins and the person rewarded (not by their manager).
    lists = (
        "query($t: ID!, $e: ID!) { pilot: rewards(trialId: $t) { edges { node { id inProduction"
        " trialId } } } production: rewards(employeeId: $e) { edges { node { id } } } }"
    )
    listed = (await server.graphql(lists, {"t": trial_id, "e": str(participant)}))["data"]
    assert [e["node"] for e in listed["pilot"]["edges"]] == [
        {"id": provisional["id"], "inProduction": False, "trialId": trial_id}
    ]
    assert provisional["id"] not in {e["node"]["id"] for e in listed["production"]["edges"]}
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        manager = await conn.fetchval("SELECT manager_id FROM employees WHERE id = $1", participant)
    finally:
        await conn.close()
    one = "query($r: ID!) { reward(id: $r) { id } }"
    for who, sees in ((manager, False), (participant, True)):
        role = Role.MANAGER if who == manager else Role.EMPLOYEE
        found = await server.graphql(one, {"r": provisional["id"]}, role=role, employee=who)
        assert (found["data"]["reward"] is not None) is sees, (role, found)
        mine = await server.graphql(
            "query($t: ID!) { rewards(trialId: $t) { edges { node { id } } } }",
            {"t": trial_id},
            role=role,
            employee=who,
        )
        assert len(mine["data"]["rewards"]["edges"]) == (1 if sees else 0), (role, mine)
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
            "query($t: ID!, $p: Int) { trial(id: $t, minPosition: $p) { status versionsTried "
            "feedbackCount } }",
            {"t": trial_id, "p": rolled["position"]},
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


PILOT_PAGE = """
query($t: ID!, $c: ID, $first: Int!, $after: String, $p: Int) {
  pilotScorecards(trialId: $t, cycleId: $c, first: $first, after: $after, minPosition: $p) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { employeeId closed
      kpi { pilot { ruleSetVersion score tier } productionScore productionTier delta }
      cycles { cycleId closed delta productionFinalScore
        pilot { ruleSetVersion score tier rewards { ruleKey } }
        production { score tier }
        sources { source withheld submitted score } } } }
  }
}
"""
MINE = """
query($t: ID!, $p: Int) {
  myPilotScorecard(trialId: $t, minPosition: $p) {
    employeeId kpi { pilot { score } delta } cycles { cycleId pilot { score } delta }
  }
}
"""
TRIALS = """
query($s: String, $p: Int) {
  trials(status: $s, minPosition: $p) { totalCount edges { node { id name status closed } } }
}
"""


def code_of(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def members_of(database: Database, code: str) -> list[UUID]:
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        rows = await conn.fetch(
            "SELECT e.id FROM employees e JOIN departments d ON d.id = e.department_id "
            "WHERE d.code LIKE $1 || '%' ORDER BY e.code",
            code,
        )
    finally:
        await conn.close()
    return [UUID(str(r["id"])) for r in rows]


async def department(database: Database, code: str) -> str:
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        return str(await conn.fetchval("SELECT id FROM departments WHERE code = $1", code))
    finally:
        await conn.close()


async def test_trial_reads_follow_roles_and_a_closed_trial_stays_readable(
    app: Perfledger, database: Database, server: Server
) -> None:
    pilot = app.define_rule_set(
        HR, replace(DEFAULT_RULES, kpi_weight=Decimal(85), review_weight=Decimal(15)), "pilot"
    ).version
    await server.graphql(
        "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
        {"p": position(app)},
    )
    shown = await mutate(
        server,
        "startTrial",
        {
            "name": "Sales pilot",
            "ruleSetVersion": pilot,
            "period": "2026",
            "departmentIds": [await department(database, "SALES")],
            "showParticipants": True,
            "responsible": ["hr-1"],
            "reason": "heavier KPIs",
        },
    )
    hidden = await mutate(
        server,
        "startTrial",
        {
            "name": "Ops pilot",
            "ruleSetVersion": pilot,
            "period": "2026",
            "departmentIds": [await department(database, "OPS")],
            "showParticipants": False,
            "responsible": ["hr-1"],
            "reason": "heavier KPIs",
        },
    )
    ended = await mutate(server, "rollBackTrial", {"trialId": hidden["id"], "reason": "no"})
    assert ended["position"] > hidden["position"] > shown["position"]
    seller, other_seller = (await members_of(database, "SALES"))[:2]
    ops = (await members_of(database, "OPS"))[0]

    # The list, by status, for hr; a participant sees only trials that show them.
    async def listed(status: str | None, **who: Any) -> list[str]:
        body = await server.graphql(TRIALS, {"s": status, "p": ended["position"]}, **who)
        assert "errors" not in body, body
        return [e["node"]["name"] for e in body["data"]["trials"]["edges"]]

    assert await listed(None) == ["Ops pilot", "Sales pilot"]  # newest first
    assert await listed("running") == ["Sales pilot"]
    assert await listed("rolled_back") == ["Ops pilot"]
    assert await listed("promoted") == []
    assert code_of(await server.graphql(TRIALS, {"s": "paused"})) == "INVALID_INPUT"
    employee: dict[str, Any] = {"role": Role.EMPLOYEE, "employee": seller}
    assert await listed(None, **employee) == ["Sales pilot"]
    assert await listed(None, role=Role.EMPLOYEE, employee=ops) == []

    # hr pages through every participant's pilot scorecards, one cycle's or all.
    q2 = str(cycle_id_for(SEED, "2026-Q2"))
    variables = {"t": shown["id"], "first": 2, "p": ended["position"]}
    first = (await server.graphql(PILOT_PAGE, {**variables, "c": q2}))["data"]["pilotScorecards"]
    assert first["totalCount"] > 2
    assert first["pageInfo"]["hasNextPage"] is True
    nodes = [e["node"] for e in first["edges"]]
    after = first["pageInfo"]["endCursor"]
    while after is not None:
        page = (await server.graphql(PILOT_PAGE, {**variables, "c": q2, "after": after}))["data"][
            "pilotScorecards"
        ]
        nodes += [e["node"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert len(nodes) == first["totalCount"] == len({n["employeeId"] for n in nodes})
    assert all([c["cycleId"] for c in n["cycles"]] == [q2] for n in nodes)
    assert all(c["pilot"]["ruleSetVersion"] == pilot for n in nodes for c in n["cycles"])
    everything = (await server.graphql(PILOT_PAGE, {**variables, "first": 200}))["data"]
    assert max(len(e["node"]["cycles"]) for e in everything["pilotScorecards"]["edges"]) >= 2

    # A participant reads their own pilot scorecard and nothing else; others are refused.
    mine = await server.graphql(MINE, {"t": shown["id"], "p": ended["position"]}, **employee)
    assert mine["data"]["myPilotScorecard"]["employeeId"] == str(seller), mine
    refused = await server.graphql(PILOT_PAGE, variables, **employee)
    assert code_of(refused) == "FORBIDDEN"
    manager: dict[str, Any] = {"role": Role.MANAGER, "employee": ops}
    assert code_of(await server.graphql(PILOT_PAGE, variables, **manager)) == "FORBIDDEN"
    assert code_of(await server.graphql(MINE, {"t": shown["id"]}, **manager)) == "FORBIDDEN"
    assert code_of(await server.graphql(MINE, {"t": hidden["id"]}, **manager)) == "FORBIDDEN"
    trial_query = "query($t: ID!) { trial(id: $t) { name } }"
    assert (await server.graphql(trial_query, {"t": shown["id"]}, **employee))["data"] == {
        "trial": {"name": "Sales pilot"}
    }
    assert code_of(await server.graphql(trial_query, {"t": hidden["id"]}, **employee)) == (
        "FORBIDDEN"
    )

    # Feedback: hr reads it all, its author their own, another participant none of it.
    said = await mutate(
        server, "giveTrialFeedback", {"trialId": shown["id"], "text": "clearer"}, **employee
    )
    feedback = (
        "query($t: ID!, $p: Int) { trialFeedback(trialId: $t, minPosition: $p) { totalCount "
        "edges { node { employeeId text position } } } }"
    )
    read = {"t": shown["id"], "p": said["position"]}

    async def texts(**who: Any) -> list[str]:
        body = await server.graphql(feedback, read, **who)
        assert "errors" not in body, body
        return [e["node"]["text"] for e in body["data"]["trialFeedback"]["edges"]]

    assert await texts() == ["clearer"]
    assert await texts(**employee) == ["clearer"]
    assert await texts(role=Role.EMPLOYEE, employee=other_seller) == []

    # Someone who joined Sales since the start moves with the promotion for the scope.
    app.hire_employee(
        HR,
        code="NEWSALES",
        name="New Seller",
        department_id=UUID(await department(database, "SALES")),
        manager_id=seller,
        job_title="Account manager",
        hire_date=date(2026, 8, 1),
        attributes={},
    )
    await server.graphql(
        "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
        {"p": position(app)},
    )
    # Promoted, the trial is a closed report: its rows frozen, its comparison as of its end.
    promoted = await mutate(
        server,
        "promoteTrial",
        {
            "trialId": shown["id"],
            "effectiveFrom": "2027-01-01",
            "forEveryone": False,
            "reason": "fairer for sales",
        },
    )
    closed = await server.graphql(
        "query($t: ID!, $p: Int) { trial(id: $t, minPosition: $p) { status closed promotedOn "
        "endedPosition transitions { event position } } }",
        {"t": shown["id"], "p": promoted["position"]},
    )
    report = closed["data"]["trial"]
    assert (report["status"], report["closed"]) == ("promoted", True)
    assert report["promotedOn"] is not None
    assert [t["event"] for t in report["transitions"]] == ["started", "promoted"]
    assert report["transitions"][0]["position"] < shown["position"]
    assert report["endedPosition"] == report["transitions"][-1]["position"]
    frozen = (await server.graphql(PILOT_PAGE, {**variables, "first": 200}))["data"]
    assert all(e["node"]["closed"] for e in frozen["pilotScorecards"]["edges"])
    comparison = await server.graphql(
        "query($t: ID!, $c: ID!) { trialComparison(trialId: $t, cycleId: $c) { position "
        "pilotVersion people { employeeId } } }",
        {"t": shown["id"], "c": q2},
    )
    assert comparison["data"]["trialComparison"]["position"] == report["endedPosition"]
    assert comparison["data"]["trialComparison"]["pilotVersion"] == pilot
    rules = 'query($e: ID) { productionRules(on: "2027-01-02", employeeId: $e) { version } }'
    for person, version in ((employee_id_for("NEWSALES"), pilot), (seller, pilot)):
        moved = await server.graphql(rules, {"e": str(person)})
        assert moved["data"]["productionRules"]["version"] == version, moved
    unmoved = await server.graphql(rules, {"e": str(ops)})
    assert unmoved["data"]["productionRules"]["version"] != pilot
    too_early = await server.graphql(
        "query($t: ID!, $c: ID!, $p: Int) { trialComparison(trialId: $t, cycleId: $c, "
        "asOfPosition: $p) { position } }",
        {"t": shown["id"], "c": q2, "p": report["transitions"][0]["position"] - 1},
    )
    assert code_of(too_early) == "AS_OF_OUT_OF_RANGE"
