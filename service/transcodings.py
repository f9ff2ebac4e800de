"""How domain values are stored in events: exact round trips for dates, enums and value objects.

Python's JSON encoder writes a ``str``-based enum as a bare string and would read it back as one,
so the domain's enums are plain ``Enum``s and every one of them is registered here by name.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.feedback import FeedbackKind, FeedbackVisibility
from domain.goals import Direction, GoalSpec, GoalStatus, Horizon, OwnerKind, Perspective
from domain.periods import PeriodKind
from domain.provenance import Provenance, Role
from domain.reviews import (
    Competency,
    CycleDeadlines,
    CycleDefinition,
    CycleStatus,
    RaterSource,
    Rating,
    RatingScale,
)
from domain.rewards import Money, RewardBasis, RewardKind, RewardOrigin, RewardSpec
from domain.rules import EligibilityRule, RuleSet, Tier, TierReward, TierShare


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class EnumAsValue(Transcoding):
    def __init__(self, enum_type: type[Enum]) -> None:
        self.type = enum_type
        self.name = f"enum:{enum_type.__name__}"
        # A dict lookup is several times quicker than calling the enum class, per event.
        self.members: dict[Any, Enum] = {member.value: member for member in enum_type}

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.members[data]


class DataclassAsDict(Transcoding):
    """A frozen dataclass as the dict of its fields; nested values are transcoded in turn."""

    def __init__(self, cls: type[Any]) -> None:
        self.type = cls
        self.name = f"dc:{cls.__name__}"
        self.fields = [field.name for field in dataclasses.fields(cls)]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


class RuleSetAsDict(DataclassAsDict):
    # JSON object keys are strings, so weights keyed by an enum travel as [member, weight] pairs.
    # Rule sets recorded before a field existed lack its key: the dataclass default fills it in.
    def __init__(self) -> None:
        super().__init__(RuleSet)

    def encode(self, obj: RuleSet) -> dict[str, Any]:
        data = super().encode(obj)
        data["perspective_weights"] = [[p, w] for p, w in obj.perspective_weights.items()]
        data["source_weights"] = [[s, w] for s, w in obj.source_weights.items()]
        return data

    def decode(self, data: dict[str, Any]) -> RuleSet:
        perspectives: list[list[Any]] = data.pop("perspective_weights")
        sources: list[list[Any]] = data.pop("source_weights", [])
        return RuleSet(
            perspective_weights={p: Decimal(w) for p, w in perspectives},
            source_weights={s: Decimal(w) for s, w in sources},
            **data,
        )


_ROLES = {role.value: role for role in Role}


class ProvenanceAsList(Transcoding):
    # Every event carries one; a flat list keeps events small and quick to decode.
    type = Provenance
    name = "prov"

    def encode(self, obj: Provenance) -> list[str | None]:
        return [obj.actor_id, obj.actor_role.value, obj.correlation_id, obj.reason]

    def decode(self, data: list[str | None]) -> Provenance:
        actor_id, role, correlation_id, reason = data
        assert actor_id is not None
        assert role is not None
        assert correlation_id is not None
        return Provenance(actor_id, _ROLES[role], correlation_id, reason)


ENUMS: tuple[type[Enum], ...] = (
    CycleStatus,
    Direction,
    FeedbackKind,
    FeedbackVisibility,
    GoalStatus,
    Horizon,
    OwnerKind,
    PeriodKind,
    Perspective,
    RaterSource,
    RewardKind,
    RewardOrigin,
    Role,
)
VALUE_OBJECTS: tuple[type[Any], ...] = (
    Competency,
    CycleDeadlines,
    CycleDefinition,
    Rating,
    RatingScale,
    EligibilityRule,
    GoalSpec,
    Money,
    RewardBasis,
    RewardSpec,
    Tier,
    TierReward,
    TierShare,
)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    for enum_type in ENUMS:
        transcoder.register(EnumAsValue(enum_type))
    for cls in VALUE_OBJECTS:
        transcoder.register(DataclassAsDict(cls))
    transcoder.register(RuleSetAsDict())
    transcoder.register(ProvenanceAsList())
