"""A whole cycle's results under several rule sets, quickly: the figures, not the breakdown.

A what-if scores every person of a cycle twice (production's rules and a pilot's), so it needs
``evaluate``'s figures (KPI, 360 and final scores, tier, the two components' contributions) ten
thousand times over, but none of the breakdown that makes ``evaluate`` cost what it does (a
result per competency and per source, rounded for display). ``CycleScorer`` computes exactly
those figures with the same decimal operations in the same order as ``evaluate``, so they are
equal to its results, digit for digit (a test compares the two on thousands of random cases);
``evaluate`` stays the one readable definition.

What repeats is worked out once: a competency's score depends only on the total and the number
of its observed ratings, so it is computed once per cycle for each (total, count); a rule set's
weights are read once per rule set; and a source's score is computed once per set of competency
weights and set of tallied ratings, so once for both sides of a comparison, and once per cycle
for the many single raters who rated alike. The ratings come in as a ``SourceTally`` per source
(how many raters submitted; per competency of the framework the total and the number of
observed ratings), which is all a source's score depends on and what SQL can hand over in bulk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.evaluation import SOURCE_ORDER, Evaluation, SubmittedReview, competency_weights
from domain.reviews import Competency, RaterSource, RatingScale
from domain.rules import RuleSet
from domain.scoring import rounded

ZERO = Decimal(0)


@dataclass(frozen=True)
class SourceTally:
    """One source's submitted reviews, reduced to what its score depends on: how many raters
    submitted, and for each competency of the cycle's framework, in its order, the total and
    the number of the observed ratings (``None``, "not observed", is left out of both)."""

    submitted: int
    totals: tuple[int, ...]
    counts: tuple[int, ...]


def tally(
    reviews: Sequence[SubmittedReview], competencies: Sequence[Competency]
) -> dict[RaterSource, SourceTally]:
    """The tallies of a list of reviews (ratings of competencies outside the framework are left
    out, as ``evaluate`` leaves them out)."""
    by_source: dict[RaterSource, list[SubmittedReview]] = {}
    for review in reviews:
        by_source.setdefault(review.source, []).append(review)
    tallies = {}
    for source, of_source in by_source.items():
        observed = [
            [value for review in of_source if (value := review.ratings.get(c.key)) is not None]
            for c in competencies
        ]
        tallies[source] = SourceTally(
            len(of_source),
            tuple(sum(values) for values in observed),
            tuple(len(values) for values in observed),
        )
    return tallies


@dataclass(frozen=True)
class Figures:
    """``evaluate``'s figures for one person under one rule set (no calibrated result: what-if
    compares computed results), each rounded as ``evaluate`` rounds it."""

    kpi_score: Decimal | None
    review_score: Decimal | None
    final_score: Decimal | None
    tier: str | None
    kpi_contribution: Decimal  # points of the final score
    review_contribution: Decimal


def figures_of(evaluation: Evaluation) -> Figures:
    """A full evaluation's figures: what ``CycleScorer`` computes without the breakdown."""
    contributions = {c.name: c.contribution for c in evaluation.components}
    return Figures(
        kpi_score=evaluation.kpi_score,
        review_score=evaluation.review_score,
        final_score=evaluation.final_score,
        tier=evaluation.tier,
        kpi_contribution=contributions["kpi"],
        review_contribution=contributions["review"],
    )


@dataclass(frozen=True)
class _Weights:
    """What a rule set weighs, read once: the competencies' weights in the framework's order,
    and the sources it gives weight to, in ``evaluate``'s order: (index in ``SOURCE_ORDER``,
    weight, anonymous)."""

    competencies: tuple[Decimal, ...]
    slot: int  # the same for rule sets that weigh competencies alike
    sources: tuple[tuple[int, Decimal, bool], ...]
    rules: RuleSet  # kept so that the id it is cached under is not reused while cached


