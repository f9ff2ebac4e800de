"""SMART goals and goal sets: every invariant raises its named error, naming the culprit input,
and a rejected command leaves the aggregate without a new event."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    DomainError,
    DueDateOutsidePeriod,
    GoalNotOpen,
    GoalSetConfirmed,
    InvalidInput,
    MeasurementOutsidePeriod,
    ReasonRequired,
    TargetAgainstDirection,
    TargetEqualsBaseline,
    WeightsExceeded,
    WeightsIncomplete,
)
from domain.goals import (
    Direction,
    Goal,
    GoalSet,
    GoalSpec,
    GoalStatus,
    Horizon,
    OwnerKind,
    goal_set_id,
)
from domain.provenance import MAX_REASON_LENGTH, Provenance, Role
from tests.helpers import spec

ACTOR = Provenance("manager-1", Role.MANAGER, "corr-1")
OWNER = UUID("00000000-0000-0000-0000-0000000000a1")
DEPARTMENT = UUID("00000000-0000-0000-0000-0000000000d1")


def new_goal(**overrides: object) -> Goal:
    """An employee's goal, from the standard spec with some fields replaced."""
    return make_goal(OwnerKind.EMPLOYEE, None, spec(**overrides))


def make_goal(owner_kind: OwnerKind, parent: Goal | None, goal_spec: GoalSpec) -> Goal:
    goal = Goal.set(
        id=uuid4(),
        owner_kind=owner_kind,
        owner_id=OWNER if owner_kind is OwnerKind.EMPLOYEE else DEPARTMENT,
        department_id=DEPARTMENT,
        parent=parent,
        spec=goal_spec,
        provenance=ACTOR,
    )
    goal.collect_events()  # start each test with nothing pending
    return goal


def new_goal_set(period: str = "2026-Q1") -> GoalSet:
    goal_set = GoalSet.start(OwnerKind.EMPLOYEE, OWNER, period, ACTOR)
    goal_set.collect_events()
    return goal_set


def assert_rejected(
    error: type[DomainError], field: str | None, excinfo: pytest.ExceptionInfo[DomainError]
) -> None:
    assert type(excinfo.value) is error
    assert excinfo.value.field == field
    assert excinfo.value.message  # something to show the person who sent the command


# -- the goal set: weights per owner and period ------------------------------------------------


def test_weights_of_one_owner_and_period_may_total_exactly_100() -> None:
    goal_set = new_goal_set()
    goal_set.add(uuid4(), Decimal("60.5"), ACTOR)
    goal_set.add(uuid4(), Decimal("39.5"), ACTOR)
    assert goal_set.total_weight == Decimal(100)


def test_weights_of_one_owner_and_period_may_not_exceed_100() -> None:
    goal_set = new_goal_set()
    first = uuid4()
    goal_set.add(first, Decimal(60), ACTOR)
    goal_set.collect_events()
    with pytest.raises(DomainError) as caught:
        goal_set.add(uuid4(), Decimal("40.01"), ACTOR)
    assert_rejected(WeightsExceeded, "weight", caught)
    assert "40" in caught.value.message  # says how much weight is left
    assert goal_set.weights == {first: Decimal(60)}
    assert goal_set.collect_events() == []


def test_withdrawing_a_goal_frees_its_weight() -> None:
    goal_set = new_goal_set()
    first = uuid4()
    goal_set.add(first, Decimal(70), ACTOR)
    goal_set.withdraw(first, ACTOR)
    goal_set.add(uuid4(), Decimal(100), ACTOR)
    assert goal_set.total_weight == Decimal(100)


def test_goal_sets_are_one_per_owner_and_period() -> None:
    other_owner = uuid4()
    assert goal_set_id(OWNER, "2026-Q1") == goal_set_id(OWNER, "2026-Q1")
    assert goal_set_id(OWNER, "2026-Q1") != goal_set_id(OWNER, "2026-Q2")
    assert goal_set_id(OWNER, "2026-Q1") != goal_set_id(other_owner, "2026-Q1")
    assert GoalSet.start(OwnerKind.EMPLOYEE, OWNER, "2026-Q1", ACTOR).id == goal_set_id(
        OWNER, "2026-Q1"
    )


def test_confirming_goals_requires_weights_totalling_exactly_100() -> None:
    goal_set = new_goal_set()
    goal_set.add(uuid4(), Decimal("99.99"), ACTOR)
    goal_set.collect_events()
    with pytest.raises(DomainError) as caught:
        goal_set.confirm(ACTOR)
    assert_rejected(WeightsIncomplete, "period", caught)
    assert not goal_set.confirmed
    assert goal_set.collect_events() == []


