"""Read model: a scorecard per owner (employee or department) and period.

Each row is ``domain.scoring.score_goals`` applied to the owner's goals of the period under the
rule-set version in force when the period began, with the breakdown that explains it and the log
position it reflects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from domain.goals import Direction, GoalStatus, OwnerKind, Perspective
from domain.periods import Period
from domain.scoring import GoalFacts, KpiScore, score_goals
from projections.base import Handler, upsert
from projections.goals import GoalRow, GoalsModel, OwnerPeriod
from projections.organisation import OrganisationModel
from projections.rules import RulesModel

DDL = """
CREATE TABLE IF NOT EXISTS scorecards (
    owner_id uuid NOT NULL,
    period text NOT NULL,
    owner_kind text NOT NULL,
    department_id uuid NOT NULL,
    rule_set_version integer NOT NULL,
    score numeric,
    coverage numeric NOT NULL,
    tier text,
    goal_count integer NOT NULL,
    measured_count integer NOT NULL,
    breakdown jsonb NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (owner_id, period)
);
CREATE INDEX IF NOT EXISTS scorecards_department ON scorecards (department_id, period, owner_kind);
"""

_COLUMNS = [
    ("owner_id", "uuid"),
    ("period", "text"),
    ("owner_kind", "text"),
    ("department_id", "uuid"),
    ("rule_set_version", "integer"),
    ("score", "numeric"),
    ("coverage", "numeric"),
    ("tier", "text"),
    ("goal_count", "integer"),
    ("measured_count", "integer"),
    ("breakdown_json", "text"),
    ("position", "bigint"),
]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def breakdown_json(kpi: KpiScore) -> str:
    return json.dumps(
        [
            {
                "goalId": str(g.goal_id),
                "title": g.title,
                "perspective": g.perspective.value,
                "weight": str(g.weight),
                "latestValue": _text(g.latest_value),
                "rawAchievement": _text(g.raw_achievement),
                "achievement": _text(g.achievement),
                "capped": g.capped,
                "effectiveWeight": str(g.effective_weight),
                "contribution": str(g.contribution),
            }
            for g in kpi.goals
        ]
    )


def goal_facts(goal: GoalRow) -> GoalFacts:
    return GoalFacts(
        goal.id,
        goal.title,
        goal.weight,
        goal.direction,
        goal.baseline,
        goal.target,
        goal.perspective,
        goal.latest_value,
    )


def facts_to_json(facts: Sequence[GoalFacts]) -> str:
    """Goal facts as stored with a result frozen at a cycle's close (decimals as text), in goal
    id order: the same however the goals model's memory was built (replayed or loaded)."""
    return json.dumps(
        [
            {
                "id": str(f.goal_id),
                "title": f.title,
                "weight": str(f.weight),
                "direction": f.direction.value,
                "baseline": str(f.baseline),
                "target": str(f.target),
                "perspective": f.perspective.value,
                "latest": None if f.latest_value is None else str(f.latest_value),
            }
            for f in sorted(facts, key=lambda f: f.goal_id)
        ]
    )


def facts_from_json(text: str) -> list[GoalFacts]:
    return [
        GoalFacts(
            UUID(f["id"]),
            f["title"],
            Decimal(f["weight"]),
            Direction(f["direction"]),
            Decimal(f["baseline"]),
            Decimal(f["target"]),
            Perspective(f["perspective"]),
            None if f["latest"] is None else Decimal(f["latest"]),
        )
        for f in json.loads(text)
    ]


class ScorecardsModel:
    tables: Sequence[str] = ("scorecards",)
    ddl = DDL

    def __init__(
        self, organisation: OrganisationModel, goals: GoalsModel, rules: RulesModel
    ) -> None:
        self.organisation = organisation
        self.goals = goals
        self.rules = rules

    def clear(self) -> None:
        pass  # scorecards are derived from the other models' memory; nothing of their own

    def handlers(self) -> dict[type, Handler]:
        return {}

    async def load(self, conn: asyncpg.Connection) -> None:
        pass

    def _changed(self) -> dict[OwnerPeriod, int]:
        changed = dict(self.goals.changed_scores)
        if self.rules.adopted_at is not None:
            for key in self.goals.by_owner_period:
                changed[key] = max(changed.get(key, 0), self.rules.adopted_at)
        if self.organisation.transferred:
            for key in self.goals.by_owner_period:
                if key[0] in self.organisation.transferred:
                    position = self.organisation.employees[key[0]].position
                    changed[key] = max(changed.get(key, 0), position)
        return changed

    def kpi_score(self, owner_id: UUID, period: str) -> Decimal | None:
        """The owner's KPI score for the period as its scorecard row shows it (for the review
        cycles' scorecards, which combine it with the reviews)."""
        score: Decimal | None = self.scored(owner_id, period)[3].score
        return score

    def scored(
        self, owner_id: UUID, period: str
    ) -> tuple[list[GoalRow], list[GoalRow], int, KpiScore]:
        """The owner's goals for the period, the active ones, and their KPI score under the
        production rules in force for the owner (also read by the live pilot, beside its own)."""
        goals = [
            self.goals.goals[goal_id]
            for goal_id in self.goals.by_owner_period.get((owner_id, period), ())
        ]
        active = [g for g in goals if g.status is not GoalStatus.ABANDONED]
        version, rules = self.rules.in_force(Period.parse(period).start, owner_id)
        kpi = score_goals([goal_facts(g) for g in active], rules)
        return goals, active, version, kpi

    def facts(self, owner_id: UUID, period: str) -> list[GoalFacts]:
        """What the owner's KPI score for the period is computed from, as it stands now."""
        return [goal_facts(g) for g in self.scored(owner_id, period)[1]]

    def compute(self, owner_id: UUID, period: str) -> tuple[Any, ...]:
        goals, active, version, kpi = self.scored(owner_id, period)
        owner_kind = goals[0].owner_kind if goals else OwnerKind.EMPLOYEE
        if owner_kind is OwnerKind.EMPLOYEE and owner_id in self.organisation.employees:
            department_id = self.organisation.employees[owner_id].department_id
        elif owner_kind is OwnerKind.DEPARTMENT:
            department_id = owner_id
        else:
            department_id = goals[0].department_id
        return (
            owner_id,
            period,
            owner_kind.value,
            department_id,
            version,
            kpi.score,
            kpi.coverage,
            kpi.tier,
            len(active),
            sum(1 for g in active if g.latest_value is not None),
            breakdown_json(kpi),
        )

    def row(self, owner_id: UUID, period: str) -> dict[str, Any] | None:
        """The scorecard row the next flush would write for (owner, period), by column name as
        the table has it, or None when there is none (an as-of scorecard is read from here,
        without writing the table)."""
        position = self._changed().get((owner_id, period))
        if position is None:
            return None
        values = (*self.compute(owner_id, period), position)
        names = [name.removesuffix("_json") for name, _ in _COLUMNS]
        return dict(zip(names, values, strict=True))

    async def flush(self, conn: asyncpg.Connection) -> None:
        changed = self._changed()
        rows = [
            (*self.compute(owner_id, period), position)
            for (owner_id, period), position in sorted(changed.items())
        ]
        await upsert(conn, "scorecards", _COLUMNS, ["owner_id", "period"], rows)

    def committed(self) -> None:
        pass
