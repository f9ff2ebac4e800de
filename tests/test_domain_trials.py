"""Trials in the domain: a pilot starts only on a real, non-production rule-set version and a
non-empty scope, changes only while running, ends exactly once; the registry refuses a second
trial on the same people or on nested departments, and frees the scope when a trial ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidInput,
    NotATrialParticipant,
    NotFound,
    OverlappingTrial,
    PilotSameAsProduction,
    ReasonRequired,
    RewardAlreadyRevoked,
    TrialNotRunning,
)
from domain.provenance import Provenance, Role
from domain.rewards import Money, Reward, RewardKind, RewardSpec
from domain.rules import DEFAULT_RULES, RuleBook
from domain.trials import (
    TRIAL_REGISTRY_ID,
    ClaimedScope,
    Overlap,
    Trial,
    TrialRegistry,
    TrialScope,
    TrialStatus,
    overlap,
)

HR = Provenance("hr-1", Role.HR, "corr-1")
BECAUSE = HR.because("participants found the cap too low")
SALES, KEY_ACCOUNTS, SUPPORT = UUID(int=10), UUID(int=11), UUID(int=12)
ALICE, BOB, CAROL, DAN = UUID(int=1), UUID(int=2), UUID(int=3), UUID(int=4)
STARTED_ON = date(2026, 7, 1)
# Key accounts sits under sales; support stands alone.
ANCESTRY = {SALES: [SALES], KEY_ACCOUNTS: [KEY_ACCOUNTS, SALES], SUPPORT: [SUPPORT]}


def rule_book(versions: int = 3, production: int | None = 1) -> RuleBook:
    """A book with ``versions`` versions; ``production`` adopted from the start of 2026."""
    book = RuleBook.open(HR)
    for n in range(versions):
        book.define(
            replace(DEFAULT_RULES, achievement_cap=Decimal(110 + n)), f"version {n + 1}", HR
        )
    if production is not None:
        book.adopt(production, date(2026, 1, 1), HR)
    return book


def start(
    *,
    version: int = 2,
    departments: list[UUID] | None = None,
    employees: list[UUID] | None = None,
    participants: list[UUID] | None = None,
    period: str = "2026-Q3",
    book: RuleBook | None = None,
    name: str = "Higher cap pilot",
    responsible: list[str] | None = None,
) -> Trial:
    return Trial.start(
        id=uuid4(),
        name=name,
        rule_set_version=version,
        scope=TrialScope(
            [SALES] if departments is None else departments,
            [CAROL] if employees is None else employees,
        ),
        participants=[ALICE, BOB] if participants is None else participants,
        period=period,
        responsible=["Hana (HR)"] if responsible is None else responsible,
        show_participants=True,
        started_on=STARTED_ON,
        rule_book=rule_book() if book is None else book,
        provenance=HR,
    )


def refused(
    command: Callable[[], object], error: type[DomainError], field: str | None
) -> DomainError:
    with pytest.raises(DomainError) as caught:
        command()
    assert type(caught.value) is error, caught.value
    assert caught.value.field == field, caught.value.message
    return caught.value


def reward(employee: UUID = ALICE, trial: Trial | None = None) -> Reward:
    """A reward granted under ``trial``'s pilot rules (None: a production reward)."""
    return Reward.grant(
        id=uuid4(),
        employee_id=employee,
        spec=RewardSpec(RewardKind.BONUS, amount=Money(Decimal(400), "EUR")),
        basis=None,
        reference_salary=None,
        period="2026-Q3",
        granted_on=date(2026, 7, 10),
        provenance=HR.because("pilot tier A"),
        trial_id=None if trial is None else trial.id,
    )


def event_names(aggregate: Trial | TrialRegistry) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


# -- starting -------------------------------------------------------------------------------------


def test_a_started_trial_runs_with_its_scope_and_the_named_employees_among_its_participants() -> (
    None
):
    trial = start(employees=[CAROL, CAROL], participants=[ALICE, CAROL, BOB], period=" 2026-Q3 ")
    assert trial.status is TrialStatus.RUNNING
    assert trial.running
    assert (trial.scope_departments, trial.scope_employees) == ([SALES], [CAROL])
    assert trial.participants == [CAROL, ALICE, BOB]  # named first, each once
    assert (trial.period, trial.rule_set_version, trial.versions_tried) == ("2026-Q3", 2, [2])
    assert trial.responsible == ["Hana (HR)"]
    assert event_names(trial) == ["Started"]


