"""360-degree review cycles: who rates whom, on which competencies, on which scale.

A `ReviewCycle` holds what HR defined: the period, the scope, the competency framework, the
rating scale (stored with the cycle, so a later scale never reinterprets old ratings), the
deadlines, the minimum number of peer raters and the anonymity threshold k. It moves
draft → open → calibration → closed.

Each reviewee has an `Appraisal` (one per cycle and person): their raters, the reviews those
raters wrote, and every calibration. Submissions touch only the reviewee's appraisal, so raters of
different people never contend. The cycle's state changes are recorded on every appraisal in the
same transaction as on the cycle; a submission that raced a state change therefore fails on the
appraisal's version and is decided again against the new state, so no rating can ever land after
calibration began or after the cycle closed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import (
    CompetencyNotRated,
    CycleNotInState,
    ExternalTokenExpired,
    ExternalTokenInvalid,
    ExternalTokenUsed,
    InvalidInput,
    RaterAlreadyAssigned,
    RaterNotAssigned,
    RatingOutOfScale,
    ReviewAlreadySubmitted,
    SelfAsPeer,
    SubmissionDeadlinePassed,
)
from domain.periods import Period
from domain.provenance import Provenance


class RaterSource(Enum):
    """Where a rating comes from. Peers and customers (which includes any other external rater,
    told apart by their external reference) are anonymous to the person they rate; self and
    manager are not."""

    SELF = "self"
    MANAGER = "manager"
    PEER = "peer"
    CUSTOMER = "customer"

    @property
    def anonymous(self) -> bool:
        return self in ANONYMOUS_SOURCES

    @property
    def external(self) -> bool:
        """Rates without an account, through a one-time invitation token."""
        return self is RaterSource.CUSTOMER


ANONYMOUS_SOURCES = frozenset({RaterSource.PEER, RaterSource.CUSTOMER})


class CycleStatus(Enum):
    DRAFT = "draft"
    OPEN = "open"
    CALIBRATION = "calibration"
    CLOSED = "closed"


HUNDRED = Decimal(100)
MAX_COMPETENCIES = 20
MAX_SCALE_POINTS = 11
MAX_COMMENTS = 5000
MAX_EXTERNAL_RATERS = 20
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_NAMESPACE = UUID("3b1e4c1e-4b8a-4f7a-9c55-0d5b8c1f2e61")


@dataclass(frozen=True)
class RatingScale:
    """Integer ratings from ``minimum`` to ``maximum``; ``labels`` name each point, optionally."""

    minimum: int
    maximum: int
    labels: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return self.maximum - self.minimum + 1

    def checked(self) -> RatingScale:
        if not 0 <= self.minimum < self.maximum:
            raise InvalidInput(
                f"the scale runs from {self.minimum} to {self.maximum}; it needs 0 <= minimum "
                "< maximum",
                field="scale.maximum",
            )
        if self.points > MAX_SCALE_POINTS:
            raise InvalidInput(
                f"a scale has at most {MAX_SCALE_POINTS} points, not {self.points}",
                field="scale.maximum",
            )
        if self.labels and len(self.labels) != self.points:
            raise InvalidInput(
                f"the scale has {self.points} points but {len(self.labels)} labels",
                field="scale.labels",
            )
        labels = [
            text.required_text(label, field=f"scale.labels[{i}]", max_length=60)
            for i, label in enumerate(self.labels)
        ]
        return RatingScale(self.minimum, self.maximum, labels)

    def contains(self, value: int) -> bool:
        return self.minimum <= value <= self.maximum

    def normalised(self, value: Decimal) -> Decimal:
        """A rating (or a mean of ratings) as percent of the way from the bottom to the top."""
        return (value - self.minimum) / (self.maximum - self.minimum) * HUNDRED


@dataclass(frozen=True)
class Competency:
    """One thing raters judge, with its weight and what each rating level means (one
    description per scale point, from the scale's minimum up)."""

    key: str
    name: str
    weight: Decimal
    levels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CycleDeadlines:
    submissions_due: date
    calibration_due: date


@dataclass(frozen=True)
class CycleDefinition:
    name: str
    period: str
    scope_departments: list[UUID]
    scope_employees: list[UUID]
    competencies: list[Competency]
    scale: RatingScale
    deadlines: CycleDeadlines
    min_peer_raters: int = 3
    anonymity_threshold: int = 3

    def checked(self) -> CycleDefinition:
        period = Period.parse(self.period)
        scale = self.scale.checked()
        if not self.scope_departments and not self.scope_employees:
            raise InvalidInput(
                "a cycle's scope names at least one department or employee", field="scope"
            )
        if not 1 <= len(self.competencies) <= MAX_COMPETENCIES:
            raise InvalidInput(
                f"a framework has 1 to {MAX_COMPETENCIES} competencies", field="competencies"
            )
        competencies: list[Competency] = []
        for i, competency in enumerate(self.competencies):
            where = f"competencies[{i}]"
            if not _KEY.match(competency.key):
                raise InvalidInput(
                    f"{where}.key {competency.key!r} must be lower-case letters, digits and '_'",
                    field=f"{where}.key",
                )
            if any(c.key == competency.key for c in competencies):
                raise InvalidInput(
                    f"competency {competency.key!r} is listed twice", field=f"{where}.key"
                )
            weight = competency.weight
            if not weight.is_finite() or weight <= 0:
                raise InvalidInput(
                    f"{where}.weight is {weight}; it must be positive", field=f"{where}.weight"
                )
            if len(competency.levels) != scale.points:
                raise InvalidInput(
                    f"{where} describes {len(competency.levels)} levels; the scale has "
                    f"{scale.points} points ({scale.minimum} to {scale.maximum}), and each "
                    "needs a description",
                    field=f"{where}.levels",
                )
            competencies.append(
                Competency(
                    key=competency.key,
                    name=text.required_text(competency.name, field=f"{where}.name"),
                    weight=weight,
                    levels=[
                        text.required_text(level, field=f"{where}.levels[{j}]", max_length=500)
                        for j, level in enumerate(competency.levels)
                    ],
                )
            )
        total = sum((c.weight for c in competencies), Decimal(0))
        if total != HUNDRED:
            raise InvalidInput(
                f"competency weights total {total}; they must total 100",
                field="competencies",
            )
        deadlines = self.deadlines
        if deadlines.submissions_due < period.start:
            raise InvalidInput(
                f"submissions are due {deadlines.submissions_due.isoformat()}, before the "
                f"period {period} begins",
                field="deadlines.submissionsDue",
            )
        if deadlines.calibration_due < deadlines.submissions_due:
            raise InvalidInput(
                "calibration cannot be due before submissions are", field="deadlines.calibrationDue"
            )
        if not 0 <= self.min_peer_raters <= 20:
            raise InvalidInput("minPeerRaters lies between 0 and 20", field="minPeerRaters")
        if not 2 <= self.anonymity_threshold <= 20:
            raise InvalidInput(
                "the anonymity threshold lies between 2 and 20: one rater is never anonymous",
                field="anonymityThreshold",
            )
        return CycleDefinition(
            name=text.required_text(self.name, field="name", max_length=120),
            period=str(period),
            scope_departments=sorted(set(self.scope_departments), key=str),
            scope_employees=sorted(set(self.scope_employees), key=str),
            competencies=competencies,
            scale=scale,
            deadlines=deadlines,
            min_peer_raters=self.min_peer_raters,
            anonymity_threshold=self.anonymity_threshold,
        )

    def competency(self, key: str) -> Competency | None:
        return next((c for c in self.competencies if c.key == key), None)


class ReviewCycle(Aggregate):
    @event("Drafted")
    def __init__(self, id: UUID, definition: CycleDefinition, provenance: Provenance) -> None:
        self.definition = definition
        self.status = CycleStatus.DRAFT
        self.reviewee_ids: list[UUID] = []

    @classmethod
    def draft(cls, id: UUID, definition: CycleDefinition, provenance: Provenance) -> ReviewCycle:
        return cls(id=id, definition=definition.checked(), provenance=provenance)

    @property
    def period(self) -> str:
        return self.definition.period

    def require(self, status: CycleStatus, doing: str) -> None:
        if self.status is not status:
            raise CycleNotInState(
                f"the review cycle is {self.status.value}; to {doing} it must be {status.value}",
                field="cycleId",
            )

    def redefine(self, definition: CycleDefinition, provenance: Provenance) -> None:
        self.require(CycleStatus.DRAFT, "change its definition")
        self._redefined(definition.checked(), provenance)

    @event("Redefined")
    def _redefined(self, definition: CycleDefinition, provenance: Provenance) -> None:
        self.definition = definition

    def change_deadlines(self, deadlines: CycleDeadlines, provenance: Provenance) -> None:
        if self.status not in (CycleStatus.DRAFT, CycleStatus.OPEN):
            raise CycleNotInState(
                f"the review cycle is {self.status.value}; deadlines change only before "
                "calibration",
                field="cycleId",
            )
        checked = replace(self.definition, deadlines=deadlines).checked()
        self._deadlines_changed(
            checked.deadlines, provenance.with_required_reason("move deadlines")
        )

    @event("DeadlinesChanged")
    def _deadlines_changed(self, deadlines: CycleDeadlines, provenance: Provenance) -> None:
        self.definition = replace(self.definition, deadlines=deadlines)

    def open(self, reviewee_ids: Sequence[UUID], opened_on: date, provenance: Provenance) -> None:
        self.require(CycleStatus.DRAFT, "open it")
        if not reviewee_ids:
            raise InvalidInput(
                "the scope holds nobody who can be reviewed (all left, or empty departments)",
                field="scope",
            )
        self._opened(list(reviewee_ids), opened_on, provenance)

    @event("Opened")
    def _opened(self, reviewee_ids: list[UUID], opened_on: date, provenance: Provenance) -> None:
        self.reviewee_ids = reviewee_ids
        self.status = CycleStatus.OPEN

    def start_calibration(self, provenance: Provenance) -> None:
        self.require(CycleStatus.OPEN, "start calibration")
        self._calibration_started(provenance)

    @event("CalibrationStarted")
    def _calibration_started(self, provenance: Provenance) -> None:
        self.status = CycleStatus.CALIBRATION

    def close(self, provenance: Provenance) -> None:
        self.require(CycleStatus.CALIBRATION, "close it")
        self._closed(provenance)

    @event("Closed")
    def _closed(self, provenance: Provenance) -> None:
        self.status = CycleStatus.CLOSED


def appraisal_id(cycle_id: UUID, reviewee_id: UUID) -> UUID:
    return uuid5(_NAMESPACE, f"appraisal/{cycle_id}/{reviewee_id}")


def rater_key(source: RaterSource, who: UUID | str) -> str:
    """Stable name of one rater within an appraisal: the source and the employee id or the
    external reference."""
    return f"{source.value}:{who}"


@dataclass(frozen=True)
class Rating:
    """One competency's rating; ``value`` None means the rater explicitly did not observe it."""

    competency: str
    value: int | None


@dataclass
class RaterState:
    key: str
    source: RaterSource
    employee_id: UUID | None
    external_ref: str | None
    invitation_digest: str | None = None
    invitation_expires_at: datetime | None = None
    draft: list[Rating] | None = None
    draft_comments: str = ""
    submitted: list[Rating] | None = None
    comments: str = ""
    submitted_at: datetime | None = None
    calibrated: dict[str, int] = field(default_factory=dict)

    def effective(self) -> dict[str, int | None]:
        """The submitted ratings with calibrations applied."""
        ratings = {r.competency: r.value for r in self.submitted or []}
        ratings.update(self.calibrated)
        return ratings


class Appraisal(Aggregate):
    """One reviewee's part of a cycle: raters, reviews, calibrations."""

    @event("Started")
    def __init__(
        self,
        id: UUID,
        cycle_id: UUID,
        reviewee_id: UUID,
        manager_id: UUID | None,
        department_id: UUID,
        provenance: Provenance,
    ) -> None:
        self.cycle_id = cycle_id
        self.reviewee_id = reviewee_id
        self.manager_id = manager_id
        self.department_id = department_id
        self.status = CycleStatus.OPEN
        self.raters: dict[str, RaterState] = {}
        self.calibrated_score: Decimal | None = None
        self._assign_self_and_manager()

    def _assign_self_and_manager(self) -> None:
        key = rater_key(RaterSource.SELF, self.reviewee_id)
        self.raters[key] = RaterState(key, RaterSource.SELF, self.reviewee_id, None)
        if self.manager_id is not None:
            key = rater_key(RaterSource.MANAGER, self.manager_id)
            self.raters[key] = RaterState(key, RaterSource.MANAGER, self.manager_id, None)

    @classmethod
    def start(
        cls,
        *,
        cycle_id: UUID,
        reviewee_id: UUID,
        manager_id: UUID | None,
        department_id: UUID,
        provenance: Provenance,
    ) -> Appraisal:
        """Self and the manager of the moment (from the org chart) are assigned from the start."""
        return cls(
            id=appraisal_id(cycle_id, reviewee_id),
            cycle_id=cycle_id,
            reviewee_id=reviewee_id,
            manager_id=manager_id,
            department_id=department_id,
            provenance=provenance,
        )

    # -- state, mirrored from the cycle -------------------------------------------------------

    def _require(self, status: CycleStatus, doing: str) -> None:
        if self.status is not status:
            raise CycleNotInState(
                f"the review cycle is {self.status.value}; to {doing} it must be {status.value}",
                field="cycleId",
            )

    def enter_calibration(self, provenance: Provenance) -> None:
        self._require(CycleStatus.OPEN, "start calibration")
        self._calibration_entered(provenance)

    @event("CalibrationEntered")
    def _calibration_entered(self, provenance: Provenance) -> None:
        self.status = CycleStatus.CALIBRATION

    def close(self, provenance: Provenance) -> None:
        self._require(CycleStatus.CALIBRATION, "close it")
        self._closed(provenance)

    @event("Closed")
    def _closed(self, provenance: Provenance) -> None:
        self.status = CycleStatus.CLOSED

    # -- raters ----------------------------------------------------------------------------------

    def _rater(self, key: str, field: str = "raterId") -> RaterState:
        rater = self.raters.get(key)
        if rater is None:
            raise RaterNotAssigned(
                "that rater is not assigned to review this person in this cycle", field=field
            )
        return rater

    def assign_peer(self, peer_id: UUID, provenance: Provenance) -> str:
        self._require(CycleStatus.OPEN, "assign raters")
        if peer_id == self.reviewee_id:
            raise SelfAsPeer("nobody can be their own peer rater", field="raterId")
        if any(r.employee_id == peer_id for r in self.raters.values()):
            raise RaterAlreadyAssigned(
                "that employee already rates this person in this cycle", field="raterId"
            )
        key = rater_key(RaterSource.PEER, peer_id)
        self._rater_assigned(key, RaterSource.PEER, peer_id, None, provenance)
        return key

    def assign_customer(self, external_ref: str, provenance: Provenance) -> str:
        self._require(CycleStatus.OPEN, "assign raters")
        reference = text.required_text(external_ref, field="externalRef", max_length=200)
        key = rater_key(RaterSource.CUSTOMER, reference)
        if key in self.raters:
            raise RaterAlreadyAssigned(
                f"customer {reference!r} already rates this person in this cycle",
                field="externalRef",
            )
        if sum(1 for r in self.raters.values() if r.source.external) >= MAX_EXTERNAL_RATERS:
            raise InvalidInput(
                f"at most {MAX_EXTERNAL_RATERS} external raters per person", field="externalRef"
            )
        self._rater_assigned(key, RaterSource.CUSTOMER, None, reference, provenance)
        return key

    @event("RaterAssigned")
    def _rater_assigned(
        self,
        rater_key: str,
        source: RaterSource,
        employee_id: UUID | None,
        external_ref: str | None,
        provenance: Provenance,
    ) -> None:
        self.raters[rater_key] = RaterState(rater_key, source, employee_id, external_ref)

    def unassign(self, key: str, provenance: Provenance) -> None:
        self._require(CycleStatus.OPEN, "remove raters")
        rater = self._rater(key)
        if rater.source in (RaterSource.SELF, RaterSource.MANAGER):
            raise InvalidInput(
                "self and manager reviews belong to every appraisal; they cannot be removed",
                field="raterId",
            )
        if rater.submitted is not None:
            raise ReviewAlreadySubmitted(
                "that rater already submitted; a submitted review stays on record",
                field="raterId",
            )
        self._rater_unassigned(key, provenance.with_required_reason("remove a rater"))

    @event("RaterUnassigned")
    def _rater_unassigned(self, rater_key: str, provenance: Provenance) -> None:
        del self.raters[rater_key]

    def invite_external(
        self,
        key: str,
        token_digest: str,
        expires_at: datetime,
        now: datetime,
        provenance: Provenance,
    ) -> None:
        """Record a one-time token's digest (never the token) for an external rater; a new
        invitation replaces the earlier one, which stops working."""
        self._require(CycleStatus.OPEN, "invite raters")
        rater = self._rater(key)
        if not rater.source.external:
            raise InvalidInput("only external raters are invited by token", field="raterId")
        if rater.submitted is not None:
            raise ReviewAlreadySubmitted("that rater already submitted", field="raterId")
        if expires_at <= now:
            raise InvalidInput("an invitation must expire in the future", field="expiresAt")
        self._invited(key, token_digest, expires_at, provenance)

    @event("ExternalRaterInvited")
    def _invited(
        self, rater_key: str, token_digest: str, expires_at: datetime, provenance: Provenance
    ) -> None:
        rater = self.raters[rater_key]
        rater.invitation_digest = token_digest
        rater.invitation_expires_at = expires_at

    def external_rater_for(self, token_digest: str, now: datetime) -> str:
        """The rater a token belongs to, if it still works: once, and before it expires."""
        for rater in self.raters.values():
            if rater.invitation_digest == token_digest:
                if rater.submitted is not None:
                    raise ExternalTokenUsed(
                        "this invitation was already used to submit a review", field="token"
                    )
                assert rater.invitation_expires_at is not None
                if now >= rater.invitation_expires_at:
                    raise ExternalTokenExpired(
                        f"this invitation expired at {rater.invitation_expires_at.isoformat()}",
                        field="token",
                    )
                return rater.key
        raise ExternalTokenInvalid(
            "this invitation is not valid (unknown, or replaced by a newer one)", field="token"
        )

    # -- reviews ---------------------------------------------------------------------------------

    def _checked_ratings(
        self, definition: CycleDefinition, ratings: Sequence[Rating], *, complete: bool
    ) -> list[Rating]:
        seen: dict[str, Rating] = {}
        for i, rating in enumerate(ratings):
            if definition.competency(rating.competency) is None:
                known = ", ".join(c.key for c in definition.competencies)
                raise InvalidInput(
                    f"competency {rating.competency!r} is not in this cycle's framework ({known})",
                    field=f"ratings[{i}].competency",
                )
            if rating.competency in seen:
                raise InvalidInput(
                    f"competency {rating.competency!r} is rated twice",
                    field=f"ratings[{i}].competency",
                )
            scale = definition.scale
            if rating.value is not None and not scale.contains(rating.value):
                raise RatingOutOfScale(
                    f"rating {rating.value} for {rating.competency!r} is outside this cycle's "
                    f"scale {scale.minimum} to {scale.maximum}",
                    field=f"ratings[{i}].value",
                )
            seen[rating.competency] = rating
        if complete:
            missing = [c.key for c in definition.competencies if c.key not in seen]
            if missing:
                raise CompetencyNotRated(
                    "every competency needs a rating or an explicit 'not observed'; missing: "
                    + ", ".join(missing),
                    field="ratings",
                )
        return [seen[c.key] for c in definition.competencies if c.key in seen]

    def _require_can_write(self, definition: CycleDefinition, key: str, now: datetime) -> None:
        self._require(CycleStatus.OPEN, "write reviews")
        rater = self._rater(key)
        if rater.submitted is not None:
            raise ReviewAlreadySubmitted(
                "this review was already submitted; a review is submitted once", field="raterId"
            )
        if now.date() > definition.deadlines.submissions_due:
            raise SubmissionDeadlinePassed(
                f"reviews were due {definition.deadlines.submissions_due.isoformat()}; ask hr "
                "to extend the deadline",
                field="cycleId",
            )

    def save_draft(
        self,
        definition: CycleDefinition,
        key: str,
        ratings: Sequence[Rating],
        comments: str,
        now: datetime,
        provenance: Provenance,
    ) -> None:
        self._require_can_write(definition, key, now)
        checked = self._checked_ratings(definition, ratings, complete=False)
        self._draft_saved(key, checked, _comments(comments), provenance)

    @event("ReviewDraftSaved")
    def _draft_saved(
        self, rater_key: str, ratings: list[Rating], comments: str, provenance: Provenance
    ) -> None:
        rater = self.raters[rater_key]
        rater.draft = ratings
        rater.draft_comments = comments

    def submit(
        self,
        definition: CycleDefinition,
        key: str,
        ratings: Sequence[Rating],
        comments: str,
        now: datetime,
        provenance: Provenance,
    ) -> None:
        self._require_can_write(definition, key, now)
        checked = self._checked_ratings(definition, ratings, complete=True)
        self._submitted(key, checked, _comments(comments), now, provenance)

    @event("ReviewSubmitted")
    def _submitted(
        self,
        rater_key: str,
        ratings: list[Rating],
        comments: str,
        submitted_at: datetime,
        provenance: Provenance,
    ) -> None:
        rater = self.raters[rater_key]
        rater.submitted = ratings
        rater.comments = comments
        rater.submitted_at = submitted_at
        rater.draft = None
        rater.draft_comments = ""

    # -- calibration -------------------------------------------------------------------------------

    def calibrate_rating(
        self,
        definition: CycleDefinition,
        key: str,
        competency: str,
        value: int,
        provenance: Provenance,
    ) -> None:
        """HR moves one submitted rating; the submitted value stays on record beside it."""
        self._require(CycleStatus.CALIBRATION, "calibrate")
        rater = self._rater(key)
        if rater.submitted is None:
            raise InvalidInput("only submitted reviews are calibrated", field="raterId")
        if definition.competency(competency) is None:
            raise InvalidInput(
                f"competency {competency!r} is not in this cycle's framework", field="competency"
            )
        if not definition.scale.contains(value):
            raise RatingOutOfScale(
                f"rating {value} is outside this cycle's scale {definition.scale.minimum} to "
                f"{definition.scale.maximum}",
                field="value",
            )
        previous = rater.effective().get(competency)
        if previous == value:
            raise InvalidInput(f"the rating already is {value}", field="value")
        original = next((r.value for r in rater.submitted if r.competency == competency), None)
        self._rating_calibrated(
            key, competency, original, previous, value, provenance.with_required_reason("calibrate")
        )

    @event("RatingCalibrated")
    def _rating_calibrated(
        self,
        rater_key: str,
        competency: str,
        original: int | None,
        previous: int | None,
        calibrated: int,
        provenance: Provenance,
    ) -> None:
        self.raters[rater_key].calibrated[competency] = calibrated

    def calibrate_result(self, score: Decimal | None, provenance: Provenance) -> None:
        """HR sets the final score (0-100) by calibration, or with None withdraws an earlier
        calibration; the computed score stays on record beside it."""
        self._require(CycleStatus.CALIBRATION, "calibrate")
        if score is not None and (not score.is_finite() or not 0 <= score <= HUNDRED):
            raise InvalidInput("a calibrated score lies between 0 and 100", field="score")
        if score == self.calibrated_score:
            raise InvalidInput("the result is already calibrated to that score", field="score")
        self._result_calibrated(
            self.calibrated_score, score, provenance.with_required_reason("calibrate a result")
        )

    @event("ResultCalibrated")
    def _result_calibrated(
        self, previous: Decimal | None, score: Decimal | None, provenance: Provenance
    ) -> None:
        self.calibrated_score = score

    # -- reading ---------------------------------------------------------------------------------

    def rater_of_employee(self, employee_id: UUID) -> str | None:
        return next((r.key for r in self.raters.values() if r.employee_id == employee_id), None)


def _comments(value: str) -> str:
    cleaned = value.strip()
    if len(cleaned) > MAX_COMMENTS:
        raise InvalidInput(f"comments are longer than {MAX_COMMENTS} characters", field="comments")
    return cleaned
