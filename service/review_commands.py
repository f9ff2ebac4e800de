"""Review-cycle commands: define and run a cycle, assign raters, write and calibrate reviews.

The cycle's transitions (open, calibration, close) save the cycle together with every appraisal
in one transaction; see domain/reviews.py for why. External raters never hold an account: they get
a one-time token; only its SHA-256 digest is recorded, so neither the log nor a database dump
holds a usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from domain.errors import (
    AlreadyExists,
    EmployeeHasLeft,
    ExternalTokenInvalid,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RaterNotAssigned,
)
from domain.organisation import Department, Employee
from domain.provenance import Provenance, Role
from domain.reviews import (
    Appraisal,
    CycleDeadlines,
    CycleDefinition,
    CycleStatus,
    RaterSource,
    Rating,
    ReviewCycle,
    appraisal_id,
    rater_key,
)
from service.command_base import CommandsBase, Decision, Receipt

TOKEN_PREFIX = "rvw"  # noqa: S105 - a marker, not a secret
MAX_INVITATION_DAYS = 60
MAX_REVIEWEES = 50_000


@dataclass(frozen=True)
class Invitation:
    """An external rater's invitation: the token is shown once, here, and never stored."""

    receipt: Receipt
    rater_key: str
    token: str
    expires_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def appraisal_of_token(token: str) -> UUID:
    """The appraisal a token belongs to (its middle part); the secret part is checked against
    the recorded digest."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise ExternalTokenInvalid("this is not a review invitation token", field="token")
    try:
        return UUID(hex=parts[1])
    except ValueError:
        raise ExternalTokenInvalid("this is not a review invitation token", field="token") from None


class ReviewCommands(CommandsBase):
    # -- loading -----------------------------------------------------------------------------------

    def _cycle(self, cycle_id: UUID) -> ReviewCycle:
        return self._load(ReviewCycle, cycle_id, "review cycle", "cycleId")

    def _appraisal(self, cycle_id: UUID, reviewee_id: UUID) -> Appraisal:
        appraisal = self._load_optional(Appraisal, appraisal_id(cycle_id, reviewee_id))
        if appraisal is None:
            raise NotFound(
                f"employee {reviewee_id} is not reviewed in cycle {cycle_id}", field="revieweeId"
            )
        return appraisal

    def _actor(self, provenance: Provenance) -> UUID:
        try:
            return UUID(provenance.actor_id)
        except ValueError:
            raise PermissionDenied("only employees write reviews") from None

    # -- defining and running a cycle -------------------------------------------------------------

    def draft_review_cycle(
        self,
        provenance: Provenance,
        *,
        cycle_id: UUID,
        definition: CycleDefinition,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "define review cycles")
            if self._load_optional(ReviewCycle, cycle_id) is not None:
                raise AlreadyExists(f"review cycle {cycle_id} already exists", field="cycleId")
            self._check_scope(definition)
            cycle = ReviewCycle.draft(cycle_id, definition, provenance)
            return [cycle], cycle.id, cycle.version

        arguments = {"cycle_id": cycle_id, "definition": repr(definition)}
        return self._execute(provenance, "draftReviewCycle", arguments, decide, idempotency_key)

    def _check_scope(self, definition: CycleDefinition) -> None:
        for i, department_id in enumerate(definition.scope_departments):
            self._load(Department, department_id, "department", f"scope.departmentIds[{i}]")
        for i, employee_id in enumerate(definition.scope_employees):
            self._load(Employee, employee_id, "employee", f"scope.employeeIds[{i}]")

    def redefine_review_cycle(
        self, provenance: Provenance, cycle_id: UUID, definition: CycleDefinition
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "define review cycles")
            cycle = self._cycle(cycle_id)
            self._check_scope(definition)
            cycle.redefine(definition, provenance)
            return [cycle], cycle.id, cycle.version

        return self._execute(provenance, "redefineReviewCycle", {}, decide)

    def change_cycle_deadlines(
        self, provenance: Provenance, cycle_id: UUID, deadlines: CycleDeadlines
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "move deadlines")
            cycle = self._cycle(cycle_id)
            cycle.change_deadlines(deadlines, provenance)
            return [cycle], cycle.id, cycle.version

        return self._execute(provenance, "changeCycleDeadlines", {}, decide)

    def in_scope(self, definition: CycleDefinition, employee: Employee) -> bool:
        if employee.id in definition.scope_employees:
            return True
        scope = set(definition.scope_departments)
        return any(d in scope for d in self.department_ancestry(employee.department_id))

    def open_review_cycle(
        self,
        provenance: Provenance,
        cycle_id: UUID,
        reviewee_ids: Sequence[UUID],
        today: date,
    ) -> Receipt:
        """Open the cycle for ``reviewee_ids`` (resolved from the scope by the caller, from a read
        model); each is checked here against the recorded organisation, and gets an appraisal
        with self and their manager of today as raters."""

        def decide() -> Decision:
            self._require_hr(provenance, "open review cycles")
            cycle = self._cycle(cycle_id)
            cycle.require(CycleStatus.DRAFT, "open it")
            if len(reviewee_ids) > MAX_REVIEWEES:
                raise InvalidInput(
                    f"a cycle reviews at most {MAX_REVIEWEES} people", field="revieweeIds"
                )
            unique = list(dict.fromkeys(reviewee_ids))
            appraisals: list[Appraisal] = []
            for i, reviewee_id in enumerate(unique):
                employee = self._load(Employee, reviewee_id, "employee", f"revieweeIds[{i}]")
                if employee.leave_date is not None and employee.leave_date <= today:
                    raise EmployeeHasLeft(
                        f"employee {employee.code} has left and cannot be reviewed",
                        field=f"revieweeIds[{i}]",
                    )
                if not self.in_scope(cycle.definition, employee):
                    raise InvalidInput(
                        f"employee {employee.code} is outside the cycle's scope",
                        field=f"revieweeIds[{i}]",
                    )
                appraisals.append(
                    Appraisal.start(
                        cycle_id=cycle_id,
                        reviewee_id=reviewee_id,
                        manager_id=employee.manager_id,
                        department_id=employee.department_id,
                        provenance=provenance,
                    )
                )
            cycle.open(unique, today, provenance)
            return [cycle, *appraisals], cycle.id, cycle.version

        return self._execute(provenance, "openReviewCycle", {}, decide)

    def _move_cycle(
        self,
        provenance: Provenance,
        cycle_id: UUID,
        command: str,
        doing: str,
        move: Callable[[ReviewCycle], None],
        mirror: Callable[[Appraisal], None],
    ) -> Receipt:
        """Move the cycle and record the same move on every appraisal, in one transaction."""

        def decide() -> Decision:
            self._require_hr(provenance, doing)
            cycle = self._cycle(cycle_id)
            move(cycle)
            appraisals = [self._appraisal(cycle.id, r) for r in cycle.reviewee_ids]
            for appraisal in appraisals:
                mirror(appraisal)
            return [cycle, *appraisals], cycle.id, cycle.version

        return self._execute(provenance, command, {}, decide)

    def start_calibration(self, provenance: Provenance, cycle_id: UUID) -> Receipt:
        return self._move_cycle(
            provenance,
            cycle_id,
            "startCalibration",
            "start calibration",
            lambda cycle: cycle.start_calibration(provenance),
            lambda appraisal: appraisal.enter_calibration(provenance),
        )

    def close_review_cycle(self, provenance: Provenance, cycle_id: UUID) -> Receipt:
        """Freeze every review, rating and result of the cycle."""
        return self._move_cycle(
            provenance,
            cycle_id,
            "closeReviewCycle",
            "close review cycles",
            lambda cycle: cycle.close(provenance),
            lambda appraisal: appraisal.close(provenance),
        )

    # -- raters ------------------------------------------------------------------------------------

    def _require_may_assign(self, provenance: Provenance, appraisal: Appraisal) -> None:
        """Peers are chosen by the reviewee's managers or by hr."""
        self._require_may_manage(provenance, appraisal.reviewee_id, "choose raters")

    def assign_peer_rater(
        self, provenance: Provenance, cycle_id: UUID, reviewee_id: UUID, peer_id: UUID
    ) -> Receipt:
        def decide() -> Decision:
            appraisal = self._appraisal(cycle_id, reviewee_id)
            self._require_may_assign(provenance, appraisal)
            peer = self._load(Employee, peer_id, "employee", "raterId")
            peer.require_active("review anyone", field="raterId")
            appraisal.assign_peer(peer_id, provenance)
            return [appraisal], appraisal.id, appraisal.version

        return self._execute(provenance, "assignPeerRater", {}, decide)

    def unassign_rater(
        self, provenance: Provenance, cycle_id: UUID, reviewee_id: UUID, key: str
    ) -> Receipt:
        def decide() -> Decision:
            appraisal = self._appraisal(cycle_id, reviewee_id)
            self._require_may_assign(provenance, appraisal)
            appraisal.unassign(key, provenance)
            return [appraisal], appraisal.id, appraisal.version

        return self._execute(provenance, "unassignRater", {}, decide)

    def invite_customer_rater(
        self,
        provenance: Provenance,
        *,
        cycle_id: UUID,
        reviewee_id: UUID,
        external_ref: str,
        valid_for: timedelta,
        now: datetime,
    ) -> Invitation:
        """Assign a customer (or other external) rater if not yet assigned, and issue a fresh
        one-time token; an earlier token of the same rater stops working."""
        if not timedelta(hours=1) <= valid_for <= timedelta(days=MAX_INVITATION_DAYS):
            raise InvalidInput(
                f"an invitation is valid for 1 hour to {MAX_INVITATION_DAYS} days",
                field="validForDays",
            )
        issued: dict[str, str] = {}

        def decide() -> Decision:
            appraisal = self._appraisal(cycle_id, reviewee_id)
            self._require_may_assign(provenance, appraisal)
            key = rater_key(RaterSource.CUSTOMER, external_ref.strip())
            if key not in appraisal.raters:
                key = appraisal.assign_customer(external_ref, provenance)
            token = f"{TOKEN_PREFIX}.{appraisal.id.hex}.{secrets.token_urlsafe(32)}"
            appraisal.invite_external(key, token_digest(token), now + valid_for, now, provenance)
            issued["key"], issued["token"] = key, token
            return [appraisal], appraisal.id, appraisal.version

        receipt = self._execute(provenance, "inviteCustomerRater", {}, decide)
        return Invitation(receipt, issued["key"], issued["token"], now + valid_for)

    # -- writing reviews ---------------------------------------------------------------------------

    def _own_rater_key(self, provenance: Provenance, appraisal: Appraisal) -> str:
        # An auditor's token may carry the employee id of someone who is also a rater.
        if provenance.actor_role is Role.AUDITOR:
            raise PermissionDenied("auditors read reviews; they cannot write them")
        key = appraisal.rater_of_employee(self._actor(provenance))
        if key is None:
            raise RaterNotAssigned(
                "you are not assigned to review this person in this cycle", field="revieweeId"
            )
        return key

    def save_review_draft(
        self,
        provenance: Provenance,
        *,
        cycle_id: UUID,
        reviewee_id: UUID,
        ratings: Sequence[Rating],
        comments: str,
        now: datetime,
    ) -> Receipt:
        def decide() -> Decision:
            cycle = self._cycle(cycle_id)
            appraisal = self._appraisal(cycle_id, reviewee_id)
            key = self._own_rater_key(provenance, appraisal)
            appraisal.save_draft(cycle.definition, key, ratings, comments, now, provenance)
            return [appraisal], appraisal.id, appraisal.version

        return self._execute(provenance, "saveReviewDraft", {}, decide)

    def submit_review(
        self,
        provenance: Provenance,
        *,
        cycle_id: UUID,
        reviewee_id: UUID,
        ratings: Sequence[Rating],
        comments: str,
        now: datetime,
        idempotency_key: str | None = None,
    ) -> Receipt:
        def decide() -> Decision:
            cycle = self._cycle(cycle_id)
            appraisal = self._appraisal(cycle_id, reviewee_id)
            key = self._own_rater_key(provenance, appraisal)
            appraisal.submit(cycle.definition, key, ratings, comments, now, provenance)
            return [appraisal], appraisal.id, appraisal.version

        # The comments are part of the request: a resend with edited comments is a different
        # request. Only a digest of the whole request is recorded (see service/idempotency.py).
        arguments = {
            "cycle": cycle_id,
            "reviewee": reviewee_id,
            "ratings": repr(ratings),
            "comments": comments,
        }
        return self._execute(provenance, "submitReview", arguments, decide, idempotency_key)

    def submit_external_review(
        self,
        *,
        token: str,
        ratings: Sequence[Rating],
        comments: str,
        now: datetime,
        correlation_id: str,
    ) -> Receipt:
        """A customer's review, authenticated by the one-time token alone."""
        the_appraisal = appraisal_of_token(token)
        digest = token_digest(token)

        def decide() -> Decision:
            appraisal = self._load_optional(Appraisal, the_appraisal)
            if appraisal is None:
                raise ExternalTokenInvalid("this invitation is not valid", field="token")
            key = appraisal.external_rater_for(digest, now)
            provenance = Provenance(key, Role.EXTERNAL, correlation_id)
            cycle = self._cycle(appraisal.cycle_id)
            appraisal.submit(cycle.definition, key, ratings, comments, now, provenance)
            return [appraisal], appraisal.id, appraisal.version

        placeholder = Provenance("external", Role.EXTERNAL, correlation_id)
        return self._execute(placeholder, "submitExternalReview", {}, decide)

    def external_invitation(self, token: str, now: datetime) -> tuple[ReviewCycle, Appraisal, str]:
        """What an external rater may see before submitting: the cycle's framework and whom
        they rate. Raises when the token does not (or no longer) work."""
        appraisal = self._load_optional(Appraisal, appraisal_of_token(token))
        if appraisal is None:
            raise ExternalTokenInvalid("this invitation is not valid", field="token")
        key = appraisal.external_rater_for(token_digest(token), now)
        return self._cycle(appraisal.cycle_id), appraisal, key

    # -- calibration -------------------------------------------------------------------------------

    def calibrate_rating(
        self,
        provenance: Provenance,
        *,
        cycle_id: UUID,
        reviewee_id: UUID,
        rater: str,
        competency: str,
        value: int,
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "calibrate ratings")
            cycle = self._cycle(cycle_id)
            appraisal = self._appraisal(cycle_id, reviewee_id)
            appraisal.calibrate_rating(cycle.definition, rater, competency, value, provenance)
            return [appraisal], appraisal.id, appraisal.version

        return self._execute(provenance, "calibrateRating", {}, decide)

    def calibrate_result(
        self, provenance: Provenance, *, cycle_id: UUID, reviewee_id: UUID, score: Decimal | None
    ) -> Receipt:
        def decide() -> Decision:
            self._require_hr(provenance, "calibrate results")
            appraisal = self._appraisal(cycle_id, reviewee_id)
            appraisal.calibrate_result(score, provenance)
            return [appraisal], appraisal.id, appraisal.version

        return self._execute(provenance, "calibrateResult", {}, decide)