def test_a_trial_needs_a_scope_a_name_someone_responsible_and_a_period() -> None:
    refused(lambda: start(departments=[], employees=[]), InvalidInput, "scope")
    refused(lambda: start(name="  "), InvalidInput, "name")
    refused(lambda: start(responsible=[]), InvalidInput, "responsible")
    refused(lambda: start(responsible=["ok", " "]), InvalidInput, "responsible[1]")
    refused(lambda: start(period="Q3 2026"), InvalidInput, "period")


def test_the_pilot_version_must_exist_in_the_rule_book() -> None:
    error = refused(lambda: start(version=7), NotFound, "ruleSetVersion")
    assert error.message == "rule-set version 7 does not exist (defined: 1, 2, 3)"
    refused(lambda: start(version=1, book=RuleBook.open(HR)), NotFound, "ruleSetVersion")


def test_the_pilot_version_must_differ_from_the_one_production_uses_at_the_periods_start() -> None:
    error = refused(lambda: start(version=1), PilotSameAsProduction, "ruleSetVersion")
    assert "production uses for 2026-Q3" in error.message
    # Version 2 adopted from August: production still scores the third quarter under version 1,
    # while the fourth quarter is scored under version 2.
    book = rule_book()
    book.adopt(2, date(2026, 8, 1), HR)
    assert start(version=2, book=book).rule_set_version == 2
    refused(
        lambda: start(version=2, book=book, period="2026-Q4"),
        PilotSameAsProduction,
        "ruleSetVersion",
    )
    # Before any adoption production runs on the built-in defaults (version 0): any version pilots.
    assert start(version=1, book=rule_book(production=None)).rule_set_version == 1


# -- revising -------------------------------------------------------------------------------------


def test_revising_moves_the_pilot_to_another_version_and_records_the_one_it_left() -> None:
    trial = start()
    trial.collect_events()
    trial.revise(3, rule_book(), BECAUSE)
    (revised,) = trial.collect_events()
    assert type(revised).__name__ == "Revised"
    assert vars(revised)["previous_version"] == 2
    assert vars(revised)["rule_set_version"] == 3
    assert vars(revised)["reason"] == "participants found the cap too low"
    assert (trial.rule_set_version, trial.versions_tried) == (3, [2, 3])


def test_a_revision_needs_a_reason_a_new_existing_version_other_than_production() -> None:
    trial = start()
    book = rule_book()
    refused(lambda: trial.revise(3, book, HR), ReasonRequired, "reason")
    refused(lambda: trial.revise(2, book, BECAUSE), InvalidInput, "ruleSetVersion")
    refused(lambda: trial.revise(9, book, BECAUSE), NotFound, "ruleSetVersion")
    refused(lambda: trial.revise(1, book, BECAUSE), PilotSameAsProduction, "ruleSetVersion")
    assert trial.rule_set_version == 2


# -- feedback and provisional rewards -------------------------------------------------------------


def test_participants_and_members_of_scope_departments_give_feedback_others_do_not() -> None:
    trial = start(participants=[ALICE])
    trial.collect_events()
    trial.give_feedback(ALICE, "  The cap helps  ", date(2026, 7, 2), [SUPPORT], HR)
    # Dan joined key accounts (under sales) after the start: he takes part now.
    trial.give_feedback(DAN, "Fairer for new joiners", date(2026, 7, 3), [KEY_ACCOUNTS, SALES], HR)
    given = trial.collect_events()
    assert [(vars(e)["employee_id"], vars(e)["text"]) for e in given] == [
        (ALICE, "The cap helps"),
        (DAN, "Fairer for new joiners"),
    ]
    assert trial.feedback_count == 2
    error = refused(
        lambda: trial.give_feedback(DAN, "hi", date(2026, 7, 3), [SUPPORT], HR),
        NotATrialParticipant,
        "employeeId",
    )
    assert "Higher cap pilot" in error.message


def test_feedback_has_text_and_is_not_dated_before_the_trial() -> None:
    trial = start()
    refused(lambda: trial.give_feedback(ALICE, " ", date(2026, 7, 2), [], HR), InvalidInput, "text")
    refused(
        lambda: trial.give_feedback(ALICE, "early", date(2026, 6, 30), [], HR),
        InvalidInput,
        "today",
    )


