"""The GraphQL types of trials: a trial as its read model keeps it, the feedback on it, and its
live pilot scorecards beside production's. Built from read-model rows only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import strawberry

from domain.goals import OwnerKind
from domain.trials import TrialStatus
from projections.rules import reward_spec_from_dict
from service.api.scorecards import Scorecard
from service.api.types import Employee, Info

Row = asyncpg.Record | Mapping[str, Any]


@strawberry.type(description="A step in a trial's life, where the log recorded it.")
class TrialTransition:
    event: str = strawberry.field(description="started, revised, promoted or rolled_back.")
    position: int
    at: datetime
    rule_set_version: int = strawberry.field(description="The version piloted from then on.")
    reason: str | None


@strawberry.type(description="A reward granted under the trial's pilot rules.")
class TrialReward:
    reward_id: strawberry.ID
    state: str = strawberry.field(
        description="provisional while the trial runs; confirmed by its promotion; revoked by "
        "its rollback (or revoked on its own)."
    )
    linked_position: int
    state_position: int = strawberry.field(description="Where the log set the state.")


@strawberry.type(description="A pilot of new appraisal rules on part of the organisation.")
class TrialView:
    id: strawberry.ID
    name: str
    status: str = strawberry.field(description="running, promoted or rolled_back.")
    rule_set_version: int = strawberry.field(description="The version piloted now (or last).")
    transitions: list[TrialTransition]
    period: str
    department_ids: list[strawberry.ID]
    employee_ids: list[strawberry.ID]
    participants: int = strawberry.field(
        description="Whom it pilots: its scope's people at the start and those who joined since."
    )
    responsible: list[str]
    show_participants: bool
    started_on: date
    started_position: int
    ended_on: date | None = strawberry.field(description="When it was promoted or rolled back.")
    ended_position: int | None = strawberry.field(
        description="Where it ended: its closed report (trialComparison, pilotScorecards) is "
        "as of this position."
    )
    effective_from: date | None = strawberry.field(description="A promotion's effective date.")
    for_everyone: bool | None
    end_reason: str | None
    feedback_count: int
    position: int = strawberry.field(description="The last log position that changed it.")
    trial_id: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, r: Row) -> TrialView:
        return cls(
            id=strawberry.ID(str(r["id"])),
            name=r["name"],
            status=r["status"],
            rule_set_version=r["rule_set_version"],
            transitions=[
                TrialTransition(
                    event=t["event"],
                    position=t["position"],
                    at=datetime.fromisoformat(t["at"]),
                    rule_set_version=t["ruleSetVersion"],
                    reason=t["reason"],
                )
                for t in json.loads(r["transitions"])
            ],
            period=r["period"],
            department_ids=[strawberry.ID(d) for d in json.loads(r["scope_departments"])],
            employee_ids=[strawberry.ID(e) for e in json.loads(r["scope_employees"])],
            participants=r["participant_count"],
            responsible=json.loads(r["responsible"]),
            show_participants=r["show_participants"],
            started_on=r["started_on"],
            started_position=r["started_position"],
            ended_on=r["ended_on"],
            ended_position=r["ended_position"],
            effective_from=r["effective_from"],
            for_everyone=r["for_everyone"],
            end_reason=r["end_reason"],
            feedback_count=r["feedback_count"],
            position=r["position"],
            trial_id=r["id"],
        )

    @strawberry.field(description="Every version it piloted, in order.")
    def versions_tried(self) -> list[int]:
        return [t.rule_set_version for t in self.transitions if t.event in ("started", "revised")]

    @strawberry.field(description="Ended: its pilot scorecards are a closed trial's report.")
    def closed(self) -> bool:
        return self.status != TrialStatus.RUNNING.value

    @strawberry.field
    def promoted_on(self) -> date | None:
        return self.ended_on if self.status == TrialStatus.PROMOTED.value else None

    @strawberry.field(description="Its provisional rewards and what became of each.")
    async def rewards(self, info: Info) -> list[TrialReward]:
        async with info.context.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM trial_rewards WHERE trial_id = $1 ORDER BY linked_position",
                self.trial_id,
            )
        return [
            TrialReward(
                reward_id=strawberry.ID(str(r["reward_id"])),
                state=r["state"],
                linked_position=r["linked_position"],
                state_position=r["state_position"],
            )
            for r in rows
        ]

    @strawberry.field(description="The ids of the rewards granted under it, in order.")
    async def provisional_rewards(self, info: Info) -> list[strawberry.ID]:
        return [r.reward_id for r in await self.rewards(info)]


@strawberry.type(description="A participant's feedback on a trial.")
class TrialFeedbackItem:
    trial_id: strawberry.ID
    employee_id: strawberry.ID
    given_on: date
    given_at: datetime
    position: int
    text: str | None = strawberry.field(description="Null where the service keeps no text.")


# -- pilot scorecards ----------------------------------------------------------------------------


@strawberry.type(description="A reward a rule set's reward table proposes for a tier.")
class TierRewardProposal:
    rule_key: str
    kind: str
    describe: str


def _proposals(text: str) -> list[TierRewardProposal]:
    found = []
    for item in json.loads(text):
        spec = reward_spec_from_dict(item["reward"])
        found.append(
            TierRewardProposal(
                rule_key=item["ruleKey"], kind=spec.kind.value, describe=spec.describe()
            )
        )
    return found


@strawberry.type(description="One rater source's part in the pilot's 360 score.")
class PilotSource:
    source: str
    withheld: bool = strawberry.field(
        description="Anonymous and below the cycle's threshold: no figure, count or note shown."
    )
    submitted: int | None
    counted: bool | None
    note: str | None
    rule_weight: Decimal | None
    effective_weight: Decimal | None
    score: Decimal | None
    contribution: Decimal | None


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _sources(text: str) -> list[PilotSource]:
    return [
        PilotSource(
            source=s["source"],
            withheld=s["withheld"],
            submitted=s.get("submitted"),
            counted=s.get("counted"),
            note=s.get("note"),
            rule_weight=_number(s.get("ruleWeight")),
            effective_weight=_number(s.get("effectiveWeight")),
            score=_number(s.get("score")),
            contribution=_number(s.get("contribution")),
        )
        for s in json.loads(text)
    ]


@strawberry.type(description="An appraisal's result under one rule set.")
class CycleOutcome:
    rule_set_version: int | None
    kpi_score: Decimal | None
    review_score: Decimal | None
    score: Decimal | None = strawberry.field(
        description="The pilot's computed score; for production, the score that counts "
        "(the calibrated one when hr calibrated)."
    )
    tier: str | None
    kpi_contribution: Decimal | None
    review_contribution: Decimal | None
    rewards: list[TierRewardProposal] = strawberry.field(
        description="The tier rewards its reward table proposes."
    )

    @classmethod
    def from_row(cls, r: Row, *, version: str, prefix: str = "") -> CycleOutcome:
        """One side of a pilot cycle row: its columns are named alike, production's prefixed."""
        return cls(
            rule_set_version=r[version],
            kpi_score=r[f"{prefix}kpi_score"],
            review_score=r[f"{prefix}review_score"],
            score=r[f"{prefix}score"],
            tier=r[f"{prefix}tier"],
            kpi_contribution=r[f"{prefix}kpi_contribution"],
            review_contribution=r[f"{prefix}review_contribution"],
            rewards=_proposals(r[f"{prefix}rewards"]),
        )


