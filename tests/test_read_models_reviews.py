"""Review cycles in the read models: a whole cycle run through the application, then the rows of
review_cycles, appraisals, review_raters, review_ratings and cycle_scorecards."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from domain.evaluation import SubmittedReview, evaluate
from domain.feedback import FeedbackKind, FeedbackVisibility
from domain.goals import Horizon
from domain.provenance import Role
from domain.reviews import (
    Appraisal,
    Competency,
    CycleDeadlines,
    RaterSource,
    Rating,
    RatingScale,
    appraisal_id,
    rater_key,
)
from domain.rewards import Money, proposed_reward_id
from domain.rules import DEFAULT_RULES
from projections.base import event_type
from projections.reviews import ReviewsModel
from service.application import Perfledger, employee_id_for
from service.bootstrap import Services
from tests.helpers import HR, Org, as_role, catch_up, fetch, rebuild, set_goal, small_org
from tests.review_builders import cycle_definition, ratings

NOW = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
SALARY = Money(Decimal(48000), "EUR")
COMPETENCIES = [
    Competency("delivery", "Delivery", Decimal(60), ["1", "2", "3", "4", "5"]),
    Competency("teamwork", "Teamwork", Decimal(40), ["1", "2", "3", "4", "5"]),
]
SCALE = RatingScale(1, 5, ["poor", "weak", "solid", "strong", "outstanding"])
# Every comment written in the scenario: none may appear in the clear in any column.
COMMENTS = {
    "self": "I closed the Nordics deal",
    "manager": "Alice carried the quarter",
    "bob": "Reliable, hard to reach on Fridays",
    "carol": "Great with customers",
    "carol_draft": "First thoughts on Alice",
    "customer": "Always answers within the hour",
    "dave_draft": "Dave wrote this before being removed",
    "boss_draft": "Draft note about Bob",
}


@dataclass
class Cycle:
    org: Org
    carol: UUID
    dave: UUID
    cycle_id: UUID
    goal: UUID

    @property
    def alice_appraisal(self) -> UUID:
        return appraisal_id(self.cycle_id, self.org.alice)


def hire(app: Perfledger, org: Org, code: str, name: str) -> UUID:
    app.hire_employee(
        HR,
        code=code,
        name=name,
        department_id=org.sales,
        manager_id=org.boss,
        job_title="Account manager",
        hire_date=date(2022, 1, 1),
        attributes={},
    )
    return employee_id_for(code)


def monthly_sales_goal(
    app: Perfledger, owner: UUID, measured: list[tuple[date, int]], **overrides: object
) -> UUID:
    """A goal of 10% monthly sales growth, the whole of the owner's weight, measured by the CRM."""
    goal = set_goal(
        app,
        owner,
        title="Monthly sales growth",
        metric="sales_growth_monthly",
        target=Decimal(10),
        weight=Decimal(100),
        **overrides,
    )
    for day, value in measured:
        app.record_progress(HR, goal, Decimal(value), day, "crm")
    return goal


def draft_q1(app: Perfledger, org: Org, **overrides: Any) -> UUID:
    """A Q1 cycle over sales, due after the quarter ends."""
    cycle_id = uuid4()
    definition = cycle_definition(
        org.sales,
        name="Q1 review",
        competencies=COMPETENCIES,
        scale=SCALE,
        deadlines=CycleDeadlines(date(2026, 4, 15), date(2026, 4, 30)),
        **overrides,
    )
    app.draft_review_cycle(HR, cycle_id=cycle_id, definition=definition)
    return cycle_id


def prepare(app: Perfledger) -> Cycle:
    """Alice's quarterly sales growth goal, met every month, and a drafted cycle over sales."""
    org = small_org(app)
    carol, dave = hire(app, org, "E4", "Carol"), hire(app, org, "E5", "Dave")
    goal = monthly_sales_goal(
        app, org.alice, [(date(2026, 1, 31), 10), (date(2026, 2, 27), 12), (date(2026, 3, 31), 10)]
    )
    cycle_id = draft_q1(app, org, min_peer_raters=2)
    return Cycle(org, carol, dave, cycle_id, goal)


