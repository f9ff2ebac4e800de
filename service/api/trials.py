"""Trials over GraphQL: start, revise, give feedback, promote and roll back a pilot of new
appraisal rules (hr and admins run them; participants give feedback), read one, and compare it
with production (``trialComparison``: the what-if of the trial's rule-set version on its
participants, computed from the facts as they stand, so it follows new facts as they arrive).

A trial is read from the log itself (its aggregate), which is always current; trials have no read
model yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import strawberry
from eventsourcing.application import AggregateNotFoundError

from domain.errors import DomainError
from domain.trials import Trial
from projections.organisation import DEPARTMENT_TREE
from service import whatif
from service.api.errors import CommandRejected, QueryError
from service.api.fairness import require_auditor
from service.api.mutations import CommandResult, execute, new_id, uuid_of
from service.api.queries import parse_id
from service.api.reward_types import MoneyInput, RewardSpecInput
from service.api.types import Info
from service.api.whatif import WhatIfReport, report_of

# The current members of departments and their sub-departments, from the directory.
_MEMBERS = (
    DEPARTMENT_TREE
    + """
SELECT id FROM employees WHERE department_id IN (SELECT id FROM tree) AND leave_date IS NULL
"""
)


def _today() -> date:
    return datetime.now(UTC).date()


@strawberry.input
class StartTrialInput:
    name: str
    rule_set_version: int = strawberry.field(description="The pilot's rule-set version.")
    period: str = strawberry.field(description="The period piloted: 2026, 2026-Q3, ...")
    department_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    employee_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    responsible: list[str] = strawberry.field(default_factory=list)
    show_participants: bool = strawberry.field(
        default=False, description="Participants may see what the pilot says about them."
    )
    reason: str | None = None


@strawberry.input(
    description="A reward decided under the pilot's rules: granted and linked to the trial in "
    "one transaction, for the trial's period; a rollback revokes it."
)
class GrantProvisionalRewardInput:
    trial_id: strawberry.ID
    employee_id: strawberry.ID
    reward: RewardSpecInput
    reason: str
    reference_salary: MoneyInput | None = None


@strawberry.input
class ReviseTrialInput:
    trial_id: strawberry.ID
    rule_set_version: int
    reason: str


@strawberry.input
class GiveTrialFeedbackInput:
    trial_id: strawberry.ID
    text: str


@strawberry.input
class PromoteTrialInput:
    trial_id: strawberry.ID
    effective_from: date
    for_everyone: bool = strawberry.field(
        description="Also adopt the pilot's rules in production for everyone from effectiveFrom."
    )
    reason: str


@strawberry.input
class RollBackTrialInput:
    trial_id: strawberry.ID
    reason: str


@strawberry.type(description="A pilot of new appraisal rules on part of the organisation.")
class TrialView:
    id: strawberry.ID
    name: str
    status: str = strawberry.field(description="running, promoted or rolled_back.")
    rule_set_version: int
    versions_tried: list[int]
    period: str
    department_ids: list[strawberry.ID]
    employee_ids: list[strawberry.ID]
    participants: int
    responsible: list[str]
    show_participants: bool
    started_on: date
    feedback_count: int
    provisional_rewards: list[strawberry.ID]
    effective_from: date | None
    for_everyone: bool | None
    ended_on: date | None

    @classmethod
    def of(cls, trial: Trial) -> TrialView:
        return cls(
            id=strawberry.ID(str(trial.id)),
            name=trial.name,
            status=trial.status.value,
            rule_set_version=trial.rule_set_version,
            versions_tried=list(trial.versions_tried),
            period=str(trial.period),
            department_ids=[strawberry.ID(str(d)) for d in trial.scope_departments],
            employee_ids=[strawberry.ID(str(e)) for e in trial.scope_employees],
            participants=len(trial.participants),
            responsible=list(trial.responsible),
            show_participants=trial.show_participants,
            started_on=trial.started_on,
            feedback_count=trial.feedback_count,
            provisional_rewards=[strawberry.ID(str(r)) for r in trial.reward_ids],
            effective_from=trial.effective_from,
            for_everyone=trial.for_everyone,
            ended_on=trial.ended_on,
        )


async def _trial(info: Info, trial_id: UUID) -> Trial:
    app = info.context.services.app

    def load() -> Trial | None:
        try:
            found: object = app.repository.get(trial_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Trial) else None

    trial = await info.context.services.call(load)
    if trial is None:
        raise QueryError("NOT_FOUND", f"trial {trial_id} does not exist")
    return trial


@strawberry.type
class TrialQuery:
    @strawberry.field(description="A trial (hr, auditors, admins; a participant their own).")
    async def trial(self, info: Info, id: strawberry.ID) -> TrialView:
        trial = await _trial(info, parse_id(id, "id"))
        viewer = info.context.viewer
        participant = viewer.employee_id in trial.participants and trial.show_participants
        if not participant:
            require_auditor(info)
        return TrialView.of(trial)

    @strawberry.field(
        description="The trial's pilot rules against production on its participants in a review "
        "cycle, from the facts as they stand now (it follows new facts as they arrive), with "
        "the fairness view under each (hr, auditors, admins)."
    )
    async def trial_comparison(
        self,
        info: Info,
        trial_id: strawberry.ID,
        cycle_id: strawberry.ID,
        group_by: list[str] | None = None,
    ) -> WhatIfReport:
        require_auditor(info)
        trial = await _trial(info, parse_id(trial_id, "trialId"))
        cycle = parse_id(cycle_id, "cycleId")
        try:
            result, groups = await whatif.comparison(
                info.context.services,
                cycle,
                trial.rule_set_version,
                employees=sorted(trial.participants),
                group_by=group_by,
            )
        except DomainError as error:
            raise QueryError(error.code, error.message) from None
        if not result.people:
            raise QueryError("NOT_FOUND", "no participant of the trial is reviewed in that cycle")
        return report_of(result, groups)


@strawberry.type
class TrialMutation:
    @strawberry.mutation(
        description="Start piloting a rule-set version on part of the organisation."
    )
    async def start_trial(self, info: Info, input: StartTrialInput) -> CommandResult:
        ctx = info.context
        try:
            departments = [uuid_of(d, "departmentIds") for d in input.department_ids]
        except DomainError as error:
            return CommandRejected.of(error)
        async with ctx.pool.acquire() as conn:
            members = [UUID(str(r["id"])) for r in await conn.fetch(_MEMBERS, departments)]
        return await execute(
            info,
            lambda: ctx.services.app.start_trial(
                ctx.provenance(input.reason),
                trial_id=new_id(ctx.viewer.employee_id, ctx),
                name=input.name,
                rule_set_version=input.rule_set_version,
                scope_departments=departments,
                scope_employees=[uuid_of(e, "employeeIds") for e in input.employee_ids],
                members=members,
                period=input.period,
                responsible=input.responsible,
                show_participants=input.show_participants,
                today=_today(),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Move a running trial to another rule-set version.")
    async def revise_trial(self, info: Info, input: ReviseTrialInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.revise_trial(
                ctx.provenance(input.reason),
                uuid_of(input.trial_id, "trialId"),
                input.rule_set_version,
            ),
        )

    @strawberry.mutation(description="A participant's feedback on what the pilot says of them.")
    async def give_trial_feedback(self, info: Info, input: GiveTrialFeedbackInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.give_trial_feedback(
                ctx.provenance(),
                trial_id=uuid_of(input.trial_id, "trialId"),
                employee_id=ctx.viewer.employee_id,
                text=input.text,
                today=_today(),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Grant a provisional reward under a running trial.")
    async def grant_provisional_reward(
        self, info: Info, input: GrantProvisionalRewardInput
    ) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.grant_provisional_reward(
                ctx.provenance(input.reason),
                trial_id=uuid_of(input.trial_id, "trialId"),
                reward_id=new_id(ctx.viewer.employee_id, ctx),
                employee_id=uuid_of(input.employee_id, "employeeId"),
                spec=input.reward.to_domain(),
                reference_salary=input.reference_salary.to_domain()
                if input.reference_salary
                else None,
                today=_today(),
            ),
        )

    @strawberry.mutation(
        description="Promote a running trial: for everyone, its rules are adopted in production "
        "from effectiveFrom; its provisional rewards stand."
    )
    async def promote_trial(self, info: Info, input: PromoteTrialInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.promote_trial(
                ctx.provenance(input.reason),
                uuid_of(input.trial_id, "trialId"),
                input.effective_from,
                input.for_everyone,
            ),
        )

    @strawberry.mutation(
        description="Roll back a running trial: it ends, and its provisional rewards are revoked "
        "with the reason, in one transaction."
    )
    async def roll_back_trial(self, info: Info, input: RollBackTrialInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.roll_back_trial(
                ctx.provenance(input.reason), uuid_of(input.trial_id, "trialId"), _today()
            ),
        )
