"""The appraisal result: a pure function of the facts of one cycle and a rule set.

How a result is computed, in order (every step appears in the breakdown):

1. **Competency weights**: the rule set's ``competency_weights`` for the competencies of the
   cycle's framework when it names any of them, otherwise the framework's own weights.
2. **Per source** (self, manager, peer, customer): for each competency, the mean of the observed
   ratings of that source's raters ("not observed" ratings are left out), on the cycle's own
   scale; normalised to 0-100 by the scale; the source score is the weighted mean over the
   competencies someone observed. Calibrated ratings replace the submitted ones.
3. **Which sources count**: a source counts when the rule set weighs it and someone of it
   submitted; an anonymous source (peers, customers) counts only with at least k submissions (the
   cycle's anonymity threshold). Below k it is withheld from the reviewee, and so it must also
   stay out of every figure they see, or the 360 score would give it away.
4. **360 score**: the source scores weighted by the rule set's source weights, renormalised over
   the sources that count.
5. **Final score**: the KPI score and the 360 score weighted by ``kpi_weight`` and
   ``review_weight``, renormalised over the components that exist (a person without measured
   goals is scored on reviews alone, and the other way round).
6. **Tier**: from the calibrated score when HR calibrated the result, else from the final score.

Exact decimals throughout; figures are rounded (half-even, two places) only for display, and the
tier is taken from the rounded score, so the score on screen and its tier always agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.reviews import Competency, RaterSource, RatingScale
from domain.rules import RuleSet
from domain.scoring import rounded

HUNDRED = Decimal(100)
SOURCE_ORDER = (RaterSource.MANAGER, RaterSource.PEER, RaterSource.CUSTOMER, RaterSource.SELF)


@dataclass(frozen=True)
class SubmittedReview:
    """One rater's submitted review, calibrations applied: competency → rating (None = not
    observed)."""

    source: RaterSource
    ratings: Mapping[str, int | None]


@dataclass(frozen=True)
class CompetencyResult:
    key: str
    weight: Decimal  # percent of the source score, before dropping unobserved competencies
    observations: int
    mean_rating: Decimal | None  # on the cycle's scale
    score: Decimal | None  # 0-100


@dataclass(frozen=True)
class SourceResult:
    source: RaterSource
    submitted: int
    counted: bool
    note: str | None  # why it does not count, when it does not
    rule_weight: Decimal
    effective_weight: Decimal  # percent of the 360 score
    score: Decimal | None
    contribution: Decimal  # points of the 360 score
    competencies: tuple[CompetencyResult, ...]
    # An anonymous source with fewer than k submissions (none included): nobody but hr and
    # auditors sees its figures, and it never counts. The one definition every view uses.
    withheld: bool


@dataclass(frozen=True)
class Component:
    name: str  # "kpi" or "review"
    rule_weight: Decimal
    effective_weight: Decimal  # percent of the final score
    score: Decimal | None
    contribution: Decimal


@dataclass(frozen=True)
class Evaluation:
    kpi_score: Decimal | None
    review_score: Decimal | None
    final_score: Decimal | None  # as computed
    calibrated_score: Decimal | None  # as set by hr in calibration
    tier: str | None
    sources: tuple[SourceResult, ...]
    components: tuple[Component, ...]

    @property
    def score(self) -> Decimal | None:
        """The score that counts: the calibrated one when there is one."""
        return self.calibrated_score if self.calibrated_score is not None else self.final_score

    @property
    def calibrated(self) -> bool:
        return self.calibrated_score is not None


def competency_weights(competencies: Sequence[Competency], rules: RuleSet) -> dict[str, Decimal]:
    keys = [c.key for c in competencies]
    override = {k: w for k, w in rules.competency_weights.items() if k in keys}
    if override:
        return {k: override.get(k, Decimal(0)) for k in keys}
    return {c.key: c.weight for c in competencies}


def evaluate(
    *,
    kpi_score: Decimal | None,
    reviews: Sequence[SubmittedReview],
    competencies: Sequence[Competency],
    scale: RatingScale,
    anonymity_threshold: int,
    rules: RuleSet,
    calibrated_score: Decimal | None = None,
) -> Evaluation:
    weights = competency_weights(competencies, rules)
    exact: dict[RaterSource, Decimal] = {}
    every: dict[RaterSource, Decimal | None] = {}
    partial: list[tuple[RaterSource, int, str | None, Decimal, tuple[CompetencyResult, ...]]] = []
    for source in SOURCE_ORDER:
        of_source = [review for review in reviews if review.source is source]
        results, exact_score = _source_score(of_source, competencies, weights, scale)
        every[source] = exact_score
        rule_weight = rules.source_weights.get(source, Decimal(0))
        note: str | None = None
        if not of_source:
            note = "no review submitted"
        elif rule_weight <= 0:
            note = "the rule set gives this source no weight"
        elif source.anonymous and len(of_source) < anonymity_threshold:
            note = (
                f"{len(of_source)} of the at least {anonymity_threshold} raters needed to keep "
                "them anonymous"
            )
        elif exact_score is None:
            note = "no competency was observed"
        if note is None and exact_score is not None:
            exact[source] = exact_score
        partial.append((source, len(of_source), note, rule_weight, results))

    counted_weight = sum((w for s, _, n, w, _ in partial if n is None), Decimal(0))
    sources: list[SourceResult] = []
    review_exact = Decimal(0)
    for source, submitted, note, rule_weight, results in partial:
        counted = note is None
        share = rule_weight / counted_weight if counted and counted_weight else Decimal(0)
        exact_score = exact.get(source)
        points = share * exact_score if exact_score is not None and counted else Decimal(0)
        review_exact += points
        shown = every[source]
        sources.append(
            SourceResult(
                source=source,
                submitted=submitted,
                counted=counted,
                note=note,
                rule_weight=rule_weight,
                effective_weight=rounded(share * HUNDRED),
                score=rounded(shown) if shown is not None else None,
                contribution=rounded(points),
                competencies=results,
                withheld=source.anonymous and submitted < anonymity_threshold,
            )
        )
    review_score = review_exact if exact else None

    parts = [("kpi", rules.kpi_weight, kpi_score), ("review", rules.review_weight, review_score)]
    present_weight = sum((w for _, w, s in parts if s is not None and w > 0), Decimal(0))
    components: list[Component] = []
    final_exact = Decimal(0)
    for name, rule_weight, value in parts:
        present = value is not None and rule_weight > 0 and present_weight > 0
        share = rule_weight / present_weight if present else Decimal(0)
        points = share * value if present and value is not None else Decimal(0)
        final_exact += points
        components.append(
            Component(
                name=name,
                rule_weight=rule_weight,
                effective_weight=rounded(share * HUNDRED),
                score=rounded(value) if value is not None else None,
                contribution=rounded(points),
            )
        )
    final_score = rounded(final_exact) if present_weight > 0 else None
    calibrated = rounded(calibrated_score) if calibrated_score is not None else None
    counting = calibrated if calibrated is not None else final_score
    return Evaluation(
        kpi_score=rounded(kpi_score) if kpi_score is not None else None,
        review_score=rounded(review_score) if review_score is not None else None,
        final_score=final_score,
        calibrated_score=calibrated,
        tier=rules.tier_for(counting) if counting is not None else None,
        sources=tuple(sources),
        components=tuple(components),
    )


def _source_score(
    reviews: Sequence[SubmittedReview],
    competencies: Sequence[Competency],
    weights: Mapping[str, Decimal],
    scale: RatingScale,
) -> tuple[tuple[CompetencyResult, ...], Decimal | None]:
    results: list[CompetencyResult] = []
    weighted = Decimal(0)
    observed_weight = Decimal(0)
    total_weight = sum(weights.values(), Decimal(0))
    for competency in competencies:
        values = [
            review.ratings.get(competency.key)
            for review in reviews
            if review.ratings.get(competency.key) is not None
        ]
        weight = weights[competency.key]
        share = weight / total_weight * HUNDRED if total_weight else Decimal(0)
        if not values:
            results.append(CompetencyResult(competency.key, rounded(share), 0, None, None))
            continue
        mean = Decimal(sum(v for v in values if v is not None)) / len(values)
        score = scale.normalised(mean)
        if weight > 0:
            weighted += weight * score
            observed_weight += weight
        results.append(
            CompetencyResult(
                competency.key, rounded(share), len(values), rounded(mean), rounded(score)
            )
        )
    exact = weighted / observed_weight if observed_weight else None
    return tuple(results), exact


def visible_to_reviewee(evaluation: Evaluation) -> tuple[SourceResult, ...]:
    """The sources a reviewee (or their managers) may see: every source but the withheld."""
    return tuple(source for source in evaluation.sources if not source.withheld)
