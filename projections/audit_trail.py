"""Read model: every event of every aggregate as one audit entry, in log order.

An entry says who (actor id and role), why (reason), within which request (correlation id),
when, to which aggregate, which employees it touches, and what changed, before → after where a
value changed. The model keeps a little memory per aggregate (a department's name, a goal's
owner and target, a cycle's deadlines, ...) to know the "before" and whom a later event touches;
on start it takes that memory from the other read models' tables, which commit in the same
transaction as the entries.

Sensitive parts never sit in the clear in ``audit_trail``: ``summary`` is safe for anyone allowed
to see the entry (no anonymous rater, no ratings of anonymous raters, no comments, no feedback
body, no attribute values); ``summary_sealed`` holds the full summary sealed with the service's
key, and is NULL where the full summary says nothing more than the safe one. An anonymous rater
(peer, customer) is named only in ``rater_key`` / ``private_party_id`` and, when they acted
themselves, in ``actor_id`` with ``actor_anonymous`` set; the API shows those to auditors and hr.
``employee_ids`` lists whom an entry touches, so their managers reach it too; a
``private_party_id`` (an anonymous rater, the giver of private feedback) reaches it only
themselves, never through their managers.

Entries are append-only: a batch's entries go in with one INSERT of arrays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.domain import Aggregate

from domain.fairness_audits import FairnessAudit
from domain.feedback import Feedback, FeedbackVisibility
from domain.goals import Goal, GoalSet, OwnerKind, goal_set_id
from domain.organisation import Department, Employee, OrgStructure
from domain.reviews import Appraisal, RaterSource, ReviewCycle
from domain.rewards import Reward
from domain.rules import Adoption, RuleBook, version_in_force
from domain.trials import Trial, TrialRegistry
from projections.base import Handler, Sealer
from projections.rules import adoption_of
from service.idempotency import ProcessedRequest

DDL = """
CREATE TABLE IF NOT EXISTS audit_trail (
    position bigint PRIMARY KEY,
    recorded_at timestamptz NOT NULL,
    aggregate_id uuid NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_version integer NOT NULL,
    event_type text NOT NULL,
    actor_id text,
    actor_role text,
    actor_anonymous boolean NOT NULL,
    reason text,
    correlation_id text,
    employee_ids uuid[] NOT NULL,
    reviewee_id uuid,
    rater_key text,
    private_party_id uuid,
    summary text NOT NULL,
    summary_sealed bytea
);
CREATE INDEX IF NOT EXISTS audit_trail_employees ON audit_trail USING gin (employee_ids);
CREATE INDEX IF NOT EXISTS audit_trail_aggregate ON audit_trail (aggregate_id, position);
CREATE INDEX IF NOT EXISTS audit_trail_actor ON audit_trail (actor_id, position);
CREATE INDEX IF NOT EXISTS audit_trail_event_type ON audit_trail (event_type, position);
CREATE INDEX IF NOT EXISTS audit_trail_recorded_at ON audit_trail (recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_rater ON audit_trail (private_party_id, position)
    WHERE private_party_id IS NOT NULL;
"""

COLUMNS = (
    ("position", "bigint"),
    ("recorded_at", "timestamptz"),
    ("aggregate_id", "uuid"),
    ("aggregate_type", "text"),
    ("aggregate_version", "integer"),
    ("event_type", "text"),
    ("actor_id", "text"),
    ("actor_role", "text"),
    ("actor_anonymous", "boolean"),
    ("reason", "text"),
    ("correlation_id", "text"),
    ("employee_ids", "text"),  # '{id,id}': unnest cannot take an array of ragged arrays
    ("reviewee_id", "uuid"),
    ("rater_key", "text"),
    ("private_party_id", "uuid"),
    ("summary", "text"),
    ("summary_sealed", "bytea"),
)
# Entries are only ever added. ON CONFLICT DO NOTHING (not a bare COPY) lets a runner that lost
# its lock fail on the tracking position, as every model's rows do, rather than on a duplicate.
_NAMES = ", ".join(name for name, _ in COLUMNS)
_VALUES = ", ".join(
    f"t.{name}::uuid[]" if name == "employee_ids" else f"t.{name}" for name, _ in COLUMNS
)
_ARRAYS = ", ".join(f"${i + 1}::{kind}[]" for i, (_, kind) in enumerate(COLUMNS))
_INSERT = (
    f"INSERT INTO audit_trail ({_NAMES}) SELECT {_VALUES} FROM unnest({_ARRAYS}) "
    f"AS t({_NAMES}) ON CONFLICT (position) DO NOTHING"
)

# Every aggregate whose events the log holds. A new aggregate belongs here; a new event of one of
# these is covered without a change (it gets the generic summary until it has its own).
AGGREGATES: tuple[type[Aggregate], ...] = (
    Department,
    Employee,
    OrgStructure,
    Goal,
    GoalSet,
    RuleBook,
    ReviewCycle,
    Appraisal,
    Feedback,
    Reward,
    FairnessAudit,
    Trial,
    TrialRegistry,
    ProcessedRequest,
)

NONE = "none"


def event_classes(aggregate: type[Aggregate]) -> list[type]:
    """The event classes the aggregate records (the ``@event`` ones, not the library's bases)."""
    base = aggregate.Event
    return [
        cls
        for name, cls in vars(aggregate).items()
        if isinstance(cls, type) and issubclass(cls, base) and name not in ("Event", "Created")
    ]


@dataclass(slots=True)
class Facts:
    """What one event says, beyond its provenance."""

    touches: Sequence[UUID]
    summary: str
    full: str | None = None  # None: the full summary is the safe one
    reviewee: UUID | None = None
    rater_key: str | None = None  # set only for an anonymous rater (peer, customer)
    private_party: UUID | None = None  # touched, but reached through them by nobody else


@dataclass(slots=True)
class GoalMemo:
    owner: UUID | None  # None: a department's goal, which touches no employee
    title: str
    unit: str
    target: Decimal
    latest_value: Decimal | None
    latest_as_of: date | None


@dataclass(slots=True)
class CycleMemo:
    name: str
    definition: dict[str, str]  # what Redefined compares, as readable text
    submissions_due: date
    calibration_due: date


Describe = Callable[[Any], Facts]


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _arrow(before: object, after: object) -> str:
    return f"{NONE if before is None else before} → {NONE if after is None else after}"


def _parse_rater(key: str) -> tuple[RaterSource, str]:
    source, _, who = key.partition(":")
    return RaterSource(source), who


def _uuid_or_none(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def _ratings(ratings: Iterable[Any]) -> str:
    return ", ".join(
        f"{r.competency} {'not observed' if r.value is None else r.value}" for r in ratings
    )


def _definition_text(
    name: str,
    period: str,
    scale: str,
    competencies: str,
    min_peer_raters: int,
    anonymity_threshold: int,
    scope: str,
) -> dict[str, str]:
    return {
        "name": _quote(name),
        "period": period,
        "scale": scale,
        "competencies": competencies,
        "minimum peer raters": str(min_peer_raters),
        "anonymity threshold": str(anonymity_threshold),
        "scope": scope,
    }


def _definition_of(definition: Any) -> dict[str, str]:
    return _definition_text(
        definition.name,
        definition.period,
        f"{definition.scale.minimum}-{definition.scale.maximum}",
        ", ".join(f"{c.key} {c.weight}" for c in definition.competencies),
        definition.min_peer_raters,
        definition.anonymity_threshold,
        _scope(definition.scope_departments, definition.scope_employees),
    )


def _scope(departments: Sequence[UUID], employees: Sequence[UUID]) -> str:
    return f"{len(departments)} departments, {len(employees)} employees"


class AuditTrailModel:
    tables: Sequence[str] = ("audit_trail",)
    ddl = DDL

    def __init__(self, sealer: Sealer | None) -> None:
        # Without a sealer no full summary is kept: the clear text is never the fallback.
        self.sealer = sealer
        # This batch's entries. The handlers append to this very list, so it is emptied in
        # place, never replaced.
        self.rows: list[tuple[Any, ...]] = []
        self._forget()
        self._describers = self._by_event()

    def _forget(self) -> None:
        self.department_codes: dict[UUID, str] = {}
        self.department_names: dict[UUID, str] = {}
        self.department_parents: dict[UUID, UUID | None] = {}
        self.employee_codes: dict[UUID, str] = {}
        self.employee_departments: dict[UUID, UUID] = {}
        self.employee_managers: dict[UUID, UUID | None] = {}
        self.employee_attributes: dict[UUID, dict[str, str]] = {}
        self.goals: dict[UUID, GoalMemo] = {}
        self.goal_sets: dict[UUID, tuple[UUID | None, str]] = {}  # owner (None: department)
        self.cycles: dict[UUID, CycleMemo] = {}
        self.appraisals: dict[UUID, tuple[UUID, UUID]] = {}  # reviewee, cycle
        self.feedback: dict[UUID, tuple[UUID, UUID]] = {}  # giver, receiver
        self.rewards: dict[UUID, UUID] = {}  # employee
        self.adoptions: list[Adoption] = []

    def clear(self) -> None:
        self.rows.clear()
        self._forget()

    def handlers(self) -> dict[type, Handler]:
        handlers: dict[type, Handler] = {}
        for aggregate in AGGREGATES:
            for cls in event_classes(aggregate):
                handlers[cls] = self._handler(aggregate.__name__, cls)
        return handlers

    def _handler(self, aggregate_type: str, cls: type) -> Handler:
        event_name = cls.__name__
        describe = self._describers.get(cls, self._generic)
        rows = self.rows

        def record(e: Any, position: int) -> None:
            facts = describe(e)
            provenance = getattr(e, "provenance", None)
            if provenance is not None:
                actor_id: str | None = provenance.actor_id
                actor_role: str | None = provenance.actor_role.value
                reason, correlation = provenance.reason, provenance.correlation_id
            else:  # an idempotency record names its actor itself
                actor_id, actor_role = getattr(e, "actor_id", None), None
                reason = correlation = None
            rater = facts.rater_key
            anonymous_actor = rater is not None and (
                actor_id == rater or actor_id == str(facts.private_party)
            )
            full = facts.full
            rows.append(
                (
                    position,
                    e.timestamp,
                    e.originator_id,
                    aggregate_type,
                    e.originator_version,
                    event_name,
                    actor_id,
                    actor_role,
                    anonymous_actor,
                    reason,
                    correlation,
                    "{" + ",".join(map(str, facts.touches)) + "}",
                    facts.reviewee,
                    rater,
                    facts.private_party,
                    facts.summary,
                    None if full is None or self.sealer is None else self.sealer.seal(full),
                )
            )

        return record

    # -- naming things readably -------------------------------------------------------------------

    def _employee(self, employee_id: UUID | None) -> str:
        if employee_id is None:
            return NONE
        return self.employee_codes.get(employee_id) or str(employee_id)

    def _department(self, department_id: UUID | None) -> str:
        if department_id is None:
            return NONE
        return self.department_codes.get(department_id) or str(department_id)

    def _goal_title(self, goal_id: UUID) -> str:
        memo = self.goals.get(goal_id)
        return _quote(memo.title) if memo else str(goal_id)

    def _generic(self, e: Any) -> Facts:
        """An event this model has no words for yet: its field names only in the safe summary
        (a value may be sensitive), the values in the full one."""
        fields = {
            k: v
            for k, v in vars(e).items()
            if k not in ("originator_id", "originator_version", "timestamp", "provenance")
        }
        name = type(e).__name__
        return Facts(
            (),
            f"{name}: {', '.join(fields) or 'no fields'}",
            f"{name}: " + ", ".join(f"{k} {v}" for k, v in fields.items()),
        )

    def _by_event(self) -> dict[type, Describe]:
        def on(aggregate: type, name: str) -> type:
            cls = getattr(aggregate, name)
            assert isinstance(cls, type)
            return cls

        return {
            on(Department, "Opened"): self._department_opened,
            on(Department, "Renamed"): self._department_renamed,
            on(Department, "Moved"): self._department_moved,
            on(Employee, "Hired"): self._hired,
            on(Employee, "Transferred"): self._transferred,
            on(Employee, "ManagerChanged"): self._manager_changed,
            on(Employee, "AttributesSet"): self._attributes_set,
            on(Employee, "Left"): self._left,
            on(OrgStructure, "Started"): lambda e: Facts((), "organisation structure started"),
            on(OrgStructure, "Changed"): self._structure_changed,
            on(Goal, "Set"): self._goal_set,
            on(Goal, "ProgressRecorded"): self._progress,
            on(Goal, "TargetRevised"): self._target_revised,
            on(Goal, "Closed"): lambda e: self._goal_status(e, "closed"),
            on(Goal, "Abandoned"): lambda e: self._goal_status(e, "abandoned"),
            on(GoalSet, "Started"): self._goal_set_started,
            on(GoalSet, "GoalAdded"): self._goal_added,
            on(GoalSet, "GoalWithdrawn"): self._goal_withdrawn,
            on(GoalSet, "Confirmed"): self._goal_set_confirmed,
            on(RuleBook, "Opened"): lambda e: Facts((), "rule book opened"),
            on(RuleBook, "VersionDefined"): self._version_defined,
            on(RuleBook, "VersionAdopted"): self._version_adopted,
            on(RuleBook, "VersionAdoptedForScope"): self._version_adopted_for_scope,
            on(ReviewCycle, "Drafted"): self._cycle_drafted,
            on(ReviewCycle, "Redefined"): self._cycle_redefined,
            on(ReviewCycle, "DeadlinesChanged"): self._deadlines_changed,
            on(ReviewCycle, "Opened"): self._cycle_opened,
            on(ReviewCycle, "CalibrationStarted"): lambda e: Facts((), "status open → calibration"),
            on(ReviewCycle, "Closed"): lambda e: Facts((), "status calibration → closed"),
            on(Appraisal, "Started"): self._appraisal_started,
            on(Appraisal, "CalibrationEntered"): lambda e: self._appraisal_status(
                e, "status open → calibration"
            ),
            on(Appraisal, "Closed"): lambda e: self._appraisal_status(
                e, "status calibration → closed"
            ),
            on(Appraisal, "RaterAssigned"): self._rater_assigned,
            on(Appraisal, "RaterUnassigned"): self._rater_unassigned,
            on(Appraisal, "ExternalRaterInvited"): self._invited,
            on(Appraisal, "ReviewDraftSaved"): lambda e: self._review(e, "draft saved"),
            on(Appraisal, "ReviewSubmitted"): lambda e: self._review(e, "submitted"),
            on(Appraisal, "RatingCalibrated"): self._rating_calibrated,
            on(Appraisal, "ResultCalibrated"): self._result_calibrated,
            on(Feedback, "Given"): self._feedback_given,
            on(Feedback, "Acknowledged"): self._feedback_acknowledged,
            on(Reward, "Granted"): self._reward_granted,
            on(Reward, "Revoked"): self._reward_revoked,
            on(FairnessAudit, "Recorded"): self._fairness_audit,
            on(Trial, "Started"): self._trial_started,
            on(Trial, "Revised"): lambda e: Facts(
                (), f"pilot rule-set version {e.previous_version} → {e.rule_set_version}"
            ),
            on(Trial, "FeedbackGiven"): self._trial_feedback,
            on(Trial, "RewardLinked"): self._trial_reward_linked,
            on(Trial, "Promoted"): self._trial_promoted,
            on(Trial, "RolledBack"): lambda e: Facts(
                (), f"status running → rolled back on {e.on.isoformat()}"
            ),
            on(TrialRegistry, "Opened"): lambda e: Facts((), "trial registry opened"),
            on(TrialRegistry, "ScopeClaimed"): lambda e: Facts(
                (),
                f"scope claimed for trial {_quote(e.name)} ({e.trial_id}): "
                f"{len(e.departments)} departments, {len(e.participants)} people",
            ),
            on(TrialRegistry, "ScopeReleased"): lambda e: Facts(
                (), f"scope of trial {e.trial_id} released"
            ),
            on(ProcessedRequest, "Processed"): self._request_processed,
        }

    # -- organisation -----------------------------------------------------------------------------

    def _department_opened(self, e: Any) -> Facts:
        i = e.originator_id
        self.department_codes[i] = e.code
        self.department_names[i] = e.name
        self.department_parents[i] = e.parent_id
        return Facts(
            (),
            f"department {e.code} {_quote(e.name)} opened under {self._department(e.parent_id)}",
        )

    def _department_renamed(self, e: Any) -> Facts:
        before = self.department_names.get(e.originator_id)
        self.department_names[e.originator_id] = e.name
        return Facts(
            (), f"name {_quote(before) if before is not None else NONE} → {_quote(e.name)}"
        )

    def _department_moved(self, e: Any) -> Facts:
        before = self.department_parents.get(e.originator_id)
        self.department_parents[e.originator_id] = e.parent_id
        return Facts((), f"parent {self._department(before)} → {self._department(e.parent_id)}")

    def _hired(self, e: Any) -> Facts:
        i = e.originator_id
        self.employee_codes[i] = e.code
        self.employee_departments[i] = e.department_id
        self.employee_managers[i] = e.manager_id
        self.employee_attributes[i] = dict(e.attributes)
        said = (
            f"hired {e.code} {_quote(e.name)} as {_quote(e.job_title)} in department "
            f"{self._department(e.department_id)}, manager {self._employee(e.manager_id)}, "
            f"from {e.hire_date.isoformat()}"
        )
        if not e.attributes:
            return Facts((i,), said)
        # Group attributes (gender, location, ...) are for hr, auditors and admins only.
        return Facts(
            (i,),
            f"{said}; attributes {', '.join(sorted(e.attributes))}",
            f"{said}; attributes "
            + ", ".join(f"{k} {_quote(v)}" for k, v in sorted(e.attributes.items())),
        )

    def _transferred(self, e: Any) -> Facts:
        i = e.originator_id
        before = self.employee_departments.get(i)
        self.employee_departments[i] = e.department_id
        return Facts(
            (i,),
            f"department {self._department(before)} → {self._department(e.department_id)} "
            f"effective {e.effective.isoformat()}",
        )

    def _manager_changed(self, e: Any) -> Facts:
        i = e.originator_id
        before = self.employee_managers.get(i)
        self.employee_managers[i] = e.manager_id
        touched = [i, *(m for m in (before, e.manager_id) if m is not None)]
        return Facts(touched, f"manager {self._employee(before)} → {self._employee(e.manager_id)}")

    def _attributes_set(self, e: Any) -> Facts:
        i = e.originator_id
        before = self.employee_attributes.get(i, {})
        after = dict(e.attributes)
        self.employee_attributes[i] = after
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))

        def value(v: str | None) -> str:
            return NONE if v is None else _quote(v)

        return Facts(
            (i,),
            f"attributes changed: {', '.join(changed) or 'none'}",
            "attributes "
            + (
                ", ".join(f"{k} {value(before.get(k))} → {value(after.get(k))}" for k in changed)
                or "unchanged"
            ),
        )

    def _left(self, e: Any) -> Facts:
        return Facts((e.originator_id,), f"left on {e.leave_date.isoformat()}")

    def _structure_changed(self, e: Any) -> Facts:
        subject = e.subject_id
        if subject in self.employee_codes:
            return Facts((subject,), f"reporting line of {self._employee(subject)} changed")
        return Facts((), f"nesting of department {self._department(subject)} changed")

    # -- goals ------------------------------------------------------------------------------------

    def _goal_set(self, e: Any) -> Facts:
        spec = e.spec
        owner = e.owner_id if e.owner_kind is OwnerKind.EMPLOYEE else None
        self.goals[e.originator_id] = GoalMemo(
            owner, spec.title, spec.unit, spec.target, None, None
        )
        whose = (
            f"for {self._employee(owner)}"
            if owner is not None
            else f"for department {self._department(e.owner_id)}"
        )
        return Facts(
            () if owner is None else (owner,),
            f"goal {_quote(spec.title)} set {whose}: {spec.metric} from {spec.baseline} to "
            f"target {spec.target} {spec.unit} ({spec.direction.value.replace('_', ' ')}), "
            f"weight {spec.weight}, {spec.period}, due {spec.due_date.isoformat()}",
        )

    def _goal(self, e: Any) -> tuple[GoalMemo | None, Sequence[UUID]]:
        memo = self.goals.get(e.originator_id)
        return memo, (() if memo is None or memo.owner is None else (memo.owner,))

    def _progress(self, e: Any) -> Facts:
        memo, touched = self._goal(e)
        unit = memo.unit if memo else ""
        said = f"progress {e.value} {unit} as of {e.as_of.isoformat()} from {e.source}"
        if memo is None:
            return Facts(touched, said)
        # The goal's latest reading is the one with the latest date (a correction on the same
        # date wins), as the goals read model has it.
        if memo.latest_as_of is None or e.as_of >= memo.latest_as_of:
            before = memo.latest_value
            memo.latest_value, memo.latest_as_of = e.value, e.as_of
            said += f"; latest {_arrow(before, e.value)} {unit}"
        return Facts(touched, said)

    def _target_revised(self, e: Any) -> Facts:
        memo, touched = self._goal(e)
        if memo is not None:
            memo.target = e.target
        unit = f" {memo.unit}" if memo else ""
        return Facts(touched, f"target {e.previous_target} → {e.target}{unit}")

    def _goal_status(self, e: Any, status: str) -> Facts:
        _, touched = self._goal(e)
        return Facts(touched, f"status open → {status}")

    def _goal_set_started(self, e: Any) -> Facts:
        owner = e.owner_id if e.owner_kind is OwnerKind.EMPLOYEE else None
        self.goal_sets[e.originator_id] = (owner, e.period)
        whose = self._employee(owner) if owner else f"department {self._department(e.owner_id)}"
        return Facts(() if owner is None else (owner,), f"goals of {whose} for {e.period} started")

    def _goal_set_owner(self, e: Any) -> Sequence[UUID]:
        owner = self.goal_sets.get(e.originator_id, (None, ""))[0]
        return () if owner is None else (owner,)

    def _goal_added(self, e: Any) -> Facts:
        return Facts(
            self._goal_set_owner(e), f"goal {self._goal_title(e.goal_id)} added, weight {e.weight}"
        )

    def _goal_withdrawn(self, e: Any) -> Facts:
        return Facts(self._goal_set_owner(e), f"goal {self._goal_title(e.goal_id)} withdrawn")

    def _goal_set_confirmed(self, e: Any) -> Facts:
        return Facts(
            self._goal_set_owner(e),
            f"confirmed: not confirmed → confirmed, total weight {e.total_weight}",
        )

    # -- rules ------------------------------------------------------------------------------------

    def _version_defined(self, e: Any) -> Facts:
        return Facts((), f"rule-set version {e.version} defined: {_quote(e.description)}")

    def _version_adopted(self, e: Any) -> Facts:
        day = e.effective_from
        before = version_in_force(self.adoptions, day)
        self.adoptions.append(Adoption(e.version, day))
        return Facts(
            (),
            f"version in force from {day.isoformat()}: "
            f"{0 if before is None else before} → {e.version}",
        )

    def _version_adopted_for_scope(self, e: Any) -> Facts:
        day, people = e.effective_from, list(e.employees)
        self.adoptions.append(Adoption(e.version, day, frozenset(people)))
        return Facts(
            tuple(people),
            f"version {e.version} in force from {day.isoformat()} for {len(people)} "
            f"{'person' if len(people) == 1 else 'people'} (a scoped adoption)",
        )

    # -- review cycles ----------------------------------------------------------------------------

    def _cycle_drafted(self, e: Any) -> Facts:
        d = e.definition
        text = _definition_of(d)
        self.cycles[e.originator_id] = CycleMemo(
            d.name, text, d.deadlines.submissions_due, d.deadlines.calibration_due
        )
        return Facts(
            (),
            f"review cycle {_quote(d.name)} drafted for {d.period}: status none → draft; "
            + "; ".join(f"{k} {v}" for k, v in text.items() if k not in ("name", "period")),
        )

    def _cycle_redefined(self, e: Any) -> Facts:
        memo = self.cycles.get(e.originator_id)
        after = _definition_of(e.definition)
        before = memo.definition if memo else {}
        changes = [
            f"{k} {before.get(k, NONE)} → {v}" for k, v in after.items() if before.get(k) != v
        ]
        if memo is not None:
            memo.definition, memo.name = after, e.definition.name
        return Facts((), "definition changed: " + ("; ".join(changes) or "nothing"))

    def _deadlines_changed(self, e: Any) -> Facts:
        memo = self.cycles.get(e.originator_id)
        d = e.deadlines
        parts = []
        for what, before, after in (
            ("submissions due", memo.submissions_due if memo else None, d.submissions_due),
            ("calibration due", memo.calibration_due if memo else None, d.calibration_due),
        ):
            if before != after:
                parts.append(f"{what} {_arrow(before, after)}")
        if memo is not None:
            memo.submissions_due, memo.calibration_due = d.submissions_due, d.calibration_due
        return Facts((), "deadlines: " + ("; ".join(parts) or "unchanged"))

    def _cycle_opened(self, e: Any) -> Facts:
        return Facts(
            (),
            f"status draft → open on {e.opened_on.isoformat()}, {len(e.reviewee_ids)} reviewees",
        )

    # -- appraisals -------------------------------------------------------------------------------

    def _appraisal_started(self, e: Any) -> Facts:
        reviewee = e.reviewee_id
        self.appraisals[e.originator_id] = (reviewee, e.cycle_id)
        cycle = self.cycles.get(e.cycle_id)
        touched = [reviewee] if e.manager_id is None else [reviewee, e.manager_id]
        return Facts(
            touched,
            f"appraisal of {self._employee(reviewee)} started in review cycle "
            f"{_quote(cycle.name) if cycle else e.cycle_id}; self and manager "
            f"{self._employee(e.manager_id)} rate",
            reviewee=reviewee,
        )

    def _reviewee(self, e: Any) -> UUID | None:
        known = self.appraisals.get(e.originator_id)
        return known[0] if known else None

    def _appraisal_status(self, e: Any, said: str) -> Facts:
        reviewee = self._reviewee(e)
        return Facts(() if reviewee is None else (reviewee,), said, reviewee=reviewee)

    def _about_rater(self, e: Any, safe: str, full: str | None = None) -> Facts:
        """Facts of an event about one rater of an appraisal: an anonymous one (peer, customer)
        is named only in the full summary and the rater columns."""
        reviewee = self._reviewee(e)
        source, who = _parse_rater(e.rater_key)
        touched = [] if reviewee is None else [reviewee]
        rater = _uuid_or_none(who) if source is not RaterSource.CUSTOMER else None
        if source.anonymous:
            return Facts(
                touched,
                f"{source.value} {safe}",
                f"{source.value} {full or safe}",
                reviewee,
                e.rater_key,
                rater,
            )
        if rater is not None and rater not in touched:
            touched.append(rater)
        named = f"{source.value} ({self._employee(rater)})"
        return Facts(
            touched,
            f"{named} {safe}",
            None if full is None else f"{named} {full}",
            reviewee,
        )

    def _rater_label(self, key: str) -> str:
        source, who = _parse_rater(key)
        if source is RaterSource.CUSTOMER:
            return _quote(who)
        employee = _uuid_or_none(who)
        return self._employee(employee) if employee else who

    def _rater_assigned(self, e: Any) -> Facts:
        return self._about_rater(
            e, "rater assigned", f"rater {self._rater_label(e.rater_key)} assigned"
        )

    def _rater_unassigned(self, e: Any) -> Facts:
        return self._about_rater(
            e, "rater unassigned", f"rater {self._rater_label(e.rater_key)} unassigned"
        )

    def _invited(self, e: Any) -> Facts:
        until = e.expires_at.isoformat()
        return self._about_rater(
            e,
            f"rater invited until {until}",
            f"rater {self._rater_label(e.rater_key)} invited until {until}",
        )

    def _review(self, e: Any, what: str) -> Facts:
        source, _ = _parse_rater(e.rater_key)
        label = self._rater_label(e.rater_key)
        comments = f"; comments {_quote(e.comments)}" if e.comments else ""
        full = f"review by {label} {what}: {_ratings(e.ratings)}{comments}"
        # Submitted self and manager ratings are what the reviewee's sources show anyway; a
        # draft is its writer's own, and an anonymous rater's ratings are theirs alone.
        shown = what == "submitted" and not source.anonymous
        safe = f"review {what}: {_ratings(e.ratings)}" if shown else f"review {what}"
        return self._about_rater(e, safe, full)

    def _rating_calibrated(self, e: Any) -> Facts:
        source, _ = _parse_rater(e.rater_key)
        values = f"{_arrow(e.previous, e.calibrated)} (calibrated; submitted {e.original})"
        full = f"rating by {self._rater_label(e.rater_key)} of {e.competency} {values}"
        if source.anonymous:
            return self._about_rater(e, f"rating of {e.competency} calibrated", full)
        return self._about_rater(e, f"rating {e.competency} {values}")

    def _result_calibrated(self, e: Any) -> Facts:
        reviewee = self._reviewee(e)
        said = f"calibrated score {_arrow(e.previous, e.score)}"
        if e.score is None:
            said += " (calibration withdrawn)"
        return Facts(() if reviewee is None else (reviewee,), said, reviewee=reviewee)

    # -- feedback and rewards ---------------------------------------------------------------------

    def _feedback_given(self, e: Any) -> Facts:
        self.feedback[e.originator_id] = (e.giver_id, e.receiver_id)
        said = (
            f"{e.kind.value.replace('_', '-')} ({e.visibility.value}) from "
            f"{self._employee(e.giver_id)} to {self._employee(e.receiver_id)} on "
            f"{e.occurred_on.isoformat()}"
        )
        if e.goal_id is not None:
            said += f" about goal {self._goal_title(e.goal_id)}"
        full = f"{said}: {_quote(e.body)}"
        if e.visibility is FeedbackVisibility.PRIVATE:
            # Private feedback is for the receiver's managers, not the giver's.
            return Facts((e.receiver_id,), said, full, private_party=e.giver_id)
        return Facts((e.giver_id, e.receiver_id), said, full)

    def _feedback_acknowledged(self, e: Any) -> Facts:
        pair = self.feedback.get(e.originator_id)
        return Facts(
            pair or (),
            f"acknowledged: no → {e.acknowledged_on.isoformat()}",
        )

    def _reward_granted(self, e: Any) -> Facts:
        self.rewards[e.originator_id] = e.employee_id
        said = f"{e.spec.describe()} granted to {self._employee(e.employee_id)}"
        if e.granted_amount is not None and e.spec.percent_of_salary is not None:
            said += f" ({e.granted_amount.amount} {e.granted_amount.currency})"
        if e.period is not None:
            said += f" for {e.period}"
        said += f" on {e.granted_on.isoformat()}, "
        said += "by judgement" if e.basis is None else f"as proposed by {e.basis.describe()}"
        return Facts((e.employee_id,), said)

    def _reward_revoked(self, e: Any) -> Facts:
        employee = self.rewards.get(e.originator_id)
        return Facts(
            () if employee is None else (employee,),
            f"status granted → revoked on {e.revoked_on.isoformat()}",
        )

    def _fairness_audit(self, e: Any) -> Facts:
        groups = ", ".join(e.parameters.get("group_by", ())) or NONE
        return Facts(
            (),
            f"fairness audit of cycle {e.cycle_id} as of position {e.position} by {groups} "
            f"({e.method_version}): {e.flags} flags, report sha256 {e.digest[:16]}…",
        )

    # -- trials -----------------------------------------------------------------------------------

    def _trial_started(self, e: Any) -> Facts:
        # Like a review cycle's opening, a start touches no one: participants reach the trial
        # through its report, not through their managers' audit trail.
        shown = "see" if e.show_participants else "do not see"
        return Facts(
            (),
            f"trial {_quote(e.name)} started on {e.started_on.isoformat()} for {e.period} under "
            f"rule-set version {e.rule_set_version}: status none → running; scope "
            f"{_scope(e.scope_departments, e.scope_employees)}, {len(e.participants)} "
            f"participants, who {shown} their pilot results; responsible "
            + ", ".join(_quote(person) for person in e.responsible),
        )

    def _trial_feedback(self, e: Any) -> Facts:
        said = f"feedback on the pilot from {self._employee(e.employee_id)} on "
        said += e.given_on.isoformat()
        # The text is the participant's, kept for hr and auditors as feedback bodies are.
        return Facts((e.employee_id,), said, f"{said}: {_quote(e.text)}")

    def _trial_reward_linked(self, e: Any) -> Facts:
        employee = self.rewards.get(e.reward_id)
        whose = f" to {self._employee(employee)}" if employee is not None else ""
        return Facts(
            () if employee is None else (employee,),
            f"reward {e.reward_id}{whose} linked as provisional",
        )

    def _trial_promoted(self, e: Any) -> Facts:
        whom = "everyone" if e.for_everyone else "the trial's scope"
        return Facts(
            (),
            f"status running → promoted: the pilot rules in force for {whom} from "
            f"{e.effective_from.isoformat()}; provisional rewards confirmed",
        )

    def _request_processed(self, e: Any) -> Facts:
        actor = _uuid_or_none(e.actor_id)
        touched = (actor,) if actor is not None and actor in self.employee_codes else ()
        result = f"{e.result_id} version {e.result_version}" if e.result_id else "nothing"
        return Facts(
            touched,
            f"request {e.command} with idempotency key {_quote(e.key)} answered: {result}",
        )

    # -- storage ----------------------------------------------------------------------------------

    async def load(self, conn: asyncpg.Connection) -> None:
        """The memory comes from the other read models' tables, committed with the entries."""
        self.clear()
        for r in await conn.fetch("SELECT id, code, name, parent_id FROM departments"):
            self.department_codes[r["id"]] = r["code"]
            self.department_names[r["id"]] = r["name"]
            self.department_parents[r["id"]] = r["parent_id"]
        for r in await conn.fetch(
            "SELECT id, code, department_id, manager_id, attributes FROM employees"
        ):
            self.employee_codes[r["id"]] = r["code"]
            self.employee_departments[r["id"]] = r["department_id"]
            self.employee_managers[r["id"]] = r["manager_id"]
            self.employee_attributes[r["id"]] = json.loads(r["attributes"])
        for r in await conn.fetch(
            "SELECT id, owner_kind, owner_id, title, unit, target, latest_value, latest_as_of "
            "FROM goals"
        ):
            employee = OwnerKind(r["owner_kind"]) is OwnerKind.EMPLOYEE
            self.goals[r["id"]] = GoalMemo(
                r["owner_id"] if employee else None,
                r["title"],
                r["unit"],
                r["target"],
                r["latest_value"],
                r["latest_as_of"],
            )
        for r in await conn.fetch("SELECT owner_id, owner_kind, period FROM goal_sets"):
            employee = OwnerKind(r["owner_kind"]) is OwnerKind.EMPLOYEE
            self.goal_sets[goal_set_id(r["owner_id"], r["period"])] = (
                r["owner_id"] if employee else None,
                r["period"],
            )
        for r in await conn.fetch(
            "SELECT version, effective_from, employee_ids FROM rule_adoptions ORDER BY position"
        ):
            self.adoptions.append(adoption_of(r))
        for r in await conn.fetch("SELECT * FROM review_cycles"):
            competencies = json.loads(r["competencies"])
            self.cycles[r["id"]] = CycleMemo(
                r["name"],
                _definition_text(
                    r["name"],
                    r["period"],
                    f"{r['scale_min']}-{r['scale_max']}",
                    ", ".join(f"{c['key']} {c['weight']}" for c in competencies),
                    r["min_peer_raters"],
                    r["anonymity_threshold"],
                    _scope(r["scope_departments"], r["scope_employees"]),
                ),
                r["submissions_due"],
                r["calibration_due"],
            )
        for r in await conn.fetch("SELECT id, reviewee_id, cycle_id FROM appraisals"):
            self.appraisals[r["id"]] = (r["reviewee_id"], r["cycle_id"])
        for r in await conn.fetch("SELECT id, giver_id, receiver_id FROM feedback"):
            self.feedback[r["id"]] = (r["giver_id"], r["receiver_id"])
        for r in await conn.fetch("SELECT id, employee_id FROM rewards"):
            self.rewards[r["id"]] = r["employee_id"]

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.rows:
            await conn.execute(_INSERT, *(list(column) for column in zip(*self.rows, strict=True)))

    def committed(self) -> None:
        self.rows.clear()