def test_an_empty_goal_set_cannot_be_confirmed() -> None:
    with pytest.raises(WeightsIncomplete):
        new_goal_set().confirm(ACTOR)


def test_goals_totalling_100_can_be_confirmed() -> None:
    goal_set = new_goal_set()
    goal_set.add(uuid4(), Decimal(40), ACTOR)
    goal_set.add(uuid4(), Decimal(60), ACTOR)
    goal_set.confirm(ACTOR)
    assert goal_set.confirmed
    events = goal_set.collect_events()
    assert type(events[-1]).__name__ == "Confirmed"
    assert vars(events[-1])["total_weight"] == Decimal(100)


def test_a_confirmed_goal_set_refuses_new_goals() -> None:
    goal_set = new_goal_set()
    goal_set.add(uuid4(), Decimal(100), ACTOR)
    goal_set.confirm(ACTOR)
    goal_set.collect_events()
    with pytest.raises(DomainError) as caught:
        goal_set.add(uuid4(), Decimal(1), ACTOR)
    assert_rejected(GoalSetConfirmed, "period", caught)
    assert goal_set.collect_events() == []


def test_a_confirmed_goal_set_cannot_be_confirmed_again() -> None:
    goal_set = new_goal_set()
    goal_set.add(uuid4(), Decimal(100), ACTOR)
    goal_set.confirm(ACTOR)
    with pytest.raises(GoalSetConfirmed):
        goal_set.confirm(ACTOR)


# -- the goal's specification -----------------------------------------------------------------


def test_a_valid_goal_is_set_open_with_a_normalised_spec() -> None:
    goal = Goal.set(
        id=uuid4(),
        owner_kind=OwnerKind.EMPLOYEE,
        owner_id=OWNER,
        department_id=DEPARTMENT,
        parent=None,
        spec=spec(title="  Quarterly sales growth  ", period=" 2026-Q1 "),
        provenance=ACTOR,
    )
    assert goal.status is GoalStatus.OPEN
    assert goal.target == Decimal(8)
    assert goal.spec.title == "Quarterly sales growth"
    assert goal.spec.period == "2026-Q1"
    assert goal.measurements == 0
    assert [type(e).__name__ for e in goal.collect_events()] == ["Set"]


def test_target_may_not_equal_baseline() -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(baseline=Decimal(8), target=Decimal("8.00"))
    assert_rejected(TargetEqualsBaseline, "target", caught)


def test_a_higher_is_better_target_may_not_lie_below_the_baseline() -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(direction=Direction.HIGHER_IS_BETTER, baseline=Decimal(90), target=Decimal(85))
    assert_rejected(TargetAgainstDirection, "target", caught)


def test_a_lower_is_better_target_may_not_lie_above_the_baseline() -> None:
    # Time-to-hire: 45 days now, so a target of 50 days would be a worse result.
    with pytest.raises(DomainError) as caught:
        new_goal(
            title="Time to hire",
            direction=Direction.LOWER_IS_BETTER,
            baseline=Decimal(45),
            target=Decimal(50),
        )
    assert_rejected(TargetAgainstDirection, "target", caught)


def test_a_lower_is_better_target_below_the_baseline_is_accepted() -> None:
    goal = new_goal(direction=Direction.LOWER_IS_BETTER, baseline=Decimal(45), target=Decimal(30))
    assert goal.target == Decimal(30)


@pytest.mark.parametrize("due", [date(2026, 1, 1), date(2026, 3, 31)])
def test_a_due_date_on_the_first_or_last_day_of_the_period_is_accepted(due: date) -> None:
    assert new_goal(period="2026-Q1", due_date=due).spec.due_date == due


@pytest.mark.parametrize("due", [date(2025, 12, 31), date(2026, 4, 1), date(2027, 3, 31)])
def test_a_due_date_must_lie_inside_the_period(due: date) -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(period="2026-Q1", due_date=due)
    assert_rejected(DueDateOutsidePeriod, "dueDate", caught)


@pytest.mark.parametrize(
    ("period", "due", "horizon"),
    [
        ("2026-03", date(2026, 3, 31), Horizon.LONG_TERM),
        ("2026-Q1", date(2026, 3, 31), Horizon.LONG_TERM),
        ("2026", date(2026, 12, 31), Horizon.SHORT_TERM),
    ],
)
def test_the_horizon_must_match_the_kind_of_period(
    period: str, due: date, horizon: Horizon
) -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(period=period, due_date=due, horizon=horizon)
    assert_rejected(InvalidInput, "horizon", caught)


