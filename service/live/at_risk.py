"""Goals behind their straight line: the read-model side of ``domain.trajectory``.

A goal is judged under the rule set its scorecard is computed under (the version in force when
its period began, ``scorecards.rule_set_version``), so an alert and the scorecard beside it
always agree on the rules. Only open goals can be at risk: a closed or abandoned goal is done.

The line is drawn on a given day, or by default on the day of the goal's latest measurement:
what the measurement says against what was expected by then. That makes an alert a fact about
the measurement just recorded, the same whenever it is computed or replayed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from domain.goals import Direction, GoalStatus
from domain.periods import Period
from domain.rules import DEFAULT_RULES
from domain.trajectory import Trajectory, trajectory
from projections.rules import BUILT_IN_VERSION, rules_from_json

Connection = asyncpg.Connection | PoolConnectionProxy

# Each goal with the rule-set version of its scorecard (none yet: the built-in rules).
GOALS_WITH_RULES = f"""
SELECT g.*, coalesce(s.rule_set_version, {BUILT_IN_VERSION}) AS rule_set_version
FROM goals g LEFT JOIN scorecards s ON s.owner_id = g.owner_id AND s.period = g.period
"""


class Thresholds:
    """Each rule-set version's ``at_risk_threshold``. Versions never change once defined, so
    each is read once per process."""

    def __init__(self) -> None:
        self._known: dict[int, Decimal] = {BUILT_IN_VERSION: DEFAULT_RULES.at_risk_threshold}

    async def of(self, conn: Connection, versions: Iterable[int]) -> dict[int, Decimal]:
        missing = sorted(set(versions) - self._known.keys())
        if missing:
            rows = await conn.fetch(
                "SELECT version, rules FROM rule_sets WHERE version = ANY($1::int[])", missing
            )
            for r in rows:
                self._known[r["version"]] = rules_from_json(r["rules"]).at_risk_threshold
        return self._known


@dataclass(frozen=True)
class Standing:
    """A goal (its ``goals`` row) against its line, under its rule-set version."""

    goal: asyncpg.Record
    trajectory: Trajectory
    rule_set_version: int
    on: date  # the day the line was drawn at


def standing_of(
    goal: asyncpg.Record, thresholds: dict[int, Decimal], on: date | None = None
) -> Standing | None:
    """The goal's standing on ``on`` (default: its latest measurement's day); None for a goal
    that cannot be at risk (not open, or never measured and no day asked for)."""
    if goal["status"] != GoalStatus.OPEN.value:
        return None
    day = on if on is not None else goal["latest_as_of"]
    if day is None:
        return None
    version = goal["rule_set_version"]
    found = trajectory(
        direction=Direction(goal["direction"]),
        baseline=goal["baseline"],
        target=goal["target"],
        latest_value=goal["latest_value"],
        period=Period.parse(goal["period"]),
        on=day,
        threshold=thresholds.get(version, DEFAULT_RULES.at_risk_threshold),
    )
    return Standing(goal, found, version, day)


async def at_risk(
    conn: Connection,
    thresholds: Thresholds,
    rows: list[asyncpg.Record],
    on: date | None = None,
) -> list[Standing]:
    """Those of ``rows`` (from ``GOALS_WITH_RULES``) that are at risk, in the order given."""
    known = await thresholds.of(conn, (r["rule_set_version"] for r in rows))
    found = (standing_of(r, known, on) for r in rows)
    return [s for s in found if s is not None and s.trajectory.at_risk]
