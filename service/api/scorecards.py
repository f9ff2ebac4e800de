"""Scorecards over GraphQL: one person's, and a department's with its roll-up."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import asyncpg
import strawberry

from domain.goals import OwnerKind, Perspective
from domain.periods import Period
from projections.organisation import DEPARTMENT_TREE
from service.api.errors import QueryError
from service.api.past_reads import read_with, remember
from service.api.rules import RuleSetVersion
from service.api.types import Department, Employee, Info, OwnerKindType, PerspectiveType

if TYPE_CHECKING:
    from service.api.context import Context

CENT = Decimal("0.01")
BUCKET = 10


@strawberry.type(description="How one goal contributes to a score.")
class GoalScore:
    goal_id: strawberry.ID
    title: str
    perspective: PerspectiveType  # type: ignore[valid-type]
    weight: Decimal
    latest_value: Decimal | None
    raw_achievement: Decimal | None = strawberry.field(
        description="Percent of the way from baseline to target, before floor and cap."
    )
    achievement: Decimal | None = strawberry.field(description="After the rules' floor and cap.")
    capped: bool
    effective_weight: Decimal = strawberry.field(description="Share of the score, in percent.")
    contribution: Decimal = strawberry.field(description="Points this goal adds to the score.")


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@strawberry.type(
    description="A KPI scorecard, reproducible from the events up to `position` "
    "and rule-set version `ruleSetVersion` (0: built-in defaults)."
)
class Scorecard:
    owner_id: strawberry.ID
    owner_kind: OwnerKindType  # type: ignore[valid-type]
    period: str
    department_id: strawberry.ID
    rule_set_version: int
    score: Decimal | None
    coverage: Decimal = strawberry.field(description="Percent of goal weight measured so far.")
    tier: str | None
    goal_count: int
    measured_count: int
    position: int
    breakdown: strawberry.Private[str]
    preloaded_employee: strawberry.Private[Employee | None] = None

    @classmethod
    def from_row(cls, r: asyncpg.Record | Mapping[str, Any]) -> Scorecard:
        return cls(
            owner_id=strawberry.ID(str(r["owner_id"])),
            owner_kind=OwnerKind(r["owner_kind"]),
            period=r["period"],
            department_id=strawberry.ID(str(r["department_id"])),
            rule_set_version=r["rule_set_version"],
            score=r["score"],
            coverage=r["coverage"],
            tier=r["tier"],
            goal_count=r["goal_count"],
            measured_count=r["measured_count"],
            position=r["position"],
            breakdown=r["breakdown"],
        )

    @strawberry.field(description="Each goal's achievement, weight and contribution.")
    def goals(self) -> list[GoalScore]:
        items: list[dict[str, Any]] = json.loads(self.breakdown)
        return [
            GoalScore(
                goal_id=strawberry.ID(g["goalId"]),
                title=g["title"],
                perspective=Perspective(g["perspective"]),
                weight=Decimal(g["weight"]),
                latest_value=_dec(g["latestValue"]),
                raw_achievement=_dec(g["rawAchievement"]),
                achievement=_dec(g["achievement"]),
                capped=g["capped"],
                effective_weight=Decimal(g["effectiveWeight"]),
                contribution=Decimal(g["contribution"]),
            )
            for g in items
        ]

    @strawberry.field
    def employee(self, info: Info) -> Employee | None:
        # Not a coroutine: most scorecards come with their employee, and a coroutine per row
        # costs more than the row. Otherwise the loader's future is returned, and awaited.
        if self.preloaded_employee is not None or self.owner_kind is not OwnerKind.EMPLOYEE:
            return self.preloaded_employee
        return cast("Employee | None", info.context.loaders.employee.load(UUID(self.owner_id)))

    @strawberry.field(description="The rule-set version the score was computed under.")
    async def rule_set(self, info: Info) -> RuleSetVersion | None:
        loaders = (await read_with(self, info)).context.loaders
        return await loaders.rule_set.load(self.rule_set_version)


@strawberry.type
class TierCount:
    tier: str
    count: int


@strawberry.type
class ScoreBucket:
    low: int = strawberry.field(description="Inclusive lower bound of the bucket.")
    high: int = strawberry.field(description="Exclusive upper bound of the bucket.")
    count: int


@strawberry.type(description="Scores of a group, over the scorecards you may see.")
class Distribution:
    count: int = strawberry.field(description="Scorecards with a score.")
    mean: Decimal | None
    median: Decimal | None
    standard_deviation: Decimal | None
    minimum: Decimal | None
    maximum: Decimal | None
    tiers: list[TierCount]
    buckets: list[ScoreBucket]


@strawberry.type(description="A department's scorecards for a period, with the roll-up.")
class DepartmentScorecard:
    department: Department
    period: str
    members: list[Scorecard] = strawberry.field(
        description="Employee scorecards you may see, by employee code."
    )

    @strawberry.field(description="Mean, spread, tier counts and score buckets of `members`.")
    def distribution(self) -> Distribution:
        return distribution(self.members)

    @strawberry.field(description="The scorecard of the department's own goals.")
    async def department_goals(self, info: Info) -> Scorecard | None:
        view = await read_with(self, info)
        return remember(
            await view.context.loaders.scorecard.load((UUID(self.department.id), self.period)),
            view,
        )


def _round(value: float | Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def distribution(cards: list[Scorecard]) -> Distribution:
    scores = [c.score for c in cards if c.score is not None]
    tiers: dict[str, int] = {}
    for card in cards:
        if card.tier is not None:
            tiers[card.tier] = tiers.get(card.tier, 0) + 1
    buckets: dict[int, int] = {}
    for score in scores:
        low = int(score // BUCKET) * BUCKET
        buckets[low] = buckets.get(low, 0) + 1
    return Distribution(
        count=len(scores),
        mean=_round(sum(scores, Decimal(0)) / len(scores)) if scores else None,
        median=_round(statistics.median(scores)) if scores else None,
        # In floats: exact rational arithmetic on Decimals costs more than the whole query, and
        # the spread is descriptive (the mean, which rules may use, stays exact).
        standard_deviation=_round(statistics.pstdev([float(s) for s in scores]))
        if len(scores) > 1
        else None,
        minimum=min(scores) if scores else None,
        maximum=max(scores) if scores else None,
        tiers=[TierCount(tier=t, count=n) for t, n in sorted(tiers.items())],
        buckets=[ScoreBucket(low=k, high=k + BUCKET, count=v) for k, v in sorted(buckets.items())],
    )


def _period(period: str) -> str:
    return str(Period.parse(period))


async def scorecard_for(context: Context, employee_id: UUID, period: str) -> Scorecard | None:
    if not await context.visibility.sees(employee_id):
        raise QueryError("FORBIDDEN", "your role does not allow you to see this scorecard")
    return await context.loaders.scorecard.load((employee_id, _period(period)))


# One round trip: the department, and its members' scorecards with their directory entries.
_MEMBERS = """
SELECT d.id AS d_id, d.code AS d_code, d.name AS d_name, d.parent_id AS d_parent_id,
       d.opened_at AS d_opened_at, s.*, e.code, e.name, e.job_title, e.hire_date, e.leave_date,
       e.department_id AS e_department_id, e.manager_id, e.attributes
