"""Trials over GraphQL: start, revise, give feedback, promote and roll back a pilot of new
appraisal rules (hr and admins run them; participants give feedback), read one, and compare it
with production: ``trialComparison`` (the what-if of the trial's rule-set version on its
participants, from the facts as they stand or as of a position; a closed trial's as of its end),
and ``pilotScorecards`` (every participant's scorecards under the pilot beside production's, kept
live by a projection while the trial runs, frozen when it ends).

Trials are read from their read models (``projections.trials``, ``projections.pilot_scorecards``):
every query takes ``minPosition`` to read a mutation's own write, and every mutation returns the
position it wrote. Who may read what: ``service.api.trial_reads``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID

import strawberry

from domain.errors import DomainError
from domain.trials import TrialStatus
from projections.organisation import present_members
from service import whatif
from service.api import trial_reads as reads
from service.api.as_of import AsOf, AsOfPosition, optional_position
from service.api.errors import CommandRejected, QueryError, answered, forbidden
from service.api.mutations import CommandResult, execute, new_id, uuid_of
from service.api.pagination import Connection, Edge, decode_cursor, encode_cursor, page_size
from service.api.queries import MinPosition, _reach, parse_id
from service.api.reward_types import MoneyInput, RewardSpecInput
from service.api.trial_types import PilotScorecard, TrialFeedbackItem, TrialView
from service.api.types import Info, PageInfo
from service.api.whatif import WhatIfReport, report_of

T = TypeVar("T")
_STATUSES = tuple(s.value for s in TrialStatus)
# Trials newest first, of a status ($1) and, for someone who is not a reader, those they take part
# in that show participants ($2), after a cursor ($3: a start position).
_TRIALS_WHERE = """
WHERE ($1::text IS NULL OR t.status = $1)
  AND ($2::uuid IS NULL OR (t.show_participants AND EXISTS (
      SELECT 1 FROM trial_participants p WHERE p.trial_id = t.id AND p.employee_id = $2)))
