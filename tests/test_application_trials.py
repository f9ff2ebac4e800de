"""Trial commands on PostgreSQL: a pilot started, revised, given feedback and provisional rewards,
then promoted (for everyone: adopted by the rule book in the same transaction) or rolled back
(its provisional rewards revoked with its reason); every refusal records nothing, and two
overlapping trials started at once cannot both run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import partial
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    EmployeeHasLeft,
    InvalidInput,
    NotATrialParticipant,
    NotFound,
    OverlappingTrial,
    PermissionDenied,
    PilotSameAsProduction,
    ReasonRequired,
    TrialNotRunning,
    UnknownScopeMembers,
)
from domain.provenance import Provenance, Role
from domain.rewards import Money, Reward, RewardKind, RewardOrigin, RewardSpec
from domain.rules import DEFAULT_RULES
from domain.trials import TRIAL_REGISTRY_ID, Trial, TrialRegistry, TrialStatus
from service.application import Perfledger, department_id_for, employee_id_for
from service.bootstrap import Services
from service.command_base import Receipt
from tests.helpers import (
    HR,
    Org,
    as_role,
    assert_records_nothing,
    catch_up,
    fetch,
    load,
    position,
    set_goal,
    small_org,
)

TODAY = date(2026, 7, 1)
BECAUSE = HR.because("participants asked for a higher cap")
BONUS = RewardSpec(RewardKind.BONUS, amount=Money(Decimal("400.00"), "EUR"))


@dataclass
class Setup:
    org: Org
    key_accounts: UUID  # under sales
    support: UUID  # beside sales
    dana: UUID  # in key accounts
    erik: UUID  # in support
    production: int
    pilot: int
    improved: int


@pytest.fixture
def setup(app: Perfledger) -> Setup:
    return build_setup(app)


def build_setup(app: Perfledger) -> Setup:
    """Sales (the boss, Alice, Bob) with key accounts under it (Dana), support beside it (Erik);
    version 1 in production from 2026, versions 2 and 3 defined for pilots."""
    org = small_org(app)
    app.open_department(HR, code="KEY", name="Key accounts", parent_id=org.sales)
    app.open_department(HR, code="SUPPORT", name="Support", parent_id=None)
    key_accounts, support = department_id_for("KEY"), department_id_for("SUPPORT")
    for code, name, department in (("E4", "Dana", key_accounts), ("E5", "Erik", support)):
        app.hire_employee(
            HR, code=code, name=name, department_id=department, manager_id=org.boss,
            job_title="Account manager", hire_date=date(2023, 1, 1), attributes={},
        )  # fmt: skip
    versions = [
        app.define_rule_set(
            HR, replace(DEFAULT_RULES, achievement_cap=Decimal(cap)), f"cap {cap}"
        ).version
        for cap in (120, 130, 125)
    ]
    production, pilot, improved = (v or 0 for v in versions)
    app.adopt_rule_set(HR, production, date(2026, 1, 1))
    return Setup(
        org,
        key_accounts,
        support,
        employee_id_for("E4"),
        employee_id_for("E5"),
        production,
        pilot,
        improved,
    )


def start(
    app: Perfledger,
    s: Setup,
    *,
    trial_id: UUID | None = None,
    departments: list[UUID] | None = None,
    employees: list[UUID] | None = None,
    members: list[UUID] | None = None,
    version: int | None = None,
    provenance: Provenance = HR,
    name: str = "Higher cap pilot",
) -> Receipt:
    """By default: sales and its sub-departments (boss, Alice, Bob, Dana), Erik named."""
    return app.start_trial(
        provenance,
        trial_id=uuid4() if trial_id is None else trial_id,
        name=name,
        rule_set_version=s.pilot if version is None else version,
        scope_departments=[s.org.sales] if departments is None else departments,
        scope_employees=[s.erik] if employees is None else employees,
        members=([s.org.boss, s.org.alice, s.org.bob, s.dana] if members is None else members),
        period="2026-Q3",
        responsible=["Hana (HR)", "Bo Boss"],
        show_participants=True,
        today=TODAY,
    )


def trial_of(app: Perfledger, receipt: Receipt) -> Trial:
    assert receipt.id is not None
    return load(app, Trial, receipt.id)


def registry(app: Perfledger) -> TrialRegistry:
    return load(app, TrialRegistry, TRIAL_REGISTRY_ID)


def provisional(
    app: Perfledger, trial_id: UUID, employee: UUID, granted_on: date = date(2026, 7, 10)
) -> UUID:
    """A reward granted under the trial's pilot rules."""
    reward_id = uuid4()
    app.grant_provisional_reward(
        HR.because("tier A under the pilot"),
        trial_id=trial_id,
        reward_id=reward_id,
        employee_id=employee,
        spec=BONUS,
        reference_salary=None,
        today=granted_on,
    )
    return reward_id


