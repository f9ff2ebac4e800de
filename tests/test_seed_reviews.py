"""Seeded review cycles, feedback and rewards: recorded through the domain, in the states the
calendar implies, with the planted rater effects, and read back by the read models."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.feedback import Feedback, FeedbackKind
from domain.organisation import Employee
from domain.reviews import Appraisal, RaterSource, ReviewCycle
from domain.rewards import Reward, RewardOrigin, proposed_reward_id
from service.application import Perfledger
from service.bootstrap import Services
from service.seed import seed_organisation
from service.seed_reviews import (
    ANONYMITY_THRESHOLD,
    NOTHING,
    ONE_FULL_CYCLE,
    cycle_id_for,
)
from tests.helpers import catch_up
from tests.test_seed import events_of, of

THROUGH = date(2026, 8, 31)  # Q1 and Q2 over, Q3 under way
SEED = 5


@pytest.fixture
def seeded(app: Perfledger) -> list[Any]:
    seed_organisation(app, employees=80, seed=SEED, through=THROUGH)
    return events_of(app)


def name(event: Any) -> str:
    return type(event).__qualname__.split(".")[-1]


def by_appraisal(events: list[Any]) -> dict[uuid.UUID, list[Any]]:
    out: dict[uuid.UUID, list[Any]] = defaultdict(list)
    ids = {e.originator_id for e in of(events, Appraisal, "Started")}
    for event in events:
        if event.originator_id in ids:
            out[event.originator_id].append(event)
    return out


def test_past_quarters_have_closed_cycles_and_the_current_one_an_open_cycle(
    seeded: list[Any],
) -> None:
    cycles = {e.originator_id: e for e in of(seeded, ReviewCycle, "Drafted")}
    assert set(cycles) == {cycle_id_for(SEED, p) for p in ("2026-Q1", "2026-Q2", "2026-Q3")}
    closed = {e.originator_id for e in of(seeded, ReviewCycle, "Closed")}
    calibrating = {e.originator_id for e in of(seeded, ReviewCycle, "CalibrationStarted")}
    assert closed == calibrating == {cycle_id_for(SEED, "2026-Q1"), cycle_id_for(SEED, "2026-Q2")}
    for drafted in cycles.values():
        definition = drafted.definition
        assert [c.key for c in definition.competencies] == [
            "customer_focus",
            "collaboration",
            "ownership",
            "communication",
            "expertise",
        ]
        assert sum(c.weight for c in definition.competencies) == Decimal(100)
        assert all(len(c.levels) == 5 for c in definition.competencies)
        assert (definition.scale.minimum, definition.scale.maximum) == (1, 5)
        assert (definition.anonymity_threshold, definition.min_peer_raters) == (3, 3)
    # Everyone but the CEO (reviewed by the board, outside the ledger) is a reviewee.
    hired = of(seeded, Employee, "Hired")
    reviewed = {e.originator_id: e.reviewee_ids for e in of(seeded, ReviewCycle, "Opened")}
    expected = {e.originator_id for e in hired if e.manager_id is not None}
    assert all(set(ids) == expected for ids in reviewed.values())
    assert len(of(seeded, Appraisal, "Started")) == 3 * len(expected)


def test_every_appraisal_has_self_manager_and_peers_who_are_not_the_reviewee(
    seeded: list[Any],
) -> None:
    managers = {e.originator_id: e.manager_id for e in of(seeded, Employee, "Hired")}
    for events in by_appraisal(seeded).values():
        started = events[0]
        assert name(started) == "Started"
        # Self and manager come with Started; the manager is the reviewee's of the moment.
        assert started.manager_id == managers[started.reviewee_id] is not None
        peers = [
            e.employee_id
            for e in events
            if name(e) == "RaterAssigned" and e.source is RaterSource.PEER
        ]
        assert 3 <= len(peers) <= 5
        assert started.reviewee_id not in peers
        assert started.manager_id not in peers
        assert len(set(peers)) == len(peers)


def test_ratings_lie_on_the_scale_and_some_are_not_observed(seeded: list[Any]) -> None:
    values = [
        rating.value
        for event in of(seeded, Appraisal, "ReviewSubmitted")
        for rating in event.ratings
    ]
    assert len(values) == 5 * len(of(seeded, Appraisal, "ReviewSubmitted"))
    observed = Counter(v for v in values if v is not None)
    assert set(observed) <= {1, 2, 3, 4, 5}
    assert len(observed) >= 4  # the scale is used, not one point of it
    assert 0 < values.count(None) < len(values) * 0.2


def test_closed_cycles_take_no_review_after_calibration_began_and_the_open_one_is_partial(
    seeded: list[Any],
) -> None:
    closed_cycles = {e.originator_id for e in of(seeded, ReviewCycle, "Closed")}
    writes = {"ReviewSubmitted", "ReviewDraftSaved", "RaterAssigned", "ExternalRaterInvited"}
    open_submitted: list[int] = []
    open_raters: list[int] = []
    for events in by_appraisal(seeded).values():
        names = [name(e) for e in events]
        if events[0].cycle_id in closed_cycles:
            entered = names.index("CalibrationEntered")
            assert names[-1] == "Closed"
            assert not writes & set(names[entered:])
            assert "ReviewDraftSaved" not in names
        else:
            assert "CalibrationEntered" not in names
            open_submitted.append(names.count("ReviewSubmitted"))
            raters = 1 + (events[0].manager_id is not None) + names.count("RaterAssigned")
            open_raters.append(raters)
    assert 0.2 < sum(open_submitted) / sum(open_raters) < 0.7
    assert any(n == 0 for n in open_submitted)
    assert any(name(e) == "ReviewDraftSaved" for e in seeded)
    # The log shows the cycle's state changes in the commands' order: every appraisal enters
    # calibration after the cycle does, and closes after the cycle closes.
    position = {id(e): i for i, e in enumerate(seeded)}
    for cycle_id in closed_cycles:
        (started,) = [e for e in of(seeded, ReviewCycle, "CalibrationStarted")
                      if e.originator_id == cycle_id]  # fmt: skip
        (closed,) = [e for e in of(seeded, ReviewCycle, "Closed") if e.originator_id == cycle_id]
        for events in by_appraisal(seeded).values():
            if events[0].cycle_id != cycle_id:
                continue
            last_review = max(position[id(e)] for e in events if name(e) in writes | {"Started"})
            entered = next(e for e in events if name(e) == "CalibrationEntered")
            assert last_review < position[id(started)] < position[id(entered)]
            assert position[id(closed)] < position[id(events[-1])]


def test_calibrations_carry_their_reasons_and_raise_planted_severe_managers(
    seeded: list[Any],
) -> None:
    rating_calibrations = of(seeded, Appraisal, "RatingCalibrated")
    result_calibrations = of(seeded, Appraisal, "ResultCalibrated")
    assert rating_calibrations
    assert result_calibrations
    for event in [*rating_calibrations, *result_calibrations]:
        assert event.provenance.reason
        assert "Calibration panel" in event.provenance.reason
    for event in rating_calibrations:
        assert event.rater_key.startswith("manager:")
        assert event.calibrated == event.previous + 1


def test_the_planted_manager_severity_and_part_time_gap_show_in_the_manager_ratings(
    app: Perfledger,
) -> None:
    """What a fairness audit compares: a manager's ratings against the peers' ratings of the
    same people, which the manager's own severity or leniency does not move."""
    seed_organisation(app, employees=400, seed=SEED, through=THROUGH)
    events = events_of(app)
    hired = {e.originator_id: e for e in of(events, Employee, "Hired")}
    leads = sorted((e for e in hired.values() if e.job_title == "Team lead"), key=lambda e: e.code)
    severe, lenient = leads[1].originator_id, leads[4].originator_id
    started = {e.originator_id: e for e in of(events, Appraisal, "Started")}
    manager: dict[uuid.UUID, list[int]] = defaultdict(list)  # by appraisal
    peers: dict[uuid.UUID, list[int]] = defaultdict(list)
    for event in of(events, Appraisal, "ReviewSubmitted"):
        values = [r.value for r in event.ratings if r.value is not None]
        if event.rater_key.startswith("manager:"):
            manager[event.originator_id].extend(values)
        elif event.rater_key.startswith("peer:"):
            peers[event.originator_id].extend(values)

    def gap(appraisals: list[uuid.UUID]) -> float:
        """Mean manager rating minus mean peer rating over these appraisals."""
        ours = [v for a in appraisals for v in manager[a]]
        theirs = [v for a in appraisals for v in peers[a]]
        return sum(ours) / len(ours) - sum(theirs) / len(theirs)

    def of_manager(who: uuid.UUID) -> list[uuid.UUID]:
        return [a for a, e in started.items() if e.manager_id == who and a in manager]

    planted = {severe, lenient}
    others = [a for a, e in started.items() if e.manager_id not in planted and a in manager]
    assert gap(of_manager(severe)) < gap(others) - 0.6
    assert gap(of_manager(lenient)) > gap(others) + 0.5
    by_contract: dict[str, list[uuid.UUID]] = defaultdict(list)
    for appraisal in others:
        by_contract[hired[started[appraisal].reviewee_id].attributes["contract"]].append(appraisal)
    assert gap(by_contract["part_time"]) < gap(by_contract["full_time"]) - 0.15