class CycleScorer:
    """Scores the people of one cycle (its competencies, scale and anonymity threshold) under
    any rule sets; one instance per cycle and comparison, as it caches by rule set."""

    def __init__(
        self, competencies: Sequence[Competency], scale: RatingScale, anonymity_threshold: int
    ) -> None:
        self._competencies = tuple(competencies)
        self._scale = scale
        self._threshold = anonymity_threshold
        self._scores: dict[tuple[int, int], Decimal] = {}
        self._weights: dict[int, _Weights] = {}
        self._slots: dict[tuple[Decimal, ...], int] = {}
        # A source's exact score by (competency weights' slot, totals, counts): single raters
        # (manager, self, a customer) repeat the same few ratings across a whole cycle.
        self._source_scores: dict[tuple[int, tuple[int, ...], tuple[int, ...]], Decimal | None] = {}

    def figures(
        self,
        tallies: Mapping[RaterSource, SourceTally],
        sides: Sequence[tuple[Decimal | None, RuleSet]],
    ) -> list[Figures]:
        """One person's figures for each (KPI score, rule set) of ``sides``: equal to
        ``evaluate``'s for the reviews ``tallies`` sums up."""
        ordered = [tallies.get(source) for source in SOURCE_ORDER]
        found = []
        for kpi_score, rules in sides:
            weights = self._weights_of(rules)
            counted: list[tuple[Decimal, Decimal]] = []  # (rule weight, exact score), in order
            counted_weight = ZERO
            for index, rule_weight, anonymous in weights.sources:
                tallied = ordered[index]
                if tallied is None or (anonymous and tallied.submitted < self._threshold):
                    continue
                key = (weights.slot, tallied.totals, tallied.counts)
                if key in self._source_scores:
                    exact = self._source_scores[key]
                else:
                    exact = self._source_scores[key] = self._source_score(
                        tallied, weights.competencies
                    )
                if exact is not None:
                    counted.append((rule_weight, exact))
                    counted_weight += rule_weight
            review_score: Decimal | None = None
            if counted:
                review_score = ZERO
                for rule_weight, exact in counted:
                    review_score += rule_weight / counted_weight * exact
            found.append(_final(kpi_score, review_score, rules))
        return found

    def _weights_of(self, rules: RuleSet) -> _Weights:
        weights = self._weights.get(id(rules))
        if weights is None:
            by_key = competency_weights(self._competencies, rules)
            # the framework's competencies as ``_source_score`` walks them
            competencies = tuple(by_key[c.key] for c in self._competencies)
            weights = _Weights(
                competencies=competencies,
                slot=self._slots.setdefault(competencies, len(self._slots)),
                sources=tuple(
                    (index, weight, source.anonymous)
                    for index, source in enumerate(SOURCE_ORDER)
                    for weight in (rules.source_weights.get(source, ZERO),)
                    if weight > 0  # an unweighted source never counts
                ),
                rules=rules,
            )
            self._weights[id(rules)] = weights
        return weights

    def _source_score(self, tallied: SourceTally, weights: tuple[Decimal, ...]) -> Decimal | None:
        """A source's exact score: the weighted mean of its observed competencies."""
        if len(tallied.totals) != len(weights) or len(tallied.counts) != len(weights):
            raise ValueError("a tally must have one total and one count per competency")
        weighted = observed_weight = ZERO
        for weight, total, count in zip(weights, tallied.totals, tallied.counts, strict=True):
            if not count or not weight > 0:
                continue
            cell = (total, count)
            score = self._scores.get(cell)
            if score is None:  # a (total, count) first met in this cycle
                score = self._scores[cell] = self._scale.normalised(Decimal(total) / count)
            weighted += weight * score
            observed_weight += weight
        return weighted / observed_weight if observed_weight else None


def _final(kpi_score: Decimal | None, review_score: Decimal | None, rules: RuleSet) -> Figures:
    """Steps 5 and 6 of ``evaluate``: the final score from the components present, the tier."""
    kpi_weight, review_weight = rules.kpi_weight, rules.review_weight
    has_kpi = kpi_score is not None and kpi_weight > 0
    has_review = review_score is not None and review_weight > 0
    present_weight = ZERO
    if has_kpi:
        present_weight += kpi_weight
    if has_review:
        present_weight += review_weight
    final_exact = kpi_points = review_points = ZERO
    if has_kpi and kpi_score is not None:
        kpi_points = kpi_weight / present_weight * kpi_score
        final_exact += kpi_points
    if has_review and review_score is not None:
        review_points = review_weight / present_weight * review_score
        final_exact += review_points
    final_score = rounded(final_exact) if present_weight > 0 else None
    return Figures(
        kpi_score=None if kpi_score is None else rounded(kpi_score),
        review_score=None if review_score is None else rounded(review_score),
        final_score=final_score,
        tier=None if final_score is None else rules.tier_for(final_score),
        kpi_contribution=rounded(kpi_points),
        review_contribution=rounded(review_points),
    )