def grant(app: Perfledger, employee: UUID, granted_on: date = date(2026, 7, 10)) -> UUID:
    reward_id = uuid4()
    app.grant_reward(
        HR.because("tier A under the pilot"),
        reward_id=reward_id,
        employee_id=employee,
        spec=BONUS,
        reference_salary=None,
        period="2026-Q3",
        today=granted_on,
    )
    return reward_id


# -- starting -------------------------------------------------------------------------------------


def test_starting_a_trial_records_it_and_claims_its_people_in_the_registry(
    app: Perfledger, setup: Setup
) -> None:
    receipt = start(app, setup)
    trial = trial_of(app, receipt)
    s = setup
    assert trial.status is TrialStatus.RUNNING
    assert (trial.name, trial.rule_set_version, trial.period) == (
        "Higher cap pilot",
        s.pilot,
        "2026-Q3",
    )
    assert trial.participants == [s.erik, s.org.boss, s.org.alice, s.org.bob, s.dana]
    assert trial.responsible == ["Hana (HR)", "Bo Boss"]
    assert receipt.position == position(app)
    held = registry(app).running[trial.id]
    assert held.departments == {s.org.sales}
    assert held.participants == set(trial.participants)


def test_only_hr_and_admins_start_trials(app: Perfledger, setup: Setup) -> None:
    for role in (Role.MANAGER, Role.AUDITOR, Role.EMPLOYEE):
        assert_records_nothing(
            app,
            partial(start, app, setup, provenance=as_role(role, setup.org.boss)),
            PermissionDenied,
            None,
        )
    start(app, setup, provenance=as_role(Role.ADMIN, "admin-1"))


def test_a_scope_with_unknown_members_is_refused_naming_every_one(
    app: Perfledger, setup: Setup
) -> None:
    ghost_department, ghost_one, ghost_two = UUID(int=901), UUID(int=902), UUID(int=903)
    error = assert_records_nothing(
        app,
        lambda: start(
            app,
            setup,
            departments=[setup.org.sales, ghost_department],
            employees=[ghost_one, setup.erik, ghost_two],
        ),
        UnknownScopeMembers,
        "scope",
    )
    assert error.message == (
        f"the trial's scope names unknown departments {ghost_department}; unknown employees "
        f"{ghost_one}, {ghost_two}"
    )
    assert_records_nothing(
        app, lambda: start(app, setup, departments=[], employees=[]), InvalidInput, "scope"
    )


def test_members_must_lie_within_the_scope_and_not_have_left(app: Perfledger, setup: Setup) -> None:
    s = setup
    # Erik works in support; only sales is in scope, and he is not named this time.
    error = assert_records_nothing(
        app,
        lambda: start(app, s, employees=[], members=[s.org.alice, s.erik]),
        InvalidInput,
        "members[1]",
    )
    assert error.message == "employee E5 is outside the trial's scope"
    assert_records_nothing(
        app, lambda: start(app, s, members=[UUID(int=77)]), NotFound, "members[0]"
    )
    app.record_leaving(HR, s.org.bob, date(2026, 6, 30))
    assert_records_nothing(app, lambda: start(app, s), EmployeeHasLeft, "members[2]")