FROM departments d
LEFT JOIN (scorecards s JOIN employees e ON e.id = s.owner_id)
       ON s.department_id = ANY($2::uuid[]) AND s.period = $3 AND s.owner_kind = 'employee'
WHERE d.id = $1
ORDER BY e.code
"""

_SUBTREE = DEPARTMENT_TREE + "SELECT id FROM tree"


async def department_scorecard(
    context: Context, department_id: UUID, period: str, *, include_sub_departments: bool = False
) -> DepartmentScorecard:
    period = _period(period)
    visible = await context.visibility.people()
    async with context.pool.acquire() as conn:
        departments = [department_id]
        if include_sub_departments:
            departments = [r["id"] for r in await conn.fetch(_SUBTREE, [department_id])]
        rows = await conn.fetch(_MEMBERS, department_id, departments, period)
    if not rows:
        raise QueryError("NOT_FOUND", f"department {department_id} does not exist")
    first = rows[0]
    department = Department(
        id=strawberry.ID(str(first["d_id"])),
        code=first["d_code"],
        name=first["d_name"],
        opened_at=first["d_opened_at"],
        parent_id=first["d_parent_id"],
    )
    members: list[Scorecard] = []
    for r in rows:
        owner = r["owner_id"]
        if owner is None or (visible is not None and owner not in visible):
            continue
        card = Scorecard.from_row(r)
        card.preloaded_employee = Employee(
            id=card.owner_id,
            code=r["code"],
            name=r["name"],
            job_title=r["job_title"],
            hire_date=r["hire_date"],
            leave_date=r["leave_date"],
            department_id=r["e_department_id"],
            manager_id=r["manager_id"],
            attributes_json=r["attributes"],
        )
        members.append(card)
    return DepartmentScorecard(
        department=department,
        period=period,
        members=members,
    )
