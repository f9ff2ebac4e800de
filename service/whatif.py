"""What-if: a review cycle's results under another rule-set version, beside production's.

Every result is a function of (facts, rule set): the facts are read from the read models (live,
in one repeatable-read snapshot, or replayed as of a past position: ``service.fairness.snapshot``)
and the scoring code (``domain.scoring``, ``domain.evaluation``, ``domain.proposals``) runs on
them twice, under the baseline version (default: production's, in force when the cycle's period
began) and under the pilot version (any version, adopted or only defined). Nothing is written.

Both sides are computed the same way, so that the difference is the rules' alone: ratings with
their calibrations applied, and no calibrated *result* (hr calibrated the result under the
rules of the time; it is reported beside, not substituted). Streak rewards are left out (they
do not depend on the rule set's scoring, only on its eligibility list): tier rewards are compared.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from domain.errors import InvalidInput, NotFound
from domain.evaluation import Evaluation, SubmittedReview, evaluate
from domain.fairness.data import Subjects
from domain.fairness.disparities import (
    DisparityParameters,
    OutcomeDisparities,
    ScoreDisparities,
    audit_disparities,
)
from domain.goals import Direction, GoalStatus, Perspective
from domain.periods import Period
from domain.proposals import propose_rewards
from domain.reviews import Competency, RaterSource, RatingScale
from domain.rules import DEFAULT_RULES, RuleSet
from domain.scoring import GoalFacts, score_goals
from projections.organisation import DEPARTMENT_TREE
from projections.reviews import competencies_from_json
from projections.rules import RulesModel
from service import fairness

_CYCLE = "SELECT * FROM review_cycles WHERE id = $1"
_APPRAISALS = """
SELECT a.id, a.reviewee_id, a.calibrated_score, d.code AS department, e.code, e.name
FROM appraisals a JOIN departments d ON d.id = a.department_id
JOIN employees e ON e.id = a.reviewee_id
WHERE a.cycle_id = $1 AND ($2::uuid[] IS NULL OR a.reviewee_id = ANY($2::uuid[]))
ORDER BY e.code
"""
_RATINGS = """
SELECT r.appraisal_id, r.rater_key, r.source, g.competency,
       coalesce(g.calibrated_value, g.submitted_value) AS value
