"""Read model: every rule-set version and every production adoption."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from domain.goals import Perspective
from domain.rules import DEFAULT_RULES, Adoption, RuleBook, RuleSet, Tier, version_in_force
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
    reason text
);
"""

BUILT_IN_VERSION = 0  # scores computed before any version was adopted use DEFAULT_RULES


def rules_to_json(rules: RuleSet) -> str:
    return json.dumps(
        {
            "achievementCap": str(rules.achievement_cap),
            "achievementFloor": str(rules.achievement_floor),
            "perspectiveWeights": {p.value: str(w) for p, w in rules.perspective_weights.items()},
            "tiers": [{"name": t.name, "minScore": str(t.min_score)} for t in rules.tiers],
        }
    )


def rules_from_json(text: str) -> RuleSet:
    data: dict[str, Any] = json.loads(text)
    return RuleSet(
        achievement_cap=Decimal(data["achievementCap"]),
        achievement_floor=Decimal(data["achievementFloor"]),
        perspective_weights={
            Perspective(p): Decimal(w) for p, w in data["perspectiveWeights"].items()
        },
        tiers=[Tier(t["name"], Decimal(t["minScore"])) for t in data["tiers"]],
    )


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
        }

    def _defined(self, e: Any, position: int) -> None:
        self.versions[e.version] = e.rules
        self.new_versions.append((e, position))

    def _adopted(self, e: Any, position: int) -> None:
        self.adoptions.append(Adoption(e.version, e.effective_from))
        self.new_adoptions.append((e, position))
        self.adopted_at = position

    def in_force(self, day: date) -> tuple[int, RuleSet]:
        version = version_in_force(self.adoptions, day)
        if version is None:
            return BUILT_IN_VERSION, DEFAULT_RULES
        return version, self.versions[version]

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT version, rules FROM rule_sets"):
            self.versions[r["version"]] = rules_from_json(r["rules"])
        for r in await conn.fetch(
            "SELECT version, effective_from FROM rule_adoptions ORDER BY position"
        ):
            self.adoptions.append(Adoption(r["version"], r["effective_from"]))

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
                "INSERT INTO rule_adoptions VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    (
                        position,
                        e.version,
                        e.effective_from,
                        e.timestamp,
                        e.provenance.actor_id,
                        e.provenance.reason,
                    )
                    for e, position in self.new_adoptions
                ],
            )

    def committed(self) -> None:
        self.new_versions.clear()
        self.new_adoptions.clear()
        self.adopted_at = None
