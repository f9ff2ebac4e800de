"""Review-cycle commands on PostgreSQL: a whole cycle, who may do what, reviewees checked against
the recorded organisation, one-time external tokens that are never stored, and concurrency:
simultaneous reviews all land once, and none lands after calibration began."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from domain.errors import (
    AlreadyExists,
    CompetencyNotRated,
    CycleNotInState,
    DomainError,
    EmployeeHasLeft,
    ExternalTokenExpired,
    ExternalTokenInvalid,
    ExternalTokenUsed,
    InvalidInput,
    NotFound,
    PermissionDenied,
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
from service.application import Perfledger, Receipt, department_id_for, employee_id_for
from service.idempotency import IdempotencyKeyReused
from service.review_commands import Invitation, token_digest
from tests.helpers import HR, Org, as_role, assert_records_nothing, load, patiently
from tests.review_builders import cycle_definition, ratings

A = TypeVar("A", bound=Aggregate)

OPENED_ON = date(2026, 3, 1)
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
AUDITOR = Provenance("auditor-1", Role.AUDITOR, "test")


def definition(org: Org, **overrides: Any) -> CycleDefinition:
    """Small teams: one peer is enough, and a source shows from two raters on."""
    values: dict[str, Any] = {
        "scale": RatingScale(1, 5),
        "min_peer_raters": 1,
        "anonymity_threshold": 2,
    }
    values.update(overrides)
    return cycle_definition(org.sales, **values)


def draft(app: Perfledger, org: Org, **overrides: Any) -> UUID:
    cycle_id = uuid4()
    app.draft_review_cycle(HR, cycle_id=cycle_id, definition=definition(org, **overrides))
    return cycle_id


def opened(app: Perfledger, org: Org, reviewees: list[UUID] | None = None) -> UUID:
    cycle_id = draft(app, org)
    app.open_review_cycle(HR, cycle_id, reviewees or [org.alice, org.bob], OPENED_ON)
    return cycle_id


def hire(app: Perfledger, code: str, department: UUID, manager: UUID | None) -> UUID:
    app.hire_employee(
        HR, code=code, name=f"Person {code}", department_id=department, manager_id=manager,
        job_title="Account manager", hire_date=date(2022, 1, 1), attributes={},
    )  # fmt: skip
    return employee_id_for(code)


def employee(person: UUID) -> Provenance:
    return as_role(Role.EMPLOYEE, person)


def manager(person: UUID) -> Provenance:
    return as_role(Role.MANAGER, person)


def submit(
    app: Perfledger,
    provenance: Provenance,
    cycle_id: UUID,
    reviewee: UUID,
    values: list[Rating] | None = None,
    *,
    now: datetime = NOW,
    idempotency_key: str | None = None,
) -> Receipt:
    return app.submit_review(
        provenance, cycle_id=cycle_id, reviewee_id=reviewee, ratings=values or ratings(),
        comments="", now=now, idempotency_key=idempotency_key,
    )  # fmt: skip


def invite(
    app: Perfledger, cycle_id: UUID, reviewee: UUID, ref: str = "ACME / J. Doe"
) -> Invitation:
    return app.invite_customer_rater(
        HR, cycle_id=cycle_id, reviewee_id=reviewee, external_ref=ref,
        valid_for=timedelta(days=7), now=NOW,
    )  # fmt: skip


def submit_external(app: Perfledger, token: str, now: datetime = NOW) -> Receipt:
    return app.submit_external_review(
        token=token, ratings=ratings(5, 5), comments="great partner", now=now,
        correlation_id="ext-1",
    )  # fmt: skip


def appraisal_topics(app: Perfledger, appraisal: UUID) -> list[str]:
    """The appraisal's event names in log order."""
    return [
        n.topic.rsplit(".", 1)[-1]
        for n in app.recorder.select_notifications(start=1, limit=1_000_000)
        if n.originator_id == appraisal
    ]


# -- a whole cycle ------------------------------------------------------------------------------


