"""The live pilot projection: while a trial runs, every participant's scorecards under its rules,
beside production's, are exactly what the what-if computes for the pilot side from the same
facts; they follow new measurements, ratings, newcomers and revisions as they are projected, and
freeze when the trial ends; rebuilt from the log, the same rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.goals import Direction, GoalStatus, Perspective
from domain.provenance import Provenance, Role
from domain.reviews import RaterSource, Rating
from domain.rewards import RewardKind, RewardSpec
from domain.rules import DEFAULT_RULES, Tier, TierReward
from domain.scoring import GoalFacts, score_goals
from projections.organisation import DEPARTMENT_TREE
from service import whatif
from service.application import employee_id_for
from service.bootstrap import Services
from service.seed import seed_organisation
from service.seed_reviews import DEMO, cycle_id_for
from tests.helpers import catch_up, fetch, position, rebuild

SEED = 9
HR = Provenance("hr-1", Role.HR, "test", "pilot projection")
TODAY = date(2026, 8, 31)
NOW = datetime(2026, 8, 31, 12, tzinfo=UTC)
CYCLES = [cycle_id_for(SEED, f"2026-Q{q}") for q in (1, 2, 3)]  # Q1, Q2 closed; Q3 open
Q3 = CYCLES[2]
# A pilot that differs everywhere the scoring can: cap, KPI and review weights, tiers, rewards.
PILOT = replace(
    DEFAULT_RULES,
    achievement_cap=Decimal(150),
    kpi_weight=Decimal(80),
    review_weight=Decimal(20),
    tiers=[Tier("A", Decimal(85)), Tier("B", Decimal(70)), Tier("C", Decimal(0))],
    tier_rewards=[TierReward("A", RewardSpec(RewardKind.RECOGNITION, title="Pilot star"))],
)
REVISED = replace(
    PILOT, achievement_cap=Decimal(130), kpi_weight=Decimal(70), review_weight=Decimal(30)
)
_MEMBERS = DEPARTMENT_TREE + "SELECT id FROM employees WHERE department_id IN (SELECT id FROM tree)"
_LARGEST_FUNCTION = """
SELECT d.id FROM departments d JOIN departments p ON p.id = d.parent_id AND p.parent_id IS NULL
ORDER BY (SELECT count(*) FROM departments c WHERE c.parent_id = d.id) DESC, d.code LIMIT 1
"""


@dataclass
class Pilot:
    trial_id: UUID
    department: UUID
    version: int
    revised: int
    started: int  # the Started event's position


async def start_pilot(services: Services) -> Pilot:
    """A seeded organisation (cycles Q1, Q2 closed, Q3 open) and a pilot for 2026 over its
    largest division."""
    app = services.app
    await services.call(
        seed_organisation, app, employees=30, seed=SEED, through=TODAY, reviews=DEMO
    )
    version = app.define_rule_set(HR, PILOT, "pilot").version
    revised = app.define_rule_set(HR, REVISED, "pilot, revised").version
    assert version is not None
    assert revised is not None
    await catch_up(services)
    department = uuid((await fetch(services, _LARGEST_FUNCTION))[0]["id"])
    members = [uuid(r["id"]) for r in await fetch(services, _MEMBERS, [department])]
    trial_id = uuid4()
    started = position(app) + 1
    await services.call(
        app.start_trial,
        HR,
        trial_id=trial_id,
        name="Cap and weights pilot",
        rule_set_version=version,
        scope_departments=[department],
        scope_employees=[],
        members=members,
        period="2026",
        responsible=["hr-1"],
        show_participants=True,
        today=TODAY,
    )
    await catch_up(services)
    return Pilot(trial_id, department, version, revised, started)


async def participants(services: Services, trial_id: UUID) -> list[UUID]:
    rows = await fetch(
        services, "SELECT employee_id FROM trial_participants WHERE trial_id = $1", trial_id
    )
    return sorted(uuid(r["employee_id"]) for r in rows)


async def cycle_rows(services: Services, trial_id: UUID) -> dict[tuple[UUID, UUID], Any]:
    rows = await fetch(
        services, "SELECT * FROM pilot_cycle_scorecards WHERE trial_id = $1", trial_id
    )
    return {(uuid(r["cycle_id"]), uuid(r["employee_id"])): r for r in rows}


async def kpi_rows(services: Services, trial_id: UUID) -> dict[UUID, Any]:
    rows = await fetch(services, "SELECT * FROM pilot_kpi_scorecards WHERE trial_id = $1", trial_id)
    return {uuid(r["employee_id"]): r for r in rows}


def uuid(value: object) -> UUID:
    """asyncpg's UUID as the standard library's (the application records only those)."""
    return UUID(str(value))


async def q3_goal(services: Services, owner: UUID) -> Any:
    """One of ``owner``'s third-quarter goals."""
    rows = await fetch(
        services,
        "SELECT id, target, baseline FROM goals WHERE owner_id = $1 AND period = '2026-Q3' "
        "ORDER BY id LIMIT 1",
        owner,
    )
    return rows[0]


