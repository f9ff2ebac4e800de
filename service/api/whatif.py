"""``whatIf``: a review cycle's results under a pilot rule-set version beside production's
(hr, auditors and admins). The comparison is computed from the facts, never stored; the CSV and
JSON forms are the same comparison for export."""

from __future__ import annotations

import json
from decimal import Decimal

import strawberry

from domain.reward_costs import RewardCosts
from service import whatif
from service.api.as_of import AsOf, AsOfPosition, optional_position
from service.api.errors import answered
from service.api.fairness import require_auditor
from service.api.queries import parse_id
from service.api.reward_types import RewardKindType
from service.api.rewards import MonetaryTotal, NonMonetaryCount
from service.api.types import Info


@strawberry.type(description="One side of a comparison: a person's result under one rule set.")
class WhatIfSide:
    score: Decimal | None
    tier: str | None
    kpi_score: Decimal | None
    review_score: Decimal | None
    kpi_contribution: Decimal
    review_contribution: Decimal
    rewards: list[str] = strawberry.field(description="Tier rewards proposed, by rule key.")

    @classmethod
    def of(cls, o: whatif.Outcome) -> WhatIfSide:
        return cls(
            score=o.score,
            tier=o.tier,
            kpi_score=o.kpi_score,
            review_score=o.review_score,
            kpi_contribution=o.kpi_contribution,
            review_contribution=o.review_contribution,
            rewards=list(o.rewards),
        )


@strawberry.type(description="A person under production's rules and under the pilot's.")
class WhatIfPerson:
    employee_id: strawberry.ID
    code: str
    name: str
    department: str
    production: WhatIfSide
    pilot: WhatIfSide
    delta: Decimal | None = strawberry.field(description="Pilot score minus production score.")
    calibrated_score: Decimal | None = strawberry.field(
        description="The result hr calibrated under production (not part of either side)."
    )


@strawberry.type(
    description="A percentage of salary: counted, not priced (salaries are not recorded)."
)
class SalaryShareTotal:
    kind: RewardKindType  # type: ignore[valid-type]
    percent: Decimal
    count: int


@strawberry.type(description="What the tier rewards proposed under one rule set add up to.")
class RewardCostSide:
    money: list[MonetaryTotal] = strawberry.field(
        description="Fixed amounts, by kind and currency."
    )
    salary_shares: list[SalaryShareTotal]
    non_monetary: list[NonMonetaryCount]

    @classmethod
    def of(cls, costs: RewardCosts) -> RewardCostSide:
        return cls(
            money=[
                MonetaryTotal(kind=m.kind, currency=m.currency, amount=m.amount, count=m.count)
                for m in costs.money
            ],
            salary_shares=[
                SalaryShareTotal(kind=s.kind, percent=s.percent, count=s.count)
                for s in costs.salary_shares
            ],
            non_monetary=[
                NonMonetaryCount(kind=o.kind, count=o.count, days=o.days) for o in costs.other
            ],
        )


@strawberry.type
class TierComparison:
    tier: str
    production: int
    pilot: int


@strawberry.type(description="A group's selection into one tier.")
class TierSelection:
    tier: str
    rate: float
    impact_ratio: float = strawberry.field(description="Against the most-selected group.")
    below_four_fifths: bool


@strawberry.type(description="A group under one rule set.")
class GroupUnderRules:
    n: int
    mean_score: float | None
    difference: float | None = strawberry.field(description="Mean score minus the rest's.")
    p_adjusted: float | None = strawberry.field(description="Permutation test, corrected.")
    tiers: list[TierSelection]

    @classmethod
    def of(cls, side: whatif.GroupSide | None) -> GroupUnderRules | None:
        if side is None:
            return None
        return cls(
            n=side.n,
            mean_score=side.mean_score,
            difference=side.difference,
            p_adjusted=side.p_adjusted,
            tiers=[
                TierSelection(tier=t, rate=r, impact_ratio=i, below_four_fifths=b)
                for t, r, i, b in side.tiers
            ],
        )


