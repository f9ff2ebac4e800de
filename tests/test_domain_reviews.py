"""Review cycles and appraisals in the domain: every definition check names its field, the cycle
moves draft → open → calibration → closed and nowhere else, raters are assigned once each, a
review is complete and submitted once before the deadline, external tokens work once and before
they expire, and calibration keeps the submitted value beside the calibrated one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    CompetencyNotRated,
    CycleNotInState,
    DomainError,
    ExternalTokenExpired,
    ExternalTokenInvalid,
    ExternalTokenUsed,
    InvalidInput,
    RaterAlreadyAssigned,
    RaterNotAssigned,
    RatingOutOfScale,
    ReasonRequired,
    ReviewAlreadySubmitted,
    SelfAsPeer,
    SubmissionDeadlinePassed,
)
from domain.provenance import Provenance, Role
from domain.reviews import (
    Appraisal,
    Competency,
    CycleDeadlines,
    CycleDefinition,
    CycleStatus,
    RaterSource,
    Rating,
    RatingScale,
    ReviewCycle,
    appraisal_id,
    rater_key,
)
from tests.review_builders import LEVELS, competency, cycle_definition, ratings

HR = Provenance("hr-1", Role.HR, "corr-1")
HR_BECAUSE = HR.because("panel agreed the peer was too harsh")
CYCLE = UUID("00000000-0000-0000-0000-0000000000c1")
DEPARTMENT = UUID("00000000-0000-0000-0000-0000000000d1")
REVIEWEE = UUID("00000000-0000-0000-0000-0000000000a1")
MANAGER = UUID("00000000-0000-0000-0000-0000000000b1")
PEER = UUID("00000000-0000-0000-0000-0000000000e1")
OTHER_PEER = UUID("00000000-0000-0000-0000-0000000000e2")
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def definition(**overrides: Any) -> CycleDefinition:
    return cycle_definition(DEPARTMENT, **overrides)


DEFINITION = definition().checked()


def rejected_definition(**overrides: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        ReviewCycle.draft(CYCLE, definition(**overrides), HR)
    return caught.value


def open_cycle() -> ReviewCycle:
    cycle = ReviewCycle.draft(CYCLE, definition(), HR)
    cycle.open([REVIEWEE], date(2026, 3, 1), HR)
    return cycle


def started(manager_id: UUID | None = MANAGER) -> Appraisal:
    return Appraisal.start(
        cycle_id=CYCLE,
        reviewee_id=REVIEWEE,
        manager_id=manager_id,
        department_id=DEPARTMENT,
        provenance=HR,
    )


def as_employee(employee: UUID) -> Provenance:
    return Provenance(str(employee), Role.EMPLOYEE, "corr-2")


SELF_KEY = rater_key(RaterSource.SELF, REVIEWEE)
MANAGER_KEY = rater_key(RaterSource.MANAGER, MANAGER)
PEER_KEY = rater_key(RaterSource.PEER, PEER)


def submit(appraisal: Appraisal, key: str, values: list[Rating] | None = None) -> None:
    appraisal.submit(DEFINITION, key, values or ratings(), "", NOW, HR)


def raises(error: type[DomainError], field: str | None, action: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        action()
    assert type(caught.value) is error, caught.value
    assert caught.value.field == field, caught.value.message
    return caught.value


def event_names(aggregate: Appraisal | ReviewCycle) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


# -- the definition -----------------------------------------------------------------------------


def test_a_valid_definition_is_cleaned_and_kept_with_its_scale() -> None:
    cycle = ReviewCycle.draft(
        CYCLE,
        definition(
            name="  Q1 review ",
            period=" 2026-Q1",
            scope_employees=[PEER, REVIEWEE, PEER],
            competencies=[
                competency("delivery", 60, name=" Delivery "),
                competency("teamwork", 40),
            ],
        ),
        HR,
    )
    assert cycle.status is CycleStatus.DRAFT
    assert cycle.definition.name == "Q1 review"
    assert cycle.period == "2026-Q1"
    assert cycle.definition.scope_employees == sorted({PEER, REVIEWEE}, key=str)
    assert cycle.definition.competencies[0].name == "Delivery"
    assert cycle.definition.scale == RatingScale(1, 5, ["1", "2", "3", "4", "5"])
    assert cycle.definition.competency("teamwork") is not None
    assert cycle.definition.competency("charm") is None


def test_a_scale_without_labels_is_allowed() -> None:
    checked = definition(scale=RatingScale(0, 4)).checked()
    assert checked.scale.labels == []
    assert checked.scale.points == 5


@pytest.mark.parametrize(
    ("scale", "field"),
    [
        (RatingScale(3, 3), "scale.maximum"),
        (RatingScale(5, 1), "scale.maximum"),
        (RatingScale(-1, 3), "scale.maximum"),
        (RatingScale(0, 11), "scale.maximum"),  # 12 points
        (RatingScale(1, 5, ["a", "b"]), "scale.labels"),
        (RatingScale(1, 5, ["a", "b", " ", "d", "e"]), "scale.labels[2]"),
    ],
)
def test_a_scale_out_of_bounds_or_mislabelled_is_refused(scale: RatingScale, field: str) -> None:
    error = rejected_definition(scale=scale)
    assert type(error) is InvalidInput
    assert error.field == field


def test_the_largest_scale_has_eleven_points() -> None:
    levels = [str(n) for n in range(11)]
    checked = definition(
        scale=RatingScale(0, 10),
        competencies=[competency("delivery", 100, levels=levels)],
    ).checked()
    assert checked.scale.points == 11


@pytest.mark.parametrize(
    ("competencies", "field"),
    [
        ([], "competencies"),
        ([competency(f"c{i}", 5) for i in range(21)], "competencies"),
        ([competency("Delivery", 60), competency("teamwork", 40)], "competencies[0].key"),
        ([competency("delivery", 60), competency("team-work", 40)], "competencies[1].key"),
        ([competency("1st", 100)], "competencies[0].key"),
        ([competency("delivery", 60), competency("delivery", 40)], "competencies[1].key"),
        ([competency("delivery", 100), competency("teamwork", 0)], "competencies[1].weight"),
        ([competency("delivery", 110), competency("teamwork", -10)], "competencies[1].weight"),
        (
            [competency("delivery", "NaN"), competency("teamwork", 40)],
            "competencies[0].weight",
        ),
        ([competency("delivery", 60), competency("teamwork", 30)], "competencies"),
        ([competency("delivery", 60), competency("teamwork", 50)], "competencies"),
        (
            [competency("delivery", 60), competency("teamwork", 40, levels=LEVELS[:4])],
            "competencies[1].levels",
        ),
        (
            [competency("delivery", 60, levels=[*LEVELS, "legendary"]), competency("x", 40)],
            "competencies[0].levels",
        ),
        (
            [
                competency("delivery", 60),
                competency("teamwork", 40, levels=["a", "b", "", "d", "e"]),
            ],
            "competencies[1].levels[2]",
        ),
        (
            [competency("delivery", 60, name="  "), competency("teamwork", 40)],
            "competencies[0].name",
        ),
    ],
)
def test_a_broken_competency_framework_is_refused_naming_the_field(
    competencies: list[Competency], field: str
) -> None:
    error = rejected_definition(competencies=competencies)
    assert type(error) is InvalidInput
    assert error.field == field


def test_fractional_competency_weights_totalling_100_are_fine() -> None:
    checked = definition(
        competencies=[
            competency("delivery", "33.33"),
            competency("teamwork", "33.33"),
            competency("ownership", "33.34"),
        ]
    ).checked()
    assert [c.key for c in checked.competencies] == ["delivery", "teamwork", "ownership"]


@pytest.mark.parametrize(
    ("deadlines", "field"),
    [
        (CycleDeadlines(date(2025, 12, 31), date(2026, 3, 31)), "deadlines.submissionsDue"),
        (CycleDeadlines(date(2026, 3, 20), date(2026, 3, 19)), "deadlines.calibrationDue"),
    ],
)
def test_deadlines_out_of_order_are_refused(deadlines: CycleDeadlines, field: str) -> None:
    error = rejected_definition(deadlines=deadlines)
    assert type(error) is InvalidInput
    assert error.field == field


def test_submissions_and_calibration_may_fall_due_on_the_same_day() -> None:
    same_day = CycleDeadlines(date(2026, 1, 1), date(2026, 1, 1))
    assert definition(deadlines=same_day).checked().deadlines == same_day


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"min_peer_raters": -1}, "minPeerRaters"),
        ({"min_peer_raters": 21}, "minPeerRaters"),
        ({"anonymity_threshold": 1}, "anonymityThreshold"),
        ({"anonymity_threshold": 0}, "anonymityThreshold"),
        ({"anonymity_threshold": 21}, "anonymityThreshold"),
        ({"scope_departments": [], "scope_employees": []}, "scope"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"period": "2026-Q5"}, "period"),
    ],
)
def test_other_definition_inputs_out_of_range_are_refused(
    overrides: dict[str, Any], field: str
) -> None:
    error = rejected_definition(**overrides)
    assert type(error) is InvalidInput
    assert error.field == field


def test_the_smallest_anonymity_threshold_is_two_and_peers_may_be_optional() -> None:
    checked = definition(anonymity_threshold=2, min_peer_raters=0).checked()
    assert (checked.anonymity_threshold, checked.min_peer_raters) == (2, 0)


def test_a_scope_of_employees_alone_is_enough() -> None:
    checked = definition(scope_departments=[], scope_employees=[REVIEWEE]).checked()
    assert checked.scope_employees == [REVIEWEE]


# -- the cycle's states -------------------------------------------------------------------------


def test_a_cycle_runs_from_draft_through_open_and_calibration_to_closed() -> None:
    cycle = ReviewCycle.draft(CYCLE, definition(), HR)
    cycle.redefine(definition(name="Q1 review, take two"), HR)
    cycle.change_deadlines(
        CycleDeadlines(date(2026, 3, 25), date(2026, 4, 5)), HR.because("late start")
    )
    statuses = [cycle.status]
    cycle.open([REVIEWEE, PEER], date(2026, 3, 1), HR)
    statuses.append(cycle.status)
    assert cycle.reviewee_ids == [REVIEWEE, PEER]
    cycle.change_deadlines(
        CycleDeadlines(date(2026, 3, 27), date(2026, 4, 5)), HR.because("holidays")
    )
    cycle.start_calibration(HR)
    statuses.append(cycle.status)
    cycle.close(HR)
    statuses.append(cycle.status)
    assert statuses == list(CycleStatus)
    assert cycle.definition.name == "Q1 review, take two"
    assert cycle.definition.deadlines.submissions_due == date(2026, 3, 27)
    assert event_names(cycle) == [
        "Drafted",
        "Redefined",
        "DeadlinesChanged",
        "Opened",
        "DeadlinesChanged",
        "CalibrationStarted",
        "Closed",
    ]


def _cycle_in(status: CycleStatus) -> ReviewCycle:
    cycle = ReviewCycle.draft(CYCLE, definition(), HR)
    if status is not CycleStatus.DRAFT:
        cycle.open([REVIEWEE], date(2026, 3, 1), HR)
    if status in (CycleStatus.CALIBRATION, CycleStatus.CLOSED):
        cycle.start_calibration(HR)
    if status is CycleStatus.CLOSED:
        cycle.close(HR)
    cycle.collect_events()
    return cycle


ILLEGAL_TRANSITIONS = [
    (CycleStatus.DRAFT, "start_calibration"),
    (CycleStatus.DRAFT, "close"),
    (CycleStatus.OPEN, "open"),
    (CycleStatus.OPEN, "close"),
    (CycleStatus.OPEN, "redefine"),
    (CycleStatus.CALIBRATION, "open"),
    (CycleStatus.CALIBRATION, "start_calibration"),
    (CycleStatus.CALIBRATION, "redefine"),
    (CycleStatus.CALIBRATION, "change_deadlines"),
    (CycleStatus.CLOSED, "open"),
    (CycleStatus.CLOSED, "start_calibration"),
    (CycleStatus.CLOSED, "close"),
    (CycleStatus.CLOSED, "redefine"),
    (CycleStatus.CLOSED, "change_deadlines"),
]


@pytest.mark.parametrize(("status", "action"), ILLEGAL_TRANSITIONS)
def test_every_illegal_transition_is_refused_and_changes_nothing(
    status: CycleStatus, action: str
) -> None:
    cycle = _cycle_in(status)
    actions = {
        "open": lambda: cycle.open([REVIEWEE], date(2026, 3, 1), HR),
        "start_calibration": lambda: cycle.start_calibration(HR),
        "close": lambda: cycle.close(HR),
        "redefine": lambda: cycle.redefine(definition(), HR),
        "change_deadlines": lambda: cycle.change_deadlines(
            CycleDeadlines(date(2026, 3, 25), date(2026, 4, 5)), HR.because("late")
        ),
    }
    raises(CycleNotInState, "cycleId", actions[action])
    assert cycle.status is status
    assert cycle.collect_events() == []


def test_opening_for_nobody_is_refused() -> None:
    cycle = ReviewCycle.draft(CYCLE, definition(), HR)
    raises(InvalidInput, "scope", lambda: cycle.open([], date(2026, 3, 1), HR))
    assert cycle.status is CycleStatus.DRAFT


def test_moving_deadlines_needs_a_reason_and_valid_dates() -> None:
    cycle = open_cycle()
    later = CycleDeadlines(date(2026, 3, 25), date(2026, 4, 5))
    raises(ReasonRequired, "reason", lambda: cycle.change_deadlines(later, HR))
    raises(
        InvalidInput,
        "deadlines.calibrationDue",
        lambda: cycle.change_deadlines(
            CycleDeadlines(date(2026, 3, 25), date(2026, 3, 24)), HR.because("x")
        ),
    )
    assert cycle.definition.deadlines == DEFINITION.deadlines


def test_an_appraisal_mirrors_calibration_and_closing_only_in_order() -> None:
    appraisal = started()
    raises(CycleNotInState, "cycleId", lambda: appraisal.close(HR))
    appraisal.enter_calibration(HR)
    raises(CycleNotInState, "cycleId", lambda: appraisal.enter_calibration(HR))
    appraisal.close(HR)
    assert appraisal.status is CycleStatus.CLOSED
    raises(CycleNotInState, "cycleId", lambda: appraisal.close(HR))
    raises(CycleNotInState, "cycleId", lambda: appraisal.enter_calibration(HR))


# -- raters -------------------------------------------------------------------------------------


def test_self_and_manager_are_raters_from_the_start() -> None:
    appraisal = started()
    assert appraisal.id == appraisal_id(CYCLE, REVIEWEE)
    assert set(appraisal.raters) == {SELF_KEY, MANAGER_KEY}
    assert appraisal.raters[SELF_KEY].source is RaterSource.SELF
    assert appraisal.raters[MANAGER_KEY].employee_id == MANAGER
    assert appraisal.rater_of_employee(REVIEWEE) == SELF_KEY
    assert appraisal.rater_of_employee(MANAGER) == MANAGER_KEY
    assert appraisal.rater_of_employee(PEER) is None
    assert event_names(appraisal) == ["Started"]


def test_someone_without_a_manager_rates_only_themselves_at_first() -> None:
    assert set(started(manager_id=None).raters) == {SELF_KEY}


def test_appraisal_ids_are_one_per_cycle_and_reviewee() -> None:
    assert appraisal_id(CYCLE, REVIEWEE) == appraisal_id(CYCLE, REVIEWEE)
    assert appraisal_id(CYCLE, REVIEWEE) != appraisal_id(CYCLE, PEER)
    assert appraisal_id(CYCLE, REVIEWEE) != appraisal_id(uuid4(), REVIEWEE)


def test_peers_are_assigned_once_each() -> None:
    appraisal = started()
    assert appraisal.assign_peer(PEER, HR) == PEER_KEY
    appraisal.assign_peer(OTHER_PEER, HR)
    assert appraisal.raters[PEER_KEY].source is RaterSource.PEER
    raises(RaterAlreadyAssigned, "raterId", lambda: appraisal.assign_peer(PEER, HR))
    assert event_names(appraisal) == ["Started", "RaterAssigned", "RaterAssigned"]


def test_nobody_is_their_own_peer() -> None:
    appraisal = started()
    raises(SelfAsPeer, "raterId", lambda: appraisal.assign_peer(REVIEWEE, HR))
    assert set(appraisal.raters) == {SELF_KEY, MANAGER_KEY}


def test_the_manager_cannot_also_be_a_peer() -> None:
    appraisal = started()
    raises(RaterAlreadyAssigned, "raterId", lambda: appraisal.assign_peer(MANAGER, HR))
    assert rater_key(RaterSource.PEER, MANAGER) not in appraisal.raters


def test_customers_are_told_apart_by_their_external_reference() -> None:
    appraisal = started()
    acme = appraisal.assign_customer("  ACME Corp / J. Doe ", HR)
    initech = appraisal.assign_customer("Initech / P. Gibbons", HR)
    assert (
        acme
        == rater_key(RaterSource.CUSTOMER, "ACME Corp / J. Doe")
        == "customer:ACME Corp / J. Doe"
    )
    assert appraisal.raters[acme].external_ref == "ACME Corp / J. Doe"
    assert appraisal.raters[acme].employee_id is None
    assert initech != acme
    raises(
        RaterAlreadyAssigned,
        "externalRef",
        lambda: appraisal.assign_customer("ACME Corp / J. Doe", HR),
    )
    raises(InvalidInput, "externalRef", lambda: appraisal.assign_customer("   ", HR))


def test_at_most_twenty_external_raters() -> None:
    appraisal = started()
    for n in range(20):
        appraisal.assign_customer(f"customer {n}", HR)
    raises(InvalidInput, "externalRef", lambda: appraisal.assign_customer("one too many", HR))


def test_raters_are_assigned_only_while_the_cycle_is_open() -> None:
    appraisal = started()
    appraisal.enter_calibration(HR)
    raises(CycleNotInState, "cycleId", lambda: appraisal.assign_peer(PEER, HR))
    raises(CycleNotInState, "cycleId", lambda: appraisal.assign_customer("ACME", HR))


def test_a_peer_who_has_not_submitted_can_be_removed_with_a_reason() -> None:
    appraisal = started()
    appraisal.assign_peer(PEER, HR)
    appraisal.save_draft(DEFINITION, PEER_KEY, ratings(), "half done", NOW, HR)
    raises(ReasonRequired, "reason", lambda: appraisal.unassign(PEER_KEY, HR))
    appraisal.unassign(PEER_KEY, HR.because("moved to another team"))
    assert PEER_KEY not in appraisal.raters
    # Removed, the peer may be assigned again later.
    appraisal.assign_peer(PEER, HR)
    assert appraisal.raters[PEER_KEY].draft is None


def test_a_rater_who_submitted_cannot_be_removed() -> None:
    appraisal = started()
    appraisal.assign_peer(PEER, HR)
    submit(appraisal, PEER_KEY)
    raises(ReviewAlreadySubmitted, "raterId", lambda: appraisal.unassign(PEER_KEY, HR_BECAUSE))
    assert appraisal.raters[PEER_KEY].submitted == ratings()


def test_self_and_manager_cannot_be_removed_nor_an_unknown_rater() -> None:
    appraisal = started()
    raises(InvalidInput, "raterId", lambda: appraisal.unassign(SELF_KEY, HR_BECAUSE))
    raises(InvalidInput, "raterId", lambda: appraisal.unassign(MANAGER_KEY, HR_BECAUSE))
    raises(RaterNotAssigned, "raterId", lambda: appraisal.unassign(PEER_KEY, HR_BECAUSE))


# -- writing reviews ----------------------------------------------------------------------------


def test_drafts_are_saved_partially_and_replaced_then_submitted_once() -> None:
    appraisal = started()
    appraisal.save_draft(DEFINITION, SELF_KEY, [Rating("teamwork", 2)], "  first go ", NOW, HR)
    assert appraisal.raters[SELF_KEY].draft == [Rating("teamwork", 2)]
    assert appraisal.raters[SELF_KEY].draft_comments == "first go"
    # Ratings are kept in the framework's order, whatever order they came in.
    appraisal.save_draft(DEFINITION, SELF_KEY, ratings()[::-1], "second go", NOW, HR)
    assert appraisal.raters[SELF_KEY].draft == ratings()
    appraisal.submit(DEFINITION, SELF_KEY, ratings(5, None), " done ", NOW, HR)
    rater = appraisal.raters[SELF_KEY]
    assert rater.submitted == ratings(5, None)
    assert rater.comments == "done"
    assert rater.submitted_at == NOW
    assert (rater.draft, rater.draft_comments) == (None, "")
    raises(ReviewAlreadySubmitted, "raterId", lambda: submit(appraisal, SELF_KEY))
    raises(
        ReviewAlreadySubmitted,
        "raterId",
        lambda: appraisal.save_draft(DEFINITION, SELF_KEY, ratings(), "", NOW, HR),
    )
    assert appraisal.raters[SELF_KEY].submitted == ratings(5, None)
    assert event_names(appraisal) == [
        "Started",
        "ReviewDraftSaved",
        "ReviewDraftSaved",
        "ReviewSubmitted",
    ]


def test_every_competency_needs_a_rating_or_an_explicit_not_observed() -> None:
    appraisal = started()
    error = raises(
        CompetencyNotRated, "ratings", lambda: submit(appraisal, SELF_KEY, [Rating("delivery", 4)])
    )
    assert "teamwork" in error.message
    raises(
        CompetencyNotRated,
        "ratings",
        lambda: appraisal.submit(DEFINITION, SELF_KEY, [], "", NOW, HR),
    )
    # Not observed is an answer: it completes the review.
    submit(appraisal, SELF_KEY, ratings(None, None))
    assert appraisal.raters[SELF_KEY].submitted == ratings(None, None)


@pytest.mark.parametrize("value", [0, 6, -1, 100])
def test_a_rating_outside_the_cycles_scale_is_refused_naming_its_position(value: int) -> None:
    appraisal = started()
    error = raises(
        RatingOutOfScale, "ratings[1].value", lambda: submit(appraisal, SELF_KEY, ratings(3, value))
    )
    assert "1 to 5" in error.message
    raises(
        RatingOutOfScale,
        "ratings[0].value",
        lambda: appraisal.save_draft(
            DEFINITION, SELF_KEY, [Rating("delivery", value)], "", NOW, HR
        ),
    )
    assert appraisal.raters[SELF_KEY].submitted is None
    assert appraisal.raters[SELF_KEY].draft is None


def test_the_scale_ends_are_valid_ratings() -> None:
    appraisal = started()
    submit(appraisal, SELF_KEY, ratings(1, 5))
    assert appraisal.raters[SELF_KEY].submitted == ratings(1, 5)


def test_unknown_or_repeated_competencies_are_refused() -> None:
    appraisal = started()
    raises(
        InvalidInput,
        "ratings[2].competency",
        lambda: submit(appraisal, SELF_KEY, [*ratings(), Rating("charm", 5)]),
    )
    raises(
        InvalidInput,
        "ratings[1].competency",
        lambda: submit(appraisal, SELF_KEY, [Rating("delivery", 4), Rating("delivery", 2)]),
    )
    assert appraisal.raters[SELF_KEY].submitted is None


def test_only_assigned_raters_write() -> None:
    appraisal = started()
    raises(RaterNotAssigned, "raterId", lambda: submit(appraisal, PEER_KEY))


def test_comments_are_limited_in_length() -> None:
    appraisal = started()
    raises(
        InvalidInput,
        "comments",
        lambda: appraisal.submit(DEFINITION, SELF_KEY, ratings(), "x" * 5001, NOW, HR),
    )
    appraisal.submit(DEFINITION, SELF_KEY, ratings(), "x" * 5000, NOW, HR)


def test_reviews_are_written_until_the_end_of_the_due_day_only() -> None:
    appraisal = started()
    due = DEFINITION.deadlines.submissions_due
    last_minute = datetime.combine(due, datetime.max.time(), tzinfo=UTC)
    appraisal.submit(DEFINITION, SELF_KEY, ratings(), "", last_minute, HR)
    too_late = datetime.combine(due + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    raises(
        SubmissionDeadlinePassed,
        "cycleId",
        lambda: appraisal.submit(DEFINITION, MANAGER_KEY, ratings(), "", too_late, HR),
    )
    raises(
        SubmissionDeadlinePassed,
        "cycleId",
        lambda: appraisal.save_draft(DEFINITION, MANAGER_KEY, ratings(), "", too_late, HR),
    )
    # A moved deadline is what the next attempt is judged by.
    extended = replace(
        DEFINITION, deadlines=CycleDeadlines(due + timedelta(days=5), date(2026, 4, 30))
    )
    appraisal.submit(extended, MANAGER_KEY, ratings(), "", too_late, HR)
    assert appraisal.raters[MANAGER_KEY].submitted_at == too_late


@pytest.mark.parametrize("closed", [False, True])
def test_nothing_is_written_once_calibration_began(closed: bool) -> None:
    appraisal = started()
    appraisal.save_draft(DEFINITION, SELF_KEY, ratings(), "", NOW, HR)
    appraisal.enter_calibration(HR)
    if closed:
        appraisal.close(HR)
    raises(CycleNotInState, "cycleId", lambda: submit(appraisal, SELF_KEY))
    raises(
        CycleNotInState,
        "cycleId",
        lambda: appraisal.save_draft(DEFINITION, MANAGER_KEY, ratings(), "", NOW, HR),
    )
    raises(CycleNotInState, "cycleId", lambda: appraisal.unassign(SELF_KEY, HR_BECAUSE))
    assert appraisal.raters[SELF_KEY].submitted is None


# -- external raters ----------------------------------------------------------------------------


def invited(appraisal: Appraisal, ref: str, digest: str, days: int = 7) -> str:
    key = appraisal.assign_customer(ref, HR)
    appraisal.invite_external(key, digest, NOW + timedelta(days=days), NOW, HR)
    return key


def test_an_invitation_token_works_once_and_before_it_expires() -> None:
    appraisal = started()
    key = invited(appraisal, "ACME", "digest-1")
    expires = NOW + timedelta(days=7)
    assert appraisal.raters[key].invitation_digest == "digest-1"
    assert appraisal.raters[key].invitation_expires_at == expires
    assert appraisal.external_rater_for("digest-1", NOW) == key
    assert appraisal.external_rater_for("digest-1", expires - timedelta(seconds=1)) == key
    raises(ExternalTokenExpired, "token", lambda: appraisal.external_rater_for("digest-1", expires))
    raises(ExternalTokenInvalid, "token", lambda: appraisal.external_rater_for("digest-2", NOW))
    submit(appraisal, key)
    raises(ExternalTokenUsed, "token", lambda: appraisal.external_rater_for("digest-1", NOW))
    raises(
        ReviewAlreadySubmitted,
        "raterId",
        lambda: appraisal.invite_external(key, "digest-3", expires, NOW, HR),
    )


def test_a_new_invitation_replaces_the_earlier_token() -> None:
    appraisal = started()
    key = invited(appraisal, "ACME", "first")
    appraisal.invite_external(key, "second", NOW + timedelta(days=3), NOW, HR)
    raises(ExternalTokenInvalid, "token", lambda: appraisal.external_rater_for("first", NOW))
    assert appraisal.external_rater_for("second", NOW) == key


def test_only_external_raters_are_invited_and_only_into_the_future() -> None:
    appraisal = started()
    raises(
        InvalidInput,
        "raterId",
        lambda: appraisal.invite_external(SELF_KEY, "d", NOW + timedelta(days=1), NOW, HR),
    )
    key = appraisal.assign_customer("ACME", HR)
    raises(InvalidInput, "expiresAt", lambda: appraisal.invite_external(key, "d", NOW, NOW, HR))
    raises(
        RaterNotAssigned,
        "raterId",
        lambda: appraisal.invite_external("customer:nobody", "d", NOW + timedelta(days=1), NOW, HR),
    )
    appraisal.enter_calibration(HR)
    raises(
        CycleNotInState,
        "cycleId",
        lambda: appraisal.invite_external(key, "d", NOW + timedelta(days=1), NOW, HR),
    )


def test_the_invitation_event_records_the_digest_it_was_given() -> None:
    appraisal = started()
    key = appraisal.assign_customer("ACME", HR)
    appraisal.collect_events()
    appraisal.invite_external(key, "the-digest", NOW + timedelta(days=1), NOW, HR)
    (event,) = appraisal.collect_events()
    assert type(event).__name__ == "ExternalRaterInvited"
    assert event.__dict__["token_digest"] == "the-digest"
    assert event.__dict__["rater_key"] == key


# -- calibration --------------------------------------------------------------------------------


def in_calibration() -> Appraisal:
    appraisal = started()
    appraisal.assign_peer(PEER, HR)
    submit(appraisal, PEER_KEY, ratings(2, None))
    submit(appraisal, MANAGER_KEY, ratings(4, 4))
    appraisal.enter_calibration(HR)
    appraisal.collect_events()
    return appraisal


def test_calibration_keeps_the_submitted_rating_beside_the_calibrated_one() -> None:
    appraisal = in_calibration()
    appraisal.calibrate_rating(DEFINITION, PEER_KEY, "delivery", 3, HR_BECAUSE)
    appraisal.calibrate_rating(DEFINITION, PEER_KEY, "delivery", 4, HR.because("second look"))
    rater = appraisal.raters[PEER_KEY]
    assert rater.submitted == ratings(2, None)
    assert rater.calibrated == {"delivery": 4}
    assert rater.effective() == {"delivery": 4, "teamwork": None}
    first, second = appraisal.collect_events()
    assert type(first).__name__ == "RatingCalibrated"
    assert {k: first.__dict__[k] for k in ("original", "previous", "calibrated")} == {
        "original": 2,
        "previous": 2,
        "calibrated": 3,
    }
    assert {k: second.__dict__[k] for k in ("original", "previous", "calibrated")} == {
        "original": 2,
        "previous": 3,
        "calibrated": 4,
    }
    assert first.__dict__["provenance"].reason == "panel agreed the peer was too harsh"
    assert first.__dict__["competency"] == "delivery"


def test_a_not_observed_rating_can_be_calibrated_and_keeps_none_as_original() -> None:
    appraisal = in_calibration()
    appraisal.calibrate_rating(DEFINITION, PEER_KEY, "teamwork", 3, HR_BECAUSE)
    (event,) = appraisal.collect_events()
    assert (event.__dict__["original"], event.__dict__["previous"]) == (None, None)
    assert appraisal.raters[PEER_KEY].effective() == {"delivery": 2, "teamwork": 3}


def test_calibrating_a_rating_needs_a_reason_and_a_real_change() -> None:
    appraisal = in_calibration()
    raises(
        ReasonRequired,
        "reason",
        lambda: appraisal.calibrate_rating(DEFINITION, PEER_KEY, "delivery", 3, HR),
    )
    raises(
        ReasonRequired,
        "reason",
        lambda: appraisal.calibrate_rating(DEFINITION, PEER_KEY, "delivery", 3, HR.because("  ")),
    )
    raises(
        InvalidInput,
        "value",
        lambda: appraisal.calibrate_rating(DEFINITION, PEER_KEY, "delivery", 2, HR_BECAUSE),
    )
    raises(
        RatingOutOfScale,
        "value",
        lambda: appraisal.calibrate_rating(DEFINITION, PEER_KEY, "delivery", 6, HR_BECAUSE),
    )
    raises(
        InvalidInput,
        "competency",
        lambda: appraisal.calibrate_rating(DEFINITION, PEER_KEY, "charm", 3, HR_BECAUSE),
    )
    raises(
        InvalidInput,
        "raterId",
        lambda: appraisal.calibrate_rating(DEFINITION, SELF_KEY, "delivery", 3, HR_BECAUSE),
    )
    raises(
        RaterNotAssigned,
        "raterId",
        lambda: appraisal.calibrate_rating(
            DEFINITION, rater_key(RaterSource.PEER, OTHER_PEER), "delivery", 3, HR_BECAUSE
        ),
    )
    assert appraisal.raters[PEER_KEY].calibrated == {}
    assert appraisal.collect_events() == []


def test_calibration_happens_only_during_calibration() -> None:
    appraisal = started()
    submit(appraisal, MANAGER_KEY)
    raises(
        CycleNotInState,
        "cycleId",
        lambda: appraisal.calibrate_rating(DEFINITION, MANAGER_KEY, "delivery", 5, HR_BECAUSE),
    )
    raises(CycleNotInState, "cycleId", lambda: appraisal.calibrate_result(Decimal(80), HR_BECAUSE))
    appraisal.enter_calibration(HR)
    appraisal.close(HR)
    raises(
        CycleNotInState,
        "cycleId",
        lambda: appraisal.calibrate_rating(DEFINITION, MANAGER_KEY, "delivery", 5, HR_BECAUSE),
    )
    raises(CycleNotInState, "cycleId", lambda: appraisal.calibrate_result(Decimal(80), HR_BECAUSE))


def test_a_result_is_calibrated_within_0_to_100_with_a_reason_and_can_be_withdrawn() -> None:
    appraisal = in_calibration()
    for score in (Decimal("-0.01"), Decimal("100.01"), Decimal("NaN"), Decimal("Infinity")):
        raises(InvalidInput, "score", lambda s=score: appraisal.calibrate_result(s, HR_BECAUSE))
    raises(ReasonRequired, "reason", lambda: appraisal.calibrate_result(Decimal(80), HR))
    raises(InvalidInput, "score", lambda: appraisal.calibrate_result(None, HR_BECAUSE))
    assert appraisal.collect_events() == []

    appraisal.calibrate_result(Decimal(0), HR_BECAUSE)
    appraisal.calibrate_result(Decimal(100), HR_BECAUSE)
    raises(InvalidInput, "score", lambda: appraisal.calibrate_result(Decimal(100), HR_BECAUSE))
    appraisal.calibrate_result(None, HR.because("panel withdrew it"))
    assert appraisal.calibrated_score is None
    events = appraisal.collect_events()
    assert [(e.__dict__["previous"], e.__dict__["score"]) for e in events] == [
        (None, Decimal(0)),
        (Decimal(0), Decimal(100)),
        (Decimal(100), None),
    ]
    assert events[-1].__dict__["provenance"].reason == "panel withdrew it"