def rule_keys(rewards: str) -> tuple[str, ...]:
    return tuple(item["ruleKey"] for item in json.loads(rewards))


async def assert_rows_are_the_what_if(services: Services, pilot: Pilot, version: int) -> None:
    """Every participant's rows: the pilot side equals ``whatif.compare`` under ``version`` on the
    same facts; the production side equals production's read models."""
    people = await participants(services, pilot.trial_id)
    rows = await cycle_rows(services, pilot.trial_id)
    compared = 0
    for cycle in CYCLES:
        conn = await services.connect()
        try:
            result = await whatif.compare(conn, cycle, version, position=0, employees=people)
        finally:
            await conn.close()
        production = {
            r["employee_id"]: r
            for r in await fetch(
                services, "SELECT * FROM cycle_scorecards WHERE cycle_id = $1", cycle
            )
        }
        assert {e for c, e in rows if c == cycle} == {p.employee_id for p in result.people}
        for person in result.people:
            row, expected = rows[(cycle, person.employee_id)], person.pilot
            assert row["rule_set_version"] == version
            assert (
                row["kpi_score"],
                row["review_score"],
                row["score"],
                row["tier"],
                row["kpi_contribution"],
                row["review_contribution"],
                rule_keys(row["rewards"]),
            ) == (
                expected.kpi_score,
                expected.review_score,
                expected.score,
                expected.tier,
                expected.kpi_contribution,
                expected.review_contribution,
                expected.rewards,
            ), person.code
            made = production[person.employee_id]
            assert row["production_final_score"] == person.production.score == made["final_score"]
            assert (row["production_score"], row["production_tier"]) == (
                made["score"],
                made["tier"],
            )
            assert row["production_version"] == made["rule_set_version"]
            assert row["delta"] == person.delta
            compared += 1
    assert compared > 20
    # The KPI scorecard of the trial's period: its goals under the pilot's rules, beside
    # production's scorecard.
    kpis = await kpi_rows(services, pilot.trial_id)
    assert set(kpis) == set(people)
    goals = await fetch(services, "SELECT * FROM goals WHERE period = '2026'")
    scorecards = {
        r["owner_id"]: r
        for r in await fetch(services, "SELECT * FROM scorecards WHERE period = '2026'")
    }
    rules = REVISED if version == pilot.revised else PILOT
    for employee_id, row in kpis.items():
        facts = goal_facts_of([g for g in goals if g["owner_id"] == employee_id])
        expected_kpi = score_goals(facts, rules)
        assert (row["score"], row["tier"], row["coverage"]) == (
            expected_kpi.score,
            expected_kpi.tier,
            expected_kpi.coverage,
        )
        scorecard = scorecards.get(employee_id)
        if scorecard is not None:
            assert (row["production_score"], row["production_tier"]) == (
                scorecard["score"],
                scorecard["tier"],
            )
            assert row["production_version"] == scorecard["rule_set_version"]