def test_a_whole_cycle_from_draft_to_closed(app: Perfledger, org: Org) -> None:
    cycle_id = draft(app, org)
    app.redefine_review_cycle(HR, cycle_id, definition(org, name="Q1 review"))
    app.change_cycle_deadlines(
        HR.because("late start"), cycle_id, CycleDeadlines(date(2026, 3, 22), date(2026, 4, 2))
    )
    app.open_review_cycle(HR, cycle_id, [org.alice, org.bob, org.alice], OPENED_ON)
    cycle = load(app, ReviewCycle, cycle_id)
    assert (cycle.status, cycle.reviewee_ids) == (CycleStatus.OPEN, [org.alice, org.bob])
    alice_id = appraisal_id(cycle_id, org.alice)
    appraisal = load(app, Appraisal, alice_id)
    assert (appraisal.manager_id, appraisal.department_id) == (org.boss, org.sales)
    assert set(appraisal.raters) == {
        rater_key(RaterSource.SELF, org.alice),
        rater_key(RaterSource.MANAGER, org.boss),
    }

    # The manager picks a peer, hr invites a customer.
    assigned = app.assign_peer_rater(manager(org.boss), cycle_id, org.alice, org.bob)
    assert assigned.id == alice_id
    invitation = invite(app, cycle_id, org.alice)
    assert invitation.rater_key == "customer:ACME / J. Doe"
    assert invitation.expires_at == NOW + timedelta(days=7)

    # Everyone writes; the peer drafts first.
    app.save_review_draft(
        employee(org.bob), cycle_id=cycle_id, reviewee_id=org.alice,
        ratings=[Rating("delivery", 3)], comments="so far so good", now=NOW,
    )  # fmt: skip
    submit(app, employee(org.alice), cycle_id, org.alice, ratings(5, 4))
    submit(app, manager(org.boss), cycle_id, org.alice, ratings(4, None))
    submit(app, employee(org.bob), cycle_id, org.alice, ratings(2, 3))
    form_cycle, form_appraisal, key = app.external_invitation(invitation.token, NOW)
    assert (form_cycle.id, form_appraisal.id, key) == (cycle_id, alice_id, invitation.rater_key)
    submit_external(app, invitation.token)

    app.start_calibration(HR, cycle_id)
    peer_key = rater_key(RaterSource.PEER, org.bob)
    app.calibrate_rating(
        HR.because("panel: the peer misread the scale"), cycle_id=cycle_id,
        reviewee_id=org.alice, rater=peer_key, competency="delivery", value=3,
    )  # fmt: skip
    app.calibrate_result(
        HR.because("panel consensus"), cycle_id=cycle_id, reviewee_id=org.alice,
        score=Decimal("82.5"),
    )  # fmt: skip
    app.close_review_cycle(HR, cycle_id)

    assert load(app, ReviewCycle, cycle_id).status is CycleStatus.CLOSED
    appraisal = load(app, Appraisal, alice_id)
    assert appraisal.status is CycleStatus.CLOSED
    assert appraisal.calibrated_score == Decimal("82.5")
    assert appraisal.raters[peer_key].submitted == ratings(2, 3)
    assert appraisal.raters[peer_key].effective() == {"delivery": 3, "teamwork": 3}
    assert appraisal.raters[invitation.rater_key].submitted == ratings(5, 5)
    assert appraisal.raters[invitation.rater_key].comments == "great partner"
    assert all(r.submitted is not None for r in appraisal.raters.values())
    assert load(app, Appraisal, appraisal_id(cycle_id, org.bob)).status is CycleStatus.CLOSED
    assert appraisal_topics(app, alice_id) == [
        "Started",
        "RaterAssigned",
        "RaterAssigned",
        "ExternalRaterInvited",
        "ReviewDraftSaved",
        "ReviewSubmitted",
        "ReviewSubmitted",
        "ReviewSubmitted",
        "ReviewSubmitted",
        "CalibrationEntered",
        "RatingCalibrated",
        "ResultCalibrated",
        "Closed",
    ]
    # The customer's review is recorded as theirs, by an external rater without an account.
    last_submission = [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(start=1, limit=1_000_000)
        if n.originator_id == alice_id and n.topic.endswith("ReviewSubmitted")
    ][-1]
    provenance = vars(last_submission)["provenance"]
    assert (provenance.actor_id, provenance.actor_role) == (invitation.rater_key, Role.EXTERNAL)

    # Closed means frozen.
    assert_records_nothing(
        app,
        lambda: app.calibrate_result(
            HR.because("late"), cycle_id=cycle_id, reviewee_id=org.alice, score=Decimal(90)
        ),
        CycleNotInState,
        "cycleId",
    )


