"""Rewards over GraphQL: grant, approve what the rules proposed, revoke; read what you may see.

An employee sees their own rewards, a manager also those of everyone below them, hr, auditors and
admins everyone's; the reasons go with the reward to the same people. Totals across people are
for hr, auditors and admins. Revoked rewards stay listed (flagged) unless asked otherwise and
never count in totals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg
import strawberry

from domain.errors import DomainError
from domain.periods import Period
from domain.rewards import Money, RewardKind, RewardOrigin, RewardSpec
from projections.rewards import IN_PRODUCTION
from service.api.as_of import AsOf, AsOfPosition, employee_view
from service.api.errors import QueryError, forbidden
from service.api.mutations import CommandResult, execute, new_id, optional_uuid, uuid_of
from service.api.pagination import Connection, Edge, decode_cursor, encode_cursor, page_size
from service.api.past_reads import remember
from service.api.queries import MinPosition, _reach, parse_id
from service.api.reward_types import (
    MoneyInput,
    MoneyType,
    RewardKindType,
    RewardSpecInput,
    RewardSpecType,
)
from service.api.types import Employee, Info, PageInfo

RewardOriginType = strawberry.enum(
    RewardOrigin,
    name="RewardOrigin",
    description="MANUAL: on a manager's or hr's judgement. RULES: proposed by a rule, approved.",
)


def utc_today() -> date:
    return datetime.now(UTC).date()


def _money(amount: Decimal | None, currency: str | None) -> MoneyType | None:
    if amount is None or currency is None:
        return None
    return MoneyType(amount=amount, currency=currency)


@strawberry.type(
    name="RewardBasis",
    description="What made the rules propose a reward: with the cycle's events and this "
    "rule-set version, the proposal can be reproduced.",
)
class RewardBasisType:
    cycle_id: strawberry.ID
    rule_set_version: int = strawberry.field(description="0: the built-in defaults.")
    rule_key: str = strawberry.field(description='e.g. "tier:A:0", "eligibility:sales_streak".')
    tier: str | None
    score: Decimal | None


@strawberry.type(name="Reward", description="A reward granted to an employee; never deleted.")
class RewardNode:
    id: strawberry.ID
    spec: RewardSpecType
    reference_salary: MoneyType | None = strawberry.field(
        description="For a percentage of salary: the salary stated by whoever granted it."
    )
    granted_amount: MoneyType | None = strawberry.field(
        description="The money given: the fixed amount, or the percentage of the reference "
        "salary rounded half-even to the cent; null for non-monetary rewards."
    )
    origin: RewardOriginType  # type: ignore[valid-type]
    basis: RewardBasisType | None
    period: str | None = strawberry.field(description="The performance period it rewards.")
    granted_on: date
    granted_at: datetime
    position: int = strawberry.field(description="Log position of the grant.")
    granted_by: strawberry.ID
    reason: str = strawberry.field(description="Why it was granted.")
    revoked: bool
    revoked_on: date | None
    revoked_by: strawberry.ID | None
    revoke_reason: str | None
    trial_id: strawberry.ID | None = strawberry.field(
        description="The trial whose pilot rules it was granted under: such a reward is "
        "provisional until the trial's promotion confirms it, and revoked by its rollback."
    )
    confirmed_on: date | None = strawberry.field(
        description="For a trial's reward: when the trial's promotion confirmed it."
    )
    in_production: bool = strawberry.field(
        description="Whether it counts in production: false for a trial's reward that no "
        "promotion confirmed (it shows only in the trial's report and the audit trail)."
    )
    employee_id: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> RewardNode:
        amount = r["amount"]
        spec = RewardSpec(
            kind=RewardKind(r["kind"]),
            amount=Money(amount, r["currency"]) if amount is not None else None,
            percent_of_salary=r["percent_of_salary"],
            days=r["days"],
            title=r["title"],
        )
        cycle_id = r["cycle_id"]
        return cls(
            id=strawberry.ID(str(r["id"])),
            spec=RewardSpecType.of(spec),
            reference_salary=_money(r["reference_salary"], r["reference_currency"]),
            granted_amount=_money(r["granted_amount"], r["granted_currency"]),
            origin=RewardOrigin(r["origin"]),
            basis=RewardBasisType(
                cycle_id=strawberry.ID(str(cycle_id)),
                rule_set_version=r["rule_set_version"],
                rule_key=r["rule_key"],
                tier=r["tier"],
                score=r["score"],
            )
            if cycle_id is not None
            else None,
            period=r["period"],
            granted_on=r["granted_on"],
            granted_at=r["granted_at"],
            position=r["granted_position"],
            granted_by=strawberry.ID(r["granted_by"]),
            reason=r["grant_reason"],
            revoked=r["revoked"],
            revoked_on=r["revoked_on"],
            revoked_by=strawberry.ID(r["revoked_by"]) if r["revoked_by"] else None,
            revoke_reason=r["revoke_reason"],
            trial_id=strawberry.ID(str(r["trial_id"])) if r["trial_id"] else None,
            confirmed_on=r["confirmed_on"],
            in_production=r["in_production"],
            employee_id=r["employee_id"],
        )

    @strawberry.field
    async def employee(self, info: Info) -> Employee | None:
        return await info.context.loaders.employee.load(self.employee_id)


@strawberry.type
class MonetaryTotal:
    kind: RewardKindType  # type: ignore[valid-type]
    currency: str
    amount: Decimal = strawberry.field(description="The granted amounts added up.")
    count: int


@strawberry.type
class NonMonetaryCount:
    kind: RewardKindType  # type: ignore[valid-type]
    count: int
    days: Decimal | None = strawberry.field(description="Extra leave: the days added up.")


@strawberry.type(description="Rewards that stand (revoked ones excluded), added up.")
class RewardTotals:
    monetary: list[MonetaryTotal] = strawberry.field(description="By kind and currency.")
    non_monetary: list[NonMonetaryCount] = strawberry.field(description="By kind.")


def _period(period: str | None) -> str | None:
    if period is None:
        return None
    try:
        return str(Period.parse(period))
    except DomainError as error:
        raise QueryError(error.code, error.message) from None


@strawberry.type
class RewardQuery:
    @strawberry.field(
        description="Rewards you may see, newest first: production's, or with trialId the "
        "rewards granted under that trial's pilot rules (provisional, confirmed or revoked)."
    )
    async def rewards(
        self,
        info: Info,
        employee_id: strawberry.ID | None = None,
        period: str | None = None,
        include_revoked: bool = True,
        trial_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> Connection[RewardNode]:
        await _reach(info, min_position)
        if as_of is not None or as_of_position is not None:
            if employee_id is None:
                raise QueryError("INVALID_INPUT", "an as-of list of rewards needs employeeId")
            past = parse_id(employee_id, "employeeId")
            info = await employee_view(info, past, as_of, as_of_position)
        limit = page_size(first)
        key = decode_cursor(after)
        conditions = [IN_PRODUCTION]
        args: list[object] = []
        if trial_id is not None:
            args.append(parse_id(trial_id, "trialId"))
            conditions = [f"trial_id = ${len(args)}"]
        visible = await info.context.visibility.people()
        if trial_id is not None and visible is not None:
            # A trial's rewards are part of the trial: beyond hr, auditors and admins, only
            # the person rewarded sees theirs (a manager is not told the pilot's verdicts).
            visible = frozenset({info.context.viewer.employee_id})
        if employee_id is not None:
            employee = parse_id(employee_id, "employeeId")
            if visible is not None and employee not in visible:
                raise forbidden("this employee's rewards")
            args.append(employee)
            conditions.append(f"employee_id = ${len(args)}")
        elif visible is not None:
            args.append(list(visible))
            conditions.append(f"employee_id = ANY(${len(args)})")
        normalised = _period(period)
        if normalised is not None:
            args.append(normalised)
            conditions.append(f"period = ${len(args)}")
        if not include_revoked:
            conditions.append("NOT revoked")
        where = " AND ".join(conditions)
        async with info.context.pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM rewards WHERE {where}", *args)
            if key is not None:
                if len(key) != 1 or not key[0].isdigit():
                    raise QueryError("INVALID_CURSOR", "the 'after' cursor is not a rewards cursor")
                args.append(int(key[0]))
                where += f" AND granted_position < ${len(args)}"
            rows = await conn.fetch(
                f"SELECT * FROM rewards WHERE {where} ORDER BY granted_position DESC "
                f"LIMIT {limit + 1}",
                *args,
            )
        nodes = remember([RewardNode.from_row(r) for r in rows[:limit]], info)
        return Connection(
            edges=[Edge(cursor=encode_cursor([str(n.position)]), node=n) for n in nodes],
            page_info=PageInfo(
                has_next_page=len(rows) > limit,
                end_cursor=encode_cursor([str(nodes[-1].position)]) if nodes else None,
            ),
            total=total,
        )

    @strawberry.field(description="One reward; null when it does not exist or is not yours to see.")
    async def reward(
        self, info: Info, id: strawberry.ID, min_position: MinPosition = None
    ) -> RewardNode | None:
        await _reach(info, min_position)
        async with info.context.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM rewards WHERE id = $1", parse_id(id, "id"))
        if row is None or not await info.context.visibility.sees(row["employee_id"]):
            return None
        # A trial's reward that production never took: only its recipient, hr and auditors.
        theirs = row["employee_id"] == info.context.viewer.employee_id
        if not row["in_production"] and not (info.context.visibility.everyone or theirs):
            return None
        return RewardNode.from_row(row)

    @strawberry.field(
        description="Rewards that stand, added up: money by kind and currency, the others "
        "counted by kind. For hr, auditors and admins. A reward counts for the department its "
        "employee belonged to when it was granted."
    )
    async def reward_totals(
        self,
        info: Info,
        department_id: strawberry.ID | None = None,
        period: str | None = None,
        min_position: MinPosition = None,
    ) -> RewardTotals:
        if not info.context.visibility.everyone:
            raise forbidden("reward totals")
        await _reach(info, min_position)
        conditions = ["NOT revoked", IN_PRODUCTION]
        args: list[object] = []
        if department_id is not None:
            args.append(parse_id(department_id, "departmentId"))
            conditions.append(f"department_id = ${len(args)}")
        normalised = _period(period)
        if normalised is not None:
            args.append(normalised)
            conditions.append(f"period = ${len(args)}")
        async with info.context.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT kind, granted_currency, count(*) AS n, sum(granted_amount) AS amount, "
                f"sum(days) AS days FROM rewards WHERE {' AND '.join(conditions)} "
                "GROUP BY kind, granted_currency ORDER BY kind, granted_currency",
                *args,
            )
        monetary: list[MonetaryTotal] = []
        counts: dict[RewardKind, int] = defaultdict(int)
        days: dict[RewardKind, Decimal] = {}
        for r in rows:
            kind = RewardKind(r["kind"])
            if kind.monetary:
                monetary.append(
                    MonetaryTotal(
                        kind=kind, currency=r["granted_currency"], amount=r["amount"], count=r["n"]
                    )
                )
            else:
                counts[kind] += r["n"]
                if r["days"] is not None:
                    days[kind] = r["days"]
        return RewardTotals(
            monetary=monetary,
            non_monetary=[
                NonMonetaryCount(kind=kind, count=count, days=days.get(kind))
                for kind, count in counts.items()
            ],
        )


@strawberry.input(description="Grant a reward on your judgement; the reason is required.")
class GrantRewardInput:
    employee_id: strawberry.ID
    reward: RewardSpecInput
    reason: str | None = strawberry.field(default=None, description="Required.")
    reference_salary: MoneyInput | None = strawberry.field(
        default=None, description="Required for a percentage of salary, refused otherwise."
    )
    period: str | None = strawberry.field(
        default=None, description="The performance period it rewards (2026, 2026-Q1, 2026-03)."
    )
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Choose the reward's id yourself (optional)."
    )


@strawberry.input
class RevokeRewardInput:
    reward_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Required.")


@strawberry.input(
    description="Approve a reward the rules proposed after a closed review cycle (hr). A "
    "proposal is approved at most once, even if its reward is revoked later."
)
class ApproveProposedRewardInput:
    cycle_id: strawberry.ID
    employee_id: strawberry.ID
    rule_key: str = strawberry.field(description='e.g. "tier:A:0", "eligibility:sales_streak".')
    tier: str | None = strawberry.field(
        default=None, description="The tier of the result the proposal came from."
    )
    score: Decimal | None = strawberry.field(
        default=None, description="The score of the result the proposal came from."
    )
    reference_salary: MoneyInput | None = None
    reason: str | None = strawberry.field(
        default=None, description="Optional: by default, the proposing rule is the reason."
    )


@strawberry.type
class RewardMutation:
    @strawberry.mutation(description="Grant a reward (the employee's managers, hr or admin).")
    async def grant_reward(self, info: Info, input: GrantRewardInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.grant_reward(
                ctx.provenance(input.reason),
                reward_id=optional_uuid(input.id, "id") or new_id(ctx.viewer.employee_id, ctx),
                employee_id=uuid_of(input.employee_id, "employeeId"),
                spec=input.reward.to_domain(),
                reference_salary=input.reference_salary.to_domain()
                if input.reference_salary
                else None,
                period=input.period,
                today=utc_today(),
                idempotency_key=ctx.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Revoke a reward, with a reason; its grant stays recorded.")
    async def revoke_reward(self, info: Info, input: RevokeRewardInput) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.revoke_reward(
                ctx.provenance(input.reason), uuid_of(input.reward_id, "rewardId"), utc_today()
            ),
        )

    @strawberry.mutation(description="Approve a reward the rules proposed (hr, admin).")
    async def approve_proposed_reward(
        self, info: Info, input: ApproveProposedRewardInput
    ) -> CommandResult:
        ctx = info.context
        return await execute(
            info,
            lambda: ctx.services.app.approve_proposed_reward(
                ctx.provenance(input.reason),
                cycle_id=uuid_of(input.cycle_id, "cycleId"),
                employee_id=uuid_of(input.employee_id, "employeeId"),
                rule_key=input.rule_key,
                tier=input.tier,
                score=input.score,
                reference_salary=input.reference_salary.to_domain()
                if input.reference_salary
                else None,
                today=utc_today(),
            ),
        )