@strawberry.type(description="A group's fairness figures under production and under the pilot.")
class GroupComparison:
    grouping: str
    label: str
    production: GroupUnderRules | None = strawberry.field(
        description="Null: not shown (a group too small, left out as in the fairness audit)."
    )
    pilot: GroupUnderRules | None


@strawberry.type(description="A cycle's results under two rule-set versions.")
class WhatIfReport:
    cycle_id: strawberry.ID
    period: str
    position: int
    baseline_version: int
    pilot_version: int
    tiers: list[TierComparison]
    moved_up: int
    moved_down: int
    reward_costs_production: RewardCostSide = strawberry.field(
        description="The tier rewards production's rules propose, added up."
    )
    reward_costs_pilot: RewardCostSide = strawberry.field(
        description="The tier rewards the pilot's rules propose, added up."
    )
    people: list[WhatIfPerson]
    fairness: list[GroupComparison] = strawberry.field(
        description="Each group of groupBy: mean scores and tier selection rates with impact "
        "ratios under both rule sets, so that one sees whether the pilot is fairer, not only "
        "different."
    )
    csv: str = strawberry.field(description="The per-person comparison as CSV.")
    json: str = strawberry.field(description="The whole comparison as JSON.")


def report_of(result: whatif.WhatIf, groups: list[whatif.GroupComparison]) -> WhatIfReport:
    production, pilot = result.tier_counts("production"), result.tier_counts("pilot")
    names = [*result.tiers, *sorted((set(production) | set(pilot)) - set(result.tiers))]
    return WhatIfReport(
        cycle_id=strawberry.ID(str(result.cycle_id)),
        period=result.period,
        position=result.position,
        baseline_version=result.baseline_version,
        pilot_version=result.pilot_version,
        tiers=[TierComparison(tier=t, production=production[t], pilot=pilot[t]) for t in names],
        moved_up=len(result.moved(1)),
        moved_down=len(result.moved(-1)),
        reward_costs_production=RewardCostSide.of(result.reward_costs("production")),
        reward_costs_pilot=RewardCostSide.of(result.reward_costs("pilot")),
        people=[
            WhatIfPerson(
                employee_id=strawberry.ID(str(p.employee_id)),
                code=p.code,
                name=p.name,
                department=p.department,
                production=WhatIfSide.of(p.production),
                pilot=WhatIfSide.of(p.pilot),
                delta=p.delta,
                calibrated_score=p.calibrated_score,
            )
            for p in result.people
        ],
        fairness=[
            GroupComparison(
                grouping=g.grouping,
                label=g.label,
                production=GroupUnderRules.of(g.production),
                pilot=GroupUnderRules.of(g.pilot),
            )
            for g in groups
        ],
        csv=result.csv(),
        json=json.dumps(whatif.as_json(result), separators=(",", ":")),
    )


@strawberry.type
class WhatIfQuery:
    @strawberry.field(
        description="A review cycle's results under a pilot rule-set version (adopted or only "
        "defined) beside production's (or baselineVersion), for everyone in the cycle or those "
        "in departmentIds (with their sub-departments) and employeeIds; live or as of a moment. "
        "Nothing is recorded."
    )
    async def what_if(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        pilot_version: int,
        baseline_version: int | None = None,
        department_ids: list[strawberry.ID] | None = None,
        employee_ids: list[strawberry.ID] | None = None,
        group_by: list[str] | None = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> WhatIfReport:
        require_auditor(info)
        cycle = parse_id(cycle_id, "cycleId")
        position = await optional_position(info.context, as_of, as_of_position)
        result, groups = await answered(
            whatif.comparison(
                info.context.services,
                cycle,
                pilot_version,
                position=position,
                baseline_version=baseline_version,
                employees=[parse_id(e, "employeeIds") for e in employee_ids or []],
                departments=[parse_id(d, "departmentIds") for d in department_ids or []],
                group_by=group_by,
            )
        )
        return report_of(result, groups)
