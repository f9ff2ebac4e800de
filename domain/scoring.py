"""Scoring: a pure function of the facts and a rule set, with a breakdown that explains it.

Achievement of one goal is the share of the way from baseline to target that the latest
measurement has covered, in percent (direction-aware: for "lower is better" the way runs down),
bounded by the rule set's floor and cap. The KPI score is the weighted mean achievement of the
measured goals, optionally weighing balanced-scorecard perspectives first. Every figure is computed
in exact decimals and rounded only at the end (half-even, two places), so recomputing it from the
same facts and rules gives the same digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from uuid import UUID

from domain.goals import Direction, Perspective
from domain.rules import RuleSet

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def rounded(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class GoalFacts:
    goal_id: UUID
    title: str
    weight: Decimal
    direction: Direction
    baseline: Decimal
    target: Decimal
    perspective: Perspective
    latest_value: Decimal | None


@dataclass(frozen=True)
class GoalContribution:
    goal_id: UUID
    title: str
    perspective: Perspective
    weight: Decimal
    latest_value: Decimal | None
    raw_achievement: Decimal | None
    achievement: Decimal | None
    capped: bool
    effective_weight: Decimal  # share of the score, in percent
    contribution: Decimal  # points of the score


@dataclass(frozen=True)
class KpiScore:
    score: Decimal | None
    coverage: Decimal  # percent of the goals' weight that has a measurement
    tier: str | None
    goals: tuple[GoalContribution, ...]


def raw_achievement(
    direction: Direction, baseline: Decimal, target: Decimal, value: Decimal
) -> Decimal:
    # (value - baseline) / (target - baseline) runs the right way for both directions, because
    # the target of a "lower is better" goal lies below its baseline.
    del direction
    return (value - baseline) / (target - baseline) * HUNDRED


def bounded(achievement: Decimal, rules: RuleSet) -> Decimal:
    return min(max(achievement, rules.achievement_floor), rules.achievement_cap)


def score_goals(goals: Sequence[GoalFacts], rules: RuleSet) -> KpiScore:
    measured = [goal for goal in goals if goal.latest_value is not None]
    total_weight = sum((goal.weight for goal in goals), Decimal(0))
    measured_weight = sum((goal.weight for goal in measured), Decimal(0))
    coverage = rounded(measured_weight / total_weight * HUNDRED) if total_weight else Decimal(0)

    shares = _effective_weights(measured, rules)
    contributions: list[GoalContribution] = []
    exact_score = Decimal(0)
    for goal in sorted(goals, key=lambda g: (g.perspective.value, g.title, str(g.goal_id))):
        if goal.latest_value is None:
            contributions.append(
                GoalContribution(
                    goal.goal_id,
                    goal.title,
                    goal.perspective,
                    goal.weight,
                    None,
                    None,
                    None,
                    False,
                    Decimal(0),
                    Decimal(0),
                )
            )
            continue
        raw = raw_achievement(goal.direction, goal.baseline, goal.target, goal.latest_value)
        achievement = bounded(raw, rules)
        share = shares[goal.goal_id]
        points = share * achievement
        exact_score += points
        contributions.append(
            GoalContribution(
                goal_id=goal.goal_id,
                title=goal.title,
                perspective=goal.perspective,
                weight=goal.weight,
                latest_value=goal.latest_value,
                raw_achievement=rounded(raw),
                achievement=rounded(achievement),
                capped=achievement != raw,
                effective_weight=rounded(share * HUNDRED),
                contribution=rounded(points),
            )
        )
    score = rounded(exact_score) if measured else None
    return KpiScore(
        score=score,
        coverage=coverage,
        tier=rules.tier_for(score) if score is not None else None,
        goals=tuple(contributions),
    )


def _effective_weights(measured: Sequence[GoalFacts], rules: RuleSet) -> dict[UUID, Decimal]:
    """Each measured goal's share of the score, as a fraction; the shares total 1."""
    if not measured:
        return {}
    if not rules.perspective_weights:
        total = sum((goal.weight for goal in measured), Decimal(0))
        return {goal.goal_id: goal.weight / total for goal in measured}
    by_perspective: dict[Perspective, list[GoalFacts]] = {}
    for goal in measured:
        by_perspective.setdefault(goal.perspective, []).append(goal)
    # Perspectives without a weight, or without measured goals, drop out; the rest renormalise.
    present = {p: w for p, w in rules.perspective_weights.items() if p in by_perspective}
    if not present:
        total = sum((goal.weight for goal in measured), Decimal(0))
        return {goal.goal_id: goal.weight / total for goal in measured}
    perspective_total = sum(present.values(), Decimal(0))
    shares: dict[UUID, Decimal] = {}
    for perspective, members in by_perspective.items():
        weight = present.get(perspective)
        member_total = sum((goal.weight for goal in members), Decimal(0))
        for goal in members:
            shares[goal.goal_id] = (
                Decimal(0)
                if weight is None
                else weight / perspective_total * goal.weight / member_total
            )
    return shares