def test_the_pilot_version_must_exist_and_differ_from_production(
    app: Perfledger, setup: Setup
) -> None:
    assert_records_nothing(app, lambda: start(app, setup, version=42), NotFound, "ruleSetVersion")
    assert_records_nothing(
        app,
        lambda: start(app, setup, version=setup.production),
        PilotSameAsProduction,
        "ruleSetVersion",
    )


# -- overlapping trials ---------------------------------------------------------------------------


def test_an_overlapping_trial_is_refused_naming_the_running_one_and_records_nothing(
    app: Perfledger, setup: Setup
) -> None:
    s = setup
    first = start(app, s, name="Sales pilot")
    # Alice and Bob are piloted already, even with the very same rules.
    error = assert_records_nothing(
        app,
        lambda: start(
            app, s, departments=[], employees=[s.org.alice, s.org.bob], members=[], name="Again"
        ),
        OverlappingTrial,
        "scope",
    )
    assert error.message.startswith(
        f"trial “Sales pilot” ({first.id}) is running on 2 of these people;"
    )
    # Key accounts lies within sales: refused even for nobody in particular.
    error = assert_records_nothing(
        app,
        lambda: start(app, s, departments=[s.key_accounts], employees=[], members=[]),
        OverlappingTrial,
        "scope",
    )
    assert "is running on 1 of these departments" in error.message
    # Support, without Erik (named in the first trial), is free.
    start(app, s, departments=[s.support], employees=[], members=[], version=s.improved)


def test_someone_who_joined_a_running_trials_department_since_its_start_cannot_be_piloted_again(
    app: Perfledger, setup: Setup
) -> None:
    s = setup
    first = start(app, s, name="Sales pilot")
    newcomer = app.hire_employee(
        HR, code="E6", name="Finn", department_id=s.key_accounts, manager_id=s.org.boss,
        job_title="Account manager", hire_date=date(2026, 7, 5), attributes={},
    ).id  # fmt: skip
    assert newcomer is not None
    error = assert_records_nothing(
        app,
        lambda: start(app, s, departments=[], employees=[newcomer], members=[], name="Finn"),
        OverlappingTrial,
        "scope",
    )
    assert error.message.startswith(f"trial “Sales pilot” ({first.id}) is running on 1 of these")


def test_ending_a_trial_frees_its_scope_for_the_next(app: Perfledger, setup: Setup) -> None:
    first = start(app, setup)
    assert first.id is not None
    app.roll_back_trial(BECAUSE, first.id, date(2026, 7, 20))
    assert first.id not in registry(app).running
    second = start(app, setup)
    assert second.id is not None
    app.promote_trial(BECAUSE, second.id, date(2026, 10, 1), for_everyone=False)
    assert registry(app).running == {}
    start(app, setup)


def test_of_two_overlapping_trials_started_at_once_exactly_one_runs(
    app: Perfledger, setup: Setup
) -> None:
    s = setup
    scopes = {  # both pilot Alice
        "Sales pilot": ([s.org.sales], [], [s.org.boss, s.org.alice, s.org.bob, s.dana]),
        "Alice and Erik": ([], [s.org.alice, s.erik], []),
    }
    barrier = threading.Barrier(len(scopes))

    def attempt(name: str) -> str:
        departments, employees, members = scopes[name]
        barrier.wait()
        try:
            start(app, s, departments=departments, employees=employees, members=members, name=name)
        except OverlappingTrial:
            return "refused"
        return "started"

    with ThreadPoolExecutor(len(scopes)) as pool:
        outcomes = dict(zip(scopes, pool.map(attempt, scopes), strict=True))
    assert sorted(outcomes.values()) == ["refused", "started"]
    (running,) = registry(app).running.values()
    assert [running.name] == [n for n, outcome in outcomes.items() if outcome == "started"]


# -- while running --------------------------------------------------------------------------------