@pytest.mark.parametrize(
    ("period", "due", "horizon"),
    [
        ("2026-03", date(2026, 3, 15), Horizon.SHORT_TERM),
        ("2026-Q2", date(2026, 6, 30), Horizon.SHORT_TERM),
        ("2026", date(2026, 12, 31), Horizon.LONG_TERM),
    ],
)
def test_months_and_quarters_are_short_term_and_years_long_term(
    period: str, due: date, horizon: Horizon
) -> None:
    assert new_goal(period=period, due_date=due, horizon=horizon).spec.horizon is horizon


@pytest.mark.parametrize("weight", [Decimal(0), Decimal(-5), Decimal("100.01")])
def test_a_goal_weight_must_be_above_0_and_at_most_100(weight: Decimal) -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(weight=weight)
    assert_rejected(InvalidInput, "weight", caught)


def test_a_goal_may_carry_the_full_weight_of_100() -> None:
    assert new_goal(weight=Decimal(100)).spec.weight == Decimal(100)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("baseline", Decimal("NaN")),
        ("baseline", Decimal("Infinity")),
        ("target", Decimal("-Infinity")),
        ("target", Decimal("1e15")),
        ("weight", Decimal("NaN")),
    ],
)
def test_numbers_must_be_finite_and_below_10_to_the_15(field: str, value: Decimal) -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(**{field: value})
    assert_rejected(InvalidInput, field, caught)


@pytest.mark.parametrize(("field", "value"), [("title", "  "), ("metric", ""), ("unit", " ")])
def test_blank_text_in_a_goal_is_rejected(field: str, value: str) -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(**{field: value})
    assert_rejected(InvalidInput, field, caught)


def test_an_unreadable_period_is_rejected() -> None:
    with pytest.raises(DomainError) as caught:
        new_goal(period="Q1 2026")
    assert_rejected(InvalidInput, "period", caught)


def test_only_a_department_goal_can_cascade_into_other_goals() -> None:
    personal = new_goal()
    with pytest.raises(DomainError) as caught:
        make_goal(OwnerKind.EMPLOYEE, personal, spec())
    assert_rejected(InvalidInput, "parentGoalId", caught)


def test_a_department_goal_cascades_into_an_employee_goal() -> None:
    department_goal = make_goal(OwnerKind.DEPARTMENT, None, spec())
    assert (
        make_goal(OwnerKind.EMPLOYEE, department_goal, spec()).parent_goal_id == department_goal.id
    )


def test_a_closed_department_goal_takes_no_cascaded_goals() -> None:
    department_goal = make_goal(OwnerKind.DEPARTMENT, None, spec())
    department_goal.close(ACTOR)
    with pytest.raises(GoalNotOpen):
        make_goal(OwnerKind.EMPLOYEE, department_goal, spec())


# -- progress ---------------------------------------------------------------------------------


def test_progress_is_recorded_on_an_open_goal_inside_its_period() -> None:
    goal = new_goal()
    goal.record_progress(Decimal("3.5"), date(2026, 1, 1), " crm ", ACTOR)
    goal.record_progress(Decimal("4.5"), date(2026, 3, 31), "crm", ACTOR)
    assert goal.measurements == 2
    events = goal.collect_events()
    assert [type(e).__name__ for e in events] == ["ProgressRecorded", "ProgressRecorded"]
    assert vars(events[0])["value"] == Decimal("3.5")
    assert vars(events[0])["source"] == "crm"


@pytest.mark.parametrize("as_of", [date(2025, 12, 31), date(2026, 4, 1)])
def test_progress_must_be_measured_inside_the_period(as_of: date) -> None:
    goal = new_goal(period="2026-Q1")
    with pytest.raises(DomainError) as caught:
        goal.record_progress(Decimal(3), as_of, "crm", ACTOR)
    assert_rejected(MeasurementOutsidePeriod, "asOf", caught)
    assert goal.measurements == 0
    assert goal.collect_events() == []


def test_progress_cannot_be_recorded_on_a_closed_goal() -> None:
    goal = new_goal()
    goal.close(ACTOR)
    goal.collect_events()
    with pytest.raises(GoalNotOpen):
        goal.record_progress(Decimal(3), date(2026, 2, 1), "crm", ACTOR)
    assert goal.collect_events() == []


