"""What-if: a review cycle's results under another rule-set version, beside production's.

Every result is a function of (facts, rule set): the facts are read from the read models (live,
in one repeatable-read snapshot, or replayed as of a past position: ``service.fairness.snapshot``)
and scored twice, under the baseline version and under the pilot version (any version, adopted
or only defined). Nothing is written. The baseline is, by default, each person's production
version: the one production computed their cycle scorecard under (scoped adoptions put some
people under another version than the rest), so production's side is production's result.

``outcome`` is the definition of one side, with the full ``domain.evaluation.evaluate``;
``compare`` computes the same figures with ``domain.cycle_figures.CycleScorer`` (equal digit for
digit, tested) from facts read in bulk, so that 10,000 people take a second or two, not seven.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import numpy as np

from domain.cycle_figures import CycleScorer, Figures, SourceTally, figures_of
from domain.errors import InvalidInput, NotFound
from domain.evaluation import SOURCE_ORDER, SubmittedReview, evaluate
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
from domain.reward_costs import RewardCosts, reward_costs
from domain.rewards import RewardSpec
from domain.rules import DEFAULT_RULES, RuleSet
from domain.scoring import GoalFacts, score_goals
from projections.organisation import DEPARTMENT_TREE
from projections.reviews import competencies_from_json
from projections.rules import BUILT_IN_VERSION, RulesModel
from projections.scorecards import facts_from_json
from service import fairness

_CYCLE = "SELECT * FROM review_cycles WHERE id = $1"
# Each reviewee with their submitted reviews in one row: the sources of the raters who submitted
# (their 0-based place in $3), and each observed rating of a competency of the framework as its
# value and its cell, source_place * number_of_competencies + competency_place (places in $3 and
# $4). Small integers in arrays travel and decode far faster than 350,000 rows of text for
# 10,000 people, and the cells let the tallies be summed without looking anything up. Beside
# them, from the person's cycle scorecard: the version production computed it under (in force
# for them when the period began: scoped adoptions put some people under another version than
# the rest; a closed cycle keeps the version it closed under), and, once it closed, the goals
# its result was frozen with, as they stood at the close.
_PEOPLE = """
SELECT a.id, a.reviewee_id, a.calibrated_score, d.code AS department, e.code, e.name,
       x.raters, t.cells, t.ratings, s.rule_set_version AS production_version,
       CASE WHEN s.kpi_frozen THEN s.kpi_goals END AS frozen_goals
FROM appraisals a JOIN departments d ON d.id = a.department_id
JOIN employees e ON e.id = a.reviewee_id
LEFT JOIN cycle_scorecards s ON s.cycle_id = a.cycle_id AND s.employee_id = a.reviewee_id
LEFT JOIN (
    SELECT appraisal_id, array_agg(array_position($3::text[], source) - 1) AS raters
    FROM review_raters
    WHERE cycle_id = $1 AND status = 'submitted'
      AND ($2::uuid[] IS NULL OR reviewee_id = ANY($2::uuid[]))
    GROUP BY appraisal_id
) x ON x.appraisal_id = a.id
LEFT JOIN (
    SELECT appraisal_id, array_agg(cell) AS cells, array_agg(rating) AS ratings
    FROM (
        SELECT r.appraisal_id, coalesce(g.calibrated_value, g.submitted_value) AS rating,
               (array_position($3::text[], r.source) - 1) * cardinality($4::text[])
               + array_position($4::text[], g.competency) - 1 AS cell
        FROM review_raters r
        JOIN review_ratings g ON g.appraisal_id = r.appraisal_id AND g.rater_key = r.rater_key
        WHERE r.cycle_id = $1 AND r.status = 'submitted'
          AND ($2::uuid[] IS NULL OR r.reviewee_id = ANY($2::uuid[]))
    ) observed
    WHERE cell IS NOT NULL AND rating IS NOT NULL
    GROUP BY appraisal_id
) t ON t.appraisal_id = a.id
WHERE a.cycle_id = $1 AND ($2::uuid[] IS NULL OR a.reviewee_id = ANY($2::uuid[]))
ORDER BY e.code
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
    baseline_version: int  # the version of their ``production`` side

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
    # The explicit baseline, or production's version for most of the people (scoped adoptions
    # can put some under another: each person's own is ``PersonComparison.baseline_version``).
    baseline_version: int
    pilot_version: int
    tiers: tuple[str, ...]  # best first, as the pilot's rules name them
    people: tuple[PersonComparison, ...]
    # (version, rule key) → what that rule gives, for every tier reward either side proposes
    reward_specs: Mapping[tuple[int, str], RewardSpec] = field(default_factory=dict)

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

    def reward_costs(self, side: str) -> RewardCosts:
        """What the tier rewards proposed under ``side`` ("production" or "pilot") add up to,
        each person's under the version of their side."""
        specs = self.reward_specs
        return reward_costs(
            specs[(p.baseline_version if side == "production" else self.pilot_version, key)]
            for p in self.people
            for key in getattr(p, side).rewards
        )

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
) -> Outcome:
    """One person's result under ``rules``, as ``evaluate`` defines it: the reference that
    ``compare``'s quicker path (``domain.cycle_figures``) must equal."""
    kpi = score_goals(goals, rules).score if goals else None
    evaluation = evaluate(
        kpi_score=kpi,
        reviews=reviews,
        competencies=frame.competencies,
        scale=frame.scale,
        anonymity_threshold=frame.anonymity_threshold,
        rules=rules,
    )
    return outcome_of(figures_of(evaluation), tier_rewards(evaluation.tier, rules))