# -- who may do what ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.MANAGER, Role.AUDITOR])
def test_only_hr_drafts_opens_calibrates_and_closes(app: Perfledger, org: Org, role: Role) -> None:
    someone = as_role(role, org.boss, reason="because")
    assert_records_nothing(
        app,
        lambda: app.draft_review_cycle(someone, cycle_id=uuid4(), definition=definition(org)),
        PermissionDenied,
        None,
    )
    cycle_id = draft(app, org)
    for command in (
        lambda: app.redefine_review_cycle(someone, cycle_id, definition(org)),
        lambda: app.change_cycle_deadlines(
            someone, cycle_id, CycleDeadlines(date(2026, 3, 25), date(2026, 4, 1))
        ),
        lambda: app.open_review_cycle(someone, cycle_id, [org.alice], OPENED_ON),
    ):
        assert_records_nothing(app, command, PermissionDenied, None)
    app.open_review_cycle(HR, cycle_id, [org.alice], OPENED_ON)
    submit(app, manager(org.boss), cycle_id, org.alice)
    assert_records_nothing(
        app, lambda: app.start_calibration(someone, cycle_id), PermissionDenied, None
    )
    app.start_calibration(HR, cycle_id)
    for command in (
        lambda: app.calibrate_rating(
            someone,
            cycle_id=cycle_id,
            reviewee_id=org.alice,
            rater=rater_key(RaterSource.MANAGER, org.boss),
            competency="delivery",
            value=5,
        ),
        lambda: app.calibrate_result(
            someone, cycle_id=cycle_id, reviewee_id=org.alice, score=Decimal(70)
        ),
        lambda: app.close_review_cycle(someone, cycle_id),
    ):
        assert_records_nothing(app, command, PermissionDenied, None)
    app.close_review_cycle(HR, cycle_id)


def test_admin_may_run_a_cycle_like_hr(app: Perfledger, org: Org) -> None:
    admin = Provenance("admin-1", Role.ADMIN, "test")
    cycle_id = uuid4()
    app.draft_review_cycle(admin, cycle_id=cycle_id, definition=definition(org))
    app.open_review_cycle(admin, cycle_id, [org.alice], OPENED_ON)
    app.start_calibration(admin, cycle_id)
    app.close_review_cycle(admin, cycle_id)
    assert load(app, ReviewCycle, cycle_id).status is CycleStatus.CLOSED


def test_peers_are_chosen_by_the_reviewees_managers_or_hr(app: Perfledger, org: Org) -> None:
    carol = hire(app, "E4", org.sales, org.alice)  # reports to alice, who reports to the boss
    dave = hire(app, "E5", org.sales, org.boss)
    cycle_id = opened(app, org, [org.alice, carol])
    # Carol's manager and her manager's manager may choose her peers; so may hr.
    app.assign_peer_rater(manager(org.alice), cycle_id, carol, org.bob)
    app.assign_peer_rater(manager(org.boss), cycle_id, carol, dave)
    app.assign_peer_rater(HR, cycle_id, org.alice, dave)
    carols = load(app, Appraisal, appraisal_id(cycle_id, carol))
    assert {rater_key(RaterSource.PEER, org.bob), rater_key(RaterSource.PEER, dave)} <= set(
        carols.raters
    )
    # A manager of someone else may not, and nobody chooses their own peers.
    assert_records_nothing(
        app,
        lambda: app.assign_peer_rater(manager(org.alice), cycle_id, org.alice, org.bob),
        PermissionDenied,
        None,
    )
    assert_records_nothing(
        app,
        lambda: app.assign_peer_rater(employee(org.alice), cycle_id, org.alice, org.bob),
        PermissionDenied,
        None,
    )
    assert_records_nothing(
        app,
        lambda: app.assign_peer_rater(manager(dave), cycle_id, carol, org.boss),
        PermissionDenied,
        None,
    )
    assert_records_nothing(
        app,
        lambda: app.assign_peer_rater(AUDITOR, cycle_id, org.alice, org.bob),
        PermissionDenied,
        None,
    )
    # Nor invites customers or removes raters.
    assert_records_nothing(
        app,
        lambda: app.invite_customer_rater(
            employee(org.alice),
            cycle_id=cycle_id,
            reviewee_id=org.alice,
            external_ref="ACME",
            valid_for=timedelta(days=3),
            now=NOW,
        ),
        PermissionDenied,
        None,
    )
    assert_records_nothing(
        app,
        lambda: app.unassign_rater(
            employee(org.alice).because("dislike"),
            cycle_id,
            org.alice,
            rater_key(RaterSource.PEER, dave),
        ),
        PermissionDenied,
        None,
    )