def test_progress_cannot_be_recorded_on_an_abandoned_goal() -> None:
    goal = new_goal()
    goal.abandon(ACTOR.because("reorganised"))
    with pytest.raises(GoalNotOpen):
        goal.record_progress(Decimal(3), date(2026, 2, 1), "crm", ACTOR)


def test_a_progress_value_must_be_finite() -> None:
    with pytest.raises(DomainError) as caught:
        new_goal().record_progress(Decimal("NaN"), date(2026, 2, 1), "crm", ACTOR)
    assert_rejected(InvalidInput, "value", caught)


def test_progress_needs_a_source() -> None:
    with pytest.raises(DomainError) as caught:
        new_goal().record_progress(Decimal(3), date(2026, 2, 1), "   ", ACTOR)
    assert_rejected(InvalidInput, "source", caught)


# -- revising, closing, abandoning -------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_revising_a_target_requires_a_reason(reason: str | None) -> None:
    goal = new_goal()
    with pytest.raises(DomainError) as caught:
        goal.revise_target(Decimal(6), ACTOR.because(reason))
    assert_rejected(ReasonRequired, "reason", caught)
    assert goal.target == Decimal(8)
    assert goal.collect_events() == []


def test_a_revised_target_records_the_previous_target_and_the_trimmed_reason() -> None:
    goal = new_goal()
    goal.revise_target(Decimal(6), ACTOR.because("  market collapsed "))
    assert goal.target == Decimal(6)
    assert goal.spec.target == Decimal(8)  # the original spec stays as it was set
    (revised,) = goal.collect_events()
    assert vars(revised)["previous_target"] == Decimal(8)
    assert vars(revised)["target"] == Decimal(6)
    assert vars(revised)["provenance"].reason == "market collapsed"


def test_a_revised_target_must_differ_from_the_current_target() -> None:
    with pytest.raises(DomainError) as caught:
        new_goal().revise_target(Decimal("8.0"), ACTOR.because("why not"))
    assert_rejected(InvalidInput, "target", caught)


def test_a_revised_target_may_not_equal_the_baseline() -> None:
    with pytest.raises(DomainError) as caught:
        new_goal().revise_target(Decimal(0), ACTOR.because("give up"))
    assert_rejected(TargetEqualsBaseline, "target", caught)


def test_a_revised_target_keeps_to_the_direction() -> None:
    goal = new_goal(direction=Direction.LOWER_IS_BETTER, baseline=Decimal(45), target=Decimal(30))
    with pytest.raises(DomainError) as caught:
        goal.revise_target(Decimal(46), ACTOR.because("hiring freeze"))
    assert_rejected(TargetAgainstDirection, "target", caught)


def test_the_target_of_a_closed_goal_cannot_be_revised() -> None:
    goal = new_goal()
    goal.close(ACTOR)
    with pytest.raises(GoalNotOpen):
        goal.revise_target(Decimal(6), ACTOR.because("too late"))


@pytest.mark.parametrize("reason", [None, " "])
def test_abandoning_a_goal_requires_a_reason(reason: str | None) -> None:
    goal = new_goal()
    with pytest.raises(DomainError) as caught:
        goal.abandon(ACTOR.because(reason))
    assert_rejected(ReasonRequired, "reason", caught)
    assert goal.status is GoalStatus.OPEN
    assert goal.collect_events() == []


def test_an_abandoned_goal_keeps_its_reason() -> None:
    goal = new_goal()
    goal.abandon(ACTOR.because("product discontinued"))
    assert goal.status is GoalStatus.ABANDONED
    (abandoned,) = goal.collect_events()
    assert vars(abandoned)["provenance"].reason == "product discontinued"


def test_a_goal_is_closed_or_abandoned_only_once() -> None:
    closed = new_goal()
    closed.close(ACTOR)
    assert closed.status is GoalStatus.CLOSED
    with pytest.raises(GoalNotOpen):
        closed.close(ACTOR)
    with pytest.raises(GoalNotOpen):
        closed.abandon(ACTOR.because("changed my mind"))
    abandoned = new_goal()
    abandoned.abandon(ACTOR.because("reorganised"))
    with pytest.raises(GoalNotOpen):
        abandoned.close(ACTOR)


def test_a_reason_longer_than_the_limit_is_rejected() -> None:
    with pytest.raises(DomainError) as caught:
        ACTOR.because("x" * (MAX_REASON_LENGTH + 1))
    assert_rejected(InvalidInput, "reason", caught)
    assert ACTOR.because("x" * MAX_REASON_LENGTH).reason == "x" * MAX_REASON_LENGTH