def open_and_assign(app: Perfledger, c: Cycle) -> None:
    org = c.org
    app.open_review_cycle(HR, c.cycle_id, [org.alice, org.bob], date(2026, 4, 1))
    boss = as_role(Role.MANAGER, org.boss)
    for peer in (org.bob, c.carol, c.dave):
        app.assign_peer_rater(boss, c.cycle_id, org.alice, peer)
    as_dave = as_role(Role.EMPLOYEE, c.dave)
    app.save_review_draft(
        as_dave,
        cycle_id=c.cycle_id,
        reviewee_id=org.alice,
        ratings=ratings(2, None),
        comments=COMMENTS["dave_draft"],
        now=NOW,
    )
    app.unassign_rater(
        boss.because("Dave moved to another team"),
        c.cycle_id,
        org.alice,
        rater_key(RaterSource.PEER, c.dave),
    )
    app.save_review_draft(
        as_role(Role.MANAGER, org.boss),
        cycle_id=c.cycle_id,
        reviewee_id=org.bob,
        ratings=ratings(3, None),
        comments=COMMENTS["boss_draft"],
        now=NOW,
    )


def submit_reviews(app: Perfledger, c: Cycle) -> None:
    org = c.org

    def submit(who: UUID, given: list[Rating], comments: str) -> None:
        app.submit_review(
            as_role(Role.EMPLOYEE, who),
            cycle_id=c.cycle_id,
            reviewee_id=org.alice,
            ratings=given,
            comments=comments,
            now=NOW,
        )

    submit(org.alice, ratings(5, 4), COMMENTS["self"])
    submit(org.boss, ratings(4, 3), COMMENTS["manager"])
    submit(org.bob, ratings(3, None), COMMENTS["bob"])
    app.save_review_draft(
        as_role(Role.EMPLOYEE, c.carol),
        cycle_id=c.cycle_id,
        reviewee_id=org.alice,
        ratings=ratings(4, None),
        comments=COMMENTS["carol_draft"],
        now=NOW,
    )
    submit(c.carol, ratings(4, 2), COMMENTS["carol"])
    invitation = app.invite_customer_rater(
        as_role(Role.MANAGER, org.boss),
        cycle_id=c.cycle_id,
        reviewee_id=org.alice,
        external_ref="ACME Corp",
        valid_for=timedelta(days=7),
        now=NOW,
    )
    app.submit_external_review(
        token=invitation.token,
        ratings=ratings(5, 5),
        comments=COMMENTS["customer"],
        now=NOW,
        correlation_id="test",
    )


def calibrate(app: Perfledger, c: Cycle) -> None:
    app.start_calibration(HR, c.cycle_id)
    app.calibrate_rating(
        HR.because("project X shows better teamwork"),
        cycle_id=c.cycle_id,
        reviewee_id=c.org.alice,
        rater=rater_key(RaterSource.MANAGER, c.org.boss),
        competency="teamwork",
        value=4,
    )
    app.calibrate_result(
        HR.because("calibration committee"),
        cycle_id=c.cycle_id,
        reviewee_id=c.org.alice,
        score=Decimal("89.5"),
    )


def approve_bonus(app: Perfledger, c: Cycle) -> None:
    app.approve_proposed_reward(
        HR,
        cycle_id=c.cycle_id,
        employee_id=c.org.alice,
        rule_key="tier:B:0",
        tier="B",
        score=Decimal("89.50"),
        reference_salary=SALARY,
        today=date(2026, 5, 2),
    )


def praise_alice(app: Perfledger, c: Cycle, occurred_on: date) -> None:
    app.give_feedback(
        as_role(Role.MANAGER, c.org.boss),
        feedback_id=uuid4(),
        giver_id=c.org.boss,
        receiver_id=c.org.alice,
        kind=FeedbackKind.PRAISE,
        visibility=FeedbackVisibility.PRIVATE,
        body="Well done on Nordics",
        goal_id=None,
        occurred_on=occurred_on,
        today=date(2026, 5, 3),
    )


def whole_cycle(app: Perfledger) -> Cycle:
    c = prepare(app)
    open_and_assign(app, c)
    submit_reviews(app, c)
    calibrate(app, c)
    app.close_review_cycle(HR, c.cycle_id)
    return c


