"""Rule-set versions over GraphQL."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import strawberry

from domain.goals import Perspective
from service.api.types import PerspectiveType


@strawberry.type
class PerspectiveWeight:
    perspective: PerspectiveType  # type: ignore[valid-type]
    weight: Decimal


@strawberry.type
class TierThreshold:
    name: str
    min_score: Decimal


@strawberry.type
class Adoption:
    effective_from: date
    adopted_at: datetime
    adopted_by: str
    reason: str | None


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
    adoptions: list[Adoption] = strawberry.field(
        description="When production adopted this version, oldest first."
    )

    @classmethod
    def from_row(
        cls, r: asyncpg.Record | dict[str, Any], adoptions: list[Adoption]
    ) -> RuleSetVersion:
        rules = json.loads(r["rules"]) if isinstance(r["rules"], str) else r["rules"]
        return cls(
            version=r["version"],
            description=r["description"],
            defined_at=r["defined_at"],
            defined_by=r["defined_by"],
            achievement_cap=Decimal(rules["achievementCap"]),
            achievement_floor=Decimal(rules["achievementFloor"]),
            perspective_weights=[
                PerspectiveWeight(perspective=Perspective(p), weight=Decimal(w))
                for p, w in rules["perspectiveWeights"].items()
            ],
            tiers=[
                TierThreshold(name=t["name"], min_score=Decimal(t["minScore"]))
                for t in rules["tiers"]
            ],
            adoptions=adoptions,
        )
