"""What-if: a cycle's results under a pilot rule set beside production's, from the same facts."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES
from service.application import Perfledger
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import DEMO, cycle_id_for
from tests.conftest import make_settings
from tests.e2e import HR_PERSON, Server, running
from tests.helpers import position

SEED = 6
Q2 = str(cycle_id_for(SEED, "2026-Q2"))
HR = Provenance("hr-1", Role.HR, "test", "pilot rules")
WHAT_IF = """
query($c: ID!, $v: Int!, $b: Int, $d: [ID!], $p: Int) {
  whatIf(cycleId: $c, pilotVersion: $v, baselineVersion: $b, departmentIds: $d,
         asOfPosition: $p) {
    position baselineVersion pilotVersion movedUp movedDown csv json
    fairness {
      grouping label
      production { n meanScore tiers { tier rate impactRatio belowFourFifths } }
      pilot { n meanScore tiers { tier rate impactRatio belowFourFifths } }
    }
    tiers { tier production pilot }
    people {
      employeeId department delta calibratedScore
      production { score tier kpiScore reviewScore kpiContribution reviewContribution rewards }
      pilot { score tier kpiScore reviewScore kpiContribution reviewContribution rewards }
    }
  }
}
"""


@pytest.fixture
async def server(app: Perfledger, database: Database) -> AsyncIterator[Server]:
    seed_organisation(app, employees=60, seed=SEED, through=date(2026, 8, 31), reviews=DEMO)
    settings = make_settings(run_projections=True, wait_timeout_seconds=30.0)
    async with running(settings, database) as running_server:
        yield running_server


async def ok(server: Server, variables: dict[str, Any]) -> Any:
    body = await server.graphql(WHAT_IF, variables, role=Role.HR)
    assert "errors" not in body, body
    return body["data"]["whatIf"]


async def reach(server: Server, log_position: int) -> None:
    body = await server.graphql(
        "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
        {"p": log_position},
    )
    assert "errors" not in body, body


async def test_a_pilot_rule_set_compared_with_production(
    app: Perfledger, database: Database, server: Server
) -> None:
    before = position(app)
    kpi_heavy = replace(DEFAULT_RULES, kpi_weight=Decimal(90), review_weight=Decimal(10))
    version = app.define_rule_set(HR, kpi_heavy, "KPI-heavy pilot").version  # defined, not adopted
    assert version is not None
    await reach(server, position(app))
    result = await ok(server, {"c": Q2, "v": version})
    assert result["baselineVersion"] != version
    people = result["people"]
    assert len(people) > 40

    # Production's side is what the live read models computed from the same facts.
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        live = {
            str(r["employee_id"]): r
            for r in await conn.fetch(
                "SELECT employee_id, final_score, kpi_score, review_score FROM cycle_scorecards "
                "WHERE cycle_id = $1",
                cycle_id_for(SEED, "2026-Q2"),
            )
        }
    finally:
        await conn.close()
    for p in people:
        row = live[p["employeeId"]]
        assert Decimal(p["production"]["score"]) == row["final_score"], p
    # The pilot weighs KPIs 90 and reviews 10, over the same KPI and review scores.
    both = [p for p in people if p["pilot"]["kpiScore"] and p["pilot"]["reviewScore"]]
    assert both
    for p in both:
        kpi, review = Decimal(p["pilot"]["kpiScore"]), Decimal(p["pilot"]["reviewScore"])
        assert kpi == Decimal(p["production"]["kpiScore"])
        assert abs(
            Decimal(p["pilot"]["score"]) - (kpi * Decimal("0.9") + review * Decimal("0.1"))
        ) < Decimal("0.01")
        delta = Decimal(p["pilot"]["score"]) - Decimal(p["production"]["score"])
        assert Decimal(p["delta"]) == delta
        contribution = (
            Decimal(p["pilot"]["kpiContribution"])
            - Decimal(p["production"]["kpiContribution"])
            + Decimal(p["pilot"]["reviewContribution"])
            - Decimal(p["production"]["reviewContribution"])
        )
        # each contribution is rounded to the cent on its own: four roundings and the delta's
        assert abs(contribution - delta) <= Decimal("0.03")
    assert any(Decimal(p["delta"]) != 0 for p in both)
    moved = sum(1 for p in people if p["production"]["tier"] != p["pilot"]["tier"])
    assert result["movedUp"] + result["movedDown"] == moved
    assert sum(t["production"] for t in result["tiers"]) == len(people)
    assert sum(t["pilot"] for t in result["tiers"]) == len(people)
    # The fairness view under each: the groups' sizes agree, their means follow the scores.
    groups = {(g["grouping"], g["label"]): g for g in result["fairness"]}
    assert {grouping for grouping, _ in groups} == {"division", "gender"}
    for g in groups.values():
        assert g["production"]["n"] == g["pilot"]["n"]
        assert {t["tier"] for t in g["pilot"]["tiers"]} <= {t["tier"] for t in result["tiers"]}
    shown = [p for p in people if p["department"]]  # everyone has a department
    assert sum(g["production"]["n"] for (k, _), g in groups.items() if k == "division") <= len(
        shown
    )
    assert any(g["production"]["meanScore"] != g["pilot"]["meanScore"] for g in groups.values())
    rows = list(csv.DictReader(io.StringIO(result["csv"])))
    assert len(rows) == len(people)
    assert {r["employee_id"] for r in rows} == {p["employeeId"] for p in people}

    # A department's part of it.
    department = people[0]["department"]
    conn = await asyncpg.connect(**database.asyncpg_kwargs())
    try:
        department_id = await conn.fetchval(
            "SELECT id FROM departments WHERE code = $1", department
        )
    finally:
        await conn.close()
    part = await ok(server, {"c": Q2, "v": version, "d": [str(department_id)]})
    assert {p["department"] for p in part["people"]} <= {d["department"] for d in people}
    assert 0 < len(part["people"]) < len(people)

    # As of before the pilot version existed, there is nothing to compare with.
    past = await server.graphql(WHAT_IF, {"c": Q2, "v": version, "p": before}, role=Role.HR)
    assert past["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert f"version {version} was never defined" in past["errors"][0]["message"]
    unknown = await server.graphql(WHAT_IF, {"c": Q2, "v": 99}, role=Role.HR)
    assert "version 99 was never defined" in unknown["errors"][0]["message"]
    employee = await server.graphql(
        WHAT_IF, {"c": Q2, "v": version}, role=Role.EMPLOYEE, employee=HR_PERSON
    )
    assert employee["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert position(app) == before + 1  # reading compared; only the rule set was recorded