async def scorecard(services: Services, c: Cycle, employee: UUID) -> asyncpg.Record:
    rows = await fetch(
        services,
        "SELECT * FROM cycle_scorecards WHERE cycle_id = $1 AND employee_id = $2",
        c.cycle_id,
        employee,
    )
    assert len(rows) == 1
    return rows[0]


# -- the review tables -------------------------------------------------------------------------


async def test_a_whole_cycle_fills_the_review_tables(services: Services) -> None:
    c = await services.call(whole_cycle, services.app)
    await catch_up(services)
    org = c.org

    (cycle,) = await fetch(services, "SELECT * FROM review_cycles")
    assert (cycle["id"], cycle["name"], cycle["period"], cycle["status"]) == (
        c.cycle_id,
        "Q1 review",
        "2026-Q1",
        "closed",
    )
    assert (cycle["scale_min"], cycle["scale_max"]) == (1, 5)
    assert json.loads(cycle["scale_labels"])[4] == "outstanding"
    assert json.loads(cycle["competencies"])[0] == {
        "key": "delivery",
        "name": "Delivery",
        "weight": "60",
        "levels": ["1", "2", "3", "4", "5"],
    }
    assert cycle["scope_departments"] == [org.sales]
    assert cycle["reviewee_count"] == 2
    assert cycle["opened_on"] == date(2026, 4, 1)
    assert (cycle["min_peer_raters"], cycle["anonymity_threshold"]) == (2, 3)

    appraisals = {r["reviewee_id"]: r for r in await fetch(services, "SELECT * FROM appraisals")}
    assert set(appraisals) == {org.alice, org.bob}
    alice = appraisals[org.alice]
    assert alice["id"] == c.alice_appraisal
    assert (alice["status"], alice["manager_id"], alice["department_id"]) == (
        "closed",
        org.boss,
        org.sales,
    )
    assert alice["calibrated_score"] == Decimal("89.5")
    assert appraisals[org.bob]["calibrated_score"] is None

    raters = {
        r["rater_key"]: r
        for r in await fetch(
            services, "SELECT * FROM review_raters WHERE appraisal_id = $1", c.alice_appraisal
        )
    }
    # Self and manager come with the appraisal; Dave was removed, with his draft.
    assert set(raters) == {
        rater_key(RaterSource.SELF, org.alice),
        rater_key(RaterSource.MANAGER, org.boss),
        rater_key(RaterSource.PEER, org.bob),
        rater_key(RaterSource.PEER, c.carol),
        rater_key(RaterSource.CUSTOMER, "ACME Corp"),
    }
    assert all(r["status"] == "submitted" for r in raters.values())
    assert all(r["submitted_at"] == NOW for r in raters.values())
    assert all(r["draft_json"] is None for r in raters.values())
    customer = raters[rater_key(RaterSource.CUSTOMER, "ACME Corp")]
    assert (customer["source"], customer["external_ref"], customer["rater_employee_id"]) == (
        "customer",
        "ACME Corp",
        None,
    )
    assert customer["invited_until"] == NOW + timedelta(days=7)
    assert raters[rater_key(RaterSource.PEER, org.bob)]["rater_employee_id"] == org.bob
    assert (
        services.secrets.open(raters[rater_key(RaterSource.PEER, org.bob)]["comments_sealed"])
        == (COMMENTS["bob"])
    )

    (boss_on_bob,) = await fetch(
        services,
        "SELECT * FROM review_raters WHERE appraisal_id = $1 AND source = 'manager'",
        appraisal_id(c.cycle_id, org.bob),
    )
    assert boss_on_bob["status"] == "draft"
    assert boss_on_bob["comments_sealed"] is None
    draft = json.loads(boss_on_bob["draft_json"])
    assert draft["ratings"] == [
        {"competency": "delivery", "value": 3},
        {"competency": "teamwork", "value": None},
    ]
    sealed = base64.b64decode(draft["comments_sealed_b64"])
    assert services.secrets.open(sealed) == COMMENTS["boss_draft"]

    dave = rater_key(RaterSource.PEER, c.dave)
    assert await fetch(services, "SELECT * FROM review_ratings WHERE rater_key = $1", dave) == []


