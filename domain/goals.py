"""SMART KPI goals and the per-owner, per-period goal sets that keep their weights honest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import (
    DueDateOutsidePeriod,
    GoalNotOpen,
    GoalSetConfirmed,
    InvalidInput,
    MeasurementOutsidePeriod,
    TargetAgainstDirection,
    TargetEqualsBaseline,
    WeightsExceeded,
    WeightsIncomplete,
)
from domain.periods import Period, PeriodKind
from domain.provenance import Provenance

FULL_WEIGHT = Decimal(100)
MAX_ABS_VALUE = Decimal("1e15")


class Direction(Enum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Perspective(Enum):
    """The four perspectives of the balanced scorecard."""

    FINANCIAL = "financial"
    CUSTOMER = "customer"
    INTERNAL_PROCESS = "internal_process"
    LEARNING_AND_GROWTH = "learning_and_growth"


class Horizon(Enum):
    SHORT_TERM = "short_term"  # a month or a quarter
    LONG_TERM = "long_term"  # a year and beyond


class OwnerKind(Enum):
    EMPLOYEE = "employee"
    DEPARTMENT = "department"


class GoalStatus(Enum):
    OPEN = "open"
    CLOSED = "closed"
    ABANDONED = "abandoned"


def _finite(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or abs(value) >= MAX_ABS_VALUE:
        raise InvalidInput(f"{field} must be a finite number below 10^15", field=field)
    return value


@dataclass(frozen=True)
class GoalSpec:
    """What a SMART goal says: specific (title, metric), measurable (unit, baseline, target,
    direction), relevant (perspective, link to a department goal), time-bound (period, due date)."""

    title: str
    metric: str
    unit: str
    direction: Direction
    baseline: Decimal
    target: Decimal
    weight: Decimal
    perspective: Perspective
    horizon: Horizon
    period: str
    due_date: date

    def checked(self) -> GoalSpec:
        period = Period.parse(self.period)
        baseline = _finite(self.baseline, "baseline")
        target = _finite(self.target, "target")
        check_target(self.direction, baseline, target)
        weight = _finite(self.weight, "weight")
        if not Decimal(0) < weight <= FULL_WEIGHT:
            raise InvalidInput("weight must be above 0 and at most 100", field="weight")
        if not period.contains(self.due_date):
            raise DueDateOutsidePeriod(
                f"due date {self.due_date.isoformat()} lies outside period {period} "
                f"({period.start.isoformat()} to {period.end.isoformat()})",
                field="dueDate",
            )
        expected = Horizon.LONG_TERM if period.kind is PeriodKind.YEAR else Horizon.SHORT_TERM
        if self.horizon is not expected:
            raise InvalidInput(
                f"a {period.kind.value} goal is {expected.value.replace('_', '-')}",
                field="horizon",
            )
        return GoalSpec(
            title=text.required_text(self.title, field="title"),
            metric=text.required_text(self.metric, field="metric", max_length=100),
            unit=text.required_text(self.unit, field="unit", max_length=30),
            direction=self.direction,
            baseline=baseline,
            target=target,
            weight=weight,
            perspective=self.perspective,
            horizon=self.horizon,
            period=str(period),
            due_date=self.due_date,
        )


def check_target(direction: Direction, baseline: Decimal, target: Decimal) -> None:
    if target == baseline:
        raise TargetEqualsBaseline(
            f"target {target} equals the baseline, so progress cannot be measured", field="target"
        )
    if direction is Direction.HIGHER_IS_BETTER and target < baseline:
        raise TargetAgainstDirection(
            f"higher is better, but target {target} lies below baseline {baseline}",
            field="target",
        )
    if direction is Direction.LOWER_IS_BETTER and target > baseline:
        raise TargetAgainstDirection(
            f"lower is better, but target {target} lies above baseline {baseline}",
            field="target",
        )


class Goal(Aggregate):
    @event("Set")
    def __init__(
        self,
        id: UUID,
        owner_kind: OwnerKind,
        owner_id: UUID,
        department_id: UUID,
        parent_goal_id: UUID | None,
        spec: GoalSpec,
        provenance: Provenance,
    ) -> None:
        self.owner_kind = owner_kind
        self.owner_id = owner_id
        self.department_id = department_id
        self.parent_goal_id = parent_goal_id
        self.spec = spec
        self.target = spec.target
        self.status = GoalStatus.OPEN
        self.measurements = 0

    @classmethod
    def set(
        cls,
        *,
        id: UUID,
        owner_kind: OwnerKind,
        owner_id: UUID,
        department_id: UUID,
        parent: Goal | None,
        spec: GoalSpec,
        provenance: Provenance,
    ) -> Goal:
        checked = spec.checked()
        if parent is not None:
            if parent.owner_kind is not OwnerKind.DEPARTMENT:
                raise InvalidInput(
                    "only a department goal can cascade into other goals", field="parentGoalId"
                )
            parent.require_open("take cascaded goals", field="parentGoalId")
        return cls(
            id=id,
            owner_kind=owner_kind,
            owner_id=owner_id,
            department_id=department_id,
            parent_goal_id=parent.id if parent else None,
            spec=checked,
            provenance=provenance,
        )

    @property
    def period(self) -> Period:
        return Period.parse(self.spec.period)

    def require_open(self, doing: str, *, field: str | None = None) -> None:
        if self.status is not GoalStatus.OPEN:
            raise GoalNotOpen(
                f"goal {self.spec.title!r} is {self.status.value} and cannot {doing}",
                field=field,
            )

    def record_progress(
        self, value: Decimal, as_of: date, source: str, provenance: Provenance
    ) -> None:
        self.require_open("record progress")
        value = _finite(value, "value")
        period = self.period
        if not period.contains(as_of):
            raise MeasurementOutsidePeriod(
                f"measurement date {as_of.isoformat()} lies outside period {period}",
                field="asOf",
            )
        self._progress_recorded(
            value, as_of, text.required_text(source, field="source", max_length=100), provenance
        )

    @event("ProgressRecorded")
    def _progress_recorded(
        self, value: Decimal, as_of: date, source: str, provenance: Provenance
    ) -> None:
        self.measurements += 1

    def revise_target(self, target: Decimal, provenance: Provenance) -> None:
        self.require_open("have its target revised")
        provenance = provenance.with_required_reason("revise a target")
        target = _finite(target, "target")
        if target == self.target:
            raise InvalidInput(f"the target already is {target}", field="target")
        check_target(self.spec.direction, self.spec.baseline, target)
        self._target_revised(self.target, target, provenance)

    @event("TargetRevised")
    def _target_revised(
        self, previous_target: Decimal, target: Decimal, provenance: Provenance
    ) -> None:
        self.target = target

    def close(self, provenance: Provenance) -> None:
        self.require_open("be closed")
        self._closed(provenance)

    @event("Closed")
    def _closed(self, provenance: Provenance) -> None:
        self.status = GoalStatus.CLOSED

    def abandon(self, provenance: Provenance) -> None:
        self.require_open("be abandoned")
        self._abandoned(provenance.with_required_reason("abandon a goal"))

    @event("Abandoned")
    def _abandoned(self, provenance: Provenance) -> None:
        self.status = GoalStatus.ABANDONED


_GOAL_SET_NAMESPACE = UUID("0c5b2f0e-35a4-4d8e-93f1-7d0c3c1e9b10")


def goal_set_id(owner_id: UUID, period: str) -> UUID:
    return uuid5(_GOAL_SET_NAMESPACE, f"{owner_id}/{period}")


class GoalSet(Aggregate):
    """The goals of one owner in one period, whose weights never exceed 100 in total and total
    exactly 100 once the set is confirmed."""

    @event("Started")
    def __init__(
        self,
        id: UUID,
        owner_kind: OwnerKind,
        owner_id: UUID,
        period: str,
        provenance: Provenance,
    ) -> None:
        self.owner_kind = owner_kind
        self.owner_id = owner_id
        self.period = period
        self.weights: dict[UUID, Decimal] = {}
        self.confirmed = False

    @classmethod
    def start(
        cls, owner_kind: OwnerKind, owner_id: UUID, period: str, provenance: Provenance
    ) -> GoalSet:
        return cls(
            id=goal_set_id(owner_id, period),
            owner_kind=owner_kind,
            owner_id=owner_id,
            period=period,
            provenance=provenance,
        )

    @property
    def total_weight(self) -> Decimal:
        return sum(self.weights.values(), Decimal(0))

    def add(self, goal_id: UUID, weight: Decimal, provenance: Provenance) -> None:
        if self.confirmed:
            raise GoalSetConfirmed(
                f"the goals for {self.period} are confirmed; no goal can be added", field="period"
            )
        total = self.total_weight + weight
        if total > FULL_WEIGHT:
            raise WeightsExceeded(
                f"weights for {self.period} would total {total}; they may total at most 100 "
                f"({FULL_WEIGHT - self.total_weight} left)",
                field="weight",
            )
        self._goal_added(goal_id, weight, provenance)

    @event("GoalAdded")
    def _goal_added(self, goal_id: UUID, weight: Decimal, provenance: Provenance) -> None:
        self.weights[goal_id] = weight

    def withdraw(self, goal_id: UUID, provenance: Provenance) -> None:
        self._goal_withdrawn(goal_id, provenance)

    @event("GoalWithdrawn")
    def _goal_withdrawn(self, goal_id: UUID, provenance: Provenance) -> None:
        self.weights.pop(goal_id, None)

    def confirm(self, provenance: Provenance) -> None:
        if self.confirmed:
            raise GoalSetConfirmed(f"the goals for {self.period} are already confirmed")
        if self.total_weight != FULL_WEIGHT:
            raise WeightsIncomplete(
                f"weights for {self.period} total {self.total_weight}; they must total exactly "
                "100 to confirm the goals",
                field="period",
            )
        self._confirmed(self.total_weight, provenance)

    @event("Confirmed")
    def _confirmed(self, total_weight: Decimal, provenance: Provenance) -> None:
        self.confirmed = True