def test_rater_assignment_errors_are_specific_and_record_nothing(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    app.assign_peer_rater(HR, cycle_id, org.alice, org.bob)
    for peer, error in (
        (org.alice, SelfAsPeer),
        (org.boss, RaterAlreadyAssigned),  # already the manager
        (org.bob, RaterAlreadyAssigned),  # already a peer
    ):
        assert_records_nothing(
            app, partial(app.assign_peer_rater, HR, cycle_id, org.alice, peer), error, "raterId"
        )
    assert_records_nothing(
        app,
        lambda: app.assign_peer_rater(HR, cycle_id, org.alice, uuid4()),
        NotFound,
        "raterId",
    )
    app.record_leaving(HR, org.boss, date(2026, 3, 5))
    assert_records_nothing(
        app,
        lambda: app.assign_peer_rater(HR, cycle_id, org.bob, org.boss),
        EmployeeHasLeft,
        "raterId",
    )
    assert_records_nothing(
        app,
        lambda: app.assign_peer_rater(HR, cycle_id, uuid4(), org.bob),
        NotFound,
        "revieweeId",
    )
    # Removing a peer needs a reason; removing one who submitted is refused.
    peer_key = rater_key(RaterSource.PEER, org.bob)
    assert_records_nothing(
        app,
        lambda: app.unassign_rater(HR, cycle_id, org.alice, peer_key),
        ReasonRequired,
        "reason",
    )
    submit(app, employee(org.bob), cycle_id, org.alice)
    assert_records_nothing(
        app,
        lambda: app.unassign_rater(HR.because("moved"), cycle_id, org.alice, peer_key),
        ReviewAlreadySubmitted,
        "raterId",
    )


def test_auditors_cannot_write_reviews_even_when_assigned_as_raters(
    app: Perfledger, org: Org
) -> None:
    cycle_id = opened(app, org)
    # The boss is alice's manager rater; with an auditor token they only read.
    as_auditor = as_role(Role.AUDITOR, org.boss)
    assert_records_nothing(
        app, lambda: submit(app, as_auditor, cycle_id, org.alice), PermissionDenied, None
    )
    assert_records_nothing(
        app,
        lambda: app.save_review_draft(
            as_auditor,
            cycle_id=cycle_id,
            reviewee_id=org.alice,
            ratings=ratings(),
            comments="",
            now=NOW,
        ),
        PermissionDenied,
        None,
    )
    submit(app, manager(org.boss), cycle_id, org.alice)


def test_only_assigned_raters_write_and_only_as_themselves(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    # Bob is not assigned to review alice; hr has no employee id to write as.
    assert_records_nothing(
        app,
        lambda: submit(app, employee(org.bob), cycle_id, org.alice),
        RaterNotAssigned,
        "revieweeId",
    )
    assert_records_nothing(
        app, lambda: submit(app, HR, cycle_id, org.alice), PermissionDenied, None
    )
    assert_records_nothing(
        app,
        lambda: submit(app, employee(org.alice), uuid4(), org.alice),
        NotFound,
        "cycleId",
    )


def test_bad_reviews_are_refused_specifically_and_record_nothing(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    alice = employee(org.alice)
    assert_records_nothing(
        app,
        lambda: submit(app, alice, cycle_id, org.alice, ratings(4, 6)),
        RatingOutOfScale,
        "ratings[1].value",
    )
    assert_records_nothing(
        app,
        lambda: submit(app, alice, cycle_id, org.alice, [Rating("delivery", 4)]),
        CompetencyNotRated,
        "ratings",
    )
    assert_records_nothing(
        app,
        lambda: submit(app, alice, cycle_id, org.alice, [*ratings(), Rating("charm", 3)]),
        InvalidInput,
        "ratings[2].competency",
    )
    assert_records_nothing(
        app,
        lambda: submit(app, alice, cycle_id, org.alice, now=datetime(2026, 3, 21, tzinfo=UTC)),
        SubmissionDeadlinePassed,
        "cycleId",
    )
    submit(app, alice, cycle_id, org.alice)
    assert_records_nothing(
        app,
        lambda: submit(app, alice, cycle_id, org.alice),
        ReviewAlreadySubmitted,
        "raterId",
    )
    app.start_calibration(HR, cycle_id)
    assert_records_nothing(
        app,
        lambda: submit(app, manager(org.boss), cycle_id, org.alice),
        CycleNotInState,
        "cycleId",
    )


def test_a_moved_deadline_lets_late_reviews_in(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    late = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
    assert_records_nothing(
        app,
        lambda: submit(app, employee(org.alice), cycle_id, org.alice, now=late),
        SubmissionDeadlinePassed,
        "cycleId",
    )
    app.change_cycle_deadlines(
        HR.because("holidays"), cycle_id, CycleDeadlines(date(2026, 3, 27), date(2026, 4, 3))
    )
    submit(app, employee(org.alice), cycle_id, org.alice, now=late)


# -- opening: reviewees checked against the organisation ----------------------------------------


def test_opening_checks_every_reviewee_and_records_nothing_when_one_fails(
    app: Perfledger, org: Org
) -> None:
    app.open_department(HR, code="OPS", name="Operations", parent_id=None)
    outsider = hire(app, "O1", department_id_for("OPS"), None)
    app.record_leaving(HR, org.bob, date(2026, 2, 28))
    cycle_id = draft(app, org)
    for reviewees, error, field in (
        ([org.alice, outsider], InvalidInput, "revieweeIds[1]"),
        ([uuid4(), org.alice], NotFound, "revieweeIds[0]"),
        ([org.alice, org.bob], EmployeeHasLeft, "revieweeIds[1]"),
        ([], InvalidInput, "scope"),
    ):
        assert_records_nothing(
            app,
            partial(app.open_review_cycle, HR, cycle_id, reviewees, OPENED_ON),
            error,
            field,
        )
    assert load(app, ReviewCycle, cycle_id).status is CycleStatus.DRAFT
    assert appraisal_id(cycle_id, org.alice) not in app.repository
    assert_records_nothing(
        app, lambda: app.open_review_cycle(HR, uuid4(), [org.alice], OPENED_ON), NotFound, "cycleId"
    )
    app.open_review_cycle(HR, cycle_id, [org.alice, org.boss], OPENED_ON)
    assert_records_nothing(
        app,
        lambda: app.open_review_cycle(HR, cycle_id, [org.alice], OPENED_ON),
        CycleNotInState,
        "cycleId",
    )


def test_the_scope_covers_sub_departments_named_employees_and_people_leaving_later(
    app: Perfledger, org: Org
) -> None:
    app.open_department(HR, code="KEY", name="Key accounts", parent_id=org.sales)
    app.open_department(HR, code="OPS", name="Operations", parent_id=None)
    key_account = hire(app, "K1", department_id_for("KEY"), org.boss)
    named = hire(app, "O1", department_id_for("OPS"), None)
    app.record_leaving(HR, org.bob, date(2026, 6, 30))  # gave notice; still here on opening
    cycle_id = draft(app, org, scope_employees=[named])
    app.open_review_cycle(HR, cycle_id, [key_account, named, org.bob], OPENED_ON)
    assert load(app, ReviewCycle, cycle_id).reviewee_ids == [key_account, named, org.bob]
    # Without a manager, the named employee rates only themselves.
    assert set(load(app, Appraisal, appraisal_id(cycle_id, named)).raters) == {
        rater_key(RaterSource.SELF, named)
    }


def test_drafting_checks_the_scope_and_the_id(app: Perfledger, org: Org) -> None:
    assert_records_nothing(
        app,
        lambda: app.draft_review_cycle(
            HR, cycle_id=uuid4(), definition=definition(org, scope_departments=[uuid4()])
        ),
        NotFound,
        "scope.departmentIds[0]",
    )
    assert_records_nothing(
        app,
        lambda: app.draft_review_cycle(
            HR, cycle_id=uuid4(), definition=definition(org, scope_employees=[org.alice, uuid4()])
        ),
        NotFound,
        "scope.employeeIds[1]",
    )
    assert_records_nothing(
        app,
        lambda: app.draft_review_cycle(
            HR, cycle_id=uuid4(), definition=definition(org, anonymity_threshold=1)
        ),
        InvalidInput,
        "anonymityThreshold",
    )
    cycle_id = draft(app, org)
    assert_records_nothing(
        app,
        lambda: app.draft_review_cycle(HR, cycle_id=cycle_id, definition=definition(org)),
        AlreadyExists,
        "cycleId",
    )


def test_calibration_errors_record_nothing(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    submit(app, manager(org.boss), cycle_id, org.alice, ratings(4, 4))
    manager_key = rater_key(RaterSource.MANAGER, org.boss)

    def calibrate(provenance: Provenance, value: int, key: str = manager_key) -> Receipt:
        return app.calibrate_rating(
            provenance, cycle_id=cycle_id, reviewee_id=org.alice, rater=key,
            competency="delivery", value=value,
        )  # fmt: skip

    reason = HR.because("panel")
    assert_records_nothing(app, lambda: calibrate(reason, 5), CycleNotInState, "cycleId")
    app.start_calibration(HR, cycle_id)
    assert_records_nothing(app, lambda: calibrate(HR, 5), ReasonRequired, "reason")
    assert_records_nothing(app, lambda: calibrate(reason, 0), RatingOutOfScale, "value")
    assert_records_nothing(
        app,
        lambda: calibrate(reason, 3, rater_key(RaterSource.SELF, org.alice)),
        InvalidInput,
        "raterId",
    )
    assert_records_nothing(
        app,
        lambda: app.calibrate_result(
            reason, cycle_id=cycle_id, reviewee_id=org.alice, score=Decimal("100.5")
        ),
        InvalidInput,
        "score",
    )
    calibrate(reason, 5)
    rater = load(app, Appraisal, appraisal_id(cycle_id, org.alice)).raters[manager_key]
    assert (rater.submitted, rater.calibrated) == (ratings(4, 4), {"delivery": 5})


# -- external raters ----------------------------------------------------------------------------


def test_the_invitation_token_is_never_stored(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    invitation = invite(app, cycle_id, org.alice)
    secret = invitation.token.rsplit(".", 1)[1]
    assert invitation.token.startswith(f"rvw.{appraisal_id(cycle_id, org.alice).hex}.")
    assert len(secret) >= 40
    submit_external(app, invitation.token)

    rater = load(app, Appraisal, appraisal_id(cycle_id, org.alice)).raters[invitation.rater_key]
    assert rater.invitation_digest == token_digest(invitation.token)
    assert rater.invitation_digest != invitation.token
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    assert notifications
    for notification in notifications:
        stored = bytes(notification.state)
        decoded = repr(vars(app.mapper.to_domain_event(notification)))
        for needle in (invitation.token, secret):
            assert needle.encode() not in stored
            assert needle not in decoded


def test_a_token_works_once(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    invitation = invite(app, cycle_id, org.alice)
    submit_external(app, invitation.token)
    assert_records_nothing(
        app, lambda: submit_external(app, invitation.token), ExternalTokenUsed, "token"
    )
    assert_records_nothing(
        app, lambda: app.external_invitation(invitation.token, NOW), ExternalTokenUsed, "token"
    )


def test_a_token_expires(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    invitation = invite(app, cycle_id, org.alice)
    assert_records_nothing(
        app,
        lambda: submit_external(app, invitation.token, invitation.expires_at),
        ExternalTokenExpired,
        "token",
    )
    assert_records_nothing(
        app,
        lambda: app.external_invitation(invitation.token, invitation.expires_at),
        ExternalTokenExpired,
        "token",
    )
    submit_external(app, invitation.token, invitation.expires_at - timedelta(seconds=1))


def test_a_new_invitation_invalidates_the_earlier_token(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    first = invite(app, cycle_id, org.alice)
    second = invite(app, cycle_id, org.alice, "  ACME / J. Doe ")
    assert second.rater_key == first.rater_key
    assert second.token != first.token
    assert_records_nothing(
        app, lambda: submit_external(app, first.token), ExternalTokenInvalid, "token"
    )
    submit_external(app, second.token)
    assert_records_nothing(
        app,
        lambda: invite(app, cycle_id, org.alice),
        ReviewAlreadySubmitted,
        "raterId",
    )


def test_forged_tokens_are_invalid(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    alices = invite(app, cycle_id, org.alice)
    bobs = invite(app, cycle_id, org.bob)
    prefix, appraisal_hex, secret = alices.token.split(".")
    forged = [
        f"{prefix}.{appraisal_hex}.{secret[::-1]}",  # wrong secret
        f"{prefix}.{appraisal_hex}.",
        f"{prefix}.{uuid4().hex}.{secret}",  # an appraisal that does not exist
        f"{prefix}.{appraisal_id(cycle_id, org.bob).hex}.{secret}",  # someone else's appraisal
        f"{prefix}.{cycle_id.hex}.{secret}",  # not an appraisal at all
        f"{prefix}.{appraisal_hex}.{bobs.token.split('.')[2]}",  # bob's secret on alice's
        f"{prefix}.not-hex.{secret}",
        f"xyz.{appraisal_hex}.{secret}",
        f"{alices.token}.extra",
        "",
        "garbage",
    ]
    for token in forged:
        assert_records_nothing(
            app, partial(submit_external, app, token), ExternalTokenInvalid, "token"
        )
        assert_records_nothing(
            app, partial(app.external_invitation, token, NOW), ExternalTokenInvalid, "token"
        )
    submit_external(app, alices.token)
    submit_external(app, bobs.token)


def test_a_token_stops_working_when_calibration_begins(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    invitation = invite(app, cycle_id, org.alice)
    app.start_calibration(HR, cycle_id)
    assert_records_nothing(
        app, lambda: submit_external(app, invitation.token), CycleNotInState, "cycleId"
    )


def test_invitations_are_valid_for_an_hour_to_sixty_days(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    for valid_for in (timedelta(minutes=59), timedelta(days=61)):
        assert_records_nothing(
            app,
            partial(
                app.invite_customer_rater,
                HR,
                cycle_id=cycle_id,
                reviewee_id=org.alice,
                external_ref="ACME",
                valid_for=valid_for,
                now=NOW,
            ),
            InvalidInput,
            "validForDays",
        )


# -- idempotency --------------------------------------------------------------------------------


def test_a_resent_submission_with_its_key_returns_the_same_receipt(
    app: Perfledger, org: Org
) -> None:
    cycle_id = opened(app, org)
    alice = employee(org.alice)
    first = submit(app, alice, cycle_id, org.alice, idempotency_key="submit-1")
    again = submit(
        app, alice, cycle_id, org.alice, now=NOW + timedelta(minutes=5), idempotency_key="submit-1"
    )
    assert again == first
    assert appraisal_topics(app, appraisal_id(cycle_id, org.alice)).count("ReviewSubmitted") == 1
    # The same key for a different review is an error, not the earlier answer.
    assert_records_nothing(
        app,
        lambda: submit(app, alice, cycle_id, org.alice, ratings(1, 1), idempotency_key="submit-1"),
        IdempotencyKeyReused,
        "idempotencyKey",
    )


def test_concurrent_resends_with_one_key_record_one_review(app: Perfledger, org: Org) -> None:
    cycle_id = opened(app, org)
    start = threading.Barrier(6)

    def send(_: int) -> Receipt:
        start.wait()
        return patiently(
            lambda: submit(app, employee(org.alice), cycle_id, org.alice, idempotency_key="k")
        )

    with ThreadPoolExecutor(6) as pool:
        receipts = list(pool.map(send, range(6)))
    assert {(r.id, r.version) for r in receipts} == {(appraisal_id(cycle_id, org.alice), 2)}
    assert appraisal_topics(app, appraisal_id(cycle_id, org.alice)).count("ReviewSubmitted") == 1


# -- concurrency --------------------------------------------------------------------------------


def test_simultaneous_reviews_of_one_person_all_land_exactly_once(
    app: Perfledger, org: Org
) -> None:
    peers = [hire(app, f"P{n}", org.sales, org.boss) for n in range(8)]
    cycle_id = opened(app, org, [org.alice])
    for peer in peers:
        app.assign_peer_rater(HR, cycle_id, org.alice, peer)
    writers = [employee(org.alice), manager(org.boss), *[employee(p) for p in peers]]
    start = threading.Barrier(len(writers))

    def write(provenance: Provenance) -> Receipt:
        start.wait()
        return patiently(lambda: submit(app, provenance, cycle_id, org.alice))

    with ThreadPoolExecutor(len(writers)) as pool:
        receipts = list(pool.map(write, writers))

    alice_id = appraisal_id(cycle_id, org.alice)
    first_submission = 1 + len(peers) + 1  # Started, then one RaterAssigned per peer
    assert sorted(r.version or 0 for r in receipts) == list(
        range(first_submission, first_submission + len(writers))
    )
    submitted = [
        vars(app.mapper.to_domain_event(n))["rater_key"]
        for n in app.recorder.select_notifications(start=1, limit=1_000_000)
        if n.originator_id == alice_id and n.topic.endswith("ReviewSubmitted")
    ]
    assert sorted(submitted) == sorted(load(app, Appraisal, alice_id).raters)
    assert all(r.submitted is not None for r in load(app, Appraisal, alice_id).raters.values())


def race_calibration(app: Perfledger, org: Org) -> tuple[int, int]:
    """Three raters submit while hr starts calibration, all at once: how many landed, how many
    were refused. Whatever the interleaving, no review follows calibration in the log."""
    cycle_id = opened(app, org, [org.alice])
    app.assign_peer_rater(HR, cycle_id, org.alice, org.bob)
    writers = [employee(org.alice), manager(org.boss), employee(org.bob)]
    start = threading.Barrier(len(writers) + 1)

    def write(provenance: Provenance) -> Receipt | DomainError:
        start.wait()
        try:
            return patiently(lambda: submit(app, provenance, cycle_id, org.alice))
        except DomainError as error:
            return error

    def calibrate() -> Receipt:
        start.wait()
        return patiently(lambda: app.start_calibration(HR, cycle_id))

    with ThreadPoolExecutor(len(writers) + 1) as pool:
        calibration = pool.submit(calibrate)
        outcomes = list(pool.map(write, writers))
        calibrated_at = calibration.result().position

    topics = appraisal_topics(app, appraisal_id(cycle_id, org.alice))
    entered = topics.index("CalibrationEntered")
    assert "ReviewSubmitted" not in topics[entered:], topics
    landed = [o for o in outcomes if isinstance(o, Receipt)]
    refused = [o for o in outcomes if not isinstance(o, Receipt)]
    assert all(receipt.position < calibrated_at for receipt in landed)
    assert all(type(error) is CycleNotInState for error in refused), refused
    assert topics.count("ReviewSubmitted") == len(landed)
    return len(landed), len(refused)


def test_a_review_racing_calibration_lands_before_it_or_not_at_all(
    app: Perfledger, org: Org
) -> None:
    outcomes = [race_calibration(app, org) for _ in range(20)]
    assert sum(landed + refused for landed, refused in outcomes) == 60