async def test_removing_a_rater_deletes_their_row_and_draft(services: Services) -> None:
    app = services.app
    c = await services.call(prepare, app)
    await services.call(app.open_review_cycle, HR, c.cycle_id, [c.org.alice], date(2026, 4, 1))
    await services.call(app.assign_peer_rater, HR, c.cycle_id, c.org.alice, c.dave)
    await services.call(
        app.save_review_draft,
        as_role(Role.EMPLOYEE, c.dave),
        cycle_id=c.cycle_id,
        reviewee_id=c.org.alice,
        ratings=ratings(2, None),
        comments=COMMENTS["dave_draft"],
        now=NOW,
    )
    await catch_up(services)
    dave = rater_key(RaterSource.PEER, c.dave)
    query = "SELECT * FROM review_raters WHERE rater_key = $1"
    (row,) = await fetch(services, query, dave)
    assert (row["status"], row["rater_employee_id"], row["source"]) == ("draft", c.dave, "peer")

    await services.call(
        app.unassign_rater, HR.because("Dave moved team"), c.cycle_id, c.org.alice, dave
    )
    await catch_up(services)
    assert await fetch(services, query, dave) == []
    assert len(await fetch(services, "SELECT * FROM review_raters")) == 2  # self and manager


async def test_calibration_keeps_the_submitted_value_beside_the_calibrated_one(
    services: Services,
) -> None:
    c = await services.call(whole_cycle, services.app)
    await catch_up(services)
    rows = {
        (r["rater_key"], r["competency"]): r
        for r in await fetch(
            services, "SELECT * FROM review_ratings WHERE appraisal_id = $1", c.alice_appraisal
        )
    }
    assert len(rows) == 10  # five submitted reviews, two competencies each
    boss = rater_key(RaterSource.MANAGER, c.org.boss)
    manager = rows[(boss, "teamwork")]
    assert (manager["submitted_value"], manager["calibrated_value"]) == (3, 4)
    assert manager["calibration_reason"] == "project X shows better teamwork"
    assert manager["calibrated_by"] == HR.actor_id
    untouched = rows[(boss, "delivery")]
    assert (untouched["submitted_value"], untouched["calibrated_value"]) == (4, None)
    assert untouched["calibration_reason"] is None
    not_observed = [r for r in rows.values() if r["submitted_value"] is None]
    assert [(r["rater_key"], r["competency"]) for r in not_observed] == [
        (rater_key(RaterSource.PEER, c.org.bob), "teamwork")
    ]


async def test_no_comment_is_stored_in_the_clear(services: Services) -> None:
    await services.call(whole_cycle, services.app)
    await catch_up(services)
    tables = ("review_cycles", "appraisals", "review_raters", "review_ratings", "cycle_scorecards")
    seen = 0
    for table in tables:
        for row in await fetch(services, f"SELECT * FROM {table}"):
            for value in row.values():
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                for comment in COMMENTS.values():
                    assert comment not in text, f"{table} holds {comment!r} in the clear"
                seen += 1
    assert seen > 0


def test_without_secrets_comments_are_dropped_never_stored_in_the_clear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = ReviewsModel(None)
    handlers = model.handlers()
    cycle_id, reviewee = uuid4(), uuid4()
    appraisal = appraisal_id(cycle_id, reviewee)
    started = SimpleNamespace(
        originator_id=appraisal,
        cycle_id=cycle_id,
        reviewee_id=reviewee,
        manager_id=None,
        department_id=uuid4(),
    )
    handlers[event_type(Appraisal, "Started")](started, 1)
    key = rater_key(RaterSource.SELF, reviewee)
    submitted = SimpleNamespace(
        originator_id=appraisal,
        rater_key=key,
        ratings=ratings(3, 4),
        comments=COMMENTS["self"],
        submitted_at=NOW,
    )
    handlers[event_type(Appraisal, "ReviewSubmitted")](submitted, 2)
    assert model.texts[(appraisal, key)] == (None, None)
    assert model.appraisals[appraisal].raters[key].status == "submitted"
    assert "comments are not stored" in caplog.text


