"""Appraisal rules as data: versioned rule sets, defined and adopted as events.

A rule set is validated when it is defined, so a version that exists is always usable. Versions are
numbered 1, 2, 3 ... in the order they were defined and never change. Production adopts a version
from an effective date; a period is scored under the version in force on the day it began, so a
later rule change never moves the goalposts of a period already under way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import InvalidRuleSet, NotFound
from domain.goals import Perspective
from domain.provenance import Provenance

HUNDRED = Decimal(100)
MAX_CAP = Decimal(1000)


@dataclass(frozen=True)
class Tier:
    name: str
    min_score: Decimal


@dataclass(frozen=True)
class RuleSet:
    """What a scorecard is computed under.

    ``achievement_cap`` and ``achievement_floor`` bound each goal's achievement (in percent of the
    way from baseline to target); ``perspective_weights``, when given, weigh the balanced-scorecard
    perspectives against each other (total 100); ``tiers`` map a score to a performance tier and
    are listed from the highest threshold down.
    """

    achievement_cap: Decimal = Decimal(120)
    achievement_floor: Decimal = Decimal(0)
    perspective_weights: dict[Perspective, Decimal] = field(default_factory=dict)
    tiers: list[Tier] = field(default_factory=list)

    def validated(self) -> RuleSet:
        cap, floor = self.achievement_cap, self.achievement_floor
        if not cap.is_finite() or not HUNDRED <= cap <= MAX_CAP:
            raise InvalidRuleSet(
                f"achievementCap is {cap}; it must lie between 100 and {MAX_CAP}",
                field="achievementCap",
            )
        if not floor.is_finite() or not Decimal(0) <= floor < HUNDRED:
            raise InvalidRuleSet(
                f"achievementFloor is {floor}; it must be at least 0 and below 100",
                field="achievementFloor",
            )
        if self.perspective_weights:
            for perspective, weight in self.perspective_weights.items():
                if not weight.is_finite() or weight <= 0:
                    raise InvalidRuleSet(
                        f"perspectiveWeights.{perspective.value} is {weight}; it must be positive",
                        field=f"perspectiveWeights.{perspective.value}",
                    )
            total = sum(self.perspective_weights.values(), Decimal(0))
            if total != HUNDRED:
                raise InvalidRuleSet(
                    f"perspectiveWeights total {total}; they must total 100",
                    field="perspectiveWeights",
                )
        tiers: list[Tier] = []
        seen: set[str] = set()
        for index, tier in enumerate(self.tiers):
            name = text.required_text(tier.name, field=f"tiers[{index}].name", max_length=40)
            if name in seen:
                raise InvalidRuleSet(f"tier {name!r} is listed twice", field=f"tiers[{index}].name")
            seen.add(name)
            if not tier.min_score.is_finite() or tier.min_score < 0:
                raise InvalidRuleSet(
                    f"tiers[{index}].minScore is {tier.min_score}; it must be 0 or more",
                    field=f"tiers[{index}].minScore",
                )
            if tiers and tier.min_score >= tiers[-1].min_score:
                raise InvalidRuleSet(
                    f"tier {name!r} starts at {tier.min_score}, not below tier "
                    f"{tiers[-1].name!r} at {tiers[-1].min_score}: thresholds must fall strictly "
                    "from the first tier to the last",
                    field=f"tiers[{index}].minScore",
                )
            tiers.append(Tier(name, tier.min_score))
        if tiers and tiers[-1].min_score != 0:
            raise InvalidRuleSet(
                f"the last tier {tiers[-1].name!r} must start at 0 so every score has a tier",
                field=f"tiers[{len(tiers) - 1}].minScore",
            )
        return RuleSet(
            achievement_cap=cap,
            achievement_floor=floor,
            perspective_weights=dict(
                sorted(self.perspective_weights.items(), key=lambda item: item[0].value)
            ),
            tiers=tiers,
        )

    def tier_for(self, score: Decimal) -> str | None:
        for tier in self.tiers:
            if score >= tier.min_score:
                return tier.name
        return None


DEFAULT_RULES = RuleSet(
    achievement_cap=Decimal(120),
    achievement_floor=Decimal(0),
    perspective_weights={},
    tiers=[
        Tier("A", Decimal(90)),
        Tier("B", Decimal(75)),
        Tier("C", Decimal(60)),
        Tier("D", Decimal(0)),
    ],
)

RULE_BOOK_ID = uuid5(UUID("6f1d6c2e-6a53-4f0e-9a44-4f57e3b0a001"), "rule-book")


@dataclass(frozen=True)
class Adoption:
    version: int
    effective_from: date


class RuleBook(Aggregate):
    """Every rule-set version ever defined, and when production adopted which."""

    @event("Opened")
    def __init__(self, id: UUID, provenance: Provenance) -> None:
        self.versions: dict[int, RuleSet] = {}
        self.adoptions: list[Adoption] = []

    @classmethod
    def open(cls, provenance: Provenance) -> RuleBook:
        return cls(id=RULE_BOOK_ID, provenance=provenance)

    def define(self, rules: RuleSet, description: str, provenance: Provenance) -> int:
        version = len(self.versions) + 1
        self._version_defined(
            version,
            rules.validated(),
            text.required_text(description, field="description", max_length=500),
            provenance,
        )
        return version

    @event("VersionDefined")
    def _version_defined(
        self, version: int, rules: RuleSet, description: str, provenance: Provenance
    ) -> None:
        self.versions[version] = rules

    def adopt(self, version: int, effective_from: date, provenance: Provenance) -> None:
        if version not in self.versions:
            raise NotFound(f"rule-set version {version} does not exist", field="version")
        self._version_adopted(version, effective_from, provenance)

    @event("VersionAdopted")
    def _version_adopted(self, version: int, effective_from: date, provenance: Provenance) -> None:
        self.adoptions.append(Adoption(version, effective_from))

    def version_in_force(self, day: date) -> int | None:
        return version_in_force(self.adoptions, day)


def version_in_force(adoptions: list[Adoption], day: date) -> int | None:
    """The production version on ``day``: the latest-recorded adoption effective by then."""
    chosen: Adoption | None = None
    for adoption in adoptions:
        if adoption.effective_from <= day and (
            chosen is None or adoption.effective_from >= chosen.effective_from
        ):
            chosen = adoption
    return chosen.version if chosen else None