FROM review_raters r
JOIN review_ratings g ON g.appraisal_id = r.appraisal_id AND g.rater_key = r.rater_key
WHERE r.cycle_id = $1 AND r.status = 'submitted'
"""
_GOALS = """
SELECT owner_id, id, title, weight, direction, baseline, target, perspective, latest_value, status
FROM goals WHERE period = $1 AND owner_id = ANY($2::uuid[])
"""


@dataclass(frozen=True)
class Outcome:
    kpi_score: Decimal | None
    review_score: Decimal | None
    score: Decimal | None
    tier: str | None
    kpi_contribution: Decimal
    review_contribution: Decimal
    rewards: tuple[str, ...]  # the tier rewards the rules propose, by rule key


@dataclass(frozen=True)
class PersonComparison:
    employee_id: UUID
    code: str
    name: str
    department: str
    production: Outcome
    pilot: Outcome
    calibrated_score: Decimal | None  # what hr set under production, for reference

    @property
    def delta(self) -> Decimal | None:
        if self.production.score is None or self.pilot.score is None:
            return None
        return self.pilot.score - self.production.score


@dataclass(frozen=True)
class WhatIf:
    cycle_id: UUID
    period: str
    position: int
    baseline_version: int
    pilot_version: int
    tiers: tuple[str, ...]  # best first, as the pilot's rules name them
    people: tuple[PersonComparison, ...]

    def moved(self, direction: int) -> list[PersonComparison]:
        """Those whose tier went up (1) or down (-1) under the pilot."""
        order = {t: i for i, t in enumerate(self.tiers)}
        found = []
        for p in self.people:
            before, after = order.get(p.production.tier or ""), order.get(p.pilot.tier or "")
            if before is None or after is None or before == after:
                continue
            if (after < before) == (direction > 0):
                found.append(p)
        return found

    def tier_counts(self, side: str) -> Counter[str]:
        return Counter(getattr(p, side).tier or "none" for p in self.people)

    def reward_counts(self, side: str) -> Counter[str]:
        return Counter(key for p in self.people for key in getattr(p, side).rewards)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "employee_id",
                "code",
                "name",
                "department",
                "production_score",
                "production_tier",
                "pilot_score",
                "pilot_tier",
                "delta",
                "kpi_contribution_delta",
                "review_contribution_delta",
                "production_rewards",
                "pilot_rewards",
                "calibrated_score",
            ]
        )
        for p in self.people:
            writer.writerow(
                [
                    p.employee_id,
                    p.code,
                    p.name,
                    p.department,
                    p.production.score,
                    p.production.tier,
                    p.pilot.score,
                    p.pilot.tier,
                    p.delta,
                    p.pilot.kpi_contribution - p.production.kpi_contribution,
                    p.pilot.review_contribution - p.production.review_contribution,
                    " ".join(p.production.rewards),
                    " ".join(p.pilot.rewards),
                    p.calibrated_score,
                ]
            )
        return out.getvalue()


@dataclass(frozen=True)
class CycleFrame:
    """What every person of a cycle is evaluated against, read once."""

    competencies: tuple[Competency, ...]
    scale: RatingScale
    anonymity_threshold: int


def outcome(
    goals: Sequence[GoalFacts],
    reviews: Sequence[SubmittedReview],
    frame: CycleFrame,
    rules: RuleSet,
    memo: dict[tuple[object, ...], Any] | None = None,
) -> Outcome:
    """One person's result under ``rules``; ``memo`` shared between the two sides of a
    comparison computes each source's score once when both weigh competencies alike."""
    kpi = score_goals(goals, rules).score if goals else None
    evaluation: Evaluation = evaluate(
        kpi_score=kpi,
        reviews=reviews,
        competencies=frame.competencies,
        scale=frame.scale,
        anonymity_threshold=frame.anonymity_threshold,
        rules=rules,
        source_memo=memo,
    )
    contributions = {c.name: c.contribution for c in evaluation.components}
    return Outcome(
        kpi_score=evaluation.kpi_score,
        review_score=evaluation.review_score,
        score=evaluation.score,
        tier=evaluation.tier,
        kpi_contribution=contributions.get("kpi", Decimal(0)),
        review_contribution=contributions.get("review", Decimal(0)),
        rewards=tuple(p.rule_key for p in propose_rewards(evaluation.tier, rules, {})),
    )


async def compare(
    conn: asyncpg.Connection,
    cycle_id: UUID,
    pilot_version: int,
    *,
    position: int,
    baseline_version: int | None = None,
    employees: Sequence[UUID] | None = None,
) -> WhatIf:
    """The cycle's people (or those of ``employees``) under both versions."""
    cycle = await conn.fetchrow(_CYCLE, cycle_id)
    if cycle is None:
        raise NotFound(f"review cycle {cycle_id} does not exist", field="cycleId")
    book = RulesModel()
    await book.load(conn)
    period = Period.parse(cycle["period"])
    production_version, _ = book.in_force(period.start)
    baseline = production_version if baseline_version is None else baseline_version
    for version, name in ((pilot_version, "pilotVersion"), (baseline, "baselineVersion")):
        if version != 0 and version not in book.versions:
            raise InvalidInput(f"rule-set version {version} was never defined", field=name)

    def rules_for(version: int) -> RuleSet:
        return DEFAULT_RULES if version == 0 else book.versions[version]

    frame = CycleFrame(
        tuple(competencies_from_json(cycle["competencies"])),
        RatingScale(cycle["scale_min"], cycle["scale_max"], json.loads(cycle["scale_labels"])),
        cycle["anonymity_threshold"],
    )
    people = await conn.fetch(_APPRAISALS, cycle_id, list(employees) if employees else None)
    reviews: dict[UUID, dict[str, tuple[RaterSource, dict[str, int | None]]]] = defaultdict(dict)
    for r in await conn.fetch(_RATINGS, cycle_id):
        rater = reviews[r["appraisal_id"]].setdefault(
            r["rater_key"], (RaterSource(r["source"]), {})
        )
        rater[1][r["competency"]] = r["value"]
    goals: dict[UUID, list[GoalFacts]] = defaultdict(list)
    for g in await conn.fetch(_GOALS, str(period), [p["reviewee_id"] for p in people]):
        if g["status"] == GoalStatus.ABANDONED.value:
            continue
        goals[g["owner_id"]].append(
            GoalFacts(
                g["id"],
                g["title"],
                Decimal(g["weight"]),
                Direction(g["direction"]),
                Decimal(g["baseline"]),
                Decimal(g["target"]),
                Perspective(g["perspective"]),
                None if g["latest_value"] is None else Decimal(g["latest_value"]),
            )
        )
    compared = []
    for p in people:
        submitted = [
            SubmittedReview(source, ratings) for source, ratings in reviews[p["id"]].values()
        ]
        mine = goals.get(p["reviewee_id"], [])
        memo: dict[tuple[object, ...], Any] = {}
        compared.append(
            PersonComparison(
                employee_id=p["reviewee_id"],
                code=p["code"],
                name=p["name"],
                department=p["department"],
                production=outcome(mine, submitted, frame, rules_for(baseline), memo),
                pilot=outcome(mine, submitted, frame, rules_for(pilot_version), memo),
                calibrated_score=p["calibrated_score"],
            )
        )
    return WhatIf(
        cycle_id=cycle_id,
        period=str(period),
        position=position,
        baseline_version=baseline,
        pilot_version=pilot_version,
        tiers=tuple(t.name for t in rules_for(pilot_version).tiers),
        people=tuple(compared),
    )