# -- the cycle scorecards ----------------------------------------------------------------------


async def test_cycle_scorecard_is_evaluate_on_the_calibrated_ratings(services: Services) -> None:
    c = await services.call(whole_cycle, services.app)
    await catch_up(services)
    row = await scorecard(services, c, c.org.alice)

    # By hand, scale 1-5 normalised as (rating - 1) / 4 x 100, delivery 60 %, teamwork 40 %:
    #   manager: delivery 4 -> 75, teamwork 3 calibrated to 4 -> 75: 75
    #   self: delivery 5 -> 100, teamwork 4 -> 75: 60 + 30 = 90
    #   peers (2 of k = 3) and the customer (1 of 3) are withheld and do not count,
    #   so manager 50 and self 10 of the default source weights share the 360:
    #   360 = (50 x 75 + 10 x 90) / 60 = 77.50
    #   KPI: 10 of target 10 = 100; final = 60 % x 100 + 40 % x 77.50 = 91.00 (tier A),
    #   calibrated by hr to 89.50: tier B.
    assert row["kpi_score"] == Decimal("100.00")
    assert row["review_score"] == Decimal("77.50")
    assert row["final_score"] == Decimal("91.00")
    assert row["calibrated_score"] == Decimal("89.50")
    assert row["score"] == Decimal("89.50")
    assert row["tier"] == "B"
    assert (row["status"], row["rule_set_version"], row["period"]) == ("closed", 0, "2026-Q1")
    assert (row["department_id"], row["manager_id"]) == (c.org.sales, c.org.boss)

    sources = {s["source"]: s for s in json.loads(row["sources"])}
    assert sources["peer"]["withheld"] is True
    assert sources["peer"]["submitted"] == 2
    assert sources["peer"]["note"] == "2 of the at least 3 raters needed to keep them anonymous"
    assert sources["peer"]["effectiveWeight"] == "0.00"
    # hr still sees the peers' figures: delivery (3 + 4) / 2 -> 62.5, teamwork 2 -> 25
    assert sources["peer"]["score"] == "47.50"
    assert sources["customer"]["withheld"] is True
    assert sources["manager"]["withheld"] is False
    assert (sources["manager"]["score"], sources["manager"]["effectiveWeight"]) == (
        "75.00",
        "83.33",
    )
    assert sources["self"]["score"] == "90.00"
    components = {k["name"]: k for k in json.loads(row["components"])}
    assert components["kpi"]["contribution"] == "60.00"
    assert components["review"]["contribution"] == "31.00"

    # The same numbers as evaluate() on the same inputs.
    expected = evaluate(
        kpi_score=Decimal(100),
        reviews=[
            SubmittedReview(RaterSource.SELF, {"delivery": 5, "teamwork": 4}),
            SubmittedReview(RaterSource.MANAGER, {"delivery": 4, "teamwork": 4}),
            SubmittedReview(RaterSource.PEER, {"delivery": 3, "teamwork": None}),
            SubmittedReview(RaterSource.PEER, {"delivery": 4, "teamwork": 2}),
            SubmittedReview(RaterSource.CUSTOMER, {"delivery": 5, "teamwork": 5}),
        ],
        competencies=COMPETENCIES,
        scale=SCALE,
        anonymity_threshold=3,
        rules=DEFAULT_RULES,
        calibrated_score=Decimal("89.5"),
    )
    assert (row["review_score"], row["final_score"], row["tier"]) == (
        expected.review_score,
        expected.final_score,
        expected.tier,
    )
    assert [s["score"] for s in json.loads(row["sources"])] == [
        None if s.score is None else str(s.score) for s in expected.sources
    ]

    # Bob has no goals and nobody submitted: no score, nothing proposed.
    bob = await scorecard(services, c, c.org.bob)
    assert (bob["kpi_score"], bob["review_score"], bob["final_score"], bob["tier"]) == (
        None,
        None,
        None,
        None,
    )
    assert json.loads(bob["proposals"]) == []