def outcome_of(figures: Figures, rewards: tuple[str, ...]) -> Outcome:
    return Outcome(
        kpi_score=figures.kpi_score,
        review_score=figures.review_score,
        score=figures.final_score,  # no calibrated result on either side
        tier=figures.tier,
        kpi_contribution=figures.kpi_contribution,
        review_contribution=figures.review_contribution,
        rewards=rewards,
    )


def tier_rewards(tier: str | None, rules: RuleSet) -> tuple[str, ...]:
    """The rule keys of the rewards ``rules`` propose for ``tier`` (streaks left out)."""
    return tuple(p.rule_key for p in propose_rewards(tier, rules, {}))


@dataclass(frozen=True)
class PersonFacts:
    """One reviewee's facts, as a what-if reads them."""

    appraisal: asyncpg.Record  # a _PEOPLE row: the appraisal, its reviewee, their scorecard
    goals: Sequence[GoalFacts]
    tallies: Mapping[RaterSource, SourceTally]

    @property
    def employee_id(self) -> UUID:
        employee_id: UUID = self.appraisal["reviewee_id"]
        return employee_id


async def compare(
    conn: asyncpg.Connection,
    cycle_id: UUID,
    pilot_version: int,
    *,
    position: int,
    baseline_version: int | None = None,
    employees: Sequence[UUID] | None = None,
) -> WhatIf:
    """The cycle's people (or those of ``employees``) under the pilot version and under the
    baseline: ``baseline_version`` for everyone when given, else each person's production
    version."""
    cycle = await conn.fetchrow(_CYCLE, cycle_id)
    if cycle is None:
        raise NotFound(f"review cycle {cycle_id} does not exist", field="cycleId")
    book = RulesModel()
    await book.load(conn)
    period = Period.parse(cycle["period"])
    for version, name in ((pilot_version, "pilotVersion"), (baseline_version, "baselineVersion")):
        if version is not None and version != 0 and version not in book.versions:
            raise InvalidInput(f"rule-set version {version} was never defined", field=name)
    frame = CycleFrame(
        tuple(competencies_from_json(cycle["competencies"])),
        RatingScale(cycle["scale_min"], cycle["scale_max"], json.loads(cycle["scale_labels"])),
        cycle["anonymity_threshold"],
    )
    people = await read_facts(conn, cycle_id, str(period), frame.competencies, employees)
    if baseline_version is None:
        baselines = production_versions(book, period, people)
    else:
        baselines = dict.fromkeys((p.employee_id for p in people), baseline_version)
    counted = Counter(baselines.values())
    versions = {pilot_version, *baselines.values()}
    return WhatIf(
        cycle_id=cycle_id,
        period=str(period),
        position=position,
        baseline_version=(
            baseline_version
            if baseline_version is not None
            else min(counted, key=lambda v: (-counted[v], v))
            if counted
            else book.in_force(period.start)[0]
        ),
        pilot_version=pilot_version,
        tiers=tuple(t.name for t in rules_of(book, pilot_version).tiers),
        people=tuple(compared(people, frame, book, baselines, pilot_version)),
        reward_specs={
            (version, key): spec
            for version in versions
            for key, spec in rules_of(book, version).reward_rules().items()
        },
    )


def rules_of(book: RulesModel, version: int) -> RuleSet:
    return DEFAULT_RULES if version == BUILT_IN_VERSION else book.versions[version]


def production_versions(
    book: RulesModel, period: Period, people: Sequence[PersonFacts]
) -> dict[UUID, int]:
    """Each person's production version for the cycle: the one their cycle scorecard was
    computed under, or (no scorecard yet) the one in force for them when the period began."""
    versions = {}
    for person in people:
        recorded = person.appraisal["production_version"]
        versions[person.employee_id] = (
            recorded if recorded is not None else book.in_force(period.start, person.employee_id)[0]
        )
    return versions


