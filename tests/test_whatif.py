"""What-if: a cycle's results under a pilot rule set beside production's, from the same facts."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from domain.evaluation import SubmittedReview
from domain.goals import Direction, GoalStatus, Perspective
from domain.provenance import Provenance, Role
from domain.reviews import RaterSource, RatingScale
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import DEFAULT_RULES, RULE_BOOK_ID, RuleBook, TierReward
from domain.scoring import GoalFacts
from projections.reviews import competencies_from_json
from projections.rules import RulesModel
from service.application import Perfledger
from service.bootstrap import Services
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import DEMO, cycle_id_for
from service.whatif import CycleFrame, Outcome, compare, comparison, outcome, rules_of
from tests.conftest import make_settings
from tests.e2e import HR_PERSON, Server, running
from tests.helpers import catch_up, fetch, position

SEED = 6
Q2 = str(cycle_id_for(SEED, "2026-Q2"))
HR = Provenance("hr-1", Role.HR, "test", "pilot rules")
WHAT_IF = """
query($c: ID!, $v: Int!, $b: Int, $d: [ID!], $p: Int) {
  whatIf(cycleId: $c, pilotVersion: $v, baselineVersion: $b, departmentIds: $d,
         asOfPosition: $p) {
    position baselineVersion pilotVersion movedUp movedDown csv json
    rewardCostsProduction { ...costs }
    rewardCostsPilot { ...costs }
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
fragment costs on RewardCostSide {
  money { kind currency amount count }
  salaryShares { kind percent count }
  nonMonetary { kind count days }
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
    # KPIs weigh more, and tier B earns a fixed bonus instead of 5 % of salary.
    kpi_heavy = replace(
        DEFAULT_RULES,
        kpi_weight=Decimal(90),
        review_weight=Decimal(10),
        tier_rewards=[
            TierReward("B", RewardSpec(RewardKind.BONUS, amount=Money(Decimal(800), "EUR")))
            if r.tier == "B"
            else r
            for r in DEFAULT_RULES.tier_rewards
        ],
    )
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
    # What the proposed rewards add up to under each: the pilot's bill, by hand from its tiers.
    pilot_tiers = Counter(p["pilot"]["tier"] for p in people)
    assert pilot_tiers["B"] > 0
    assert result["rewardCostsPilot"] == {
        "money": [
            {
                "kind": "BONUS",
                "currency": "EUR",
                "amount": str(Decimal(800) * pilot_tiers["B"]),
                "count": pilot_tiers["B"],
            }
        ],
        "salaryShares": [{"kind": "BONUS", "percent": "10", "count": pilot_tiers["A"]}]
        if pilot_tiers["A"]
        else [],
        "nonMonetary": [
            {"kind": kind, "count": pilot_tiers[tier], "days": None}
            for kind, tier in (("RECOGNITION", "A"), ("TRAINING", "C"))
            if pilot_tiers[tier]
        ],
    }
    production_costs = result["rewardCostsProduction"]
    assert sum(c["count"] for kind in production_costs.values() for c in kind) == sum(
        len(p["production"]["rewards"]) for p in people
    )
    assert (
        json.loads(result["json"])["reward_costs"]["pilot"]["money"][0]["count"]
        == (pilot_tiers["B"])
    )
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


# -- each person under their own production version ---------------------------------------------

SCOPED_SEED = 8
TODAY = date(2026, 8, 31)
# A production version adopted for part of the organisation only (as a trial promoted for its
# scope adopts it); its cap and weights differ, so its people's scores do too.
SCOPED = replace(
    DEFAULT_RULES, achievement_cap=Decimal(150), kpi_weight=Decimal(30), review_weight=Decimal(70)
)
PILOT = replace(DEFAULT_RULES, kpi_weight=Decimal(80), review_weight=Decimal(20))
_SUBMITTED_RATINGS = """
SELECT r.appraisal_id, r.rater_key, r.source, g.competency,
       coalesce(g.calibrated_value, g.submitted_value) AS value
FROM review_raters r
JOIN review_ratings g ON g.appraisal_id = r.appraisal_id AND g.rater_key = r.rater_key
WHERE r.cycle_id = $1 AND r.status = 'submitted'
"""


async def reference_outcomes(
    conn: asyncpg.Connection, cycle_id: UUID, versions: dict[UUID, int]
) -> dict[UUID, Outcome]:
    """Each reviewee's outcome under their version in ``versions`` as ``whatif.outcome`` (the
    full ``evaluate``) computes it, from the facts read one rating and one goal at a time."""
    cycle = await conn.fetchrow("SELECT * FROM review_cycles WHERE id = $1", cycle_id)
    assert cycle is not None
    frame = CycleFrame(
        tuple(competencies_from_json(cycle["competencies"])),
        RatingScale(cycle["scale_min"], cycle["scale_max"]),
        cycle["anonymity_threshold"],
    )
    book = RulesModel()
    await book.load(conn)
    raters: dict[UUID, dict[str, tuple[RaterSource, dict[str, int | None]]]] = defaultdict(dict)
    for r in await conn.fetch(_SUBMITTED_RATINGS, cycle_id):
        _, ratings = raters[r["appraisal_id"]].setdefault(
            r["rater_key"], (RaterSource(r["source"]), {})
        )
        ratings[r["competency"]] = r["value"]
    found = {}
    for a in await conn.fetch("SELECT * FROM appraisals WHERE cycle_id = $1", cycle_id):
        goals = [
            GoalFacts(
                g["id"],
                g["title"],
                g["weight"],
                Direction(g["direction"]),
                g["baseline"],
                g["target"],
                Perspective(g["perspective"]),
                g["latest_value"],
            )
            for g in await conn.fetch(
                "SELECT * FROM goals WHERE owner_id = $1 AND period = $2 AND status <> $3",
                a["reviewee_id"],
                cycle["period"],
                GoalStatus.ABANDONED.value,
            )
        ]
        rules = rules_of(book, versions[a["reviewee_id"]])
        reviews = [SubmittedReview(*rater) for rater in raters[a["id"]].values()]
        found[a["reviewee_id"]] = outcome(goals, reviews, frame, rules)
    return found


async def test_each_person_is_compared_under_their_own_production_version(
    services: Services,
) -> None:
    """A scoped adoption puts part of the organisation under another production version: the
    what-if groups people by their version, and everyone's production side is what production
    computed for them (an open cycle follows the adoption, a closed one keeps its version)."""
    app = services.app
    await services.call(
        seed_organisation, app, employees=30, seed=SCOPED_SEED, through=TODAY, reviews=DEMO
    )
    pilot = app.define_rule_set(HR, PILOT, "pilot").version
    scoped = app.define_rule_set(HR, SCOPED, "for part of the organisation").version
    assert pilot is not None
    assert scoped is not None
    await catch_up(services)
    q2, q3 = (cycle_id_for(SCOPED_SEED, f"2026-Q{q}") for q in (2, 3))
    reviewees = sorted(
        r["reviewee_id"]
        for r in await fetch(services, "SELECT reviewee_id FROM appraisals WHERE cycle_id = $1", q3)
    )
    moved = {UUID(str(e)) for e in reviewees[::2]}  # the standard library's, for the event
    book: RuleBook = app.repository.get(RULE_BOOK_ID)
    book.adopt_for(scoped, date(2026, 1, 1), moved, HR)
    app.save(book)
    await catch_up(services)

    conn = await services.connect()
    try:
        for cycle, closed in ((q3, False), (q2, True)):
            result = await compare(conn, cycle, pilot, position=0)
            live = {
                r["employee_id"]: r
                for r in await conn.fetch(
                    "SELECT employee_id, final_score, rule_set_version FROM cycle_scorecards "
                    "WHERE cycle_id = $1",
                    cycle,
                )
            }
            assert {p.employee_id for p in result.people} == set(live)
            versions = {p.employee_id: p.baseline_version for p in result.people}
            for p in result.people:
                assert p.baseline_version == live[p.employee_id]["rule_set_version"]
                assert p.production.score == live[p.employee_id]["final_score"], p.code
            if closed:  # closed before the adoption: everyone keeps the version it closed under
                assert scoped not in versions.values()
            else:
                assert {v for e, v in versions.items() if e in moved} == {scoped}
                assert scoped not in {v for e, v in versions.items() if e not in moved}
                assert result.baseline_version in versions.values()
            # Both sides, person by person, are what the full evaluation gives on the facts.
            production = await reference_outcomes(conn, cycle, versions)
            piloted = await reference_outcomes(conn, cycle, dict.fromkeys(versions, pilot))
            for p in result.people:
                assert (p.production, p.pilot) == (
                    production[p.employee_id],
                    piloted[p.employee_id],
                ), p.code
            assert any(p.production != p.pilot for p in result.people)
        # An explicit baseline puts everyone under it.
        explicit = await compare(conn, q3, pilot, position=0, baseline_version=scoped)
        assert {p.baseline_version for p in explicit.people} == {scoped}
        assert explicit.baseline_version == scoped
    finally:
        await conn.close()

    # As of a past position, the read models replayed to it give what the live ones gave then.
    then = position(app)
    before, _ = await comparison(services, q3, pilot)
    goal = (
        await fetch(
            services,
            "SELECT id, owner_id, target FROM goals WHERE period = '2026-Q3' AND owner_id = $1 "
            "ORDER BY id LIMIT 1",
            before.people[0].employee_id,
        )
    )[0]
    await services.call(
        app.record_progress, HR, UUID(str(goal["id"])), goal["target"] * 3, TODAY, "correction"
    )
    await catch_up(services)
    now, _ = await comparison(services, q3, pilot)
    past, _ = await comparison(services, q3, pilot, position=then)
    assert (past.position, now.position) == (then, position(app))
    assert past.people == before.people
    assert now.people[0].production.kpi_score != before.people[0].production.kpi_score


# -- a closed cycle's facts are those of its close ------------------------------------------------


async def test_a_closed_cycle_is_compared_on_the_goals_as_they_stood_at_its_close(
    services: Services,
) -> None:
    """A measurement recorded after a cycle closed moves the period's KPI scorecard but not the
    closed cycle's result: production froze it at the close. The what-if compares both sides on
    the goals as they stood then, so production's side stays production's result and the pilot's
    is computed from the same facts."""
    app = services.app
    await services.call(
        seed_organisation, app, employees=30, seed=SCOPED_SEED, through=TODAY, reviews=DEMO
    )
    pilot = app.define_rule_set(HR, PILOT, "pilot").version
    assert pilot is not None
    await catch_up(services)
    q2 = cycle_id_for(SCOPED_SEED, "2026-Q2")
    conn = await services.connect()
    try:
        before = await compare(conn, q2, pilot, position=0)
        measured = next(
            p for p in before.people if p.production.kpi_score not in (None, Decimal(100))
        )
        goal = await conn.fetchrow(
            "SELECT id, target FROM goals WHERE owner_id = $1 AND period = '2026-Q2' "
            "AND status <> 'abandoned' ORDER BY id LIMIT 1",
            measured.employee_id,
        )
        assert goal is not None
        kpi_then = await conn.fetchval(
            "SELECT score FROM scorecards WHERE owner_id = $1 AND period = '2026-Q2'",
            measured.employee_id,
        )
        # Way past its target, late: the Q2 cycle closed long ago.
        await services.call(
            app.record_progress, HR, goal["id"], goal["target"] * 3, date(2026, 6, 30), "late"
        )
        await catch_up(services)
        kpi_now = await conn.fetchval(
            "SELECT score FROM scorecards WHERE owner_id = $1 AND period = '2026-Q2'",
            measured.employee_id,
        )
        assert kpi_now != kpi_then  # the period's KPI scorecard follows the late measurement
        after = await compare(conn, q2, pilot, position=0)
        live = {
            r["employee_id"]: r["final_score"]
            for r in await conn.fetch(
                "SELECT employee_id, final_score FROM cycle_scorecards WHERE cycle_id = $1", q2
            )
        }
        for p in after.people:
            assert p.production.score == live[p.employee_id], p.code
        assert [(p.employee_id, p.production, p.pilot) for p in after.people] == [
            (p.employee_id, p.production, p.pilot) for p in before.people
        ]
    finally:
        await conn.close()
