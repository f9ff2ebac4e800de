"""Mutations: translate GraphQL input to one application call, and its outcome to a result.

A result is either `CommandAccepted` (with the log position to pass as `minPosition`) or
`CommandRejected` (a code, a message and the field to blame; nothing was recorded).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import strawberry

from domain.errors import DomainError, InvalidInput, InvalidRuleSet, PermissionDenied
from domain.goals import Direction, GoalSpec, Horizon, OwnerKind, Perspective
from domain.provenance import Role
from domain.reviews import RaterSource
from domain.rules import (
    DEFAULT_AT_RISK_THRESHOLD,
    EligibilityRule,
    RuleSet,
    Tier,
    TierReward,
    TierShare,
)
from service.api.errors import CommandRejected
from service.api.reward_types import RaterSourceType, RewardSpecInput
from service.api.types import DirectionType, HorizonType, Info, OwnerKindType, PerspectiveType
from service.application import Receipt


@strawberry.type(description="The command was recorded.")
class CommandAccepted:
    position: int = strawberry.field(
        description="Log position of the last event written; pass it as `minPosition` to read "
        "your own write."
    )
    id: strawberry.ID | None = strawberry.field(description="The aggregate the command was about.")
    version: int | None = strawberry.field(
        description="The aggregate's version, or the rule-set version for rule commands."
    )


CommandResult = Annotated[CommandAccepted | CommandRejected, strawberry.union("CommandResult")]


_RETRY_NAMESPACE = UUID("5f0c8e8a-77d4-4a0e-9b7e-1f6f6f1f0d2a")


def new_id(actor: UUID, ctx: Any) -> UUID:
    """A fresh id; with an idempotency key, the same id on every retry of the request."""
    key: str | None = ctx.idempotency_key
    if key:
        return uuid.uuid5(_RETRY_NAMESPACE, f"{actor}/{key}")
    return uuid.uuid4()


def uuid_of(value: strawberry.ID | str, field: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a valid id", field=field) from None


def optional_uuid(value: strawberry.ID | None, field: str) -> UUID | None:
    return None if value is None else uuid_of(value, field)


async def execute(info: Info, command: Callable[[], Receipt]) -> CommandAccepted | CommandRejected:
    """Run one command off the event loop; expected failures become data.

    ``command`` parses its input and calls the application, so a malformed id and a broken
    invariant are rejected the same way, here.
    """
    try:
        if info.context.viewer.role is Role.AUDITOR:
            raise PermissionDenied("auditors read; they cannot change anything")
        receipt = await info.context.services.call(command)
    except DomainError as error:
        return CommandRejected.of(error)
    return CommandAccepted(
        position=receipt.position,
        id=strawberry.ID(str(receipt.id)) if receipt.id else None,
        version=receipt.version,
    )


@strawberry.input
class AttributeInput:
    key: str
    value: str


@strawberry.input
class OpenDepartmentInput:
    code: str
    name: str
    parent_id: strawberry.ID | None = None


@strawberry.input
class RenameDepartmentInput:
    department_id: strawberry.ID
    name: str
    reason: str | None = None


@strawberry.input
class MoveDepartmentInput:
    department_id: strawberry.ID
    parent_id: strawberry.ID | None
    reason: str | None = None


@strawberry.input
class HireEmployeeInput:
    code: str
    name: str
    department_id: strawberry.ID
    job_title: str
    hire_date: date
    manager_id: strawberry.ID | None = None
    attributes: list[AttributeInput] = strawberry.field(default_factory=list)


@strawberry.input
class TransferEmployeeInput:
    employee_id: strawberry.ID
    department_id: strawberry.ID
    effective: date
    reason: str | None = None


@strawberry.input
class ChangeManagerInput:
    employee_id: strawberry.ID
    manager_id: strawberry.ID | None
    reason: str | None = None


@strawberry.input
class SetEmployeeAttributesInput:
    employee_id: strawberry.ID
    attributes: list[AttributeInput]
    reason: str | None = None


@strawberry.input
class RecordLeavingInput:
    employee_id: strawberry.ID
    leave_date: date
    reason: str | None = None


@strawberry.input(
    description="A SMART goal: specific, measurable, achievable, relevant, time-bound."
)
class SetGoalInput:
    owner_kind: OwnerKindType  # type: ignore[valid-type]
    owner_id: strawberry.ID
    title: str
    metric: str
    unit: str
    direction: DirectionType  # type: ignore[valid-type]
    baseline: Decimal
    target: Decimal
    weight: Decimal
    perspective: PerspectiveType  # type: ignore[valid-type]
    horizon: HorizonType  # type: ignore[valid-type]
    period: str
    due_date: date
    parent_goal_id: strawberry.ID | None = None
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Choose the goal's id yourself (optional)."
    )
    reason: str | None = None


@strawberry.input
class RecordProgressInput:
    goal_id: strawberry.ID
    value: Decimal
    as_of: date
    source: str


@strawberry.input
class ReviseTargetInput:
    goal_id: strawberry.ID
    target: Decimal
    reason: str | None = strawberry.field(default=None, description="Required.")


@strawberry.input
class GoalReasonInput:
    goal_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class ConfirmGoalsInput:
    owner_id: strawberry.ID
    period: str


@strawberry.input
class PerspectiveWeightInput:
    perspective: PerspectiveType  # type: ignore[valid-type]
    weight: Decimal


@strawberry.input
class TierInput:
    name: str
    min_score: Decimal


@strawberry.input
class SourceWeightInput:
    source: RaterSourceType  # type: ignore[valid-type]
    weight: Decimal


@strawberry.input
class CompetencyWeightInput:
    competency: str
    weight: Decimal


@strawberry.input
class TierRewardInput:
    tier: str
    reward: RewardSpecInput


@strawberry.input(
    description="Propose a reward to whoever met the target of a goal on `metric` in each of "
    "the last `consecutiveMonths` months (1-12)."
)
class EligibilityRuleInput:
    key: str = strawberry.field(description="Unique in the rule set; names the rule on rewards.")
    metric: str
    consecutive_months: int
    reward: RewardSpecInput


@strawberry.input(description="Advisory: at most maxPercent of a population in the tier.")
class TierShareInput:
    tier: str
    max_percent: Decimal


@strawberry.input
class DefineRuleSetInput:
    description: str
    achievement_cap: Decimal
    achievement_floor: Decimal = Decimal(0)
    perspective_weights: list[PerspectiveWeightInput] = strawberry.field(default_factory=list)
    tiers: list[TierInput] = strawberry.field(default_factory=list)
    kpi_weight: Decimal = strawberry.field(
        default=Decimal(100), description="KPI results versus 360 results: with reviewWeight, 100."
    )
    review_weight: Decimal = Decimal(0)
    source_weights: list[SourceWeightInput] = strawberry.field(
        default_factory=list,
        description="Needed when reviewWeight is above 0; total 100. A source left out does "
        "not count.",
    )
    competency_weights: list[CompetencyWeightInput] = strawberry.field(
        default_factory=list,
        description="Optional; replaces review cycles' competency weights. Total 100.",
    )
    tier_rewards: list[TierRewardInput] = strawberry.field(default_factory=list)
    eligibility: list[EligibilityRuleInput] = strawberry.field(default_factory=list)
    distribution: list[TierShareInput] = strawberry.field(default_factory=list)
    at_risk_threshold: Decimal = strawberry.field(
        default=DEFAULT_AT_RISK_THRESHOLD,
        description="Percentage points a goal's progress may trail the straight line from its "
        "period's start to its end before it is reported at risk.",
    )


@strawberry.input
class AdoptRuleSetInput:
    version: int
    effective_from: date
    reason: str | None = None


def _perspective_weights(items: list[PerspectiveWeightInput]) -> dict[Perspective, Decimal]:
    weights: dict[Perspective, Decimal] = {}
    for item in items:
        perspective = Perspective(item.perspective)
        if perspective in weights:
            raise InvalidInput(
                f"perspective {perspective.value} is weighted twice", field="perspectiveWeights"
            )
        weights[perspective] = item.weight
    return weights


def _source_weights(items: list[SourceWeightInput]) -> dict[RaterSource, Decimal]:
    weights: dict[RaterSource, Decimal] = {}
    for item in items:
        source = RaterSource(item.source)
        if source in weights:
            raise InvalidRuleSet(
                f"rater source {source.value} is weighted twice", field="sourceWeights"
            )
        weights[source] = item.weight
    return weights


def _competency_weights(items: list[CompetencyWeightInput]) -> dict[str, Decimal]:
    weights: dict[str, Decimal] = {}
    for item in items:
        if item.competency in weights:
            raise InvalidRuleSet(
                f"competency {item.competency!r} is weighted twice", field="competencyWeights"
            )
        weights[item.competency] = item.weight
    return weights


def _rule_set(input: DefineRuleSetInput) -> RuleSet:
    return RuleSet(
        achievement_cap=input.achievement_cap,
        achievement_floor=input.achievement_floor,
        perspective_weights=_perspective_weights(input.perspective_weights),
        tiers=[Tier(t.name, t.min_score) for t in input.tiers],
        kpi_weight=input.kpi_weight,
        review_weight=input.review_weight,
        source_weights=_source_weights(input.source_weights),
        competency_weights=_competency_weights(input.competency_weights),
        tier_rewards=[TierReward(r.tier, r.reward.to_domain()) for r in input.tier_rewards],
        eligibility=[
            EligibilityRule(e.key, e.metric, e.consecutive_months, e.reward.to_domain())
            for e in input.eligibility
        ],
        distribution=[TierShare(d.tier, d.max_percent) for d in input.distribution],
        at_risk_threshold=input.at_risk_threshold,
    )


def _goal_spec(input: SetGoalInput) -> GoalSpec:
    return GoalSpec(
        title=input.title,
        metric=input.metric,
        unit=input.unit,
        direction=Direction(input.direction),
        baseline=input.baseline,
        target=input.target,
        weight=input.weight,
        perspective=Perspective(input.perspective),
        horizon=Horizon(input.horizon),
        period=input.period,
        due_date=input.due_date,
    )


def _attributes(items: list[AttributeInput]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for item in items:
        if item.key in attributes:
            raise InvalidInput(f"attribute {item.key!r} is given twice", field="attributes")
        attributes[item.key] = item.value
    return attributes


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def open_department(self, info: Info, input: OpenDepartmentInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.open_department(
                ctx.provenance(),
                code=input.code,
                name=input.name,
                parent_id=optional_uuid(input.parent_id, "parentId"),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation
    async def rename_department(self, info: Info, input: RenameDepartmentInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.rename_department(
                ctx.provenance(input.reason),
                uuid_of(input.department_id, "departmentId"),
                input.name,
            ),
        )

    @strawberry.mutation
    async def move_department(self, info: Info, input: MoveDepartmentInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.move_department(
                ctx.provenance(input.reason),
                uuid_of(input.department_id, "departmentId"),
                optional_uuid(input.parent_id, "parentId"),
            ),
        )

    @strawberry.mutation
    async def hire_employee(self, info: Info, input: HireEmployeeInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.hire_employee(
                ctx.provenance(),
                code=input.code,
                name=input.name,
                department_id=uuid_of(input.department_id, "departmentId"),
                manager_id=optional_uuid(input.manager_id, "managerId"),
                job_title=input.job_title,
                hire_date=input.hire_date,
                attributes=_attributes(input.attributes),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation
    async def transfer_employee(self, info: Info, input: TransferEmployeeInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.transfer_employee(
                ctx.provenance(input.reason),
                uuid_of(input.employee_id, "employeeId"),
                uuid_of(input.department_id, "departmentId"),
                input.effective,
            ),
        )

    @strawberry.mutation
    async def change_manager(self, info: Info, input: ChangeManagerInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.change_manager(
                ctx.provenance(input.reason),
                uuid_of(input.employee_id, "employeeId"),
                optional_uuid(input.manager_id, "managerId"),
            ),
        )

    @strawberry.mutation
    async def set_employee_attributes(
        self, info: Info, input: SetEmployeeAttributesInput
    ) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.set_employee_attributes(
                ctx.provenance(input.reason),
                uuid_of(input.employee_id, "employeeId"),
                _attributes(input.attributes),
            ),
        )

    @strawberry.mutation
    async def record_leaving(self, info: Info, input: RecordLeavingInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.record_leaving(
                ctx.provenance(input.reason),
                uuid_of(input.employee_id, "employeeId"),
                input.leave_date,
            ),
        )

    @strawberry.mutation(description="Set a SMART KPI goal for an employee or a department.")
    async def set_goal(self, info: Info, input: SetGoalInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.set_goal(
                ctx.provenance(input.reason),
                goal_id=optional_uuid(input.id, "id") or new_id(ctx.viewer.employee_id, ctx),
                owner_kind=OwnerKind(input.owner_kind),
                owner_id=uuid_of(input.owner_id, "ownerId"),
                parent_goal_id=optional_uuid(input.parent_goal_id, "parentGoalId"),
                spec=_goal_spec(input),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation
    async def record_progress(self, info: Info, input: RecordProgressInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.record_progress(
                ctx.provenance(),
                uuid_of(input.goal_id, "goalId"),
                input.value,
                input.as_of,
                input.source,
                ctx.idempotency_key,
            ),
        )

    @strawberry.mutation
    async def revise_target(self, info: Info, input: ReviseTargetInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.revise_target(
                ctx.provenance(input.reason), uuid_of(input.goal_id, "goalId"), input.target
            ),
        )

    @strawberry.mutation
    async def close_goal(self, info: Info, input: GoalReasonInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.close_goal(
                ctx.provenance(input.reason), uuid_of(input.goal_id, "goalId")
            ),
        )

    @strawberry.mutation
    async def abandon_goal(self, info: Info, input: GoalReasonInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.abandon_goal(
                ctx.provenance(input.reason), uuid_of(input.goal_id, "goalId")
            ),
        )

    @strawberry.mutation(
        description="Confirm an owner's goals for a period; weights must total exactly 100."
    )
    async def confirm_goals(self, info: Info, input: ConfirmGoalsInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.confirm_goals(
                ctx.provenance(), uuid_of(input.owner_id, "ownerId"), input.period
            ),
        )

    @strawberry.mutation(description="Define a new rule-set version (validated; not yet in force).")
    async def define_rule_set(self, info: Info, input: DefineRuleSetInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.define_rule_set(
                ctx.provenance(),
                _rule_set(input),
                input.description,
            ),
        )

    @strawberry.mutation(
        description="Put a rule-set version in force for production from a date; each period "
        "is scored under the version in force when it began."
    )
    async def adopt_rule_set(self, info: Info, input: AdoptRuleSetInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.adopt_rule_set(
                ctx.provenance(input.reason), input.version, input.effective_from
            ),
        )
