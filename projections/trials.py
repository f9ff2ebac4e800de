"""Read model: every trial of new appraisal rules, its participants, provisional rewards and the
feedback participants gave on it.

``trials`` keeps one row per trial: its state, the rule-set versions it tried with the log
position and time of each transition (started, revised, promoted, rolled back), its scope and
dates. ``trial_participants`` lists whom it pilots: the people its scope held at the start, and
anyone who later joined a scope department (or whose department moved under one) while it ran,
as ``Trial.covers`` has it. ``trial_rewards`` follows each provisional reward: provisional while
the trial runs, confirmed by a promotion, revoked by a rollback (or by a revocation of its own).
``trial_feedback`` holds what participants said, the text sealed with the service's key like
every feedback body, opened by the API only for hr, auditors, admins and its author.

A closed trial (promoted or rolled back) stays here whole: it is the closed trial's report, with
the position it ended at, as of which its final comparison is answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from domain.organisation import Department, Employee
from domain.periods import Period
from domain.rewards import Reward
from domain.trials import Trial, TrialStatus
from projections.base import Handler, Sealer, event_type, upsert
from projections.organisation import OrganisationModel

DDL = """
CREATE TABLE IF NOT EXISTS trials (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    status text NOT NULL,
    rule_set_version integer NOT NULL,
    transitions jsonb NOT NULL,
    period text NOT NULL,
    scope_departments jsonb NOT NULL,
    scope_employees jsonb NOT NULL,
    participant_count integer NOT NULL,
    responsible jsonb NOT NULL,
    show_participants boolean NOT NULL,
    started_on date NOT NULL,
    started_at timestamptz NOT NULL,
    started_by text NOT NULL,
    started_position bigint NOT NULL,
    ended_on date,
    ended_at timestamptz,
    ended_position bigint,
    effective_from date,
    for_everyone boolean,
    end_reason text,
    feedback_count integer NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_status ON trials (status, started_position);
CREATE TABLE IF NOT EXISTS trial_participants (
    trial_id uuid NOT NULL,
    employee_id uuid NOT NULL,
    since_position bigint NOT NULL,
    joined boolean NOT NULL,
    PRIMARY KEY (trial_id, employee_id)
);
CREATE INDEX IF NOT EXISTS trial_participants_employee ON trial_participants (employee_id);
CREATE TABLE IF NOT EXISTS trial_rewards (
    trial_id uuid NOT NULL,
    reward_id uuid NOT NULL,
    state text NOT NULL,
    linked_position bigint NOT NULL,
    state_position bigint NOT NULL,
    PRIMARY KEY (trial_id, reward_id)
);
CREATE TABLE IF NOT EXISTS trial_feedback (
    trial_id uuid NOT NULL,
    position bigint NOT NULL,
    employee_id uuid NOT NULL,
    given_on date NOT NULL,
    given_at timestamptz NOT NULL,
    body_sealed bytea,
    PRIMARY KEY (trial_id, position)
);
CREATE INDEX IF NOT EXISTS trial_feedback_employee ON trial_feedback (employee_id, trial_id);
"""

_COLUMNS = [
    ("id", "uuid"),
    ("name", "text"),
    ("status", "text"),
    ("rule_set_version", "integer"),
    ("transitions_json", "text"),
    ("period", "text"),
    ("scope_departments_json", "text"),
    ("scope_employees_json", "text"),
    ("participant_count", "integer"),
    ("responsible_json", "text"),
    ("show_participants", "boolean"),
    ("started_on", "date"),
    ("started_at", "timestamptz"),
    ("started_by", "text"),
    ("started_position", "bigint"),
    ("ended_on", "date"),
    ("ended_at", "timestamptz"),
    ("ended_position", "bigint"),
    ("effective_from", "date"),
    ("for_everyone", "boolean"),
    ("end_reason", "text"),
    ("feedback_count", "integer"),
    ("position", "bigint"),
]
_PARTICIPANT_COLUMNS = [
    ("trial_id", "uuid"),
    ("employee_id", "uuid"),
    ("since_position", "bigint"),
    ("joined", "boolean"),
]
_REWARD_COLUMNS = [
    ("trial_id", "uuid"),
    ("reward_id", "uuid"),
    ("state", "text"),
    ("linked_position", "bigint"),
    ("state_position", "bigint"),
]
_FEEDBACK_COLUMNS = [
    ("trial_id", "uuid"),
    ("position", "bigint"),
    ("employee_id", "uuid"),
    ("given_on", "date"),
    ("given_at", "timestamptz"),
    ("body_sealed", "bytea"),
]

PROVISIONAL, CONFIRMED, REVOKED = "provisional", "confirmed", "revoked"
STARTED, REVISED = "started", "revised"
PROMOTED, ROLLED_BACK = TrialStatus.PROMOTED.value, TrialStatus.ROLLED_BACK.value

# Told when a trial ends, while every other read model stands at the ending event's position:
# (the trial, that position). The pilot scorecards freeze their rows then.
EndedListener = Callable[["TrialRow", int], None]


@dataclass(slots=True)
class RewardState:
    state: str
    linked_position: int
    state_position: int


@dataclass(slots=True)
class TrialRow:
    id: UUID
    name: str
    status: str
    rule_set_version: int
    # [{"event", "position", "at", "ruleSetVersion", "reason"}] in log order, from the start
    transitions: list[dict[str, Any]]
    period: str
    scope_departments: list[UUID]
    scope_employees: list[UUID]
    responsible: list[str]
    show_participants: bool
    started_on: date
    started_at: datetime
    started_by: str
    started_position: int
    position: int
    feedback_count: int = 0
    ended_on: date | None = None
    ended_at: datetime | None = None
    ended_position: int | None = None
    effective_from: date | None = None
    for_everyone: bool | None = None
    end_reason: str | None = None
    participants: dict[UUID, int] = field(default_factory=dict)  # employee → since position
    rewards: dict[UUID, RewardState] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.status == TrialStatus.RUNNING.value

    @property
    def span(self) -> Period:
        return Period.parse(self.period)

    def values(self) -> tuple[object, ...]:
        return (
            self.id,
            self.name,
            self.status,
            self.rule_set_version,
            json.dumps(self.transitions),
            self.period,
            json.dumps([str(d) for d in self.scope_departments]),
            json.dumps([str(e) for e in self.scope_employees]),
            len(self.participants),
            json.dumps(self.responsible),
            self.show_participants,
            self.started_on,
            self.started_at,
            self.started_by,
            self.started_position,
            self.ended_on,
            self.ended_at,
            self.ended_position,
            self.effective_from,
            self.for_everyone,
            self.end_reason,
            self.feedback_count,
            self.position,
        )


def transition(
    event: str, e: Any, position: int, version: int, reason: str | None
) -> dict[str, Any]:
    return {
        "event": event,
        "position": position,
        "at": e.timestamp.isoformat(),
        "ruleSetVersion": version,
        "reason": reason,
    }


class TrialsModel:
    tables: Sequence[str] = ("trials", "trial_participants", "trial_rewards", "trial_feedback")
    ddl = DDL

    def __init__(self, organisation: OrganisationModel, sealer: Sealer | None) -> None:
        self.organisation = organisation
        # Without a sealer no feedback text is kept: storing it in the clear is never the fallback.
        self.sealer = sealer
        self.ended_listeners: list[EndedListener] = []
        self._reset()

    def _reset(self) -> None:
        self.trials: dict[UUID, TrialRow] = {}
        self.reward_trial: dict[UUID, UUID] = {}  # provisional reward → its trial
        # employee → the running trial that pilots them (running trials never overlap)
        self.piloted: dict[UUID, UUID] = {}
        self.dirty: set[UUID] = set()
        self.new_participants: set[tuple[UUID, UUID]] = set()
        self.dirty_rewards: set[tuple[UUID, UUID]] = set()
        self.new_feedback: list[tuple[object, ...]] = []
        # This batch, for the pilot scorecards: trials started or revised (everyone is scored
        # again under the version), and people who joined a running trial, each with the
        # position that asks.
        self.rescored: dict[UUID, int] = {}
        self.joined: dict[tuple[UUID, UUID], int] = {}

    def clear(self) -> None:
        self._reset()

    def handlers(self) -> dict[type, Handler]:
        return {
            event_type(Trial, "Started"): self._started,
            event_type(Trial, "Revised"): self._revised,
            event_type(Trial, "FeedbackGiven"): self._feedback_given,
            event_type(Trial, "RewardLinked"): self._reward_linked,
            event_type(Trial, "Promoted"): self._promoted,
            event_type(Trial, "RolledBack"): self._rolled_back,
            event_type(Reward, "Revoked"): self._reward_revoked,
            event_type(Employee, "Hired"): self._employee_moved,
            event_type(Employee, "Transferred"): self._employee_moved,
            event_type(Department, "Moved"): self._department_moved,
        }

    # -- reading, for the pilot scorecards and the API -------------------------------------------

    def running(self) -> list[TrialRow]:
        return [t for t in self.trials.values() if t.running]

    # -- the trial's own events ------------------------------------------------------------------

    def _trial(self, e: Any, position: int) -> TrialRow:
        row = self.trials[e.originator_id]
        row.position = position
        self.dirty.add(row.id)
        return row

    def _started(self, e: Any, position: int) -> None:
        row = TrialRow(
            id=e.originator_id,
            name=e.name,
            status=TrialStatus.RUNNING.value,
            rule_set_version=e.rule_set_version,
            transitions=[transition(STARTED, e, position, e.rule_set_version, e.provenance.reason)],
            period=e.period,
            scope_departments=list(e.scope_departments),
            scope_employees=list(e.scope_employees),
            responsible=list(e.responsible),
            show_participants=e.show_participants,
            started_on=e.started_on,
            started_at=e.timestamp,
            started_by=e.provenance.actor_id,
            started_position=position,
            position=position,
        )
        self.trials[row.id] = row
        self.dirty.add(row.id)
        for employee_id in e.participants:
            self._take_part(row, employee_id, position)
        self.rescored[row.id] = position

    def _take_part(self, row: TrialRow, employee_id: UUID, position: int) -> None:
        row.participants[employee_id] = position
        self.piloted[employee_id] = row.id
        self.new_participants.add((row.id, employee_id))

    def _revised(self, e: Any, position: int) -> None:
        row = self._trial(e, position)
        row.rule_set_version = e.rule_set_version
        row.transitions.append(transition(REVISED, e, position, e.rule_set_version, e.reason))
        self.rescored[row.id] = position

    def _feedback_given(self, e: Any, position: int) -> None:
        row = self._trial(e, position)
        row.feedback_count += 1
        sealed = self.sealer.seal(e.text) if self.sealer is not None else None
        self.new_feedback.append((row.id, position, e.employee_id, e.given_on, e.timestamp, sealed))

    def _reward_linked(self, e: Any, position: int) -> None:
        row = self._trial(e, position)
        row.rewards[e.reward_id] = RewardState(PROVISIONAL, position, position)
        self.reward_trial[e.reward_id] = row.id
        self.dirty_rewards.add((row.id, e.reward_id))

    def _end(self, row: TrialRow, e: Any, position: int, status: str, reason: str) -> None:
        row.status = status
        row.ended_at = e.timestamp
        row.ended_position = position
        row.end_reason = reason
        row.transitions.append(transition(status, e, position, row.rule_set_version, reason))
        standing = CONFIRMED if status == PROMOTED else REVOKED
        for reward_id, reward in row.rewards.items():
            if reward.state == PROVISIONAL:
                reward.state, reward.state_position = standing, position
                self.dirty_rewards.add((row.id, reward_id))
        for employee_id in row.participants:
            if self.piloted.get(employee_id) == row.id:
                del self.piloted[employee_id]
        for listener in self.ended_listeners:
            listener(row, position)

    def _promoted(self, e: Any, position: int) -> None:
        row = self._trial(e, position)
        row.effective_from = e.effective_from
        row.for_everyone = e.for_everyone
        row.ended_on = e.timestamp.date()
        self._end(row, e, position, PROMOTED, e.reason)

    def _rolled_back(self, e: Any, position: int) -> None:
        row = self._trial(e, position)
        row.ended_on = e.on
        self._end(row, e, position, ROLLED_BACK, e.reason)

    def _reward_revoked(self, e: Any, position: int) -> None:
        trial_id = self.reward_trial.get(e.originator_id)
        if trial_id is None:
            return  # not a trial's reward
        reward = self.trials[trial_id].rewards[e.originator_id]
        if reward.state != REVOKED:  # a rollback already says so, at its own position
            reward.state, reward.state_position = REVOKED, position
            self.dirty_rewards.add((trial_id, e.originator_id))

    # -- people joining a running trial's scope --------------------------------------------------

    def _ancestry(self, department_id: UUID) -> set[UUID]:
        """The department and those above it, in the organisation as it stands now."""
        departments = self.organisation.departments
        found: set[UUID] = set()
        node: UUID | None = department_id
        while node is not None and node not in found:
            found.add(node)
            parent = departments.get(node)
            node = parent.parent_id if parent is not None else None
        return found

    def _join_if_covered(self, employee_id: UUID, department_id: UUID, position: int) -> None:
        if employee_id in self.piloted:
            return
        above: set[UUID] | None = None
        for row in self.trials.values():
            if not row.running or not row.scope_departments or employee_id in row.participants:
                continue
            if above is None:
                above = self._ancestry(department_id)
            if not above.isdisjoint(row.scope_departments):
                self._take_part(row, employee_id, position)
                row.position = position
                self.dirty.add(row.id)
                self.joined[(row.id, employee_id)] = position
                return  # trials never overlap: no other running trial covers them

    def _scoped_trial_running(self) -> bool:
        return any(t.running and t.scope_departments for t in self.trials.values())

    def _employee_moved(self, e: Any, position: int) -> None:
        if self._scoped_trial_running():
            self._join_if_covered(e.originator_id, e.department_id, position)

    def _department_moved(self, e: Any, position: int) -> None:
        if not self._scoped_trial_running():
            return
        # Everyone now at or below the moved department may have come within a scope.
        moved = e.originator_id
        for employee in list(self.organisation.employees.values()):
            if employee.leave_date is None and moved in self._ancestry(employee.department_id):
                self._join_if_covered(employee.id, employee.department_id, position)

    # -- storage ---------------------------------------------------------------------------------

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT * FROM trials"):
            row = TrialRow(
                id=r["id"],
                name=r["name"],
                status=r["status"],
                rule_set_version=r["rule_set_version"],
                transitions=json.loads(r["transitions"]),
                period=r["period"],
                scope_departments=[UUID(d) for d in json.loads(r["scope_departments"])],
                scope_employees=[UUID(e) for e in json.loads(r["scope_employees"])],
                responsible=json.loads(r["responsible"]),
                show_participants=r["show_participants"],
                started_on=r["started_on"],
                started_at=r["started_at"],
                started_by=r["started_by"],
                started_position=r["started_position"],
                position=r["position"],
                feedback_count=r["feedback_count"],
                ended_on=r["ended_on"],
                ended_at=r["ended_at"],
                ended_position=r["ended_position"],
                effective_from=r["effective_from"],
                for_everyone=r["for_everyone"],
                end_reason=r["end_reason"],
            )
            self.trials[row.id] = row
        for r in await conn.fetch(
            "SELECT trial_id, employee_id, since_position FROM trial_participants"
        ):
            trial = self.trials[r["trial_id"]]
            trial.participants[r["employee_id"]] = r["since_position"]
            if trial.running:
                self.piloted[r["employee_id"]] = trial.id
        for r in await conn.fetch("SELECT * FROM trial_rewards"):
            self.trials[r["trial_id"]].rewards[r["reward_id"]] = RewardState(
                r["state"], r["linked_position"], r["state_position"]
            )
            self.reward_trial[r["reward_id"]] = r["trial_id"]

    async def flush(self, conn: asyncpg.Connection) -> None:
        await upsert(
            conn,
            "trials",
            _COLUMNS,
            ["id"],
            [self.trials[i].values() for i in sorted(self.dirty)],
        )
        await upsert(
            conn,
            "trial_participants",
            _PARTICIPANT_COLUMNS,
            ["trial_id", "employee_id"],
            [
                (trial_id, employee_id, since, since != self.trials[trial_id].started_position)
                for trial_id, employee_id in sorted(self.new_participants)
                for since in (self.trials[trial_id].participants[employee_id],)
            ],
        )
        await upsert(
            conn,
            "trial_rewards",
            _REWARD_COLUMNS,
            ["trial_id", "reward_id"],
            [
                (trial_id, reward_id, s.state, s.linked_position, s.state_position)
                for trial_id, reward_id in sorted(self.dirty_rewards)
                for s in (self.trials[trial_id].rewards[reward_id],)
            ],
        )
        await upsert(
            conn, "trial_feedback", _FEEDBACK_COLUMNS, ["trial_id", "position"], self.new_feedback
        )

    def committed(self) -> None:
        self.dirty.clear()
        self.new_participants.clear()
        self.dirty_rewards.clear()
        self.new_feedback = []
        self.rescored.clear()
        self.joined.clear()