def test_revising_moves_the_pilot_to_another_version_with_a_reason(
    app: Perfledger, setup: Setup
) -> None:
    trial_id = start(app, setup).id
    assert trial_id is not None
    assert_records_nothing(
        app, lambda: app.revise_trial(HR, trial_id, setup.improved), ReasonRequired, "reason"
    )
    assert_records_nothing(
        app,
        lambda: app.revise_trial(as_role(Role.AUDITOR, "a-1", "x"), trial_id, setup.improved),
        PermissionDenied,
        None,
    )
    app.revise_trial(BECAUSE, trial_id, setup.improved)
    trial = load(app, Trial, trial_id)
    assert (trial.rule_set_version, trial.versions_tried) == (
        setup.improved,
        [setup.pilot, setup.improved],
    )


def test_participants_give_their_own_feedback_and_only_they(app: Perfledger, setup: Setup) -> None:
    s = setup
    trial_id = start(app, s, departments=[s.org.sales], employees=[], members=[s.org.alice]).id
    assert trial_id is not None
    alice = as_role(Role.EMPLOYEE, s.org.alice)
    app.give_trial_feedback(
        alice, trial_id=trial_id, employee_id=s.org.alice, text="Clearer targets", today=TODAY
    )
    # Dana was not resolved at the start, but works in key accounts, under sales: she takes part.
    app.give_trial_feedback(
        as_role(Role.EMPLOYEE, s.dana),
        trial_id=trial_id,
        employee_id=s.dana,
        text="Fair to me",
        today=TODAY,
    )
    assert load(app, Trial, trial_id).feedback_count == 2
    for provenance, employee, error, field in (
        (as_role(Role.MANAGER, s.org.boss), s.org.alice, PermissionDenied, "employeeId"),
        (HR, s.org.alice, PermissionDenied, "employeeId"),
        (as_role(Role.AUDITOR, s.org.alice), s.org.alice, PermissionDenied, None),
        (as_role(Role.EMPLOYEE, s.erik), s.erik, NotATrialParticipant, "employeeId"),
    ):
        assert_records_nothing(
            app,
            partial(
                app.give_trial_feedback,
                provenance,
                trial_id=trial_id,
                employee_id=employee,
                text="hm",
                today=TODAY,
            ),
            error,
            field,
        )


def test_rewards_under_the_pilot_rules_are_granted_as_provisional_to_participants_only(
    app: Perfledger, setup: Setup
) -> None:
    s = setup
    trial_id = start(app, s).id
    assert trial_id is not None
    granted = uuid4()
    receipt = app.grant_provisional_reward(
        HR.because("tier A under the pilot"),
        trial_id=trial_id,
        reward_id=granted,
        employee_id=s.erik,
        spec=BONUS,
        reference_salary=None,
        today=date(2026, 7, 10),
    )
    assert receipt.id == granted
    reward = load(app, Reward, granted)
    assert (reward.employee_id, reward.period) == (s.erik, "2026-Q3")
    assert (reward.trial_id, reward.origin, reward.provisional) == (
        trial_id,
        RewardOrigin.TRIAL,
        True,
    )
    assert load(app, Trial, trial_id).reward_ids == [granted]
    # Outsiders' rewards are not the pilot's; a grant without a reason records nothing either.
    outsider = app.hire_employee(
        HR, code="E6", name="Finn", department_id=s.support, manager_id=s.org.boss,
        job_title="Agent", hire_date=date(2024, 1, 1), attributes={},
    ).id  # fmt: skip
    assert outsider is not None
    assert_records_nothing(
        app,
        lambda: provisional(app, trial_id, outsider),
        NotATrialParticipant,
        "rewardId",
    )
    assert_records_nothing(
        app,
        lambda: app.grant_provisional_reward(
            HR,
            trial_id=trial_id,
            reward_id=uuid4(),
            employee_id=s.org.bob,
            spec=BONUS,
            reference_salary=None,
            today=date(2026, 7, 10),
        ),
        ReasonRequired,
        "reason",
    )