def test_feedback_covers_most_reports_monthly_and_leaves_some_uncovered(
    seeded: list[Any],
) -> None:
    hired = {e.originator_id: e for e in of(seeded, Employee, "Hired")}
    given = of(seeded, Feedback, "Given")
    assert {e.kind for e in given} == set(FeedbackKind)
    one_on_ones = [e for e in given if e.kind is FeedbackKind.ONE_ON_ONE]
    covered = {e.receiver_id for e in one_on_ones}
    reports = {i for i, e in hired.items() if e.manager_id is not None}
    assert 0.7 * len(reports) < len(covered) < len(reports)
    for event in one_on_ones:
        assert event.giver_id == hired[event.receiver_id].manager_id
        assert event.occurred_on <= THROUGH
    months = {(e.receiver_id, e.occurred_on.month) for e in one_on_ones}
    assert {m for _, m in months} == set(range(1, 9))
    assert all(e.giver_id != e.receiver_id for e in given)
    assert of(seeded, Feedback, "Acknowledged")


def test_rewards_approve_the_rules_proposals_for_the_top_tier_plus_stars_of_the_month(
    seeded: list[Any],
) -> None:
    granted = of(seeded, Reward, "Granted")
    closed = {e.originator_id for e in of(seeded, ReviewCycle, "Closed")}
    by_rules = [e for e in granted if e.origin is RewardOrigin.RULES]
    assert by_rules
    for event in by_rules:
        basis = event.basis
        assert basis.cycle_id in closed
        assert (basis.rule_set_version, basis.tier) == (1, "A")
        assert basis.rule_key in {"tier:A:0", "tier:A:1"}
        assert basis.score >= Decimal(90)
        assert event.originator_id == proposed_reward_id(
            basis.cycle_id, event.employee_id, basis.rule_key
        )
        assert event.provenance.reason.startswith("approved as proposed by rule tier:A:")
        if basis.rule_key == "tier:A:0":  # 10% of the quarter's salary
            assert event.reference_salary is not None
            assert event.granted_amount.amount == event.reference_salary.amount / 10
    stars = [e for e in granted if e.origin is RewardOrigin.MANUAL]
    assert {e.period for e in stars} == {f"2026-{m:02d}" for m in range(1, 9)}
    assert all(e.spec.title.startswith("Star of the month") for e in stars)
    assert all(e.provenance.reason for e in stars)
    (revoked,) = of(seeded, Reward, "Revoked")
    assert "wrong person" in (revoked.provenance.reason or "")


