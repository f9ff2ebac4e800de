"""Is a goal on track? Its progress against the straight line across its period.

A goal is expected to cover its way from baseline to target evenly over its period: nothing
before the period begins, all of it by the end of its last day, the same share every day in
between. ``expected_progress`` is that line, in percent of the way, at the end of a given day.

Actual progress is the share of the way the latest measurement has covered, in percent, exactly
as scoring computes a goal's raw achievement (direction-aware: for "lower is better" the way runs
down), unbounded: a goal past its target is past 100, one that went backwards is below 0.

A goal is at risk when its actual progress trails the line by more than the rule set's
``at_risk_threshold`` (percentage points). A goal without a measurement has no progress to
compare: it is reported unmeasured, never at risk, because "not yet measured" is not evidence of
falling behind (the dashboard shows coverage for that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.goals import Direction
from domain.periods import Period
from domain.scoring import HUNDRED, raw_achievement, rounded


def expected_progress(period: Period, on: date) -> Decimal:
    """Percent of the way a goal of ``period`` should have covered by the end of day ``on``:
    0 before the period, 100 from its last day on, linear by whole days in between."""
    if on < period.start:
        return Decimal(0)
    if on >= period.end:
        return HUNDRED
    days = (period.end - period.start).days + 1
    elapsed = (on - period.start).days + 1
    return Decimal(elapsed) / Decimal(days) * HUNDRED


@dataclass(frozen=True)
class Trajectory:
    """Where a goal stands against its straight line on a day (percent, two decimal places)."""

    expected: Decimal
    actual: Decimal | None  # None: no measurement yet
    threshold: Decimal  # percentage points behind the line that make a goal at risk
    at_risk: bool  # decided on the exact figures, before rounding

    @property
    def behind(self) -> Decimal | None:
        """Percentage points the goal trails the line by (negative: ahead of it)."""
        return None if self.actual is None else self.expected - self.actual


def trajectory(
    *,
    direction: Direction,
    baseline: Decimal,
    target: Decimal,
    latest_value: Decimal | None,
    period: Period,
    on: date,
    threshold: Decimal,
) -> Trajectory:
    """The goal's expected and actual progress on day ``on``, and whether it is at risk."""
    expected = expected_progress(period, on)
    if latest_value is None:
        return Trajectory(rounded(expected), None, threshold, at_risk=False)
    actual = raw_achievement(direction, baseline, target, latest_value)
    return Trajectory(
        rounded(expected), rounded(actual), threshold, at_risk=expected - actual > threshold
    )