def test_a_standing_reward_granted_under_the_trial_to_a_participant_is_linked_once() -> None:
    trial = start()
    trial.collect_events()
    granted = reward(ALICE, trial)
    trial.link_reward(granted, [], HR)
    assert trial.reward_ids == [granted.id]
    assert event_names(trial) == ["RewardLinked"]
    refused(lambda: trial.link_reward(granted, [], HR), AlreadyExists, "rewardId")
    refused(
        lambda: trial.link_reward(reward(DAN, trial), [SUPPORT], HR),
        NotATrialParticipant,
        "rewardId",
    )
    revoked = reward(BOB, trial)
    revoked.revoke(date(2026, 7, 11), HR.because("mistake"))
    refused(lambda: trial.link_reward(revoked, [], HR), RewardAlreadyRevoked, "rewardId")
    # A production reward, or another trial's, is never this trial's provisional reward.
    refused(lambda: trial.link_reward(reward(BOB), [], HR), InvalidInput, "rewardId")


def test_a_provisional_reward_is_confirmed_once_and_never_after_a_revocation() -> None:
    trial = start()
    granted = reward(ALICE, trial)
    assert granted.provisional
    granted.collect_events()
    granted.confirm(date(2026, 10, 1), BECAUSE)
    assert (granted.provisional, granted.confirmed_on) == (False, date(2026, 10, 1))
    assert [type(e).__name__ for e in granted.collect_events()] == ["Confirmed"]
    refused(lambda: granted.confirm(date(2026, 10, 2), BECAUSE), InvalidInput, "rewardId")
    revoked = reward(BOB, trial)
    revoked.revoke(date(2026, 7, 11), HR.because("mistake"))
    assert not revoked.provisional
    with pytest.raises(RewardAlreadyRevoked):
        revoked.confirm(date(2026, 10, 1), BECAUSE)


# -- ending ---------------------------------------------------------------------------------------


def test_promotion_ends_the_trial_with_its_effective_date_and_reach() -> None:
    trial = start()
    trial.collect_events()
    refused(lambda: trial.promote(date(2026, 10, 1), True, HR), ReasonRequired, "reason")
    trial.promote(date(2026, 10, 1), True, HR.because("fairer and cheaper"))
    (promoted,) = trial.collect_events()
    assert type(promoted).__name__ == "Promoted"
    assert (vars(promoted)["effective_from"], vars(promoted)["for_everyone"]) == (
        date(2026, 10, 1),
        True,
    )
    assert trial.status is TrialStatus.PROMOTED
    assert (trial.effective_from, trial.for_everyone, trial.end_reason) == (
        date(2026, 10, 1),
        True,
        "fairer and cheaper",
    )


def test_rolling_back_ends_the_trial_on_a_day_not_before_its_start() -> None:
    trial = start()
    trial.collect_events()
    refused(lambda: trial.roll_back(date(2026, 8, 1), HR), ReasonRequired, "reason")
    refused(lambda: trial.roll_back(date(2026, 6, 30), BECAUSE), InvalidInput, "today")
    trial.roll_back(date(2026, 8, 1), BECAUSE)
    assert event_names(trial) == ["RolledBack"]
    assert trial.status is TrialStatus.ROLLED_BACK
    assert (trial.ended_on, trial.end_reason) == (
        date(2026, 8, 1),
        "participants found the cap too low",
    )


def test_an_ended_trial_changes_no_more() -> None:
    rolled_back = start()
    rolled_back.roll_back(date(2026, 8, 1), BECAUSE)
    promoted = start()
    promoted.promote(date(2026, 10, 1), False, BECAUSE)
    book = rule_book()

    def every_change(trial: Trial) -> list[Callable[[], object]]:
        return [
            lambda: trial.promote(date(2026, 10, 1), True, BECAUSE),
            lambda: trial.roll_back(date(2026, 8, 2), BECAUSE),
            lambda: trial.revise(3, book, BECAUSE),
            lambda: trial.give_feedback(ALICE, "late", date(2026, 8, 2), [], HR),
            lambda: trial.link_reward(reward(ALICE, trial), [], HR),
        ]

    for trial in (rolled_back, promoted):
        trial.collect_events()
        for command in every_change(trial):
            refused(command, TrialNotRunning, "trialId")
        assert trial.collect_events() == []
    error = refused(
        lambda: rolled_back.promote(date(2026, 10, 1), True, BECAUSE), TrialNotRunning, "trialId"
    )
    assert error.message == "trial “Higher cap pilot” was rolled back; it can no longer be promoted"