def test_the_benchmark_plan_gives_everyone_seven_reviews_of_five_ratings(
    app: Perfledger,
) -> None:
    summary = seed_organisation(app, employees=200, seed=1, year=2025, reviews=ONE_FULL_CYCLE)
    events = events_of(app)
    assert summary.cycles == 1
    (drafted,) = of(events, ReviewCycle, "Drafted")
    assert drafted.definition.period == "2025-Q4"
    assert of(events, ReviewCycle, "Closed")
    submitted = Counter(e.originator_id for e in of(events, Appraisal, "ReviewSubmitted"))
    assert summary.appraisals == len(submitted) == 199
    assert set(submitted.values()) == {7}
    assert summary.reviews == 7 * 199
    assert not of(events, Feedback, "Given")
    assert not of(events, Reward, "Granted")
    reviews = sum(1 for e in events if isinstance(e, ReviewCycle.Event | Appraisal.Event))
    assert summary.review_events == reviews
    assert summary.review_rate > 0


def test_without_reviews_the_seed_records_the_organisation_only(app: Perfledger) -> None:
    summary = seed_organisation(app, employees=20, seed=1, through=THROUGH, reviews=NOTHING)
    events = events_of(app)
    assert (summary.cycles, summary.feedback, summary.rewards, summary.review_events) == (
        0,
        0,
        0,
        0,
    )
    assert not of(events, Appraisal, "Started")
    assert summary.events == len(events)


async def test_read_models_show_customers_withheld_below_k_and_counted_from_k(
    services: Services,
) -> None:
    summary = await services.call(
        seed_organisation, services.app, employees=120, seed=SEED, through=THROUGH
    )
    caught_up = await catch_up(services)
    assert caught_up.position == summary.events
    q1 = cycle_id_for(SEED, "2026-Q1")
    async with services.read_pool.acquire() as read:
        cycles = {
            r["period"]: r["status"]
            for r in await read.fetch("SELECT period, status FROM review_cycles")
        }
        rows = await read.fetch(
            "SELECT employee_id, sources, tier, score FROM cycle_scorecards WHERE cycle_id = $1",
            q1,
        )
        rewarded = {
            r["employee_id"]
            for r in await read.fetch(
                "SELECT employee_id, rewards FROM cycle_scorecards WHERE cycle_id = $1", q1
            )
            if any((g.get("ruleKey") or "").startswith("tier:A:") for g in json.loads(r["rewards"]))
        }
    assert cycles == {"2026-Q1": "closed", "2026-Q2": "closed", "2026-Q3": "open"}
    assert len(rows) == summary.appraisals // 3
    customers: Counter[str] = Counter()
    for row in rows:
        (customer,) = [s for s in json.loads(row["sources"]) if s["source"] == "customer"]
        if customer["submitted"] == 0:
            assert customer["withheld"]  # "nobody" looks the same as "too few"
            assert not customer["counted"]
            customers["none"] += 1
        elif customer["submitted"] < ANONYMITY_THRESHOLD:
            assert customer["withheld"]
            assert not customer["counted"]
            customers["withheld"] += 1
        else:
            assert customer["counted"]
            assert not customer["withheld"]
            customers["counted"] += 1
    assert customers["withheld"] > 0
    assert customers["counted"] > 0
    # The read model's tiers agree with the seed's own evaluation: everyone in tier A was
    # granted what the rules propose, and nobody else.
    top = {row["employee_id"] for row in rows if row["tier"] == "A"}
    assert top
    assert rewarded == top
