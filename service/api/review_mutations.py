"""360 reviews over GraphQL, the writing side: define and run cycles, choose raters, write and
calibrate reviews.

Each mutation turns its input into one application call (service/review_commands.py). Two read
the read models first: opening a cycle resolves its scope to people (the application checks each
against the recorded organisation). A customer rater authenticates with their invitation token
alone; only `submitExternalReview` accepts such a caller, and only such a caller.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import strawberry
from eventsourcing.application import AggregateNotFoundError

from domain.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from domain.provenance import Role
from domain.reviews import (
    Competency,
    CycleDeadlines,
    CycleDefinition,
    Rating,
    RatingScale,
    ReviewCycle,
)
from projections.organisation import DEPARTMENT_TREE
from service.api.errors import CommandRejected
from service.api.mutations import (
    CommandAccepted,
    CommandResult,
    execute,
    new_id,
    optional_uuid,
    uuid_of,
)
from service.api.types import Info
from service.application import HR_ROLES, Receipt

# -- inputs ----------------------------------------------------------------------------------------


@strawberry.input(
    description="Who is reviewed: departments (with their sub-departments) and people."
)
class ReviewScopeInput:
    department_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    employee_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input(description="One competency; `levels` describes each scale point, lowest first.")
class CompetencyInput:
    key: str = strawberry.field(description="Lower-case letters, digits and '_'.")
    name: str
    weight: Decimal = strawberry.field(description="Percent; the framework's weights total 100.")
    levels: list[str]


@strawberry.input(description="Integer ratings from minimum to maximum, optionally labelled.")
class RatingScaleInput:
    minimum: int
    maximum: int
    labels: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class CycleDeadlinesInput:
    submissions_due: date
    calibration_due: date


@strawberry.input(description="A review cycle's definition.")
class ReviewCycleDefinitionInput:
    name: str
    period: str = strawberry.field(description="2026, 2026-Q1 or 2026-03.")
    scope: ReviewScopeInput
    competencies: list[CompetencyInput]
    scale: RatingScaleInput
    deadlines: CycleDeadlinesInput
    min_peer_raters: int = 3
    anonymity_threshold: int = strawberry.field(
        default=3,
        description="k: peer and customer ratings are shown to the reviewee and their managers "
        "only when at least k of that source submitted.",
    )


@strawberry.input
class DraftReviewCycleInput(ReviewCycleDefinitionInput):
    cycle_id: strawberry.ID | None = strawberry.field(
        default=None, description="Choose the cycle's id yourself (optional)."
    )


@strawberry.input
class RedefineReviewCycleInput(ReviewCycleDefinitionInput):
    cycle_id: strawberry.ID


@strawberry.input
class ChangeCycleDeadlinesInput:
    cycle_id: strawberry.ID
    deadlines: CycleDeadlinesInput
    reason: str | None = strawberry.field(default=None, description="Required.")


@strawberry.input
class AssignPeerRaterInput:
    cycle_id: strawberry.ID
    reviewee_id: strawberry.ID
    rater_id: strawberry.ID


@strawberry.input
class UnassignRaterInput:
    cycle_id: strawberry.ID
    reviewee_id: strawberry.ID
    rater_key: str = strawberry.field(description="From `appraisalRaters`.")
    reason: str | None = strawberry.field(default=None, description="Required.")


@strawberry.input
class InviteCustomerRaterInput:
    cycle_id: strawberry.ID
    reviewee_id: strawberry.ID
    external_ref: str = strawberry.field(
        description="Your reference for the customer (an account number, say); never shown to "
        "the reviewee."
    )
    valid_for_days: int = 14


@strawberry.input(
    description="A rating: a value on the cycle's scale, or `notObserved: true` with no value."
)
class RatingInput:
    competency: str
    value: int | None = None
    not_observed: bool = False


@strawberry.input
class ReviewInput:
    cycle_id: strawberry.ID
    reviewee_id: strawberry.ID
    ratings: list[RatingInput]
    comments: str = ""


@strawberry.input(description="A customer's review; the invitation token is the bearer token.")
class ExternalReviewInput:
    ratings: list[RatingInput]
    comments: str = ""


@strawberry.input
class CalibrateRatingInput:
    cycle_id: strawberry.ID
    reviewee_id: strawberry.ID
    rater_key: str = strawberry.field(description="From `reviewDetail`.")
    competency: str
    value: int
    reason: str | None = strawberry.field(default=None, description="Required.")


@strawberry.input
class CalibrateResultInput:
    cycle_id: strawberry.ID
    reviewee_id: strawberry.ID
    score: Decimal | None = strawberry.field(
        description="The final score (0-100), or null to withdraw an earlier calibration."
    )
    reason: str | None = strawberry.field(default=None, description="Required.")


# -- results ---------------------------------------------------------------------------------------


@strawberry.type(
    description="The invitation was recorded. The token is shown here once and stored nowhere: "
    "send it to the customer, who uses it as their bearer token."
)
class InvitationIssued:
    position: int
    rater_key: str
    token: str
    expires_at: datetime


InvitationResult = Annotated[
    InvitationIssued | CommandRejected, strawberry.union("InvitationResult")
]


# -- translating input -----------------------------------------------------------------------------


def _definition(input: ReviewCycleDefinitionInput) -> CycleDefinition:
    return CycleDefinition(
        name=input.name,
        period=input.period,
        scope_departments=[
            uuid_of(d, f"scope.departmentIds[{i}]")
            for i, d in enumerate(input.scope.department_ids)
        ],
        scope_employees=[
            uuid_of(e, f"scope.employeeIds[{i}]") for i, e in enumerate(input.scope.employee_ids)
        ],
        competencies=[
            Competency(key=c.key, name=c.name, weight=c.weight, levels=list(c.levels))
            for c in input.competencies
        ],
        scale=RatingScale(input.scale.minimum, input.scale.maximum, list(input.scale.labels)),
        deadlines=_deadlines(input.deadlines),
        min_peer_raters=input.min_peer_raters,
        anonymity_threshold=input.anonymity_threshold,
    )


def _deadlines(input: CycleDeadlinesInput) -> CycleDeadlines:
    return CycleDeadlines(input.submissions_due, input.calibration_due)


def _ratings(items: list[RatingInput]) -> list[Rating]:
    ratings: list[Rating] = []
    for i, item in enumerate(items):
        if item.not_observed and item.value is not None:
            raise InvalidInput(
                f"ratings[{i}] has a value and notObserved; give one or the other",
                field=f"ratings[{i}].value",
            )
        if not item.not_observed and item.value is None:
            raise InvalidInput(
                f"ratings[{i}] ({item.competency!r}) needs a value, or notObserved: true",
                field=f"ratings[{i}].value",
            )
        ratings.append(Rating(item.competency, item.value))
    return ratings


def utc_now() -> datetime:
    return datetime.now(UTC)


# Everyone employed on the day (not yet left) in the scope's departments, their sub-departments,
# or named in it; the application checks each again against the recorded organisation.
_SCOPE = (
    DEPARTMENT_TREE
    + """
