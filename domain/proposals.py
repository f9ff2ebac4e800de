"""Rewards the rules propose: a pure function of a result, the KPI history and a rule set.

A proposal is not a reward: a person approves it (recording a grant that names the proposing rule
and rule-set version), or it lapses. Two kinds of rule propose:

- the reward table: every reward listed for the tier the person reached;
- eligibility rules: "met target N months in a row": for the goals with the rule's metric, a
  month is met when the last measurement taken in it reached the target; a month without a
  measurement breaks the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.goals import Direction
from domain.rewards import RewardSpec
from domain.rules import RuleSet


@dataclass(frozen=True)
class Proposal:
    rule_key: str
    reward: RewardSpec
    because: str


@dataclass(frozen=True)
class Measurement:
    day: date
    value: Decimal


@dataclass(frozen=True)
class MetricHistory:
    """One goal's measurements, for eligibility rules."""

    metric: str
    direction: Direction
    target: Decimal
    measurements: Sequence[Measurement]


def reached(direction: Direction, target: Decimal, value: Decimal) -> bool:
    if direction is Direction.HIGHER_IS_BETTER:
        return value >= target
    return value <= target


def months_met(history: MetricHistory, months: Sequence[tuple[int, int]]) -> list[bool]:
    """For each (year, month), whether the last measurement of that month reached the target."""
    last: dict[tuple[int, int], Measurement] = {}
    for measurement in history.measurements:
        key = (measurement.day.year, measurement.day.month)
        if key not in last or measurement.day >= last[key].day:
            last[key] = measurement
    return [
        month in last and reached(history.direction, history.target, last[month].value)
        for month in months
    ]


def longest_run(flags: Sequence[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def streaks(
    histories: Sequence[MetricHistory], months: Sequence[tuple[int, int]]
) -> dict[str, int]:
    """Per metric, the longest run of months in which every goal with that metric was met."""
    by_metric: dict[str, list[list[bool]]] = {}
    for history in histories:
        by_metric.setdefault(history.metric, []).append(months_met(history, months))
    return {
        metric: longest_run([all(column) for column in zip(*flags, strict=True)])
        for metric, flags in by_metric.items()
    }


def propose_rewards(
    tier: str | None, rules: RuleSet, metric_streaks: Mapping[str, int]
) -> list[Proposal]:
    proposals: list[Proposal] = []
    if tier is not None:
        for rule_key, reward in rules.tier_rewards_for(tier):
            proposals.append(Proposal(rule_key, reward, f"reached tier {tier}"))
    for rule in rules.eligibility:
        run = metric_streaks.get(rule.metric, 0)
        if run >= rule.consecutive_months:
            proposals.append(
                Proposal(
                    f"eligibility:{rule.key}",
                    rule.reward,
                    f"met the {rule.metric} target {run} months in a row "
                    f"(the rule asks for {rule.consecutive_months})",
                )
            )
    return proposals