# -- the registry ---------------------------------------------------------------------------------


def claimed(departments: list[UUID], participants: list[UUID]) -> ClaimedScope:
    return ClaimedScope("other", frozenset(departments), frozenset(participants))


WORKS_IN = {ALICE: SALES, BOB: SALES, CAROL: SUPPORT, DAN: KEY_ACCOUNTS}


def people(*ids: UUID) -> dict[UUID, UUID]:
    """Each person mapped to their department, as the command passes them."""
    return {person: WORKS_IN[person] for person in ids}


def test_scopes_overlap_on_shared_people_and_on_equal_or_nested_departments() -> None:
    sales = claimed([SALES], [ALICE, BOB])
    assert overlap([SUPPORT], people(CAROL), sales, ANCESTRY) == Overlap(0, 0)
    assert not overlap([SUPPORT], people(CAROL), sales, ANCESTRY)
    assert overlap([], people(BOB, CAROL), sales, ANCESTRY) == Overlap(1, 0)
    assert overlap([SALES, SUPPORT], {}, sales, ANCESTRY) == Overlap(0, 1)
    assert overlap([KEY_ACCOUNTS], {}, sales, ANCESTRY) == Overlap(0, 1)  # within
    assert overlap([SALES], {}, claimed([KEY_ACCOUNTS], []), ANCESTRY) == Overlap(0, 1)  # around
    assert overlap([KEY_ACCOUNTS], people(ALICE, BOB), sales, ANCESTRY) == Overlap(2, 1)


def test_someone_who_joined_a_running_trials_departments_since_its_start_is_piloted_already() -> (
    None
):
    # Dan was not counted when the sales trial started; he works in key accounts, under sales.
    sales = claimed([SALES], [ALICE, BOB])
    assert overlap([], people(DAN), sales, ANCESTRY) == Overlap(1, 0)
    # A trial that merely named someone holds that person only, not their department.
    assert overlap([], people(BOB), claimed([], [ALICE]), ANCESTRY) == Overlap(0, 0)


def test_the_registry_refuses_an_overlapping_trial_naming_it_and_the_overlap() -> None:
    registry = TrialRegistry.open(HR)
    assert registry.id == TRIAL_REGISTRY_ID
    first = UUID(int=100)
    registry.claim(first, "Cap pilot", [SALES], people(ALICE, BOB), ANCESTRY, HR)
    assert registry.claimed_departments() == {SALES}
    error = refused(
        lambda: registry.claim(
            UUID(int=101), "Another", [KEY_ACCOUNTS], people(ALICE, BOB, CAROL), ANCESTRY, HR
        ),
        OverlappingTrial,
        "scope",
    )
    assert error.message.startswith(
        f"trial “Cap pilot” ({first}) is running on 2 of these people and on 1 of these departments"
    )
    refused(
        lambda: registry.claim(first, "Again", [SUPPORT], {}, ANCESTRY, HR), AlreadyExists, "id"
    )
    registry.claim(UUID(int=102), "Support pilot", [SUPPORT], people(CAROL), ANCESTRY, HR)
    assert event_names(registry) == ["Opened", "ScopeClaimed", "ScopeClaimed"]


def test_releasing_a_scope_lets_another_trial_claim_it() -> None:
    registry = TrialRegistry.open(HR)
    first = UUID(int=100)
    registry.claim(first, "Cap pilot", [SALES], people(ALICE), ANCESTRY, HR)
    registry.release(first, HR)
    assert registry.running == {}
    refused(lambda: registry.release(first, HR), NotFound, "trialId")
    registry.claim(UUID(int=101), "Next pilot", [SALES], people(ALICE), ANCESTRY, HR)
    assert list(registry.running) == [UUID(int=101)]
    assert event_names(registry) == ["Opened", "ScopeClaimed", "ScopeReleased", "ScopeClaimed"]