def as_json(result: WhatIf) -> dict[str, Any]:
    def side(o: Outcome) -> dict[str, Any]:
        return {
            "score": None if o.score is None else str(o.score),
            "tier": o.tier,
            "kpi_contribution": str(o.kpi_contribution),
            "review_contribution": str(o.review_contribution),
            "rewards": list(o.rewards),
        }

    return {
        "cycle_id": str(result.cycle_id),
        "period": result.period,
        "position": result.position,
        "baseline_version": result.baseline_version,
        "pilot_version": result.pilot_version,
        "tiers": {
            "production": dict(result.tier_counts("production")),
            "pilot": dict(result.tier_counts("pilot")),
        },
        "moved_up": [str(p.employee_id) for p in result.moved(1)],
        "moved_down": [str(p.employee_id) for p in result.moved(-1)],
        "people": [
            {
                "employee_id": str(p.employee_id),
                "code": p.code,
                "department": p.department,
                "production": side(p.production),
                "pilot": side(p.pilot),
                "delta": None if p.delta is None else str(p.delta),
            }
            for p in result.people
        ],
    }


# -- fairness under each rule set -----------------------------------------------------------------


@dataclass(frozen=True)
class GroupSide:
    """One group under one rule set: its mean score against the rest, and its selection rate
    into each tier with the impact ratio against the most-selected group."""

    n: int
    mean_score: float | None
    difference: float | None
    p_adjusted: float | None
    tiers: tuple[tuple[str, float, float, bool], ...]  # tier, rate, impact ratio, below 4/5


@dataclass(frozen=True)
class GroupComparison:
    grouping: str
    label: str
    production: GroupSide | None  # None: not shown (too small, or not comparable)
    pilot: GroupSide | None


