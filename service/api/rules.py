"""Rule-set versions over GraphQL."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import strawberry

from projections.rules import rules_from_json
from service.api.reward_types import RaterSourceType, RewardSpecType
from service.api.types import PerspectiveType


@strawberry.type
class PerspectiveWeight:
    perspective: PerspectiveType  # type: ignore[valid-type]
    weight: Decimal


@strawberry.type
class TierThreshold:
    name: str
    min_score: Decimal


@strawberry.type(description="How much one rater source counts in the 360 review score.")
class SourceWeight:
    source: RaterSourceType  # type: ignore[valid-type]
    weight: Decimal


@strawberry.type(description="How much one competency counts in the 360 review score.")
class CompetencyWeight:
    competency: str
    weight: Decimal


@strawberry.type(name="TierReward", description="A reward proposed to everyone in a tier.")
class TierRewardType:
    tier: str
    rule_key: str = strawberry.field(
        description="Names this rule on the rewards it proposes: tier:<tier>:<n>."
    )
    reward: RewardSpecType


@strawberry.type(
    name="EligibilityRule",
    description="A reward proposed to whoever met the target of a goal on the metric in each of "
    "the last consecutiveMonths months.",
)
class EligibilityRuleType:
    key: str
    rule_key: str = strawberry.field(
        description="Names this rule on the rewards it proposes: eligibility:<key>."
    )
    metric: str
    consecutive_months: int
    reward: RewardSpecType


@strawberry.type(
    name="TierShare",
    description="Advisory: at most maxPercent of a population should be in the tier. Reported, "
    "never enforced on scores.",
)
class TierShareType:
    tier: str
    max_percent: Decimal


@strawberry.type
class Adoption:
    effective_from: date
    adopted_at: datetime
    adopted_by: str
    reason: str | None
    scoped_to: int | None = strawberry.field(
        description="For an adoption for part of the organisation (a trial promoted for its "
        "scope): how many people it moved; null when it was for everyone."
    )


@strawberry.type(description="A versioned, immutable set of appraisal rules.")
class RuleSetVersion:
    version: int = strawberry.field(description="0 is the built-in default set.")
    description: str
    defined_at: datetime | None
    defined_by: str | None
    achievement_cap: Decimal
    achievement_floor: Decimal
    perspective_weights: list[PerspectiveWeight]
    tiers: list[TierThreshold]
    kpi_weight: Decimal = strawberry.field(description="Weight of KPI results in the final score.")
    review_weight: Decimal = strawberry.field(
        description="Weight of 360 review results in the final score; with kpiWeight, 100."
    )
    source_weights: list[SourceWeight] = strawberry.field(
        description="Rater sources weighed in the review score; a source not listed does not count."
    )
    competency_weights: list[CompetencyWeight] = strawberry.field(
        description="When not empty, replaces a review cycle's own competency weights."
    )
    tier_rewards: list[TierRewardType]
    eligibility: list[EligibilityRuleType]
    distribution: list[TierShareType]
    at_risk_threshold: Decimal = strawberry.field(
        description="A goal is at risk when its progress trails the straight line from its "
        "period's start to its end by more than this many percentage points."
    )
    adoptions: list[Adoption] = strawberry.field(
        description="When production adopted this version, oldest first."
    )

    @classmethod
    def from_row(
        cls, r: asyncpg.Record | dict[str, Any], adoptions: list[Adoption]
    ) -> RuleSetVersion:
        stored = r["rules"]
        rules = rules_from_json(stored if isinstance(stored, str) else json.dumps(stored))
        return cls(
            version=r["version"],
            description=r["description"],
            defined_at=r["defined_at"],
            defined_by=r["defined_by"],
            achievement_cap=rules.achievement_cap,
            achievement_floor=rules.achievement_floor,
            perspective_weights=[
                PerspectiveWeight(perspective=p, weight=w)
                for p, w in rules.perspective_weights.items()
            ],
            tiers=[TierThreshold(name=t.name, min_score=t.min_score) for t in rules.tiers],
            kpi_weight=rules.kpi_weight,
            review_weight=rules.review_weight,
            source_weights=[
                SourceWeight(source=s, weight=w) for s, w in rules.source_weights.items()
            ],
            competency_weights=[
                CompetencyWeight(competency=c, weight=w)
                for c, w in rules.competency_weights.items()
            ],
            tier_rewards=[
                TierRewardType(tier=t.name, rule_key=key, reward=RewardSpecType.of(reward))
                for t in rules.tiers
                for key, reward in rules.tier_rewards_for(t.name)
            ],
            eligibility=[
                EligibilityRuleType(
                    key=e.key,
                    rule_key=e.rule_key,
                    metric=e.metric,
                    consecutive_months=e.consecutive_months,
                    reward=RewardSpecType.of(e.reward),
                )
                for e in rules.eligibility
            ],
            distribution=[
                TierShareType(tier=d.tier, max_percent=d.max_percent) for d in rules.distribution
            ],
            at_risk_threshold=rules.at_risk_threshold,
            adoptions=adoptions,
        )