"""
_TRIALS_COUNT = "SELECT count(*) FROM trials t" + _TRIALS_WHERE
_TRIALS_PAGE = (
    "SELECT * FROM trials t"
    + _TRIALS_WHERE
    + "AND ($3::bigint IS NULL OR t.started_position < $3) "
    + "ORDER BY t.started_position DESC LIMIT $4"
)
# A trial's feedback newest first, all of it or one author's ($2), after a cursor ($3).
_FEEDBACK_WHERE = "WHERE trial_id = $1 AND ($2::uuid IS NULL OR employee_id = $2)"
_FEEDBACK_COUNT = "SELECT count(*) FROM trial_feedback " + _FEEDBACK_WHERE
_FEEDBACK_PAGE = (
    "SELECT * FROM trial_feedback "
    + _FEEDBACK_WHERE
    + " AND ($3::bigint IS NULL OR position < $3) ORDER BY position DESC LIMIT $4"
)


async def _scope_members(info: Info, trial_id: strawberry.ID) -> list[UUID]:
    """Today's members of a trial's scope departments, from the directory: a promotion for the
    scope moves them too (the command checks each lies within the scope). None when the trial
    is not (yet) in its read model: the command then moves its participants."""
    try:
        trial = uuid_of(trial_id, "trialId")
    except DomainError:
        return []  # the command names the bad id
    async with info.context.pool.acquire() as conn:
        scope = await conn.fetchval("SELECT scope_departments FROM trials WHERE id = $1", trial)
        departments = [UUID(d) for d in json.loads(scope)] if scope else []
        if not departments:
            return []
        return await present_members(conn, departments)


def _position_cursor(after: str | None, what: str) -> int | None:
    """The log position an ``after`` cursor of these lists holds."""
    key = decode_cursor(after)
    if key is None:
        return None
    if len(key) != 1 or not key[0].isdigit():
        raise QueryError("INVALID_CURSOR", f"the 'after' cursor is not a {what} cursor")
    return int(key[0])


def _connection(nodes: list[T], keys: list[str], *, more: bool, total: int) -> Connection[T]:
    """A page of ``nodes``, each with its cursor key."""
    return Connection(
        edges=[Edge(cursor=encode_cursor([k]), node=n) for k, n in zip(keys, nodes, strict=True)],
        page_info=PageInfo(
            has_next_page=more, end_cursor=encode_cursor([keys[-1]]) if keys else None
        ),
        total=total,
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


@strawberry.type
class TrialQuery:
    @strawberry.field(
        description="A trial, from its read model (hr, auditors, admins; a participant their "
        "own when it shows participants). A closed trial stays readable: its report."
    )
    async def trial(
        self, info: Info, id: strawberry.ID, min_position: MinPosition = None
    ) -> TrialView:
        await _reach(info, min_position)
        row = await reads.trial_row(info, parse_id(id, "id"))
        await reads.require_shown(info, row, "this trial")
        return TrialView.from_row(row)

    @strawberry.field(
        description="Trials, newest first, optionally of one status (running, promoted, "
        "rolled_back): all of them for hr, auditors and admins; for anyone else those they take "
        "part in that show participants."
    )
    async def trials(
        self,
        info: Info,
        status: str | None = None,
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> Connection[TrialView]:
        await _reach(info, min_position)
        if status is not None and status not in _STATUSES:
            raise QueryError(
                "INVALID_INPUT", f"status {status!r} is not one of {', '.join(_STATUSES)}"
            )
        limit = page_size(first)
        cursor = _position_cursor(after, "trials")
        if info.context.external is not None:
            raise forbidden("trials")
        participant = None if reads.reads_everything(info) else info.context.viewer.employee_id
        args = (status, participant)
        async with info.context.pool.acquire() as conn:
            total = await conn.fetchval(_TRIALS_COUNT, *args)
            rows = await conn.fetch(_TRIALS_PAGE, *args, cursor, limit + 1)
        page = rows[:limit]
        return _connection(
            [TrialView.from_row(r) for r in page],
            [str(r["started_position"]) for r in page],
            more=len(rows) > limit,
            total=total,
        )

    @strawberry.field(
        description="Participants' feedback on a trial, newest first: all of it for hr, "
        "auditors and admins; for anyone else their own."
    )
    async def trial_feedback(
        self,
        info: Info,
        trial_id: strawberry.ID,
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> Connection[TrialFeedbackItem]:
        await _reach(info, min_position)
        if info.context.external is not None:
            raise forbidden("feedback on trials")
        trial = await reads.trial_row(info, parse_id(trial_id, "trialId"))
        limit = page_size(first)
        cursor = _position_cursor(after, "feedback")
        author = None if reads.reads_everything(info) else info.context.viewer.employee_id
        async with info.context.pool.acquire() as conn:
            total = await conn.fetchval(_FEEDBACK_COUNT, trial["id"], author)
            rows = await conn.fetch(_FEEDBACK_PAGE, trial["id"], author, cursor, limit + 1)
        # Every row was filtered by who may read it, so its text is opened here.
        secrets = info.context.services.secrets
        page = rows[:limit]
        nodes = [
            TrialFeedbackItem(
                trial_id=strawberry.ID(str(r["trial_id"])),
                employee_id=strawberry.ID(str(r["employee_id"])),
                given_on=r["given_on"],
                given_at=r["given_at"],
                position=r["position"],
                text=None if r["body_sealed"] is None else secrets.open(r["body_sealed"]),
            )
            for r in page
        ]
        return _connection(
            nodes, [str(r["position"]) for r in page], more=len(rows) > limit, total=total
        )

    @strawberry.field(
        description="The trial's pilot rules against production on its participants in a review "
        "cycle, with the fairness view under each (hr, auditors, admins). A running trial is "
        "compared on the facts as they stand (or asOf / asOfPosition); a closed one, by default, "
        "as the log stood when it ended: its final report. The version compared is the one the "
        "trial piloted at that position."
    )
    async def trial_comparison(
        self,
        info: Info,
        trial_id: strawberry.ID,
        cycle_id: strawberry.ID,
        group_by: list[str] | None = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
        min_position: MinPosition = None,
    ) -> WhatIfReport:
        await _reach(info, min_position)
        reads.require_reader(info, "trial comparisons")
        trial = await reads.trial_row(info, parse_id(trial_id, "trialId"))
        cycle = parse_id(cycle_id, "cycleId")
        position = await optional_position(info.context, as_of, as_of_position)
        if position is None:
            position = trial["ended_position"]  # None while it runs: the present
        version = reads.version_at(trial, position)
        participants = await reads.participants_at(info, trial["id"], position)
        result, groups = await answered(
            whatif.comparison(
                info.context.services,
                cycle,
                version,
                position=position,
                employees=participants,
                group_by=group_by,
            )
        )
        if not result.people:
            raise QueryError("NOT_FOUND", "no participant of the trial is reviewed in that cycle")
        return report_of(result, groups)

    @strawberry.field(
        description="Every participant's scorecards under the trial's pilot rules beside "
        "production's, kept live while it runs and frozen when it ends (hr, auditors, admins); "
        "with cycleId, those reviewed in that cycle and that cycle's scorecards only."
    )
    async def pilot_scorecards(
        self,
        info: Info,
        trial_id: strawberry.ID,
        cycle_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> Connection[PilotScorecard]:
        await _reach(info, min_position)
        reads.require_reader(info, "pilot scorecards")
        trial = await reads.trial_row(info, parse_id(trial_id, "trialId"))
        cycle = None if cycle_id is None else parse_id(cycle_id, "cycleId")
        limit = page_size(first)
        key = decode_cursor(after)
        if key is not None and len(key) != 1:
            raise QueryError("INVALID_CURSOR", "the 'after' cursor is not a pilot cursor")
        async with info.context.pool.acquire() as conn:
            total = await conn.fetchval(reads.PILOT_COUNT, trial["id"], cycle)
            rows = await conn.fetch(
                reads.PILOT_PAGE, trial["id"], cycle, None if key is None else key[0], limit + 1
            )
            page = rows[:limit]
            cycles = await reads.pilot_cycles(
                conn, trial["id"], [r["employee_id"] for r in page], cycle
            )
        return _connection(
            [PilotScorecard.of(r, cycles[r["employee_id"]]) for r in page],
            [r["code"] for r in page],
            more=len(rows) > limit,
            total=total,
        )

    @strawberry.field(
        description="What the pilot says about you, beside production: for a participant of a "
        "trial that shows participants their results (null until it is computed)."
    )
    async def my_pilot_scorecard(
        self, info: Info, trial_id: strawberry.ID, min_position: MinPosition = None
    ) -> PilotScorecard | None:
        await _reach(info, min_position)
        trial = await reads.trial_row(info, parse_id(trial_id, "trialId"))
        if not (trial["show_participants"] and await reads.takes_part(info, trial["id"])):
            raise forbidden(
                "a pilot scorecard (only participants, and only when the trial shows them)"
            )
        me = info.context.viewer.employee_id
        async with info.context.pool.acquire() as conn:
            row = await conn.fetchrow(reads.PILOT_ROW, trial["id"], me)
            if row is None:
                return None
            cycles = await reads.pilot_cycles(conn, trial["id"], [me], None)
        return PilotScorecard.of(row, cycles[me])


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
            members = await present_members(conn, departments)
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
        members = [] if input.for_everyone else await _scope_members(info, input.trial_id)
        return await execute(
            info,
            lambda: ctx.services.app.promote_trial(
                ctx.provenance(input.reason),
                uuid_of(input.trial_id, "trialId"),
                input.effective_from,
                input.for_everyone,
                members,
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