async def test_kpi_is_live_until_the_cycle_closes_and_frozen_after(services: Services) -> None:
    app = services.app
    c = await services.call(prepare, app)
    await services.call(open_and_assign, app, c)
    await services.call(submit_reviews, app, c)
    await catch_up(services)
    live = await scorecard(services, c, c.org.alice)
    assert (live["status"], live["kpi_score"], live["kpi_frozen"]) == (
        "open",
        Decimal("100.00"),
        False,
    )

    # A correction of March while the cycle is open moves the live KPI (4 of 10 -> 40).
    await services.call(app.record_progress, HR, c.goal, Decimal(4), date(2026, 3, 31), "fix")
    await catch_up(services)
    moved = await scorecard(services, c, c.org.alice)
    assert moved["kpi_score"] == Decimal("40.00")
    assert moved["position"] > live["position"]

    await services.call(app.record_progress, HR, c.goal, Decimal(10), date(2026, 3, 31), "fix")
    await services.call(calibrate, app, c)
    await services.call(app.close_review_cycle, HR, c.cycle_id)
    await catch_up(services)
    closed = await scorecard(services, c, c.org.alice)
    assert (closed["status"], closed["kpi_score"], closed["kpi_frozen"]) == (
        "closed",
        Decimal("100.00"),
        True,
    )

    # Progress recorded after closing changes the KPI scorecard, never the closed cycle's row.
    await services.call(app.record_progress, HR, c.goal, Decimal(2), date(2026, 3, 31), "late")
    await catch_up(services)
    (kpi_now,) = await fetch(
        services,
        "SELECT score FROM scorecards WHERE owner_id = $1 AND period = '2026-Q1'",
        c.org.alice,
    )
    assert kpi_now["score"] == Decimal("20.00")
    assert await scorecard(services, c, c.org.alice) == closed


async def test_proposals_follow_the_tier_and_streak_and_show_approval(services: Services) -> None:
    app = services.app
    c = await services.call(whole_cycle, app)
    await catch_up(services)
    row = await scorecard(services, c, c.org.alice)
    proposals = json.loads(row["proposals"])
    # Tier B under the defaults: a 5 % bonus; and sales growth met January to March.
    assert [(p["ruleKey"], p["approved"]) for p in proposals] == [
        ("tier:B:0", False),
        ("eligibility:sales_streak", False),
    ]
    assert proposals[0]["reward"]["kind"] == "bonus"
    assert proposals[0]["reward"]["percentOfSalary"] == "5"
    assert proposals[0]["because"] == "reached tier B"
    assert "3 months in a row" in proposals[1]["because"]
    assert json.loads(row["rewards"]) == []
    assert json.loads(row["feedback"]) == {"praise": 0, "improvement": 0, "one_on_one": 0}

    await services.call(approve_bonus, app, c)
    await services.call(praise_alice, app, c, date(2026, 3, 20))
    await services.call(praise_alice, app, c, date(2026, 4, 20))  # after the period
    await catch_up(services)
    approved = await scorecard(services, c, c.org.alice)
    assert json.loads(approved["feedback"]) == {"praise": 1, "improvement": 0, "one_on_one": 0}
    assert [(p["ruleKey"], p["approved"]) for p in json.loads(approved["proposals"])] == [
        ("tier:B:0", True),
        ("eligibility:sales_streak", False),
    ]
    (granted,) = json.loads(approved["rewards"])
    assert granted["ruleKey"] == "tier:B:0"
    assert (granted["amount"], granted["currency"], granted["origin"]) == (
        "2400.00",
        "EUR",
        "rules",
    )
    assert approved["kpi_score"] == row["kpi_score"]
    assert approved["position"] > row["position"]


async def test_a_revoked_approval_stays_approved_and_shows_revoked(services: Services) -> None:
    app = services.app
    c = await services.call(whole_cycle, app)
    await services.call(approve_bonus, app, c)
    reward_id = proposed_reward_id(c.cycle_id, c.org.alice, "tier:B:0")
    await services.call(
        app.revoke_reward,
        as_role(Role.HR, "hr-1", "paid twice by mistake"),
        reward_id,
        date(2026, 5, 3),
    )
    await catch_up(services)
    row = await scorecard(services, c, c.org.alice)
    (bonus, _) = json.loads(row["proposals"])
    assert (bonus["ruleKey"], bonus["approved"], bonus["revoked"]) == ("tier:B:0", True, True)
    assert json.loads(row["rewards"]) == []  # the revoked grant no longer stands


