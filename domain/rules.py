"""Appraisal rules as data: versioned rule sets, defined and adopted as events.

A rule set is validated when it is defined, so a version that exists is always usable: weights
total 100, thresholds fall, and every tier a reward or a distribution guideline names exists.
Versions are
numbered 1, 2, 3 ... in the order they were defined and never change. Production adopts a version
from an effective date; a period is scored under the version in force on the day it began, so a
later rule change never moves the goalposts of a period already under way.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import InvalidInput, InvalidRuleSet, NotFound
from domain.goals import Perspective
from domain.provenance import Provenance
from domain.reviews import RaterSource
from domain.rewards import Money, RewardKind, RewardSpec

HUNDRED = Decimal(100)
MAX_CAP = Decimal(1000)
MAX_STREAK_MONTHS = 12
_COMPETENCY_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Tier:
    name: str
    min_score: Decimal


@dataclass(frozen=True)
class TierReward:
    """A reward proposed to everyone whose final score falls into ``tier``."""

    tier: str
    reward: RewardSpec


@dataclass(frozen=True)
class EligibilityRule:
    """A reward proposed to whoever met the target of a goal measuring ``metric`` in each of the
    last ``consecutive_months`` months ("met target three months in a row → bonus")."""

    key: str
    metric: str
    consecutive_months: int
    reward: RewardSpec

    @property
    def rule_key(self) -> str:
        return f"eligibility:{self.key}"


@dataclass(frozen=True)
class TierShare:
    """A distribution guideline: at most ``max_percent`` of a population should be in ``tier``.
    Advisory: reports compare against it; scores are never bent to fit it."""

    tier: str
    max_percent: Decimal


DEFAULT_AT_RISK_THRESHOLD = Decimal(15)


@dataclass(frozen=True)
class RuleSet:
    """What a scorecard is computed under.

    ``achievement_cap`` and ``achievement_floor`` bound each goal's achievement (in percent of the
    way from baseline to target); ``perspective_weights``, when given, weigh the balanced-scorecard
    perspectives against each other (total 100); ``tiers`` map a score to a performance tier and
    are listed from the highest threshold down.

    The final score weighs the KPI score against the 360 review score (``kpi_weight`` +
    ``review_weight`` = 100); the review score weighs rater sources by ``source_weights`` (a
    source not listed does not count) and, when ``competency_weights`` is given, competencies by
    it instead of by the review cycle's own weights. ``tier_rewards`` and ``eligibility`` propose
    rewards; ``distribution`` is an advisory guideline on tier shares. A goal is at risk when its
    progress (percent of the way from baseline to target) trails the straight line from its
    period's first to last day by more than ``at_risk_threshold`` percentage points.

    Every field has a default so that rule sets recorded before a field existed still decode;
    the defaults mean "KPIs only, no rewards, no guideline".
    """

    achievement_cap: Decimal = Decimal(120)
    achievement_floor: Decimal = Decimal(0)
    perspective_weights: dict[Perspective, Decimal] = field(default_factory=dict)
    tiers: list[Tier] = field(default_factory=list)
    kpi_weight: Decimal = HUNDRED
    review_weight: Decimal = Decimal(0)
    source_weights: dict[RaterSource, Decimal] = field(default_factory=dict)
    competency_weights: dict[str, Decimal] = field(default_factory=dict)
    tier_rewards: list[TierReward] = field(default_factory=list)
    eligibility: list[EligibilityRule] = field(default_factory=list)
    distribution: list[TierShare] = field(default_factory=list)
    at_risk_threshold: Decimal = DEFAULT_AT_RISK_THRESHOLD

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
        _check_weights(
            "perspectiveWeights", {p.value: w for p, w in self.perspective_weights.items()}
        )
        tiers = self._validated_tiers()
        kpi_weight, review_weight = self._validated_kpi_and_review_weights()
        _check_weights("sourceWeights", {s.value: w for s, w in self.source_weights.items()})
        if review_weight > 0 and not self.source_weights:
            raise InvalidRuleSet(
                f"reviewWeight is {review_weight} but no sourceWeights are given; weigh at least "
                "one rater source (self, manager, peer, customer) so that reviews can be scored",
                field="sourceWeights",
            )
        competency_weights = self._validated_competency_weights()
        at_risk = self.at_risk_threshold
        if not at_risk.is_finite() or not Decimal(0) < at_risk <= HUNDRED:
            raise InvalidRuleSet(
                f"atRiskThreshold is {at_risk}; it must be above 0 and at most 100 "
                "(percentage points behind the expected progress)",
                field="atRiskThreshold",
            )
        rank = {tier.name: index for index, tier in enumerate(tiers)}
        tier_rewards = self._validated_tier_rewards(rank)
        return RuleSet(
            achievement_cap=cap,
            achievement_floor=floor,
            perspective_weights=dict(
                sorted(self.perspective_weights.items(), key=lambda item: item[0].value)
            ),
            tiers=tiers,
            kpi_weight=kpi_weight,
            review_weight=review_weight,
            source_weights=dict(
                sorted(self.source_weights.items(), key=lambda item: item[0].value)
            ),
            competency_weights=competency_weights,
            tier_rewards=sorted(tier_rewards, key=lambda reward: rank[reward.tier]),
            eligibility=self._validated_eligibility(),
            distribution=self._validated_distribution(rank),
            at_risk_threshold=at_risk,
        )

    def _validated_tiers(self) -> list[Tier]:
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
        return tiers

    def _validated_kpi_and_review_weights(self) -> tuple[Decimal, Decimal]:
        for name, weight in (("kpiWeight", self.kpi_weight), ("reviewWeight", self.review_weight)):
            if not weight.is_finite() or not Decimal(0) <= weight <= HUNDRED:
                raise InvalidRuleSet(
                    f"{name} is {weight}; it must lie between 0 and 100", field=name
                )
        total = self.kpi_weight + self.review_weight
        if total != HUNDRED:
            # The review weight is blamed: the KPI weight is usually "the rest".
            raise InvalidRuleSet(
                f"kpiWeight {self.kpi_weight} and reviewWeight {self.review_weight} total "
                f"{total}; they must total 100",
                field="reviewWeight",
            )
        return self.kpi_weight, self.review_weight

    def _validated_competency_weights(self) -> dict[str, Decimal]:
        cleaned: dict[str, Decimal] = {}
        for key, weight in self.competency_weights.items():
            competency = key.strip()
            if not _COMPETENCY_KEY.match(competency):
                raise InvalidRuleSet(
                    f"competencyWeights names {key!r}; a competency key is 1-40 lower-case "
                    "letters, digits and '_', starting with a letter",
                    field="competencyWeights",
                )
            if competency in cleaned:
                raise InvalidRuleSet(
                    f"competency {competency!r} is weighted twice", field="competencyWeights"
                )
            cleaned[competency] = weight
        _check_weights("competencyWeights", cleaned)
        return dict(sorted(cleaned.items()))

    def _validated_tier_rewards(self, rank: Mapping[str, int]) -> list[TierReward]:
        rewards: list[TierReward] = []
        for index, tier_reward in enumerate(self.tier_rewards):
            where = f"tierRewards[{index}]"
            tier = _known_tier(tier_reward.tier, rank, f"{where}.tier")
            rewards.append(TierReward(tier, tier_reward.reward.checked(f"{where}.reward")))
        return rewards

    def _validated_eligibility(self) -> list[EligibilityRule]:
        rules: list[EligibilityRule] = []
        keys: set[str] = set()
        for index, rule in enumerate(self.eligibility):
            where = f"eligibility[{index}]"
            key = text.code(rule.key, field=f"{where}.key")
            if key in keys:
                raise InvalidRuleSet(
                    f"eligibility rule key {key!r} is used twice; each rule needs its own key "
                    "so a granted reward can name the rule that proposed it",
                    field=f"{where}.key",
                )
            keys.add(key)
            metric = text.required_text(rule.metric, field=f"{where}.metric", max_length=100)
            months = rule.consecutive_months
            if not 1 <= months <= MAX_STREAK_MONTHS:
                raise InvalidRuleSet(
                    f"{where}.consecutiveMonths is {months}; it must lie between 1 and "
                    f"{MAX_STREAK_MONTHS}",
                    field=f"{where}.consecutiveMonths",
                )
            rules.append(
                EligibilityRule(key, metric, months, rule.reward.checked(f"{where}.reward"))
            )
        return rules

    def _validated_distribution(self, rank: Mapping[str, int]) -> list[TierShare]:
        shares: dict[str, TierShare] = {}
        for index, share in enumerate(self.distribution):
            where = f"distribution[{index}]"
            tier = _known_tier(share.tier, rank, f"{where}.tier")
            if tier in shares:
                raise InvalidRuleSet(
                    f"tier {tier!r} has two distribution guidelines; give each tier at most one",
                    field=f"{where}.tier",
                )
            percent = share.max_percent
            if not percent.is_finite() or not Decimal(0) < percent <= HUNDRED:
                raise InvalidRuleSet(
                    f"{where}.maxPercent is {percent}; it must be above 0 and at most 100",
                    field=f"{where}.maxPercent",
                )
            shares[tier] = TierShare(tier, percent)
        return sorted(shares.values(), key=lambda share: rank[share.tier])

    def reward_rules(self) -> dict[str, RewardSpec]:
        """Every reward this rule set proposes, by a key stable across decoding, so a granted
        reward can name the rule that proposed it: ``tier:<tier>:<n>`` (n counts that tier's
        rewards from 0) and ``eligibility:<key>``."""
        rules = {
            key: reward for tier in self.tiers for key, reward in self.tier_rewards_for(tier.name)
        }
        for rule in self.eligibility:
            rules[rule.rule_key] = rule.reward
        return rules

    def tier_rewards_for(self, tier: str) -> list[tuple[str, RewardSpec]]:
        rewards = [r.reward for r in self.tier_rewards if r.tier == tier]
        return [(f"tier:{tier}:{n}", reward) for n, reward in enumerate(rewards)]

    def tier_for(self, score: Decimal) -> str | None:
        for tier in self.tiers:
            if score >= tier.min_score:
                return tier.name
        return None


def _check_weights(name: str, weights: Mapping[str, Decimal]) -> None:
    """Weights, when any are given, are each positive and total exactly 100."""
    if not weights:
        return
    for key, weight in weights.items():
        if not weight.is_finite() or weight <= 0:
            raise InvalidRuleSet(
                f"{name}.{key} is {weight}; it must be positive", field=f"{name}.{key}"
            )
    total = sum(weights.values(), Decimal(0))
    if total != HUNDRED:
        raise InvalidRuleSet(f"{name} total {total}; they must total 100", field=name)


def _known_tier(name: str, rank: Mapping[str, int], field: str) -> str:
    tier = name.strip()
    if tier not in rank:
        known = ", ".join(rank) or "none are defined"
        raise InvalidRuleSet(
            f"{field} {name!r} is not one of this rule set's tiers ({known})", field=field
        )
    return tier


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
    kpi_weight=Decimal(60),
    review_weight=Decimal(40),
    source_weights={
        RaterSource.CUSTOMER: Decimal(20),
        RaterSource.MANAGER: Decimal(50),
        RaterSource.PEER: Decimal(20),
        RaterSource.SELF: Decimal(10),
    },
    tier_rewards=[
        TierReward("A", RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(10))),
        TierReward("A", RewardSpec(RewardKind.RECOGNITION, title="Top performer of the cycle")),
        TierReward("B", RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(5))),
        TierReward("C", RewardSpec(RewardKind.TRAINING, title="Development plan with coach")),
    ],
    eligibility=[
        # The source documents' example: a year-end bonus for salespeople who meet their target
        # three months in a row.
        EligibilityRule(
            "sales_streak",
            "sales_growth_monthly",
            3,
            RewardSpec(RewardKind.BONUS, amount=Money(Decimal(1000), "EUR")),
        )
    ],
    distribution=[TierShare("A", Decimal(20))],
)

RULE_BOOK_ID = uuid5(UUID("6f1d6c2e-6a53-4f0e-9a44-4f57e3b0a001"), "rule-book")


@dataclass(frozen=True)
class Adoption:
    """Production adopted ``version`` from ``effective_from``: for everyone, or, with
    ``employees``, for those people only (a trial promoted for its scope)."""

    version: int
    effective_from: date
    employees: frozenset[UUID] | None = None

    def covers(self, employee_id: UUID | None) -> bool:
        return self.employees is None or (employee_id is not None and employee_id in self.employees)


MAX_SCOPED_EMPLOYEES = 50_000


class RuleBook(Aggregate):
    """Every rule-set version ever defined, and when production adopted which, for whom."""

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
        self._require_defined(version)
        self._version_adopted(version, effective_from, provenance)

    @event("VersionAdopted")
    def _version_adopted(self, version: int, effective_from: date, provenance: Provenance) -> None:
        self.adoptions.append(Adoption(version, effective_from))

    def adopt_for(
        self,
        version: int,
        effective_from: date,
        employees: Collection[UUID],
        provenance: Provenance,
    ) -> None:
        """Adopt ``version`` from ``effective_from`` for the named people only. The people are
        listed, not the departments they belong to, so the record says exactly whom it moved
        (someone joining later stays under the rules everyone else has)."""
        self._require_defined(version)
        people = sorted(set(employees))
        if not people:
            raise InvalidInput("a scoped adoption names at least one employee", field="employeeIds")
        if len(people) > MAX_SCOPED_EMPLOYEES:
            raise InvalidInput(
                f"a scoped adoption names at most {MAX_SCOPED_EMPLOYEES} people",
                field="employeeIds",
            )
        self._version_adopted_for_scope(version, effective_from, people, provenance)

    @event("VersionAdoptedForScope")
    def _version_adopted_for_scope(
        self, version: int, effective_from: date, employees: list[UUID], provenance: Provenance
    ) -> None:
        self.adoptions.append(Adoption(version, effective_from, frozenset(employees)))

    def _require_defined(self, version: int) -> None:
        if version not in self.versions:
            raise NotFound(f"rule-set version {version} does not exist", field="version")

    def version_in_force(self, day: date, employee_id: UUID | None = None) -> int | None:
        return version_in_force(self.adoptions, day, employee_id)


def version_in_force(
    adoptions: list[Adoption], day: date, employee_id: UUID | None = None
) -> int | None:
    """The production version on ``day`` for ``employee_id`` (None: for the organisation as a
    whole, so scoped adoptions do not count): of the adoptions effective by then that cover
    them, the one effective latest; on a tie, the one recorded last."""
    chosen: Adoption | None = None
    for adoption in adoptions:
        if (
            adoption.effective_from <= day
            and adoption.covers(employee_id)
            and (chosen is None or adoption.effective_from >= chosen.effective_from)
        ):
            chosen = adoption
    return chosen.version if chosen else None