async def test_live_pilot_rows_follow_the_facts_and_equal_the_what_if(services: Services) -> None:
    app = services.app
    pilot = await start_pilot(services)
    await assert_rows_are_the_what_if(services, pilot, pilot.version)
    people = await participants(services, pilot.trial_id)
    assert len(people) > 5
    before = await cycle_rows(services, pilot.trial_id)
    assert all(r["position"] >= pilot.started for r in before.values())

    # A new measurement for a participant's third-quarter goal moves their Q3 row (and only it).
    subject = next(e for c, e in before if c == Q3)
    goal = await q3_goal(services, subject)
    await services.call(
        app.record_progress, HR, uuid(goal["id"]), goal["target"] * 2, TODAY, "correction"
    )
    measured = position(app)
    await catch_up(services)
    after = await cycle_rows(services, pilot.trial_id)
    assert after[(Q3, subject)]["position"] == measured
    assert after[(Q3, subject)]["kpi_score"] != before[(Q3, subject)]["kpi_score"]
    moved = {k for k in after if after[k]["position"] != before[k]["position"]}
    assert moved == {(Q3, subject)}
    await assert_rows_are_the_what_if(services, pilot, pilot.version)

    # A late measurement of a second-quarter goal, after that cycle closed, moves neither side of
    # the closed cycle: both are scored on the goals as they stood at its close.
    q2 = CYCLES[1]
    late = (
        await fetch(
            services,
            "SELECT id, target FROM goals WHERE owner_id = $1 AND period = '2026-Q2' "
            "AND status <> 'abandoned' ORDER BY id LIMIT 1",
            subject,
        )
    )[0]
    await services.call(
        app.record_progress, HR, uuid(late["id"]), late["target"] * 3, date(2026, 6, 30), "late"
    )
    await catch_up(services)
    closed = (await cycle_rows(services, pilot.trial_id))[(q2, subject)]
    kept = ("kpi_score", "score", "tier", "production_final_score", "delta")
    assert [closed[k] for k in kept] == [after[(q2, subject)][k] for k in kept]
    await assert_rows_are_the_what_if(services, pilot, pilot.version)

    # A peer's submitted review moves the reviewee's Q3 row.
    reviewee = next(e for c, e in before if c == Q3 and e != subject)
    peer = next(e for e in people if e not in (subject, reviewee))
    await services.call(app.assign_peer_rater, HR, Q3, reviewee, peer)
    cycle = services.projector.reviews.cycles[Q3]
    await services.call(
        app.submit_review,
        Provenance(str(peer), Role.EMPLOYEE, "test"),
        cycle_id=Q3,
        reviewee_id=reviewee,
        ratings=[Rating(c.key, cycle.scale.maximum) for c in cycle.competencies],
        comments="Great quarter",
        now=NOW,
    )
    rated = position(app)
    await catch_up(services)
    assert (await cycle_rows(services, pilot.trial_id))[(Q3, reviewee)]["position"] == rated
    await assert_rows_are_the_what_if(services, pilot, pilot.version)

    # Someone hired into the scope takes part from then on, with a KPI scorecard of their own.
    await services.call(
        app.hire_employee,
        HR,
        code="NEW1",
        name="New Joiner",
        department_id=pilot.department,
        manager_id=None,
        job_title="Analyst",
        hire_date=TODAY,
        attributes={},
    )
    hired = position(app)
    await catch_up(services)
    newcomer = employee_id_for("NEW1")
    kpis = await kpi_rows(services, pilot.trial_id)
    assert kpis[newcomer]["position"] == hired
    assert kpis[newcomer]["score"] is None

    # A revision scores everyone again under the new version, at the revision's position.
    await services.call(
        app.revise_trial, HR.because("a gentler cap"), pilot.trial_id, pilot.revised
    )
    revised = position(app)
    await catch_up(services)
    rows = await cycle_rows(services, pilot.trial_id)
    assert all(r["position"] == revised for r in rows.values())
    assert all(
        r["position"] == revised for r in (await kpi_rows(services, pilot.trial_id)).values()
    )
    await assert_rows_are_the_what_if(services, pilot, pilot.revised)


