"""The audit trail: every event of a whole flow as an entry (who, why, which request, what changed)
in the read model, and over GraphQL with the reviews' anonymity rules for every role."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.feedback import FeedbackKind, FeedbackVisibility
from domain.provenance import Role
from domain.reviews import CycleDeadlines, RaterSource, appraisal_id, rater_key
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import DEFAULT_RULES
from service.api.context import Context
from service.api.schema import schema
from service.application import Perfledger, employee_id_for
from service.auth import Viewer
from service.bootstrap import Services
from tests.helpers import HR, Org, as_role, catch_up, fetch, set_goal, small_org
from tests.review_builders import cycle_definition, ratings

NOW = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
HR_PERSON = UUID(int=1)
AUDITOR_PERSON = UUID(int=2)
ADMIN_PERSON = UUID(int=3)
CUSTOMER = "ACME Corp"
# Everything that names an anonymous rater or quotes a comment: a reviewee must see none of it.
COMMENTS = {
    "self": "I closed the Nordics deal",
    "manager": "Alice carried the quarter",
    "bob": "Reliable, hard to reach on Fridays",
    "carol": "Great with customers",
    "customer": "Always answers within the hour",
}
PRAISE = "Well done on Nordics"

TRAIL = """
query($filter: AuditTrailFilter, $first: Int!, $after: String) {
  auditTrail(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      position recordedAt aggregateId aggregateType aggregateVersion eventType
      actorId actorRole actorHidden reason correlationId employeeIds raterKey summary fullSummary
    } }
  }
}"""


@dataclass
class Flow:
    org: Org
    carol: UUID
    cycle_id: UUID
    goal: UUID
    reward: UUID

    @property
    def appraisal(self) -> UUID:
        return appraisal_id(self.cycle_id, self.org.alice)


def whole_flow(app: Perfledger) -> Flow:
    """Organisation, a goal revised and closed, a rule set adopted, a 360 cycle over Alice with
    two peers and a customer, calibrations, private praise acknowledged, a reward granted and
    revoked: every aggregate, nearly every event type."""
    org = small_org(app)
    app.hire_employee(
        HR,
        code="E4",
        name="Carol",
        department_id=org.sales,
        manager_id=org.boss,
        job_title="Account manager",
        hire_date=date(2022, 1, 1),
        attributes={"location": "Oslo"},
    )
    carol = employee_id_for("E4")
    app.set_employee_attributes(HR, carol, {"location": "Bergen"})
    app.rename_department(HR, org.sales, "Sales & Accounts")
    goal = set_goal(app, org.alice, weight=Decimal(100))
    app.record_progress(HR, goal, Decimal(3), date(2026, 2, 1), "crm")
    app.record_progress(HR, goal, Decimal(5), date(2026, 3, 1), "crm")
    app.revise_target(HR.because("market grew"), goal, Decimal(10))
    app.confirm_goals(HR, org.alice, "2026-Q1")
    app.close_goal(HR, goal)
    app.define_rule_set(HR, DEFAULT_RULES, "defaults, written down")
    app.adopt_rule_set(HR.because("board decision"), 1, date(2026, 1, 1))

    cycle_id = uuid4()
    definition = cycle_definition(
        org.sales, name="Q1 review", deadlines=CycleDeadlines(date(2026, 4, 15), date(2026, 4, 30))
    )
    app.draft_review_cycle(HR, cycle_id=cycle_id, definition=definition)
    app.change_cycle_deadlines(
        HR.because("Easter"), cycle_id, CycleDeadlines(date(2026, 4, 20), date(2026, 4, 30))
    )
    app.open_review_cycle(HR, cycle_id, [org.alice], date(2026, 4, 1))
    boss = as_role(Role.MANAGER, org.boss)
    for peer in (org.bob, carol):
        app.assign_peer_rater(boss, cycle_id, org.alice, peer)
    invitation = app.invite_customer_rater(
        boss,
        cycle_id=cycle_id,
        reviewee_id=org.alice,
        external_ref=CUSTOMER,
        valid_for=timedelta(days=7),
        now=NOW,
    )

    def submit(who: UUID, role: Role, given: Any, comments: str, key: str | None = None) -> None:
        app.submit_review(
            as_role(role, who),
            cycle_id=cycle_id,
            reviewee_id=org.alice,
            ratings=given,
            comments=comments,
            now=NOW,
            idempotency_key=key,
        )

    submit(org.alice, Role.EMPLOYEE, ratings(5, 4), COMMENTS["self"])
    app.save_review_draft(
        boss,
        cycle_id=cycle_id,
        reviewee_id=org.alice,
        ratings=ratings(4, None),
        comments="",
        now=NOW,
    )
    submit(org.boss, Role.MANAGER, ratings(4, 3), COMMENTS["manager"])
    submit(org.bob, Role.EMPLOYEE, ratings(3, None), COMMENTS["bob"], key="bob-review-1")
    submit(carol, Role.EMPLOYEE, ratings(4, 2), COMMENTS["carol"])
    app.submit_external_review(
        token=invitation.token,
        ratings=ratings(5, 5),
        comments=COMMENTS["customer"],
        now=NOW,
        correlation_id="customer-request",
    )
    app.start_calibration(HR, cycle_id)
    app.calibrate_rating(
        HR.because("project X shows better teamwork"),
        cycle_id=cycle_id,
        reviewee_id=org.alice,
        rater=rater_key(RaterSource.MANAGER, org.boss),
        competency="teamwork",
        value=4,
    )
    app.calibrate_rating(
        HR.because("harsh outlier"),
        cycle_id=cycle_id,
        reviewee_id=org.alice,
        rater=rater_key(RaterSource.PEER, carol),
        competency="teamwork",
        value=3,
    )
    app.calibrate_result(
        HR.because("calibration committee"),
        cycle_id=cycle_id,
        reviewee_id=org.alice,
        score=Decimal("89.5"),
    )
    app.close_review_cycle(HR, cycle_id)

    praise = uuid4()
    app.give_feedback(
        boss,
        feedback_id=praise,
        giver_id=org.boss,
        receiver_id=org.alice,
        kind=FeedbackKind.PRAISE,
        visibility=FeedbackVisibility.PRIVATE,
        body=PRAISE,
        goal_id=None,
        occurred_on=date(2026, 5, 2),
        today=date(2026, 5, 3),
    )
    app.acknowledge_feedback(as_role(Role.EMPLOYEE, org.alice), praise, date(2026, 5, 4))
    reward = uuid4()
    app.grant_reward(
        HR.because("saved the Nordics deal"),
        reward_id=reward,
        employee_id=org.alice,
        spec=RewardSpec(RewardKind.BONUS, amount=Money(Decimal(500), "EUR")),
        reference_salary=None,
        period="2026-Q1",
        today=date(2026, 5, 5),
    )
    app.revoke_reward(HR.because("granted twice"), reward, date(2026, 5, 6))
    return Flow(org, carol, cycle_id, goal, reward)


async def flow(services: Services) -> Flow:
    result = await services.call(whole_flow, services.app)
    await catch_up(services)
    return result


async def entries(services: Services) -> list[dict[str, Any]]:
    return [dict(r) for r in await fetch(services, "SELECT * FROM audit_trail ORDER BY position")]


def one(rows: list[dict[str, Any]], event_type: str, **where: Any) -> dict[str, Any]:
    found = [
        r
        for r in rows
        if r["event_type"] == event_type and all(r[k] == v for k, v in where.items())
    ]
    assert len(found) == 1, (event_type, where, found)
    return found[0]


async def trail(
    services: Services,
    role: Role,
    person: UUID,
    audit_filter: dict[str, Any] | None = None,
    first: int = 200,
    after: str | None = None,
) -> dict[str, Any]:
    """The auditTrail response's JSON, as ``person`` signed in with ``role``."""
    context = Context(services=services, viewer=Viewer(person, role), correlation_id="test")
    result = await schema.execute(
        TRAIL,
        variable_values={"filter": audit_filter, "first": first, "after": after},
        context_value=context,
    )
    return {
        "data": result.data,
        "errors": [{"message": e.message, **(e.extensions or {})} for e in result.errors or []],
    }