@strawberry.type(description="A participant's appraisal in a review cycle under the pilot's rules.")
class PilotCycleScorecard:
    cycle_id: strawberry.ID
    period: str
    department_id: strawberry.ID
    pilot: CycleOutcome
    production: CycleOutcome
    production_final_score: Decimal | None = strawberry.field(
        description="Production's computed score, before any calibration: what the pilot's is "
        "compared with."
    )
    calibrated_score: Decimal | None = strawberry.field(
        description="The result hr calibrated under production (not part of the comparison)."
    )
    delta: Decimal | None = strawberry.field(
        description="Pilot score minus production's computed score."
    )
    sources: list[PilotSource]
    closed: bool
    position: int

    @classmethod
    def from_row(cls, r: Row) -> PilotCycleScorecard:
        return cls(
            cycle_id=strawberry.ID(str(r["cycle_id"])),
            period=r["period"],
            department_id=strawberry.ID(str(r["department_id"])),
            pilot=CycleOutcome.from_row(r, version="rule_set_version"),
            production=CycleOutcome.from_row(r, prefix="production_", version="production_version"),
            production_final_score=r["production_final_score"],
            calibrated_score=r["production_calibrated_score"],
            delta=r["delta"],
            sources=_sources(r["sources"]),
            closed=r["closed"],
            position=r["position"],
        )


@strawberry.type(description="The KPI scorecard of the trial's period under the pilot's rules.")
class PilotKpiComparison:
    pilot: Scorecard
    production_version: int
    production_score: Decimal | None
    production_tier: str | None
    delta: Decimal | None = strawberry.field(description="Pilot score minus production's.")

    @classmethod
    def from_row(cls, r: Row) -> PilotKpiComparison:
        return cls(
            pilot=Scorecard.from_row(
                {**dict(r), "owner_id": r["employee_id"], "owner_kind": OwnerKind.EMPLOYEE.value}
            ),
            production_version=r["production_version"],
            production_score=r["production_score"],
            production_tier=r["production_tier"],
            delta=r["delta"],
        )


@strawberry.type(
    description="A participant's scorecards under a trial's pilot rules beside production."
)
class PilotScorecard:
    trial_id: strawberry.ID
    employee_id: strawberry.ID
    kpi: PilotKpiComparison
    cycles: list[PilotCycleScorecard]
    closed: bool = strawberry.field(description="The trial ended: these are its final figures.")

    @strawberry.field
    async def employee(self, info: Info) -> Employee | None:
        return await info.context.loaders.employee.load(UUID(self.employee_id))

    @classmethod
    def of(cls, kpi: Row, cycles: Sequence[Row]) -> PilotScorecard:
        return cls(
            trial_id=strawberry.ID(str(kpi["trial_id"])),
            employee_id=strawberry.ID(str(kpi["employee_id"])),
            kpi=PilotKpiComparison.from_row(kpi),
            cycles=[PilotCycleScorecard.from_row(c) for c in cycles],
            closed=kpi["closed"],
        )