SELECT id FROM employees
WHERE (department_id IN (SELECT id FROM tree) OR id = ANY($2::uuid[]))
  AND (leave_date IS NULL OR leave_date > $3)
ORDER BY code
"""
)


async def _reviewees(info: Info, cycle_id: UUID, today: date) -> list[UUID]:
    """The people a draft cycle's scope names, from the directory read model.

    The scope comes from the cycle itself, not its read model, so a cycle drafted a moment ago
    opens without waiting for the projection.
    """
    app = info.context.services.app

    def scope() -> tuple[list[UUID], list[UUID]]:
        try:
            cycle: object = app.repository.get(cycle_id)
        except AggregateNotFoundError:
            raise NotFound(f"review cycle {cycle_id} does not exist", field="cycleId") from None
        if not isinstance(cycle, ReviewCycle):
            raise NotFound(f"review cycle {cycle_id} does not exist", field="cycleId")
        return cycle.definition.scope_departments, cycle.definition.scope_employees

    departments, employees = await info.context.services.call(scope)
    async with info.context.pool.acquire() as conn:
        rows = await conn.fetch(_SCOPE, departments, employees, today)
    # asyncpg's own UUID type is not one the event store can record.
    return [UUID(bytes=r["id"].bytes) for r in rows]


async def _open_cycle(info: Info, cycle_id: strawberry.ID) -> CommandAccepted | CommandRejected:
    ctx = info.context
    today = utc_now().date()
    try:
        if ctx.viewer.role not in HR_ROLES:
            raise PermissionDenied("only hr or admin may open review cycles")
        the_cycle = uuid_of(cycle_id, "cycleId")
        reviewees = await _reviewees(info, the_cycle, today)
    except DomainError as error:
        return CommandRejected.of(error)
    return await execute(
        info,
        lambda: ctx.services.app.open_review_cycle(ctx.provenance(), the_cycle, reviewees, today),
    )


async def _invite(
    info: Info, input: InviteCustomerRaterInput
) -> InvitationIssued | CommandRejected:
    ctx = info.context
    try:
        if ctx.viewer.role in (Role.AUDITOR, Role.EXTERNAL):
            raise PermissionDenied("your role cannot invite raters")
        cycle_id = uuid_of(input.cycle_id, "cycleId")
        reviewee_id = uuid_of(input.reviewee_id, "revieweeId")
        invitation = await ctx.services.call(
            lambda: ctx.services.app.invite_customer_rater(
                ctx.provenance(),
                cycle_id=cycle_id,
                reviewee_id=reviewee_id,
                external_ref=input.external_ref,
                valid_for=timedelta(days=input.valid_for_days),
                now=utc_now(),
            )
        )
    except DomainError as error:
        return CommandRejected.of(error)
    return InvitationIssued(
        position=invitation.receipt.position,
        rater_key=invitation.rater_key,
        token=invitation.token,
        expires_at=invitation.expires_at,
    )


def _submit_external(info: Info, input: ExternalReviewInput) -> Receipt:
    ctx = info.context
    if ctx.external is None:
        raise PermissionDenied(
            "submitExternalReview is for customers holding a review invitation; employees use "
            "submitReview"
        )
    return ctx.services.app.submit_external_review(
        token=ctx.external.token,
        ratings=_ratings(input.ratings),
        comments=input.comments,
        now=utc_now(),
        correlation_id=ctx.correlation_id,
    )


# -- the mutations ---------------------------------------------------------------------------------


@strawberry.type
class ReviewMutation:
    @strawberry.mutation(description="Define a review cycle (hr); it stays a draft until opened.")
    async def draft_review_cycle(self, info: Info, input: DraftReviewCycleInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.draft_review_cycle(
                ctx.provenance(),
                cycle_id=optional_uuid(input.cycle_id, "cycleId")
                or new_id(ctx.viewer.employee_id, ctx),
                definition=_definition(input),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Replace a draft cycle's definition (hr).")
    async def redefine_review_cycle(
        self, info: Info, input: RedefineReviewCycleInput
    ) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.redefine_review_cycle(
                ctx.provenance(), uuid_of(input.cycle_id, "cycleId"), _definition(input)
            ),
        )

    @strawberry.mutation(description="Move a cycle's deadlines before calibration (hr).")
    async def change_cycle_deadlines(
        self, info: Info, input: ChangeCycleDeadlinesInput
    ) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.change_cycle_deadlines(
                ctx.provenance(input.reason),
                uuid_of(input.cycle_id, "cycleId"),
                _deadlines(input.deadlines),
            ),
        )

    @strawberry.mutation(
        description="Open a draft cycle (hr): everyone in its scope who has not left gets an "
        "appraisal, with self and their manager of today as raters."
    )
    async def open_review_cycle(self, info: Info, cycle_id: strawberry.ID) -> CommandResult:
        return await _open_cycle(info, cycle_id)

    @strawberry.mutation(description="End submissions and begin calibration (hr).")
    async def start_calibration(self, info: Info, cycle_id: strawberry.ID) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.start_calibration(
                ctx.provenance(), uuid_of(cycle_id, "cycleId")
            ),
        )

    @strawberry.mutation(description="Close a cycle in calibration, freezing every result (hr).")
    async def close_review_cycle(self, info: Info, cycle_id: strawberry.ID) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.close_review_cycle(
                ctx.provenance(), uuid_of(cycle_id, "cycleId")
            ),
        )

    @strawberry.mutation(
        description="Choose a colleague as peer rater (the reviewee's managers, hr)."
    )
    async def assign_peer_rater(self, info: Info, input: AssignPeerRaterInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.assign_peer_rater(
                ctx.provenance(),
                uuid_of(input.cycle_id, "cycleId"),
                uuid_of(input.reviewee_id, "revieweeId"),
                uuid_of(input.rater_id, "raterId"),
            ),
        )

    @strawberry.mutation(description="Remove a peer or customer rater who has not submitted.")
    async def unassign_rater(self, info: Info, input: UnassignRaterInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.unassign_rater(
                ctx.provenance(input.reason),
                uuid_of(input.cycle_id, "cycleId"),
                uuid_of(input.reviewee_id, "revieweeId"),
                input.rater_key,
            ),
        )

    @strawberry.mutation(
        description="Invite a customer to rate someone; returns a one-time token (shown once). "
        "Inviting the same customer again replaces their earlier token."
    )
    async def invite_customer_rater(
        self, info: Info, input: InviteCustomerRaterInput
    ) -> InvitationResult:
        return await _invite(info, input)

    @strawberry.mutation(description="Save your unfinished review (you can save it again).")
    async def save_review_draft(self, info: Info, input: ReviewInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.save_review_draft(
                ctx.provenance(),
                cycle_id=uuid_of(input.cycle_id, "cycleId"),
                reviewee_id=uuid_of(input.reviewee_id, "revieweeId"),
                ratings=_ratings(input.ratings),
                comments=input.comments,
                now=utc_now(),
            ),
        )

    @strawberry.mutation(
        description="Submit your review, once: every competency rated or marked not observed."
    )
    async def submit_review(self, info: Info, input: ReviewInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.submit_review(
                ctx.provenance(),
                cycle_id=uuid_of(input.cycle_id, "cycleId"),
                reviewee_id=uuid_of(input.reviewee_id, "revieweeId"),
                ratings=_ratings(input.ratings),
                comments=input.comments,
                now=utc_now(),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation(
        description="A customer submits their review, authenticated by the invitation token as "
        "bearer token; the token works once."
    )
    async def submit_external_review(self, info: Info, input: ExternalReviewInput) -> CommandResult:
        return await execute(info, lambda: _submit_external(info, input))

    @strawberry.mutation(
        description="Move one submitted rating in calibration (hr); the submitted value stays "
        "on record beside it."
    )
    async def calibrate_rating(self, info: Info, input: CalibrateRatingInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.calibrate_rating(
                ctx.provenance(input.reason),
                cycle_id=uuid_of(input.cycle_id, "cycleId"),
                reviewee_id=uuid_of(input.reviewee_id, "revieweeId"),
                rater=input.rater_key,
                competency=input.competency,
                value=input.value,
            ),
        )

    @strawberry.mutation(
        description="Set someone's final score in calibration (hr), or withdraw it with null."
    )
    async def calibrate_result(self, info: Info, input: CalibrateResultInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.calibrate_result(
                ctx.provenance(input.reason),
                cycle_id=uuid_of(input.cycle_id, "cycleId"),
                reviewee_id=uuid_of(input.reviewee_id, "revieweeId"),
                score=input.score,
            ),
        )