async def test_rows_freeze_when_the_trial_ends_and_rebuild_identically(services: Services) -> None:
    app = services.app
    pilot = await start_pilot(services)
    before = await cycle_rows(services, pilot.trial_id)
    subject = next(e for c, e in before if c == Q3)
    goal = await q3_goal(services, subject)
    # A measurement and the rollback in one batch: the rows are those at the rollback, the
    # measurement included.
    await services.call(app.record_progress, HR, uuid(goal["id"]), goal["target"], TODAY, "late")
    ended = position(app) + 1
    await services.call(app.roll_back_trial, HR.because("not convincing"), pilot.trial_id, TODAY)
    await services.call(
        app.record_progress, HR, uuid(goal["id"]), goal["target"] * 3, TODAY, "after"
    )
    await catch_up(services)
    frozen = await cycle_rows(services, pilot.trial_id)
    assert all(r["closed"] and r["position"] == ended for r in frozen.values())
    kpis = await kpi_rows(services, pilot.trial_id)
    assert all(r["closed"] and r["position"] == ended for r in kpis.values())
    # The measurement before the end counts, the one after does not: the row is the what-if as
    # of the end.
    async with services.read_pool.acquire() as conn:
        facts = await conn.fetch(
            "SELECT * FROM goals WHERE owner_id = $1 AND period = '2026-Q3'", subject
        )
    at_end = [
        replace(f, latest_value=goal["target"]) if f.goal_id == goal["id"] else f
        for f in goal_facts_of(facts)
    ]
    assert frozen[(Q3, subject)]["kpi_score"] == score_goals(at_end, PILOT).score

    # Nothing moves them afterwards.
    await services.call(app.record_progress, HR, uuid(goal["id"]), goal["baseline"], TODAY, "later")
    await catch_up(services)
    assert await cycle_rows(services, pilot.trial_id) == frozen

    # Anonymity: a withheld source carries nothing but that it is withheld, and no row names
    # a rater.
    sources = [s for r in frozen.values() for s in json.loads(r["sources"])]
    assert any(s["withheld"] for s in sources)
    assert all(set(s) == {"source", "withheld"} for s in sources if s["withheld"])
    raters = await fetch(
        services,
        "SELECT rater_employee_id, external_ref FROM review_raters WHERE source IN ($1, $2)",
        RaterSource.PEER.value,
        RaterSource.CUSTOMER.value,
    )
    text = " ".join(
        r[column]
        for r in frozen.values()
        for column in ("sources", "rewards", "production_rewards")
    )
    for rater in raters:
        for identity in (rater["rater_employee_id"], rater["external_ref"]):
            if identity is not None:
                assert str(identity) not in text

    # Kept batch by batch as it happened, or projected again in batches of three events from
    # just before the start (so that the start, the facts and the end fall anywhere), or in
    # one go: the same rows.
    kept = (frozen, await kpi_rows(services, pilot.trial_id))
    work = await services.connect()
    try:
        await services.projector.reset(work)
        await services.runner.catch_up(work, until=pilot.started - 2)
        services.runner.batch_size = 3
        await services.runner.catch_up(work)
    finally:
        await work.close()
    assert (
        await cycle_rows(services, pilot.trial_id),
        await kpi_rows(services, pilot.trial_id),
    ) == kept
    services.runner.batch_size = 100_000
    await rebuild(services)
    assert (
        await cycle_rows(services, pilot.trial_id),
        await kpi_rows(services, pilot.trial_id),
    ) == kept


def goal_facts_of(rows: list[Any]) -> list[GoalFacts]:
    """Scoring inputs from ``goals`` rows (abandoned goals do not count)."""
    return [
        GoalFacts(
            r["id"],
            r["title"],
            r["weight"],
            Direction(r["direction"]),
            r["baseline"],
            r["target"],
            Perspective(r["perspective"]),
            r["latest_value"],
        )
        for r in rows
        if r["status"] != GoalStatus.ABANDONED.value
    ]