def test_a_production_reward_is_never_a_trials_and_cannot_be_confirmed(
    app: Perfledger, setup: Setup
) -> None:
    trial_id = start(app, setup).id
    assert trial_id is not None
    trial = load(app, Trial, trial_id)
    production = load(app, Reward, grant(app, setup.org.alice))
    assert not production.provisional
    with pytest.raises(InvalidInput) as caught:
        trial.link_reward(production, [setup.org.sales], HR)
    assert caught.value.field == "rewardId"
    with pytest.raises(InvalidInput):
        production.confirm(date(2026, 10, 1), HR)


# -- ending ---------------------------------------------------------------------------------------


def test_promoting_for_everyone_adopts_the_pilot_version_in_the_same_transaction(
    app: Perfledger, setup: Setup
) -> None:
    s = setup
    trial_id = start(app, s).id
    assert trial_id is not None
    reward_id = provisional(app, trial_id, s.org.alice)
    before = position(app)
    receipt = app.promote_trial(
        HR.because("fairer, same cost"), trial_id, date(2026, 10, 1), for_everyone=True
    )
    book = app.rule_book()
    assert book.version_in_force(date(2026, 10, 1)) == s.pilot
    assert book.version_in_force(date(2026, 9, 30)) == s.production
    # Trial, registry, rule book and the provisional reward: four events, one save.
    written = app.recorder.select_notifications(before + 1, 10)
    assert sorted(n.topic.rsplit(".", 1)[-1] for n in written) == [
        "Confirmed",
        "Promoted",
        "ScopeReleased",
        "VersionAdopted",
    ]
    assert receipt.position == position(app)
    trial = load(app, Trial, trial_id)
    assert (trial.status, trial.effective_from, trial.for_everyone) == (
        TrialStatus.PROMOTED,
        date(2026, 10, 1),
        True,
    )
    reward = load(app, Reward, reward_id)  # the provisional reward stands, confirmed
    assert (reward.revoked, reward.provisional, reward.confirmed_on) == (
        False,
        False,
        date(2026, 10, 1),
    )


def test_promoting_for_the_scope_adopts_the_pilot_version_for_its_people_only(
    app: Perfledger, setup: Setup
) -> None:
    s = setup
    trial_id = start(app, s).id
    assert trial_id is not None
    # Someone who joined a scope department since the start moves with it when named.
    newcomer = app.hire_employee(
        HR, code="E7", name="Gus", department_id=s.key_accounts, manager_id=s.org.boss,
        job_title="Agent", hire_date=date(2026, 7, 1), attributes={},
    ).id  # fmt: skip
    assert newcomer is not None
    app.promote_trial(BECAUSE, trial_id, date(2026, 10, 1), for_everyone=False, members=[newcomer])
    book = app.rule_book()
    assert book.adoptions[-1].employees == frozenset(
        [s.org.boss, s.org.alice, s.org.bob, s.dana, s.erik, newcomer]
    )
    for person in (s.org.alice, s.erik, newcomer):
        assert book.version_in_force(date(2026, 10, 1), person) == s.pilot
        assert book.version_in_force(date(2026, 9, 30), person) == s.production
    assert book.version_in_force(date(2026, 10, 1)) == s.production  # the organisation's
    assert book.version_in_force(date(2026, 10, 1), uuid4()) == s.production
    assert load(app, Trial, trial_id).for_everyone is False


def test_promoting_for_the_scope_refuses_a_member_outside_it(app: Perfledger, setup: Setup) -> None:
    trial_id = start(app, setup, employees=[]).id
    assert trial_id is not None
    assert_records_nothing(
        app,
        lambda: app.promote_trial(
            BECAUSE, trial_id, date(2026, 10, 1), for_everyone=False, members=[setup.erik]
        ),
        InvalidInput,
        "members[0]",
    )
    assert load(app, Trial, trial_id).running