async def read_facts(
    conn: asyncpg.Connection,
    cycle_id: UUID,
    period: str,
    competencies: Sequence[Competency],
    employees: Sequence[UUID] | None,
) -> list[PersonFacts]:
    """The cycle's reviewees (or those of ``employees``) with their goals of the cycle's period
    and the tallies of their submitted reviews, calibrations applied. A closed appraisal's goals
    are as they stood at its close (production froze its result then; a later measurement moves
    the period's KPI scorecard, not the closed cycle)."""
    scope = list(employees) if employees else None
    keys = [c.key for c in competencies]
    rows = await conn.fetch(_PEOPLE, cycle_id, scope, [s.value for s in SOURCE_ORDER], keys)
    goals: dict[UUID, list[GoalFacts]] = defaultdict(list)
    frozen = {
        r["reviewee_id"]: facts_from_json(r["frozen_goals"])
        for r in rows
        if r["frozen_goals"] is not None
    }
    goals.update(frozen)
    live = [r["reviewee_id"] for r in rows if r["reviewee_id"] not in frozen]
    for g in await conn.fetch(_GOALS, period, live):
        if g["status"] == GoalStatus.ABANDONED.value:
            continue
        goals[g["owner_id"]].append(
            GoalFacts(
                g["id"],
                g["title"],
                Decimal(g["weight"]),
                _DIRECTIONS[g["direction"]],
                Decimal(g["baseline"]),
                Decimal(g["target"]),
                _PERSPECTIVES[g["perspective"]],
                None if g["latest_value"] is None else Decimal(g["latest_value"]),
            )
        )
    return [PersonFacts(r, goals.get(r["reviewee_id"], ()), _tallies(r, len(keys))) for r in rows]


_DIRECTIONS = {d.value: d for d in Direction}
_PERSPECTIVES = {p.value: p for p in Perspective}


def _tallies(row: asyncpg.Record, width: int) -> dict[RaterSource, SourceTally]:
    """A ``_PEOPLE`` row's reviews as tallies (``width``: the number of competencies)."""
    raters = row["raters"]
    if not raters:
        return {}
    totals = [0] * (len(SOURCE_ORDER) * width)
    counts = totals.copy()
    for cell, rating in zip(row["cells"] or (), row["ratings"] or (), strict=True):
        totals[cell] += rating
        counts[cell] += 1
    return {
        SOURCE_ORDER[source]: SourceTally(
            submitted,
            tuple(totals[source * width : (source + 1) * width]),
            tuple(counts[source * width : (source + 1) * width]),
        )
        for source, submitted in Counter(raters).items()
    }


def compared(
    people: Sequence[PersonFacts],
    frame: CycleFrame,
    book: RulesModel,
    baselines: Mapping[UUID, int],
    pilot_version: int,
) -> list[PersonComparison]:
    """Each person under their baseline version and under the pilot, in the order given.

    People are grouped by baseline version and each group is scored under its pair of rule
    sets; within a person, what both sides share is computed once (the KPI score when both
    bound and weigh goals alike, the source scores when both weigh competencies alike)."""
    scorer = CycleScorer(frame.competencies, frame.scale, frame.anonymity_threshold)
    pilot = rules_of(book, pilot_version)
    rewards: dict[tuple[int, str | None], tuple[str, ...]] = {}
    found: dict[int, PersonComparison] = {}
    groups: dict[int, list[int]] = defaultdict(list)
    for index, person in enumerate(people):
        groups[baselines[person.employee_id]].append(index)
    for version, members in groups.items():
        sides = ((version, rules_of(book, version)), (pilot_version, pilot))
        for index in members:
            person = people[index]
            kpis: dict[tuple[object, ...], Decimal | None] = {}
            for _, rules in sides:
                key = _kpi_key(rules)
                if key not in kpis:
                    kpis[key] = score_goals(person.goals, rules).score if person.goals else None
            both = scorer.figures(
                person.tallies, [(kpis[_kpi_key(rules)], rules) for _, rules in sides]
            )
            outcomes = []
            for (side_version, rules), figures in zip(sides, both, strict=True):
                tier_key = (side_version, figures.tier)
                if tier_key not in rewards:
                    rewards[tier_key] = tier_rewards(figures.tier, rules)
                outcomes.append(outcome_of(figures, rewards[tier_key]))
            a = person.appraisal
            found[index] = PersonComparison(
                employee_id=a["reviewee_id"],
                code=a["code"],
                name=a["name"],
                department=a["department"],
                production=outcomes[0],
                pilot=outcomes[1],
                calibrated_score=a["calibrated_score"],
                baseline_version=version,
            )
    return [found[index] for index in range(len(people))]


def _kpi_key(rules: RuleSet) -> tuple[object, ...]:
    """What a KPI score depends on in a rule set: rule sets alike in it give the same score."""
    return (
        rules.achievement_cap,
        rules.achievement_floor,
        tuple(rules.perspective_weights.items()),
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
        "reward_costs": {
            side_name: costs_json(result.reward_costs(side_name))
            for side_name in ("production", "pilot")
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


def costs_json(costs: RewardCosts) -> dict[str, Any]:
    return {
        "money": [
            {
                "kind": m.kind.value,
                "currency": m.currency,
                "amount": str(m.amount),
                "count": m.count,
            }
            for m in costs.money
        ],
        "salary_shares": [
            {"kind": s.kind.value, "percent": str(s.percent), "count": s.count}
            for s in costs.salary_shares
        ],
        "other": [
            {
                "kind": o.kind.value,
                "count": o.count,
                "days": None if o.days is None else str(o.days),
            }
            for o in costs.other
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