def fairness_sides(
    result: WhatIf, subjects: Subjects, group_by: Sequence[str], seed: int = 1
) -> list[GroupComparison]:
    """The fairness audit's group view of the comparison: for each attribute, each group's mean
    score and tier selection rates and impact ratios under production and under the pilot (small
    groups left out, as in the audit; permutation p-values seeded)."""
    unknown = [a for a in group_by if a not in subjects.groups]
    if unknown:
        raise InvalidInput(
            f"unknown group attribute {', '.join(unknown)}; known: "
            f"{', '.join(sorted(subjects.groups))}",
            field="groupBy",
        )
    # The comparison's people only (a scoped what-if compares its scope, not the whole cycle).
    wanted = {str(p.employee_id) for p in result.people}
    keep = [i for i, pid in enumerate(subjects.ids) if pid in wanted]
    subjects = Subjects(
        [subjects.ids[i] for i in keep],
        {name: [values[i] for i in keep] for name, values in subjects.groups.items()},
        subjects.score[keep],
    )
    where = {pid: i for i, pid in enumerate(subjects.ids)}
    sides: dict[str, dict[tuple[str, str], GroupSide]] = {}
    for side in ("production", "pilot"):
        score = np.full(len(subjects.ids), np.nan)
        tier: list[str | None] = [None] * len(subjects.ids)
        for p in result.people:
            i = where.get(str(p.employee_id))
            if i is None:
                continue
            outcome_ = getattr(p, side)
            score[i] = np.nan if outcome_.score is None else float(outcome_.score)
            tier[i] = outcome_.tier
        selections = {
            f"tier:{t}": np.array([x == t for x in tier], dtype=bool) for t in result.tiers
        }
        scored = Subjects(subjects.ids, subjects.groups, score, selections)
        reports = audit_disparities(
            scored,
            [(a,) for a in group_by],
            DisparityParameters(seed=seed, permutations=1000, small_groups="exclude"),
        )
        found: dict[tuple[str, str], GroupSide] = {}
        for report in reports:
            rates: dict[str, list[tuple[str, float, float, bool]]] = defaultdict(list)
            for table in report.selections:
                if isinstance(table, OutcomeDisparities):
                    for chosen in table.groups:
                        rates[chosen.label].append(
                            (
                                table.outcome.removeprefix("tier:"),
                                chosen.rate,
                                chosen.impact_ratio,
                                chosen.below_four_fifths,
                            )
                        )
            scores = report.scores
            means = (
                {g.label: g for g in scores.groups} if isinstance(scores, ScoreDisparities) else {}
            )
            for count in report.counts:
                mean = means.get(count.label)
                found[(report.name, count.label)] = GroupSide(
                    n=count.n,
                    mean_score=None if mean is None else mean.mean,
                    difference=None if mean is None else mean.difference,
                    p_adjusted=None if mean is None else mean.p_adjusted,
                    tiers=tuple(rates.get(count.label, ())),
                )
        sides[side] = found
    keys = sorted(set(sides["production"]) | set(sides["pilot"]))
    return [
        GroupComparison(
            grouping=grouping,
            label=label,
            production=sides["production"].get((grouping, label)),
            pilot=sides["pilot"].get((grouping, label)),
        )
        for grouping, label in keys
    ]


# -- the comparison as the API serves it ----------------------------------------------------------

DEFAULT_GROUPS = ("division", "gender")
_REVIEWEES_BELOW = (
    DEPARTMENT_TREE + "SELECT reviewee_id FROM appraisals WHERE cycle_id = $2 "
    "AND department_id IN (SELECT id FROM tree)"
)


async def comparison(
    services: Any,
    cycle_id: UUID,
    pilot_version: int,
    *,
    position: int | None = None,
    baseline_version: int | None = None,
    employees: Sequence[UUID] = (),
    departments: Sequence[UUID] = (),
    group_by: Sequence[str] | None = None,
) -> tuple[WhatIf, list[GroupComparison]]:
    """``compare`` and ``fairness_sides`` on one snapshot of the read models (live, or replayed
    as of ``position``): the cycle's people, or those named and those reviewed in ``departments``
    and their sub-departments."""
    async with fairness.snapshot(services, cycle_id, position) as (conn, at):
        scope: list[UUID] | None = None
        if employees or departments:
            scope = list(employees)
            if departments:
                rows = await conn.fetch(_REVIEWEES_BELOW, list(departments), cycle_id)
                scope += [r["reviewee_id"] for r in rows]
            if not scope:
                raise InvalidInput("the scope has nobody in this cycle")
        result = await compare(
            conn,
            cycle_id,
            pilot_version,
            position=at,
            baseline_version=baseline_version,
            employees=scope,
        )
        inputs = await fairness.read_inputs(conn, cycle_id, at)
    groups = await asyncio.to_thread(
        fairness_sides, result, inputs.subjects, DEFAULT_GROUPS if group_by is None else group_by
    )
    return result, groups
