"""Time travel: an answer as of position p equals the live answer taken when the log ended at p.

A seeded organisation (goals, progress, two closed review cycles and an open one, rewards); the
live answers of every as-of query are taken for a sample of people, a department and its
sub-tree; then history goes on (progress, a transfer, a calibration, a rule change that rescores
the past period, a revoked reward, a late review), the live answers change, and the as-of
answers at p are compared with what was taken. The selections are generated from the schema:
every field of every type the answers reach, except links to today's directory (people and
departments are shown as they are now, by design).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
)

from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES
from service.api.schema import schema
from service.application import Perfledger
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import cycle_id_for
from tests.conftest import make_settings
from tests.e2e import Server, running
from tests.helpers import position

EMPLOYEES = 40
SEED = 7
THROUGH = date(2026, 8, 31)  # Q1 and Q2 closed, Q3 open
HR = Provenance("hr-1", Role.HR, "test", "as-of check")
DIRECTORY_TYPES = {"Employee", "Department", "Viewer"}


def _named(kind: GraphQLOutputType) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def selection(type_name: str, depth: int = 4) -> str:
    """Every field of ``type_name`` that takes no required argument, recursively, but for links
    to the directory (today's people and departments)."""
    graphql_type = schema._schema.get_type(type_name)
    assert isinstance(graphql_type, GraphQLObjectType)
    parts: list[str] = []
    for name, field in graphql_type.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        target = _named(field.type)
        if isinstance(target, GraphQLObjectType):
            if target.name in DIRECTORY_TYPES or depth == 0:
                continue
            parts.append(f"{name} {{ {selection(target.name, depth - 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts) or "__typename"


def queries() -> dict[str, str]:
    args = "$asOf: DateTime, $asOfPosition: Int"
    past = "asOf: $asOf, asOfPosition: $asOfPosition"
    return {
        "scorecard": f"query($e: ID!, $period: String!, {args}) {{ scorecard(employeeId: $e, "
        f"period: $period, {past}) {{ {selection('Scorecard')} }} }}",
        "goals": f"query($e: ID!, {args}) {{ goals(ownerId: $e, first: 100, {past}) "
        f"{{ totalCount edges {{ node {{ {selection('Goal')} }} }} }} }}",
        "rewards": f"query($e: ID!, {args}) {{ rewards(employeeId: $e, first: 100, {past}) "
        f"{{ totalCount edges {{ node {{ {selection('Reward')} }} }} }} }}",
        "cycleScorecard": f"query($c: ID!, $e: ID!, {args}) {{ cycleScorecard(cycleId: $c, "
        f"employeeId: $e, {past}) {{ {selection('CycleScorecard')} }} }}",
        "appraisal": f"query($c: ID!, $e: ID!, {args}) {{ appraisal(cycleId: $c, "
        f"employeeId: $e, {past}) {{ {selection('Appraisal')} }} }}",
    }


DEPARTMENT = (
    "query($d: ID!, $period: String!, $sub: Boolean!, $asOf: DateTime, $asOfPosition: Int) "
    "{ departmentScorecard(departmentId: $d, period: $period, includeSubDepartments: $sub, "
    "asOf: $asOf, asOfPosition: $asOfPosition) { %s } }"
)


class Org:
    def __init__(self, app: Perfledger, server: Server, database: Database) -> None:
        self.app = app
        self.server = server
        self.database = database

    async def answers(self, people: list[UUID], departments: list[UUID], **past: Any) -> Any:
        """Everything asked of the sample, live or (with asOf/asOfPosition) as of a moment."""
        found: dict[str, Any] = {}
        cycles = [cycle_id_for(SEED, q) for q in ("2026-Q2", "2026-Q3")]
        for e in people:
            for name, query in queries().items():
                if name in ("cycleScorecard", "appraisal"):
                    for c in cycles:
                        found[f"{name}/{e}/{c}"] = await self.ok(
                            query, {"e": str(e), "c": str(c), **past}
                        )
                elif name == "scorecard":
                    for period in ("2026-Q2", "2026-Q3", "2026"):
                        found[f"{name}/{e}/{period}"] = await self.ok(
                            query, {"e": str(e), "period": period, **past}
                        )
                else:
                    found[f"{name}/{e}"] = await self.ok(query, {"e": str(e), **past})
        for d in departments:
            for sub in (False, True):
                found[f"department/{d}/{sub}"] = await self.ok(
                    DEPARTMENT % selection("DepartmentScorecard"),
                    {"d": str(d), "period": "2026-Q2", "sub": sub, **past},
                )
        return found

    async def reach(self, log_position: int) -> None:
        await self.ok(
            "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
            {"p": log_position},
        )

    async def ok(self, query: str, variables: dict[str, Any]) -> Any:
        body = await self.server.graphql(query, variables, role=Role.AUDITOR)
        assert "errors" not in body, body
        return body["data"]


@pytest.fixture
async def org(app: Perfledger, database: Database) -> AsyncIterator[Org]:
    seed_organisation(app, employees=EMPLOYEES, seed=SEED, through=THROUGH)
    settings = make_settings(run_projections=True, wait_timeout_seconds=20.0)
    async with running(settings, database) as server:
        yield Org(app, server, database)


async def sample(org: Org) -> tuple[list[UUID], list[UUID]]:
    """People with the most history (rewards, calibrations, many goals) and the department
    with the most members, plus the root department (for the sub-tree)."""
    rows = await fetch_rows(
        org,
        "SELECT e.id FROM employees e LEFT JOIN rewards r ON r.employee_id = e.id "
        "GROUP BY e.id ORDER BY count(r.id) DESC, e.id LIMIT 5",
    )
    departments = await fetch_rows(
        org,
        "(SELECT department_id AS id FROM employees GROUP BY department_id "
        "ORDER BY count(*) DESC, department_id LIMIT 1) "
        "UNION ALL (SELECT id FROM departments WHERE parent_id IS NULL LIMIT 1)",
    )
    return [UUID(str(r["id"])) for r in rows], [UUID(str(r["id"])) for r in departments]


async def fetch_rows(org: Org, query: str) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(**org.database.asyncpg_kwargs())
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def go_on(org: Org, people: list[UUID], departments: list[UUID]) -> None:
    """History after p: every kind of change that moves the answers taken at p."""
    app = org.app
    goals = await fetch_rows(
        org,
        f"SELECT id FROM goals WHERE owner_id = '{people[0]}' AND status = 'open' "
        "AND period IN ('2026', '2026-Q3') ORDER BY id LIMIT 2",
    )
    for goal in goals:  # a correction of the latest month's figure
        app.record_progress(
            HR, UUID(str(goal["id"])), Decimal("999"), date(2026, 8, 31), "correction"
        )
    elsewhere = await fetch_rows(
        org, f"SELECT id FROM departments WHERE id <> '{departments[0]}' ORDER BY code LIMIT 1"
    )
    for mover in people[1:3]:  # transfers between departments
        app.transfer_employee(HR, mover, UUID(str(elsewhere[0]["id"])), date(2026, 9, 1))
    # a rule change that rescored the whole year: tiers and scores move for everyone
    stricter = replace(DEFAULT_RULES, kpi_weight=Decimal(90), review_weight=Decimal(10))
    version = app.define_rule_set(HR, stricter, "KPI-heavy weights").version
    assert version is not None
    app.adopt_rule_set(HR, version, date(2026, 1, 1))
    q3 = cycle_id_for(SEED, "2026-Q3")  # calibration of the open cycle
    app.start_calibration(HR, q3)
    app.calibrate_result(HR, cycle_id=q3, reviewee_id=people[1], score=Decimal("12.5"))
    rewards = await fetch_rows(
        org,
        f"SELECT id FROM rewards WHERE employee_id = ANY(ARRAY{[str(p) for p in people]}::uuid[]) "
        "AND NOT revoked ORDER BY id LIMIT 1",
    )
    for reward in rewards:
        app.revoke_reward(HR, UUID(str(reward["id"])), date(2026, 9, 2))


async def test_as_of_a_position_equals_what_was_live_there(org: Org) -> None:
    p = position(org.app)
    await org.reach(p)
    people, departments = await sample(org)
    then = await org.answers(people, departments)
    await go_on(org, people, departments)
    await org.reach(position(org.app))
    now = await org.answers(people, departments)
    changed = sorted(k for k in then if then[k] != now[k])
    assert len(changed) >= 5, "history after p must change the answers, or the check is empty"
    past = await org.answers(people, departments, asOfPosition=p)
    diffs = differences(past, then)
    assert not diffs, "\n".join(diffs)
    # The same moment named by its time: the last event recorded at or before it is p.
    moment = await org.ok(POINT, {"p": p})
    assert moment["asOfPoint"]["position"] == p
    at = moment["asOfPoint"]["recordedAt"]
    assert (await org.ok(POINT_AT, {"at": at}))["asOfPoint"]["position"] == p
    diffs = differences(await org.answers(people, departments, asOf=at), then)
    assert not diffs, "\n".join(diffs)

    await explanations_follow_the_log(org, people[1], p)


EXPLAIN = """
query($e: ID!, $c: ID, $period: String, $p: Int) {
  explainScore(employeeId: $e, cycleId: $c, period: $period, asOfPosition: $p) {
    position
    scorecard { score tier ruleSetVersion goals { goalId } }
    cycleScorecard { finalScore tier ruleSetVersion calibratedScore }
    steps {
      part
      entry { position aggregateId aggregateType eventType actorId actorHidden raterKey }
    }
  }
}
"""


async def explanations_follow_the_log(org: Org, someone: UUID, p: int) -> None:
    q3 = str(cycle_id_for(SEED, "2026-Q3"))
    live = (await org.ok(EXPLAIN, {"e": str(someone), "c": q3}))["explainScore"]
    then = (await org.ok(EXPLAIN, {"e": str(someone), "c": q3, "p": p}))["explainScore"]
    assert then["position"] == p
    assert all(s["entry"]["position"] <= p for s in then["steps"])
    later = [s for s in live["steps"] if s["entry"]["position"] > p]
    parts = {s["part"] for s in later}
    # after p: hr calibrated this result and a new rule version was defined and adopted
    assert {"CALIBRATION", "RULES"} <= parts, parts
    assert live["cycleScorecard"]["calibratedScore"] == "12.50"
    assert then["cycleScorecard"]["calibratedScore"] is None
    assert {"RATING", "GOAL", "MEASUREMENT", "ORGANISATION", "REVIEW_PROCESS"} <= {
        s["part"] for s in then["steps"]
    }
    # the steps are the audit entries themselves: the trail has each at its position
    trail = await org.ok(
        "query($a: ID!) { auditTrail(filter: {aggregateId: $a}, first: 200) "
        "{ edges { node { position eventType } } } }",
        {"a": str(someone)},
    )
    positions = {e["node"]["position"] for e in trail["auditTrail"]["edges"]}
    organisation = [s for s in then["steps"] if s["part"] == "ORGANISATION"]
    assert organisation
    assert {s["entry"]["position"] for s in organisation} <= positions
    # a KPI scorecard's explanation names its goals' facts
    kpi = (await org.ok(EXPLAIN, {"e": str(someone), "period": "2026-Q2", "p": p}))["explainScore"]
    goals = {g["goalId"] for g in kpi["scorecard"]["goals"]}
    assert goals
    explained = {s["entry"]["aggregateId"] for s in kpi["steps"] if s["part"] == "MEASUREMENT"}
    assert goals <= {s["entry"]["aggregateId"] for s in kpi["steps"] if s["part"] == "GOAL"}
    assert explained <= goals
    # the person rated sees the chain without their anonymous raters
    hidden = {
        s["entry"]["raterKey"]
        for s in live["steps"]
        if s["part"] == "RATING"
        and s["entry"]["raterKey"]
        and s["entry"]["actorId"] != str(someone)
    }
    own = await org.server.graphql(
        EXPLAIN, {"e": str(someone), "c": q3}, role=Role.EMPLOYEE, employee=someone
    )
    assert "errors" not in own, own
    text = json.dumps(own)
    anonymous = [k for k in hidden if k.split(":", 1)[0] in ("peer", "customer")]
    assert anonymous, hidden
    assert not [k for k in anonymous if k in text or k.split(":", 1)[1] in text]


POINT = "query($p: Int) { asOfPoint(asOfPosition: $p) { position recordedAt } }"
POINT_AT = "query($at: DateTime) { asOfPoint(asOf: $at) { position recordedAt } }"


async def test_as_of_questions_the_log_cannot_answer_are_refused(
    app: Perfledger, database: Database
) -> None:
    seed_organisation(app, employees=5, seed=SEED, through=date(2026, 2, 28))
    head = position(app)
    settings = make_settings(run_projections=True, wait_timeout_seconds=20.0)
    async with running(settings, database) as server:
        org = Org(app, server, database)
        await org.reach(head)
        someone, other = (await employees(database))[:2]
        born = (await org.ok(POINT, {"p": 1}))["asOfPoint"]["recordedAt"]
        before = (datetime.fromisoformat(born) - timedelta(seconds=1)).isoformat()
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        scorecard = (
            "query($e: ID!, $at: DateTime, $p: Int) { scorecard(employeeId: $e, "
            'period: "2026-Q1", asOf: $at, asOfPosition: $p) { score } }'
        )
        cases: dict[str, dict[str, Any]] = {
            "before the first recorded event": {"at": before},
            "is in the future": {"at": future},
            f"positions run from 1 to {head}": {"p": head + 1},
            "positions run from 1": {"p": 0},
            "not both": {"p": 1, "at": born},
        }
        for message, variables in cases.items():
            body = await server.graphql(scorecard, {"e": str(someone), **variables})
            assert body["data"] is None or body["data"]["scorecard"] is None, body
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "AS_OF_OUT_OF_RANGE", error
            assert message in error["message"], error
        naive = await server.graphql(scorecard, {"e": str(someone), "at": "2026-01-31T12:00:00"})
        assert naive["errors"][0]["extensions"]["code"] in ("AS_OF_OUT_OF_RANGE", "BAD_USER_INPUT")
        goals = await server.graphql("{ goals(asOfPosition: 1) { totalCount } }")
        assert "needs ownerId" in goals["errors"][0]["message"]
        # today's roles decide: an employee may not look at a colleague's past either
        denied = await server.graphql(
            scorecard, {"e": str(other), "p": head}, role=Role.EMPLOYEE, employee=someone
        )
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        own = await server.graphql(
            scorecard, {"e": str(someone), "p": head}, role=Role.EMPLOYEE, employee=someone
        )
        assert "errors" not in own, own


async def employees(database: Database) -> list[UUID]:
    import asyncpg

    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        rows = await conn.fetch("SELECT id FROM employees ORDER BY code")
    finally:
        await conn.close()
    return [UUID(str(r["id"])) for r in rows]


def differences(got: Any, expected: Any, path: str = "") -> list[str]:
    """Where two JSON answers differ, as paths (readable failures)."""
    if isinstance(got, dict) and isinstance(expected, dict):
        found: list[str] = []
        for key in sorted(set(got) | set(expected)):
            found += differences(got.get(key), expected.get(key), f"{path}/{key}")
        return found
    if isinstance(got, list) and isinstance(expected, list) and len(got) == len(expected):
        return [
            d
            for i, (g, e) in enumerate(zip(got, expected, strict=True))
            for d in differences(g, e, f"{path}[{i}]")
        ]
    return [] if got == expected else [f"{path}: {got!r} != {expected!r}"]
