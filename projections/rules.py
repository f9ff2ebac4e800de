"""Read model: every rule-set version and every production adoption."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from domain.goals import Perspective
from domain.reviews import RaterSource
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import (
    DEFAULT_RULES,
    Adoption,
    EligibilityRule,
    RuleBook,
    RuleSet,
    Tier,
    TierReward,
    TierShare,
    version_in_force,
)
from projections.base import Handler, event_type

DDL = """
CREATE TABLE IF NOT EXISTS rule_sets (
    version integer PRIMARY KEY,
    description text NOT NULL,
    rules jsonb NOT NULL,
    defined_at timestamptz NOT NULL,
    defined_by text NOT NULL,
    position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS rule_adoptions (
    position bigint PRIMARY KEY,
    version integer NOT NULL,
    effective_from date NOT NULL,
    adopted_at timestamptz NOT NULL,
    adopted_by text NOT NULL,
    reason text,
    employee_ids uuid[]  -- NULL: for everyone; else the only people this adoption moved
);
"""


def adoption_of(r: asyncpg.Record) -> Adoption:
    """An adoption from its ``rule_adoptions`` row."""
    people = r["employee_ids"]
    return Adoption(
        r["version"], r["effective_from"], None if people is None else frozenset(people)
    )


BUILT_IN_VERSION = 0  # scores computed before any version was adopted use DEFAULT_RULES


def rules_to_json(rules: RuleSet) -> str:
    return json.dumps(
        {
            "achievementCap": str(rules.achievement_cap),
            "achievementFloor": str(rules.achievement_floor),
            "perspectiveWeights": {p.value: str(w) for p, w in rules.perspective_weights.items()},
            "tiers": [{"name": t.name, "minScore": str(t.min_score)} for t in rules.tiers],
            "kpiWeight": str(rules.kpi_weight),
            "reviewWeight": str(rules.review_weight),
            "sourceWeights": {s.value: str(w) for s, w in rules.source_weights.items()},
            "competencyWeights": {c: str(w) for c, w in rules.competency_weights.items()},
            "tierRewards": [
                {"tier": tier.name, "ruleKey": key, "reward": reward_spec_to_dict(reward)}
                for tier in rules.tiers
                for key, reward in rules.tier_rewards_for(tier.name)
            ],
            "eligibility": [
                {
                    "key": rule.key,
                    "ruleKey": rule.rule_key,
                    "metric": rule.metric,
                    "consecutiveMonths": rule.consecutive_months,
                    "reward": reward_spec_to_dict(rule.reward),
                }
                for rule in rules.eligibility
            ],
            "distribution": [
                {"tier": share.tier, "maxPercent": str(share.max_percent)}
                for share in rules.distribution
            ],
            "atRiskThreshold": str(rules.at_risk_threshold),
        }
    )


def rules_from_json(text: str) -> RuleSet:
    # Rows written before a field existed lack its key; the rule set's default stands in, as it
    # does when such a version is decoded from its event. jsonb reorders object keys, so weights
    # are put back in the order a validated rule set keeps them: sorted by key.
    data: dict[str, Any] = json.loads(text)
    defaults = RuleSet()
    return RuleSet(
        achievement_cap=Decimal(data["achievementCap"]),
        achievement_floor=Decimal(data["achievementFloor"]),
        perspective_weights={
            Perspective(p): Decimal(w) for p, w in sorted(data["perspectiveWeights"].items())
        },
        tiers=[Tier(t["name"], Decimal(t["minScore"])) for t in data["tiers"]],
        kpi_weight=Decimal(data.get("kpiWeight", defaults.kpi_weight)),
        review_weight=Decimal(data.get("reviewWeight", defaults.review_weight)),
        source_weights={
            RaterSource(s): Decimal(w) for s, w in sorted(data.get("sourceWeights", {}).items())
        },
        competency_weights={
            c: Decimal(w) for c, w in sorted(data.get("competencyWeights", {}).items())
        },
        tier_rewards=[
            TierReward(r["tier"], reward_spec_from_dict(r["reward"]))
            for r in data.get("tierRewards", [])
        ],
        eligibility=[
            EligibilityRule(
                r["key"], r["metric"], r["consecutiveMonths"], reward_spec_from_dict(r["reward"])
            )
            for r in data.get("eligibility", [])
        ],
        distribution=[
            TierShare(d["tier"], Decimal(d["maxPercent"])) for d in data.get("distribution", [])
        ],
        at_risk_threshold=Decimal(data.get("atRiskThreshold", defaults.at_risk_threshold)),
    )


def reward_spec_to_dict(spec: RewardSpec) -> dict[str, Any]:
    return {
        "kind": spec.kind.value,
        "amount": (
            {"amount": str(spec.amount.amount), "currency": spec.amount.currency}
            if spec.amount
            else None
        ),
        "percentOfSalary": _optional_str(spec.percent_of_salary),
        "days": _optional_str(spec.days),
        "title": spec.title,
    }


def reward_spec_from_dict(data: dict[str, Any]) -> RewardSpec:
    amount = data["amount"]
    return RewardSpec(
        kind=RewardKind(data["kind"]),
        amount=Money(Decimal(amount["amount"]), amount["currency"]) if amount else None,
        percent_of_salary=_optional_decimal(data["percentOfSalary"]),
        days=_optional_decimal(data["days"]),
        title=data["title"],
    )


def _optional_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _optional_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class RulesModel:
    tables: Sequence[str] = ("rule_sets", "rule_adoptions")
    ddl = DDL

    def __init__(self) -> None:
        self.versions: dict[int, RuleSet] = {}
        self.adoptions: list[Adoption] = []
        self.new_versions: list[tuple[Any, int]] = []
        self.new_adoptions: list[tuple[Any, int]] = []
        self.adopted_at: int | None = None  # position of an adoption in this batch

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def handlers(self) -> dict[type, Handler]:
        return {
            event_type(RuleBook, "VersionDefined"): self._defined,
            event_type(RuleBook, "VersionAdopted"): self._adopted,
            event_type(RuleBook, "VersionAdoptedForScope"): self._adopted,
        }

    def _defined(self, e: Any, position: int) -> None:
        self.versions[e.version] = e.rules
        self.new_versions.append((e, position))

    def _adopted(self, e: Any, position: int) -> None:
        """For everyone (VersionAdopted) or for the people it names (VersionAdoptedForScope)."""
        people = getattr(e, "employees", None)
        scope = None if people is None else frozenset(people)
        self.adoptions.append(Adoption(e.version, e.effective_from, scope))
        self.new_adoptions.append((e, position))
        self.adopted_at = position

    def in_force(self, day: date, employee_id: UUID | None = None) -> tuple[int, RuleSet]:
        """The production rules on ``day`` for ``employee_id`` (None, or a department's id:
        the organisation-wide ones)."""
        version = version_in_force(self.adoptions, day, employee_id)
        if version is None:
            return BUILT_IN_VERSION, DEFAULT_RULES
        return version, self.versions[version]

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT version, rules FROM rule_sets"):
            self.versions[r["version"]] = rules_from_json(r["rules"])
        for r in await conn.fetch(
            "SELECT version, effective_from, employee_ids FROM rule_adoptions ORDER BY position"
        ):
            self.adoptions.append(adoption_of(r))

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.new_versions:
            await conn.executemany(
                "INSERT INTO rule_sets VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
                [
                    (
                        e.version,
                        e.description,
                        rules_to_json(e.rules),
                        e.timestamp,
                        e.provenance.actor_id,
                        position,
                    )
                    for e, position in self.new_versions
                ],
            )
        if self.new_adoptions:
            await conn.executemany(
                "INSERT INTO rule_adoptions VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    (
                        position,
                        e.version,
                        e.effective_from,
                        e.timestamp,
                        e.provenance.actor_id,
                        e.provenance.reason,
                        getattr(e, "employees", None),
                    )
                    for e, position in self.new_adoptions
                ],
            )

    def committed(self) -> None:
        self.new_versions.clear()
        self.new_adoptions.clear()
        self.adopted_at = None