def nodes(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert not response["errors"], response
    return [edge["node"] for edge in response["data"]["auditTrail"]["edges"]]


def error_code(response: dict[str, Any]) -> str:
    assert response["errors"], response
    return str(response["errors"][0]["code"])


# -- the read model -------------------------------------------------------------------------------


async def test_every_event_of_a_whole_flow_is_an_entry_with_who_why_and_what_changed(
    services: Services,
) -> None:
    f = await flow(services)
    rows = await entries(services)
    last = services.app.recorder.max_notification_id()
    assert [r["position"] for r in rows] == list(range(1, (last or 0) + 1))
    assert all(r["summary"] for r in rows)
    kinds = {(r["aggregate_type"], r["event_type"]) for r in rows}
    assert {
        ("Department", "Opened"),
        ("Department", "Renamed"),
        ("Employee", "Hired"),
        ("Employee", "AttributesSet"),
        ("Goal", "Set"),
        ("Goal", "ProgressRecorded"),
        ("Goal", "TargetRevised"),
        ("Goal", "Closed"),
        ("GoalSet", "Started"),
        ("GoalSet", "GoalAdded"),
        ("GoalSet", "Confirmed"),
        ("RuleBook", "Opened"),
        ("RuleBook", "VersionDefined"),
        ("RuleBook", "VersionAdopted"),
        ("ReviewCycle", "Drafted"),
        ("ReviewCycle", "DeadlinesChanged"),
        ("ReviewCycle", "Opened"),
        ("ReviewCycle", "CalibrationStarted"),
        ("ReviewCycle", "Closed"),
        ("Appraisal", "Started"),
        ("Appraisal", "RaterAssigned"),
        ("Appraisal", "ExternalRaterInvited"),
        ("Appraisal", "ReviewDraftSaved"),
        ("Appraisal", "ReviewSubmitted"),
        ("Appraisal", "CalibrationEntered"),
        ("Appraisal", "RatingCalibrated"),
        ("Appraisal", "ResultCalibrated"),
        ("Appraisal", "Closed"),
        ("Feedback", "Given"),
        ("Feedback", "Acknowledged"),
        ("Reward", "Granted"),
        ("Reward", "Revoked"),
        ("ProcessedRequest", "Processed"),
    } <= kinds

    revised = one(rows, "TargetRevised")
    assert (revised["aggregate_id"], revised["aggregate_type"]) == (f.goal, "Goal")
    assert (revised["actor_id"], revised["actor_role"], revised["reason"]) == (
        "hr-1",
        "hr",
        "market grew",
    )
    assert revised["correlation_id"] == "test"
    assert revised["summary"] == "target 8 → 10 %"
    assert revised["employee_ids"] == [f.org.alice]
    assert one(rows, "Closed", aggregate_type="Goal")["summary"] == "status open → closed"
    assert one(rows, "ProgressRecorded", aggregate_version=3)["summary"] == (
        "progress 5 % as of 2026-03-01 from crm; latest 3 → 5 %"
    )
    assert one(rows, "Renamed")["summary"] == 'name "Sales" → "Sales & Accounts"'
    adopted = one(rows, "VersionAdopted")
    assert adopted["summary"] == "version in force from 2026-01-01: 0 → 1"
    assert adopted["reason"] == "board decision"
    assert one(rows, "DeadlinesChanged")["summary"] == (
        "deadlines: submissions due 2026-04-15 → 2026-04-20"
    )
    assert one(rows, "CalibrationStarted")["summary"] == "status open → calibration"
    assert one(rows, "Closed", aggregate_type="ReviewCycle")["summary"] == (
        "status calibration → closed"
    )
    manager_calibration = one(rows, "RatingCalibrated", reason="project X shows better teamwork")
    assert manager_calibration["summary"] == (
        "manager (E1) rating teamwork 3 → 4 (calibrated; submitted 3)"
    )
    assert manager_calibration["employee_ids"] == [f.org.alice, f.org.boss]
    assert one(rows, "ResultCalibrated")["summary"] == "calibrated score none → 89.5"
    assert one(rows, "Revoked")["summary"] == "status granted → revoked on 2026-05-06"
    assert one(rows, "Granted")["employee_ids"] == [f.org.alice]
    external = one(rows, "ReviewSubmitted", actor_role="external")
    assert external["correlation_id"] == "customer-request"
    assert external["actor_anonymous"] is True
    processed = one(rows, "Processed")
    assert processed["actor_id"] == str(f.org.bob)
    assert processed["employee_ids"] == [f.org.bob]


async def test_no_comment_feedback_body_attribute_value_or_anonymous_rater_is_stored_in_the_clear(
    services: Services,
) -> None:
    f = await flow(services)
    rows = await entries(services)
    clear_text = json.dumps(
        [{k: v for k, v in r.items() if k != "summary_sealed"} for r in rows], default=str
    )
    readable = [r for r in rows if r["rater_key"] is None]
    for secret in [*COMMENTS.values(), PRAISE, "Bergen", "Oslo"]:
        assert secret not in clear_text
    for r in rows:
        if r["rater_key"] is not None:  # named only in the rater columns and, if they acted, actor
            for name in (str(f.org.bob), str(f.carol), CUSTOMER, "E3", "E4"):
                assert name not in r["summary"]
            assert not {f.org.bob, f.carol} & set(r["employee_ids"])
    assert readable
    carol_review = one(rows, "ReviewSubmitted", private_party_id=f.carol)
    assert carol_review["summary"] == "peer review submitted"
    full = services.secrets.open(carol_review["summary_sealed"])
    assert full == (
        'peer review by E4 submitted: delivery 4, teamwork 2; comments "Great with customers"'
    )
    peer_calibration = one(rows, "RatingCalibrated", reason="harsh outlier")
    assert peer_calibration["summary"] == "peer rating of teamwork calibrated"
    assert services.secrets.open(peer_calibration["summary_sealed"]) == (
        "peer rating by E4 of teamwork 2 → 3 (calibrated; submitted 2)"
    )
    praise = one(rows, "Given")
    assert praise["employee_ids"] == [f.org.alice]  # private: the giver reaches it only themselves
    assert praise["private_party_id"] == f.org.boss
    assert services.secrets.open(praise["summary_sealed"]).endswith(f': "{PRAISE}"')
    moved = one(rows, "AttributesSet")
    assert moved["summary"] == "attributes changed: location"
    assert services.secrets.open(moved["summary_sealed"]) == 'attributes location "Oslo" → "Bergen"'


async def test_rebuilt_and_restarted_entries_equal_the_incremental_ones(
    services: Services,
) -> None:
    app = services.app
    org = await services.call(small_org, app)
    await catch_up(services)
    goal = await services.call(set_goal, app, org.alice, weight=Decimal(100))
    await services.call(app.record_progress, HR, goal, Decimal(3), date(2026, 2, 1), "crm")
    await catch_up(services)
    # A restarted runner takes its memory (owners, targets, latest readings) from the tables.
    services.projector.forget()
    await services.call(app.revise_target, HR.because("more"), goal, Decimal(12))
    await services.call(app.record_progress, HR, goal, Decimal(4), date(2026, 3, 1), "crm")
    await services.call(app.change_manager, HR, org.bob, org.alice)
    await catch_up(services)
    services.projector.forget()
    await services.call(whole_flow_after_org, app, org)
    await catch_up(services)
    incremental = await comparable(services)
    conn = await services.connect()
    try:
        await services.projector.reset(conn)
        await services.runner.catch_up(conn)
    finally:
        await conn.close()
    rebuilt = await comparable(services)
    assert rebuilt == incremental
    summaries = [r["summary"] for r in incremental]
    assert "target 8 → 12 %" in summaries
    assert "progress 4 % as of 2026-03-01 from crm; latest 3 → 4 %" in summaries
    assert "manager E1 → E2" in summaries


def whole_flow_after_org(app: Perfledger, org: Org) -> None:
    cycle_id = uuid4()
    app.draft_review_cycle(HR, cycle_id=cycle_id, definition=cycle_definition(org.sales))
    app.open_review_cycle(HR, cycle_id, [org.alice], date(2026, 3, 1))
    app.assign_peer_rater(HR, cycle_id, org.alice, org.bob)
    app.submit_review(
        as_role(Role.EMPLOYEE, org.alice),
        cycle_id=cycle_id,
        reviewee_id=org.alice,
        ratings=ratings(4, 4),
        comments="fine",
        now=datetime(2026, 3, 2, tzinfo=UTC),
    )


async def comparable(services: Services) -> list[dict[str, Any]]:
    """The entries with sealed summaries opened (every seal draws a fresh nonce)."""
    rows = await entries(services)
    for r in rows:
        sealed = r.pop("summary_sealed")
        r["summary_full"] = None if sealed is None else services.secrets.open(sealed)
    return rows


# -- over GraphQL ---------------------------------------------------------------------------------


async def test_an_employees_trail_holds_their_goals_reviews_of_them_reviews_they_wrote_and_rewards(
    services: Services,
) -> None:
    f = await flow(services)
    alice = nodes(await trail(services, Role.HR, HR_PERSON, {"employeeId": str(f.org.alice)}))
    kinds = {(n["aggregateType"], n["eventType"]) for n in alice}
    assert {
        ("Employee", "Hired"),
        ("Goal", "TargetRevised"),
        ("GoalSet", "Confirmed"),
        ("Appraisal", "ResultCalibrated"),
        ("Reward", "Granted"),
        ("Reward", "Revoked"),
        ("Feedback", "Given"),
    } <= kinds
    # Reviews of her, by every source; for hr, with the raters.
    of_her = [n for n in alice if n["eventType"] == "ReviewSubmitted"]
    assert {n["actorId"] for n in of_her} == {
        str(f.org.alice),
        str(f.org.boss),
        str(f.org.bob),
        str(f.carol),
        rater_key(RaterSource.CUSTOMER, CUSTOMER),
    }
    # Reviews Carol wrote, though they are not about her.
    carol = nodes(await trail(services, Role.HR, HR_PERSON, {"employeeId": str(f.carol)}))
    written = [n for n in carol if n["eventType"] == "ReviewSubmitted"]
    assert [(n["aggregateId"], n["actorId"]) for n in written] == [(str(f.appraisal), str(f.carol))]
    assert "Great with customers" in written[0]["summary"]
    # Carol herself sees the review she wrote as hers.
    own = nodes(
        await trail(
            services,
            Role.EMPLOYEE,
            f.carol,
            {"employeeId": str(f.carol), "eventType": "ReviewSubmitted"},
        )
    )
    assert [(n["actorId"], n["actorHidden"], n["raterKey"]) for n in own] == [
        (str(f.carol), False, rater_key(RaterSource.PEER, f.carol))
    ]
    assert own[0]["summary"] == "peer review submitted"
    # Filters combine: per aggregate, per actor, per event type, per time range.
    goal = nodes(await trail(services, Role.AUDITOR, AUDITOR_PERSON, {"aggregateId": str(f.goal)}))
    assert [n["eventType"] for n in goal] == [
        "Set",
        "ProgressRecorded",
        "ProgressRecorded",
        "TargetRevised",
        "Closed",
    ]
    by_boss = nodes(await trail(services, Role.HR, HR_PERSON, {"actorId": str(f.org.boss)}))
    assert {n["actorId"] for n in by_boss} == {str(f.org.boss)}
    assert len(by_boss) == 7  # 3 rater assignments and invitations, draft, review, praise (+1)
    revised = nodes(await trail(services, Role.HR, HR_PERSON, {"eventType": "Goal.TargetRevised"}))
    assert [n["summary"] for n in revised] == ["target 8 → 10 %"]
    moment = datetime.fromisoformat(revised[0]["recordedAt"])
    window = nodes(
        await trail(
            services, Role.HR, HR_PERSON, {"from": moment.isoformat(), "to": moment.isoformat()}
        )
    )
    assert [n["position"] for n in window] == [revised[0]["position"]]


async def test_the_reviewee_never_sees_an_anonymous_rater_or_a_comment(services: Services) -> None:
    f = await flow(services)
    secrets = [
        str(f.org.bob),
        str(f.carol),
        "E3",
        "E4",
        CUSTOMER,
        "customer:",
        "peer:",
        "harsh outlier",
        *COMMENTS.values(),
        PRAISE,
    ]
    filters: list[dict[str, Any] | None] = [
        None,
        {"employeeId": str(f.org.alice)},
        {"aggregateId": str(f.appraisal)},
        {"eventType": "ReviewSubmitted"},
        {"actorId": str(f.org.bob)},
        {"actorId": str(f.carol)},
        {"actorId": rater_key(RaterSource.CUSTOMER, CUSTOMER)},
    ]
    seen: list[dict[str, Any]] = []
    for audit_filter in filters:
        after = None
        while True:
            response = await trail(services, Role.EMPLOYEE, f.org.alice, audit_filter, 5, after)
            text = json.dumps(response)
            for secret in secrets:
                assert secret not in text, (secret, audit_filter)
            seen.extend(nodes(response))
            page = response["data"]["auditTrail"]["pageInfo"]
            if not page["hasNextPage"]:
                break
            after = page["endCursor"]
    # She does see her appraisal: her own and her manager's reviews, calibration, the result.
    mine = [n for n in seen if n["aggregateId"] == str(f.appraisal)]
    assert {n["actorId"] for n in mine if n["eventType"] == "ReviewSubmitted"} == {
        str(f.org.alice),
        str(f.org.boss),
    }
    assert any(n["summary"] == "calibrated score none → 89.5" for n in mine)
    assert not any(n["fullSummary"] for n in seen)

    # Her manager reaches only the entries about himself (his own review of her), never the
    # peers' entries nor anything else of hers: other people's entries are not for managers.
    boss = nodes(await trail(services, Role.MANAGER, f.org.boss, {"aggregateId": str(f.appraisal)}))
    assert boss
    assert all(str(f.org.boss) in n["employeeIds"] for n in boss)
    text = json.dumps(boss)
    for secret in [str(f.org.bob), str(f.carol), CUSTOMER, "harsh outlier", *COMMENTS.values()]:
        assert secret not in text
    assert not [n for n in boss if n["actorHidden"]]

    # Admins see every entry, but the reviews' anonymity rules hold for them as well.
    admin = json.dumps(
        await trail(services, Role.ADMIN, ADMIN_PERSON, {"aggregateId": str(f.appraisal)})
    )
    for secret in [str(f.carol), CUSTOMER, *COMMENTS.values()]:
        assert secret not in admin

    # Auditors and hr see raters and comments.
    for role, person in ((Role.AUDITOR, AUDITOR_PERSON), (Role.HR, HR_PERSON)):
        full = json.dumps(await trail(services, role, person, {"aggregateId": str(f.appraisal)}))
        for secret in [str(f.org.bob), str(f.carol), CUSTOMER, "harsh outlier", *COMMENTS.values()]:
            assert secret in full, (role, secret)


async def test_nobody_but_auditors_hr_and_admins_reaches_other_peoples_entries(
    services: Services,
) -> None:
    f = await flow(services)
    response = await trail(services, Role.EMPLOYEE, f.org.alice, {"employeeId": str(f.org.bob)})
    assert error_code(response) == "FORBIDDEN"
    assert "filter.employeeId" in response["errors"][0]["message"]
    # Without a filter, an employee gets only entries that touch them, as reviewed or rater.
    everything = nodes(await trail(services, Role.EMPLOYEE, f.org.bob))
    assert everything
    assert all(
        str(f.org.bob) in n["employeeIds"] or n["raterKey"] == f"peer:{f.org.bob}"
        for n in everything
    )
    assert not any(n["aggregateId"] == str(f.goal) for n in everything)
    # Nor does a manager reach the people below them: only their own entries.
    response = await trail(services, Role.MANAGER, f.org.boss, {"employeeId": str(f.org.alice)})
    assert error_code(response) == "FORBIDDEN"
    own = nodes(await trail(services, Role.MANAGER, f.org.boss, {"employeeId": str(f.org.boss)}))
    assert own
    assert all(str(f.org.boss) in n["employeeIds"] or n["actorId"] == str(f.org.boss) for n in own)
    everything = nodes(await trail(services, Role.MANAGER, f.org.boss))
    assert all(
        str(f.org.boss) in n["employeeIds"] or n["actorId"] == str(f.org.boss) for n in everything
    )
    # The giver of private praise sees it; the giver's manager would not.
    given = nodes(await trail(services, Role.MANAGER, f.org.boss, {"eventType": "Given"}))
    assert len(given) == 1
    assert given[0]["summary"].startswith("praise (private) from E1 to E2")
    for role, person in (
        (Role.AUDITOR, AUDITOR_PERSON),
        (Role.HR, HR_PERSON),
        (Role.ADMIN, ADMIN_PERSON),
    ):
        assert nodes(await trail(services, role, person, {"employeeId": str(f.org.bob)}))


async def test_bad_pages_and_ranges_are_clear_errors(services: Services) -> None:
    await flow(services)
    too_wide = await trail(services, Role.HR, HR_PERSON, first=201)
    assert error_code(too_wide) == "INVALID_PAGE_SIZE"
    assert "between 1 and 200" in too_wide["errors"][0]["message"]
    backwards = await trail(
        services,
        Role.HR,
        HR_PERSON,
        {"from": "2026-05-02T00:00:00+00:00", "to": "2026-05-01T00:00:00+00:00"},
    )
    assert error_code(backwards) == "INVALID_RANGE"
    assert "filter.from" in backwards["errors"][0]["message"]
    assert error_code(await trail(services, Role.HR, HR_PERSON, after="bm90IGEgY3Vyc29y")) == (
        "INVALID_CURSOR"
    )
    assert (
        error_code(await trail(services, Role.HR, HR_PERSON, {"employeeId": "not-an-id"}))
        == "INVALID_ID"
    )


async def test_pages_follow_the_log_without_gaps_or_repeats(services: Services) -> None:
    await flow(services)
    everything = await entries(services)
    positions: list[int] = []
    after = None
    while True:
        response = await trail(services, Role.AUDITOR, AUDITOR_PERSON, first=7, after=after)
        connection = response["data"]["auditTrail"]
        assert connection["totalCount"] == len(everything)
        positions.extend(n["position"] for n in nodes(response))
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert positions == [r["position"] for r in everything]


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.MANAGER])
async def test_an_outsider_sees_nothing_of_the_flow(services: Services, role: Role) -> None:
    f = await flow(services)
    outsider = UUID(int=99)
    assert nodes(await trail(services, role, outsider)) == []
    response = await trail(services, role, outsider, {"aggregateId": str(f.appraisal)})
    assert nodes(response) == []