def test_rolling_back_revokes_the_standing_provisional_rewards_with_the_reason(
    app: Perfledger, setup: Setup
) -> None:
    s = setup
    trial_id = start(app, s).id
    assert trial_id is not None
    standing = provisional(app, trial_id, s.org.alice)
    already_revoked = provisional(app, trial_id, s.org.bob)
    app.revoke_reward(HR.because("duplicate"), already_revoked, date(2026, 7, 11))
    app.roll_back_trial(HR.because("scores drifted up"), trial_id, date(2026, 7, 20))

    trial = load(app, Trial, trial_id)
    assert (trial.status, trial.ended_on, trial.end_reason) == (
        TrialStatus.ROLLED_BACK,
        date(2026, 7, 20),
        "scores drifted up",
    )
    assert load(app, Reward, standing).revoked_on == date(2026, 7, 20)
    assert load(app, Reward, already_revoked).revoked_on == date(2026, 7, 11)  # left as it was
    revocations = [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(1, 10_000)
        if n.topic.endswith("Reward.Revoked")
    ]
    assert [(e.originator_id, vars(e)["provenance"].reason) for e in revocations] == [
        (already_revoked, "duplicate"),
        (standing, "rollback of trial “Higher cap pilot”: scores drifted up"),
    ]


def test_a_rollback_that_cannot_revoke_a_reward_records_nothing(
    app: Perfledger, setup: Setup
) -> None:
    trial_id = start(app, setup).id
    assert trial_id is not None
    provisional(app, trial_id, setup.org.alice, date(2026, 7, 10))
    # The reward was granted on the 10th: revoking it on the 5th is refused, and so is the whole
    # rollback, trial and registry included.
    assert_records_nothing(
        app, lambda: app.roll_back_trial(BECAUSE, trial_id, date(2026, 7, 5)), InvalidInput, "today"
    )
    assert load(app, Trial, trial_id).running


def test_promoting_a_rolled_back_trial_or_rolling_back_twice_is_refused(
    app: Perfledger, setup: Setup
) -> None:
    rolled_back = start(app, setup).id
    assert rolled_back is not None
    assert_records_nothing(
        app,
        lambda: app.roll_back_trial(HR, rolled_back, date(2026, 7, 20)),
        ReasonRequired,
        "reason",
    )
    app.roll_back_trial(BECAUSE, rolled_back, date(2026, 7, 20))
    error = assert_records_nothing(
        app,
        lambda: app.promote_trial(BECAUSE, rolled_back, date(2026, 10, 1), for_everyone=True),
        TrialNotRunning,
        "trialId",
    )
    assert error.message == (
        "trial “Higher cap pilot” was rolled back; it can no longer be promoted"
    )
    assert_records_nothing(
        app,
        lambda: app.roll_back_trial(BECAUSE, rolled_back, date(2026, 7, 21)),
        TrialNotRunning,
        "trialId",
    )
    assert_records_nothing(
        app,
        lambda: app.revise_trial(BECAUSE, rolled_back, setup.improved),
        TrialNotRunning,
        "trialId",
    )
    assert_records_nothing(
        app, lambda: app.roll_back_trial(BECAUSE, uuid4(), date(2026, 7, 21)), NotFound, "trialId"
    )


# -- the audit trail ------------------------------------------------------------------------------


def pilot_story(app: Perfledger) -> Setup:
    """A trial revised, given feedback and a provisional reward, then rolled back."""
    s = build_setup(app)
    trial_id = start(app, s, trial_id=UUID(int=500)).id
    assert trial_id is not None
    app.revise_trial(BECAUSE, trial_id, s.improved)
    app.give_trial_feedback(
        as_role(Role.EMPLOYEE, s.org.alice),
        trial_id=trial_id,
        employee_id=s.org.alice,
        text="My manager should see this",
        today=TODAY,
    )
    provisional(app, trial_id, s.org.alice)
    app.roll_back_trial(HR.because("scores drifted up"), trial_id, date(2026, 7, 20))
    return s