def yearly_goal_cycle(app: Perfledger) -> Cycle:
    """Alice's goal runs the whole year and is measured monthly; the cycle is quarterly."""
    org = small_org(app)
    goal = monthly_sales_goal(
        app,
        org.alice,
        [(date(2026, 1, 30), 11), (date(2026, 2, 27), 10), (date(2026, 3, 30), 12)],
        period="2026",
        horizon=Horizon.LONG_TERM,
        due_date=date(2026, 12, 31),
    )
    cycle_id = draft_q1(app, org)
    app.open_review_cycle(HR, cycle_id, [org.alice], date(2026, 3, 20))
    app.start_calibration(HR, cycle_id)
    app.close_review_cycle(HR, cycle_id)
    return Cycle(org, org.boss, org.bob, cycle_id, goal)


async def test_a_yearly_goal_measured_monthly_counts_towards_a_quarterly_streak(
    services: Services,
) -> None:
    c = await services.call(yearly_goal_cycle, services.app)
    await catch_up(services)
    row = await scorecard(services, c, c.org.alice)
    assert [p["ruleKey"] for p in json.loads(row["proposals"])] == ["eligibility:sales_streak"]


# -- rebuilding --------------------------------------------------------------------------------


async def dump(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Every row of the review tables, with sealed text opened (sealing draws a fresh nonce)."""
    tables = ("review_cycles", "appraisals", "review_raters", "review_ratings", "cycle_scorecards")
    result: dict[str, list[dict[str, Any]]] = {}
    for table in (*tables, "goal_monthly_measurements"):
        rows = []
        for r in await fetch(services, f"SELECT * FROM {table} ORDER BY 1, 2, 3"):
            row = dict(r)
            if row.get("comments_sealed") is not None:
                row["comments_sealed"] = services.secrets.open(row["comments_sealed"])
            if row.get("draft_json") is not None:
                draft = json.loads(row["draft_json"])
                draft["comments_sealed_b64"] = services.secrets.open(
                    base64.b64decode(draft["comments_sealed_b64"])
                )
                row["draft_json"] = draft
            for column in ("sources", "components", "proposals", "rewards", "feedback"):
                if column in row:
                    row[column] = json.loads(row[column])
            rows.append(row)
        result[table] = rows
    return result


async def test_rebuilt_review_tables_equal_incremental_ones(services: Services) -> None:
    app = services.app
    services.runner.batch_size = 4  # many small batches, split at arbitrary events
    c = await services.call(prepare, app)
    await catch_up(services)
    await services.call(open_and_assign, app, c)
    await catch_up(services)
    await services.call(submit_reviews, app, c)
    await catch_up(services)
    # A runner that restarts reloads its memory from the tables and goes on from there.
    services.projector.forget()
    await services.call(app.record_progress, HR, c.goal, Decimal(9), date(2026, 3, 31), "fix")
    await services.call(calibrate, app, c)
    await services.call(app.close_review_cycle, HR, c.cycle_id)
    await services.call(app.record_progress, HR, c.goal, Decimal(2), date(2026, 3, 31), "late")
    await catch_up(services)
    services.projector.forget()
    await services.call(approve_bonus, app, c)
    await services.call(praise_alice, app, c, date(2026, 2, 10))
    await catch_up(services)
    incremental = await dump(services)

    services.runner.batch_size = 100_000
    await rebuild(services)
    rebuilt = await dump(services)
    assert rebuilt == incremental
    assert len(incremental["review_ratings"]) == 10
    assert len(incremental["cycle_scorecards"]) == 2
    alice = next(r for r in incremental["cycle_scorecards"] if r["employee_id"] == c.org.alice)
    assert (alice["kpi_frozen"], alice["kpi_score"]) == (True, Decimal("90.00"))
    # March fell short of the target (9 of 10) when the cycle closed: no streak proposal.
    assert [(p["ruleKey"], p["approved"]) for p in alice["proposals"]] == [("tier:B:0", True)]
    assert alice["feedback"]["praise"] == 1
