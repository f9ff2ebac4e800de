"""Trials: a new appraisal rule set piloted on part of the organisation before it is rolled out.

A trial names a rule-set version (defined in the rule book but not what production uses for the
trial's period), a scope (departments, with their sub-departments, and named employees), the
period it is judged over and the people responsible. While it runs, participants may give
feedback on what the pilot says about them, rewards decided under the pilot rules are linked to
it as provisional, and it may move to an improved version. It ends exactly once: promoted (its
provisional rewards stand) or rolled back (they are revoked, by the command, with its reason).

``TrialRegistry`` holds the scopes of the running trials, so that two trials never pilot the
same people at once: every start and every end also records an event there, so two concurrent
starts conflict on the registry's version and the second is decided again, seeing the first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import (
    AlreadyExists,
    InvalidInput,
    NotATrialParticipant,
    NotFound,
    OverlappingTrial,
    PilotSameAsProduction,
    RewardAlreadyRevoked,
    TrialNotRunning,
)
from domain.periods import Period
from domain.provenance import Provenance
from domain.rewards import Reward
from domain.rules import RuleBook

MAX_PARTICIPANTS = 50_000
MAX_RESPONSIBLE = 20
MAX_FEEDBACK_LENGTH = 5000

TRIAL_REGISTRY_ID = uuid5(UUID("6f1d6c2e-6a53-4f0e-9a44-4f57e3b0a001"), "trial-registry")


class TrialStatus(Enum):
    RUNNING = "running"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class TrialScope:
    """Whom a trial pilots: departments (each with its sub-departments) and named employees."""

    departments: list[UUID]
    employees: list[UUID]

    def checked(self) -> TrialScope:
        """Duplicates dropped (first mention kept); an empty scope is refused."""
        departments = list(dict.fromkeys(self.departments))
        employees = list(dict.fromkeys(self.employees))
        if not departments and not employees:
            raise InvalidInput(
                "a trial's scope names at least one department or employee", field="scope"
            )
        if len(employees) > MAX_PARTICIPANTS:
            raise InvalidInput(
                f"a trial pilots at most {MAX_PARTICIPANTS} people", field="scope.employeeIds"
            )
        return TrialScope(departments, employees)


def production_version(book: RuleBook | None, period: Period) -> int:
    """The version production scores ``period`` under: the one in force on its first day
    (0: the built-in defaults, before any adoption)."""
    version = book.version_in_force(period.start) if book is not None else None
    return 0 if version is None else version


def _check_pilot_version(version: int, book: RuleBook | None, period: Period) -> None:
    """The version exists (rule sets are validated when defined, so an existing one is valid)
    and differs from production's for the period: a pilot of the production rules compares
    nothing with nothing."""
    if book is None or version not in book.versions:
        known = ", ".join(map(str, sorted(book.versions))) if book else ""
        raise NotFound(
            f"rule-set version {version} does not exist (defined: {known or 'none'})",
            field="ruleSetVersion",
        )
    production = production_version(book, period)
    if version == production:
        raise PilotSameAsProduction(
            f"rule-set version {version} is what production uses for {period}; a trial pilots "
            "a different version",
            field="ruleSetVersion",
        )


class Trial(Aggregate):
    """One pilot of a rule-set version, from its start to its promotion or rollback.

    ``participants`` are the people the scope held when the trial started (the caller resolves
    departments' members; the command checks each against the recorded organisation). Someone
    who joins a scope department later takes part too: ``covers`` asks both.
    """

    @event("Started")
    def __init__(
        self,
        id: UUID,
        name: str,
        rule_set_version: int,
        scope_departments: list[UUID],
        scope_employees: list[UUID],
        participants: list[UUID],
        period: str,
        responsible: list[str],
        show_participants: bool,
        started_on: date,
        provenance: Provenance,
    ) -> None:
        self.name = name
        self.rule_set_version = rule_set_version
        self.scope_departments = scope_departments
        self.scope_employees = scope_employees
        self.participants = participants
        self.period = period
        self.responsible = responsible
        self.show_participants = show_participants
        self.started_on = started_on
        self.status = TrialStatus.RUNNING
        self.versions_tried = [rule_set_version]
        self.reward_ids: list[UUID] = []
        self.feedback_count = 0
        self.effective_from: date | None = None  # when promoted
        self.for_everyone: bool | None = None  # when promoted
        self.ended_on: date | None = None  # when rolled back
        self.end_reason: str | None = None

    @classmethod
    def start(
        cls,
        *,
        id: UUID,
        name: str,
        rule_set_version: int,
        scope: TrialScope,
        participants: Sequence[UUID],
        period: str,
        responsible: Sequence[str],
        show_participants: bool,
        started_on: date,
        rule_book: RuleBook | None,
        provenance: Provenance,
    ) -> Trial:
        """Start a pilot. ``scope`` must already be known to exist; ``participants`` are its
        people as of today (the named employees are always among them)."""
        checked = scope.checked()
        the_period = Period.parse(period)
        _check_pilot_version(rule_set_version, rule_book, the_period)
        people = list(dict.fromkeys([*checked.employees, *participants]))
        if len(people) > MAX_PARTICIPANTS:
            raise InvalidInput(f"a trial pilots at most {MAX_PARTICIPANTS} people", field="scope")
        return cls(
            id=id,
            name=text.required_text(name, field="name", max_length=120),
            rule_set_version=rule_set_version,
            scope_departments=checked.departments,
            scope_employees=checked.employees,
            participants=people,
            period=str(the_period),
            responsible=_responsible(responsible),
            show_participants=show_participants,
            started_on=started_on,
            provenance=provenance,
        )

    # -- reading ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.status is TrialStatus.RUNNING

    def covers(self, employee_id: UUID, department_ancestry: Collection[UUID]) -> bool:
        """Whether the employee takes part: a participant from the start, or now a member of a
        scope department (``department_ancestry``: their department and those above it)."""
        if employee_id in self.participants or employee_id in self.scope_employees:
            return True
        return any(d in department_ancestry for d in self.scope_departments)

    def require_running(self, doing: str) -> None:
        if self.status is not TrialStatus.RUNNING:
            state = self.status.value.replace("_", " ")
            raise TrialNotRunning(
                f"trial “{self.name}” was {state}; it can no longer {doing}", field="trialId"
            )

    # -- while running ----------------------------------------------------------------------------

    def revise(
        self, rule_set_version: int, rule_book: RuleBook | None, provenance: Provenance
    ) -> None:
        """Move the pilot to an improved version; the reason says what changed and why."""
        self.require_running("be revised")
        provenance = provenance.with_required_reason("revise a trial")
        if rule_set_version == self.rule_set_version:
            raise InvalidInput(
                f"the trial already pilots rule-set version {rule_set_version}",
                field="ruleSetVersion",
            )
        _check_pilot_version(rule_set_version, rule_book, Period.parse(self.period))
        assert provenance.reason is not None
        self._revised(self.rule_set_version, rule_set_version, provenance.reason, provenance)

    @event("Revised")
    def _revised(
        self, previous_version: int, rule_set_version: int, reason: str, provenance: Provenance
    ) -> None:
        self.rule_set_version = rule_set_version
        self.versions_tried.append(rule_set_version)

    def give_feedback(
        self,
        employee_id: UUID,
        feedback: str,
        given_on: date,
        department_ancestry: Collection[UUID],
        provenance: Provenance,
    ) -> None:
        """A participant's feedback on what the pilot says about them (or on the pilot)."""
        self.require_running("take feedback")
        if not self.covers(employee_id, department_ancestry):
            raise NotATrialParticipant(
                f"employee {employee_id} does not take part in trial “{self.name}”",
                field="employeeId",
            )
        if given_on < self.started_on:
            raise InvalidInput(
                f"feedback cannot be dated before the trial started on "
                f"{self.started_on.isoformat()}",
                field="today",
            )
        body = text.required_text(feedback, field="text", max_length=MAX_FEEDBACK_LENGTH)
        self._feedback_given(employee_id, body, given_on, provenance)

    @event("FeedbackGiven")
    def _feedback_given(
        self, employee_id: UUID, text: str, given_on: date, provenance: Provenance
    ) -> None:
        self.feedback_count += 1

    def link_reward(
        self, reward: Reward, department_ancestry: Collection[UUID], provenance: Provenance
    ) -> None:
        """Take a reward granted under this trial's pilot rules as one of its provisional
        rewards: a rollback revokes it, a promotion confirms it."""
        self.require_running("take provisional rewards")
        if reward.trial_id != self.id:
            raise InvalidInput(
                f"reward {reward.id} was not granted under trial “{self.name}”; only rewards "
                "granted under the trial are its provisional rewards",
                field="rewardId",
            )
        if reward.id in self.reward_ids:
            raise AlreadyExists(
                f"reward {reward.id} is already linked to this trial", field="rewardId"
            )
        if reward.revoked:
            raise RewardAlreadyRevoked(
                f"reward {reward.id} was revoked; only a standing reward can be provisional",
                field="rewardId",
            )
        if not self.covers(reward.employee_id, department_ancestry):
            raise NotATrialParticipant(
                f"reward {reward.id} goes to employee {reward.employee_id}, who does not take "
                f"part in trial “{self.name}”",
                field="rewardId",
            )
        self._reward_linked(reward.id, provenance)

    @event("RewardLinked")
    def _reward_linked(self, reward_id: UUID, provenance: Provenance) -> None:
        self.reward_ids.append(reward_id)

    # -- ending -----------------------------------------------------------------------------------

    def promote(self, effective_from: date, for_everyone: bool, provenance: Provenance) -> None:
        """The pilot rules become production from ``effective_from``, for everyone or for the
        scope; the command confirms its provisional rewards with it."""
        self.require_running("be promoted")
        provenance = provenance.with_required_reason("promote a trial")
        assert provenance.reason is not None
        self._promoted(effective_from, for_everyone, provenance.reason, provenance)

    @event("Promoted")
    def _promoted(
        self, effective_from: date, for_everyone: bool, reason: str, provenance: Provenance
    ) -> None:
        self.status = TrialStatus.PROMOTED
        self.effective_from = effective_from
        self.for_everyone = for_everyone
        self.end_reason = reason

    def roll_back(self, on: date, provenance: Provenance) -> None:
        """End the pilot without effect; the command revokes its provisional rewards with it."""
        self.require_running("be rolled back")
        provenance = provenance.with_required_reason("roll back a trial")
        if on < self.started_on:
            raise InvalidInput(
                f"a trial started on {self.started_on.isoformat()} cannot be rolled back before "
                "that",
                field="today",
            )
        assert provenance.reason is not None
        self._rolled_back(provenance.reason, on, provenance)

    @event("RolledBack")
    def _rolled_back(self, reason: str, on: date, provenance: Provenance) -> None:
        self.status = TrialStatus.ROLLED_BACK
        self.ended_on = on
        self.end_reason = reason


def _responsible(people: Sequence[str]) -> list[str]:
    cleaned = [
        text.required_text(person, field=f"responsible[{i}]", max_length=120)
        for i, person in enumerate(people)
    ]
    unique = list(dict.fromkeys(cleaned))
    if not unique:
        raise InvalidInput("a trial names at least one person responsible", field="responsible")
    if len(unique) > MAX_RESPONSIBLE:
        raise InvalidInput(
            f"a trial names at most {MAX_RESPONSIBLE} people responsible", field="responsible"
        )
    return unique


# -- the registry of running trials ---------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedScope:
    """What a running trial holds: its departments and its participants at start."""

    name: str
    departments: frozenset[UUID]
    participants: frozenset[UUID]


@dataclass(frozen=True)
class Overlap:
    people: int  # participants in both trials
    departments: int  # of the new trial's departments, those equal to, within or around the other's

    def __bool__(self) -> bool:
        return self.people > 0 or self.departments > 0


def overlap(
    departments: Collection[UUID],
    participants: Mapping[UUID, UUID],
    other: ClaimedScope,
    ancestry: Mapping[UUID, Sequence[UUID]],
) -> Overlap:
    """How a new scope overlaps a claimed one.

    ``participants`` maps each of the new trial's people to their department; ``ancestry`` maps
    a department to itself and the departments above it, for those departments, the new scope's
    and the claimed one's. A person is piloted already when the claimed trial counted them at
    its start or when they now work within its departments (they joined since). Nested
    departments overlap even while no one works in the inner one, since whoever joins it later
    would be piloted twice.
    """

    def above(department: UUID) -> Sequence[UUID]:
        return ancestry.get(department, (department,))

    def claimed(person: UUID, department: UUID) -> bool:
        if person in other.participants:
            return True
        return any(o in above(department) for o in other.departments)

    people = sum(1 for person, department in participants.items() if claimed(person, department))

    nested = sum(
        1
        for department in set(departments)
        if any(o in above(department) for o in other.departments)
        or any(department in above(o) for o in other.departments)
    )
    return Overlap(people, nested)


class TrialRegistry(Aggregate):
    """The scopes of the running trials (one registry, at ``TRIAL_REGISTRY_ID``).

    Trials never overlap, whatever their rule sets: two pilots on the same person would give
    them two pilot results and two sets of provisional rewards, and even the same version
    started twice would make one trial's rollback revoke what the other still stands by. The
    rule is kept simple and explicit: end one (promote or roll back) before starting the next.
    """

    @event("Opened")
    def __init__(self, id: UUID, provenance: Provenance) -> None:
        self.running: dict[UUID, ClaimedScope] = {}

    @classmethod
    def open(cls, provenance: Provenance) -> TrialRegistry:
        return cls(id=TRIAL_REGISTRY_ID, provenance=provenance)

    def claimed_departments(self) -> set[UUID]:
        """Every department a running trial holds (the command needs their ancestries)."""
        return {d for scope in self.running.values() for d in scope.departments}

    def claim(
        self,
        trial_id: UUID,
        name: str,
        departments: Sequence[UUID],
        participants: Mapping[UUID, UUID],
        ancestry: Mapping[UUID, Sequence[UUID]],
        provenance: Provenance,
    ) -> None:
        """Hold the scope for a starting trial, refused when it overlaps a running one
        (``participants`` and ``ancestry`` as for ``overlap``)."""
        if trial_id in self.running:
            raise AlreadyExists(f"trial {trial_id} is already running", field="id")
        for other_id, other in self.running.items():
            found = overlap(departments, participants, other, ancestry)
            if found:
                raise OverlappingTrial(_overlap_message(other_id, other, found), field="scope")
        self._scope_claimed(trial_id, name, list(departments), list(participants), provenance)

    @event("ScopeClaimed")
    def _scope_claimed(
        self,
        trial_id: UUID,
        name: str,
        departments: list[UUID],
        participants: list[UUID],
        provenance: Provenance,
    ) -> None:
        self.running[trial_id] = ClaimedScope(name, frozenset(departments), frozenset(participants))

    def release(self, trial_id: UUID, provenance: Provenance) -> None:
        """Free an ended trial's scope."""
        if trial_id not in self.running:
            raise NotFound(f"trial {trial_id} holds no scope", field="trialId")
        self._scope_released(trial_id, provenance)

    @event("ScopeReleased")
    def _scope_released(self, trial_id: UUID, provenance: Provenance) -> None:
        del self.running[trial_id]


def _overlap_message(other_id: UUID, other: ClaimedScope, found: Overlap) -> str:
    parts = []
    if found.people:
        parts.append(f"{found.people} of these people" if found.people > 1 else "1 of these people")
    if found.departments:
        parts.append(
            f"{found.departments} of these departments (the same, within or around its own)"
            if found.departments > 1
            else "1 of these departments (the same, within or around its own)"
        )
    return (
        f"trial “{other.name}” ({other_id}) is running on {' and on '.join(parts)}; trials may "
        "not overlap, even with the same rule set: promote or roll it back first"
    )