async def test_the_audit_trail_tells_a_pilots_story_keeping_feedback_text_sealed(
    services: Services,
) -> None:
    s = await services.call(pilot_story, services.app)
    await catch_up(services)
    rows = await fetch(
        services,
        "SELECT aggregate_type, event_type, reason, employee_ids, summary, summary_sealed "
        "FROM audit_trail WHERE aggregate_type IN ('Trial', 'TrialRegistry') ORDER BY position",
    )
    story = [(r["aggregate_type"], r["event_type"], r["summary"]) for r in rows]
    trial = UUID(int=500)
    assert story == [
        (
            "Trial",
            "Started",
            'trial "Higher cap pilot" started on 2026-07-01 for 2026-Q3 under rule-set version '
            f"{s.pilot}: status none → running; scope 1 departments, 1 employees, 5 participants, "
            'who see their pilot results; responsible "Hana (HR)", "Bo Boss"',
        ),
        ("TrialRegistry", "Opened", "trial registry opened"),
        (
            "TrialRegistry",
            "ScopeClaimed",
            f'scope claimed for trial "Higher cap pilot" ({trial}): 1 departments, 5 people',
        ),
        ("Trial", "Revised", f"pilot rule-set version {s.pilot} → {s.improved}"),
        ("Trial", "FeedbackGiven", "feedback on the pilot from E2 on 2026-07-01"),
        ("Trial", "RewardLinked", rows[5]["summary"]),
        ("Trial", "RolledBack", "status running → rolled back on 2026-07-20"),
        ("TrialRegistry", "ScopeReleased", f"scope of trial {trial} released"),
    ]
    assert rows[5]["summary"].endswith(" to E2 linked as provisional")
    feedback, revised = rows[4], rows[3]
    assert feedback["employee_ids"] == [s.org.alice]
    assert services.secrets.open(feedback["summary_sealed"]) == (
        'feedback on the pilot from E2 on 2026-07-01: "My manager should see this"'
    )
    assert revised["reason"] == "participants asked for a higher cap"
    assert rows[6]["reason"] == "scores drifted up"


# -- promotion in production's read models -------------------------------------------------------


def scoped_promotion_story(app: Perfledger) -> tuple[Setup, UUID]:
    """Sales piloted (not Erik), Alice given a provisional reward, the trial promoted for its
    scope from Q4; then Alice and Erik both beat a Q4 target by far (achievement 150%)."""
    s = build_setup(app)
    trial_id = start(app, s, employees=[]).id
    assert trial_id is not None
    reward_id = provisional(app, trial_id, s.org.alice)
    app.promote_trial(BECAUSE, trial_id, date(2026, 10, 1), for_everyone=False)
    for person in (s.org.alice, s.erik):
        goal = set_goal(app, person, period="2026-Q4", due_date=date(2026, 12, 31))
        app.record_progress(HR, goal, Decimal(12), date(2026, 10, 20), "crm")
    return s, reward_id


async def test_a_scoped_promotion_scores_its_people_under_the_pilot_and_confirms_rewards(
    services: Services,
) -> None:
    s, reward_id = await services.call(scoped_promotion_story, services.app)
    await catch_up(services)
    cards = {
        r["owner_id"]: (r["rule_set_version"], r["score"])
        for r in await fetch(
            services,
            "SELECT owner_id, rule_set_version, score FROM scorecards WHERE period = '2026-Q4'",
        )
    }
    # The pilot caps achievement at 130%, production at 120%.
    assert cards[s.org.alice] == (s.pilot, Decimal(130))
    assert cards[s.erik] == (s.production, Decimal(120))
    reward = (
        await fetch(
            services,
            "SELECT trial_id, confirmed_on, in_production FROM rewards WHERE id = $1",
            reward_id,
        )
    )[0]
    assert (reward["confirmed_on"], reward["in_production"]) == (date(2026, 10, 1), True)
    adoption = (
        await fetch(services, "SELECT version, employee_ids FROM rule_adoptions ORDER BY position")
    )[-1]
    assert adoption["version"] == s.pilot
    assert set(adoption["employee_ids"]) == {s.org.boss, s.org.alice, s.org.bob, s.dana}
