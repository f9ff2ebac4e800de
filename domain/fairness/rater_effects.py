"""Rater effects in 360-degree review data: leniency/severity, central tendency, halo, and the
self-other gap.

Every statistic is computed per rater *source* (manager, peer, customer): a peer and a manager
see different things, so a peer is only ever compared with other peers. Self ratings are not a
rater effect; they are the subject of the self-other gap instead.

A rater is flagged only on three pieces of evidence at once, so that a clean organisation flags
nobody at more than the nominal family-wise rate and a flag always means something practical:

* enough ratees (``min_ratees``);
* an effect big enough to matter (in scale points for leniency/severity, as a spread ratio for
  central tendency and halo);
* significance after correcting for the number of raters tested in that source (Holm by
  default), at ``alpha``.

Every per-rater result carries its evidence (counts, estimate, test statistic, raw and adjusted
p-values, the thresholds used) and, when not flagged, the first reason in the order above.

Everything is vectorised over the columnar :class:`~domain.fairness.data.Ratings`: ratings are
grouped with ``np.unique``/``np.bincount`` and the only Python loop is over the three sources.
Per-source results keep their per-rater numbers as read-only numpy columns and build the typed
per-rater results on request (``raters``, ``flagged``, ``result_for``), because a Python object
per rater would cost more than the statistics themselves at 70,000 raters.

Public API: :func:`leniency_severity`, :func:`central_tendency`, :func:`halo`,
:func:`self_other_gaps`, :func:`self_other_breakdown`, all parametrised by
:class:`RaterEffectParameters`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import stats

from domain.errors import InvalidInput
from domain.fairness.data import SOURCES, BoolArray, FloatArray, IntArray, Ratings, Subjects

Correction = Literal["holm", "bonferroni", "none"]
CORRECTIONS: tuple[str, ...] = ("holm", "bonferroni", "none")
SELF = SOURCES.index("self")
RATER_SOURCES: tuple[str, ...] = tuple(s for s in SOURCES if s != "self")

# Why a rater was not flagged (the first test that failed, in this order).
TOO_FEW_RATEES = "too few ratees"
NO_REFERENCE_SPREAD = "no spread among the other raters"
EFFECT_BELOW_THRESHOLD = "effect below practical threshold"
RATIO_ABOVE_THRESHOLD = "ratio above threshold"
NOT_SIGNIFICANT = "not significant"

# The reason of a per-rater result, by its ``reason_code`` (0: flagged).
LENIENCY_REASONS: tuple[str | None, ...] = (
    None,
    TOO_FEW_RATEES,
    EFFECT_BELOW_THRESHOLD,
    NOT_SIGNIFICANT,
)
SPREAD_REASONS: tuple[str | None, ...] = (
    None,
    TOO_FEW_RATEES,
    RATIO_ABOVE_THRESHOLD,
    NOT_SIGNIFICANT,
    NO_REFERENCE_SPREAD,
)

Direction = Literal["lenient", "severe"]
SelfOtherCategory = Literal["over-estimator", "under-estimator", "in line"]
SpreadKind = Literal["central tendency", "halo"]

# Codes of a dense index space up to this size are counted into directly with np.bincount;
# larger spaces are renumbered with np.unique first.
_DIRECT_SPACE = 1 << 22


# -- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaterEffectParameters:
    """Thresholds of the rater-effect audit; invalid values raise ``InvalidInput`` naming the
    field."""

    min_ratees: int = 5
    min_practical_effect: float = 0.5  # scale points of leniency/severity (shrunken d)
    alpha: float = 0.05
    correction: Correction = "holm"
    central_tendency_ratio: float = 0.5  # rater's SD / other raters' pooled SD
    halo_ratio: float = 0.5  # rater's within-ratee SD / other raters' pooled one
    self_other_threshold: float = 0.5  # scale points of |self - others|

    def __post_init__(self) -> None:
        if not _is_int(self.min_ratees) or self.min_ratees < 2:
            raise InvalidInput(
                f"min_ratees must be an integer of at least 2, not {self.min_ratees!r}",
                field="min_ratees",
            )
        _require_number(self.min_practical_effect, "min_practical_effect", low=0.0)
        _require_number(self.self_other_threshold, "self_other_threshold", low=0.0)
        _require_number(self.alpha, "alpha", low=0.0, high=1.0, open_low=True, open_high=True)
        for name in ("central_tendency_ratio", "halo_ratio"):
            _require_number(getattr(self, name), name, low=0.0, high=1.0, open_low=True)
        if self.correction not in CORRECTIONS:
            raise InvalidInput(
                f"correction must be one of {', '.join(CORRECTIONS)}, not {self.correction!r}",
                field="correction",
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _require_number(
    value: object,
    name: str,
    *,
    low: float,
    high: float = math.inf,
    open_low: bool = False,
    open_high: bool = False,
) -> None:
    is_number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )
    if not is_number or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise InvalidInput(f"{name} must be a finite number, not {value!r}", field=name)
    number = float(value)  # type: ignore[arg-type]
    too_low = number <= low if open_low else number < low
    too_high = number >= high if open_high else number > high
    if too_low or too_high:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        raise InvalidInput(
            f"{name} must lie in {left}{low:g}, {high:g}{right}, not {value!r}", field=name
        )


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlagRule:
    """The thresholds a flag was decided with (the same object for every rater of a source)."""

    min_ratees: int
    practical_threshold: float  # scale points (leniency) or a spread ratio (central tendency, halo)
    alpha: float
    correction: str
    n_tested: int  # the size of the family the correction was made over


@dataclass(frozen=True, slots=True)
class InsufficientSource:
    """A source with fewer than two raters that have enough ratees: no statistic is reported."""

    source: str
    reason: str
    n_raters: int
    n_raters_with_enough_data: int


@dataclass(frozen=True, slots=True)
class LeniencyResult:
    """One rater's leniency (d > 0) or severity (d < 0) as a rater of one source.

    ``d`` is the mean over ratees of the rater's per-ratee mean deviation from the other raters;
    ``se`` its standard error (``df`` its degrees of freedom); ``shrunk`` the empirical-Bayes
    estimate the practical threshold is applied to. ``p_adjusted`` is None for raters outside
    the tested family (too few ratees).
    """

    rater: str
    source: str
    n_ratees: int
    d: float
    se: float
    shrunk: float
    t: float
    df: int
    p: float
    p_adjusted: float | None
    flag: Direction | None
    reason: str | None
    rule: FlagRule

    @property
    def flagged(self) -> bool:
        return self.flag is not None


@dataclass(frozen=True, eq=False)
class LeniencySource:
    """The leniency/severity results of one source.

    ``tau2`` is the method-of-moments between-rater variance of d that the shrinkage uses;
    ``pooled_within_variance`` (on ``pooled_df`` degrees of freedom) is the variance of per-ratee
    deviations within raters, used as the standard error of raters with a single ratee. A rater
    none of whose ratings was shared with another rater has no deviation and no entry.

    The per-rater numbers are held as read-only columns, one entry per rater of the source in
    rater order (``rater_index`` into ``rater_ids``; ``p_adjusted`` NaN outside the tested
    family; ``reason_code`` 0 when flagged, else an index into ``LENIENCY_REASONS``), because
    an organisation has tens of thousands of raters and a Python object each would cost more
    than the whole computation. :attr:`raters`, :attr:`flagged` and :meth:`result_for` build
    the typed per-rater results from them.
    """

    source: str
    tau2: float
    pooled_within_variance: float
    pooled_df: int
    rule: FlagRule
    rater_ids: Sequence[str]
    rater_index: IntArray
    n_ratees: IntArray
    d: FloatArray
    se: FloatArray
    shrunk: FloatArray
    t: FloatArray
    df: IntArray
    p: FloatArray
    p_adjusted: FloatArray
    reason_code: IntArray

    @property
    def n_raters(self) -> int:
        return len(self.rater_index)

    @property
    def raters(self) -> tuple[LeniencyResult, ...]:
        """Every rater of the source (materialised on each access; for 70,000 raters that is
        a noticeable fraction of a second)."""
        return self._results(np.arange(self.n_raters))

    @property
    def flagged(self) -> tuple[LeniencyResult, ...]:
        return self._results(np.flatnonzero(self.reason_code == 0))

    def result_for(self, rater_id: str) -> LeniencyResult:
        return self._results(_row_of(self.rater_ids, self.rater_index, rater_id, self.source))[0]

    def _results(self, rows: IntArray) -> tuple[LeniencyResult, ...]:
        ids, name, rule = self.rater_ids, self.source, self.rule
        return tuple(
            LeniencyResult(
                ids[i], name, n, d, se, shrunk, t, df, p, pa,
                None if r else ("lenient" if d > 0 else "severe"), LENIENCY_REASONS[r], rule,
            )
            for i, n, d, se, shrunk, t, df, p, pa, r in zip(
                self.rater_index[rows].tolist(), self.n_ratees[rows].tolist(),
                self.d[rows].tolist(), self.se[rows].tolist(), self.shrunk[rows].tolist(),
                self.t[rows].tolist(), self.df[rows].tolist(), self.p[rows].tolist(),
                _optional(self.p_adjusted[rows]), self.reason_code[rows].tolist(),
                strict=True,
            )
        )  # fmt: skip


@dataclass(frozen=True, eq=False)
class LeniencyReport:
    sources: tuple[LeniencySource | InsufficientSource, ...]
    parameters: RaterEffectParameters

    def source(self, name: str) -> LeniencySource | InsufficientSource:
        return _by_source(self.sources, name)

    @property
    def flagged(self) -> tuple[LeniencyResult, ...]:
        return tuple(r for s in self.sources if isinstance(s, LeniencySource) for r in s.flagged)


@dataclass(frozen=True, slots=True)
class SpreadResult:
    """One rater's spread against the other raters of the source (central tendency or halo).

    ``spread`` is the rater's SD (None without degrees of freedom), ``reference_spread`` the
    pooled SD of the other raters of the source; ``ratio`` = spread / reference_spread and
    ``f`` = ratio**2 is tested one-sided for "too narrow" against F(df, reference_df).
    """

    rater: str
    source: str
    kind: SpreadKind
    n_ratees: int
    df: int
    spread: float | None
    reference_spread: float | None
    reference_df: int
    ratio: float | None
    f: float | None
    p: float | None
    p_adjusted: float | None
    flagged: bool
    reason: str | None
    rule: FlagRule


@dataclass(frozen=True, eq=False)
class SpreadSource:
    """Central-tendency or halo results of one source, as read-only columns (one entry per
    rater of the source in rater order; NaN where a number does not exist, ``reason_code`` 0
    when flagged, else an index into ``SPREAD_REASONS``); see :class:`LeniencySource` for why
    columns. :attr:`raters`, :attr:`flagged` and :meth:`result_for` build typed results."""

    source: str
    kind: SpreadKind
    rule: FlagRule
    rater_ids: Sequence[str]
    rater_index: IntArray
    n_ratees: IntArray
    df: IntArray
    spread: FloatArray
    reference_spread: FloatArray
    reference_df: IntArray
    ratio: FloatArray
    f: FloatArray
    p: FloatArray
    p_adjusted: FloatArray
    reason_code: IntArray

    @property
    def n_raters(self) -> int:
        return len(self.rater_index)

    @property
    def raters(self) -> tuple[SpreadResult, ...]:
        """Every rater of the source (materialised on each access)."""
        return self._results(np.arange(self.n_raters))

    @property
    def flagged(self) -> tuple[SpreadResult, ...]:
        return self._results(np.flatnonzero(self.reason_code == 0))

    def result_for(self, rater_id: str) -> SpreadResult:
        return self._results(_row_of(self.rater_ids, self.rater_index, rater_id, self.source))[0]

    def _results(self, rows: IntArray) -> tuple[SpreadResult, ...]:
        ids, name, kind, rule = self.rater_ids, self.source, self.kind, self.rule
        return tuple(
            SpreadResult(
                ids[i], name, kind, n, df, sp, rs, rdf, ra, f, p, pa, r == 0, SPREAD_REASONS[r],
                rule,
            )
            for i, n, df, sp, rs, rdf, ra, f, p, pa, r in zip(
                self.rater_index[rows].tolist(), self.n_ratees[rows].tolist(),
                self.df[rows].tolist(), _optional(self.spread[rows]),
                _optional(self.reference_spread[rows]), self.reference_df[rows].tolist(),
                _optional(self.ratio[rows]), _optional(self.f[rows]), _optional(self.p[rows]),
                _optional(self.p_adjusted[rows]), self.reason_code[rows].tolist(),
                strict=True,
            )
        )  # fmt: skip


@dataclass(frozen=True, eq=False)
class SpreadReport:
    kind: SpreadKind
    sources: tuple[SpreadSource | InsufficientSource, ...]
    parameters: RaterEffectParameters

    def source(self, name: str) -> SpreadSource | InsufficientSource:
        return _by_source(self.sources, name)

    @property
    def flagged(self) -> tuple[SpreadResult, ...]:
        return tuple(r for s in self.sources if isinstance(s, SpreadSource) for r in s.flagged)


@dataclass(frozen=True, slots=True)
class SelfOtherGap:
    """One employee's self rating against everyone else's, over the competencies both rated.

    ``others_mean`` averages, per competency, the mean of the non-self ratings, so that
    ``gap = self_mean - others_mean`` compares like with like competency by competency.
    """

    reviewee: str
    self_mean: float
    others_mean: float
    gap: float
    n_competencies: int
    n_others: int
    category: SelfOtherCategory


@dataclass(frozen=True, slots=True)
class SelfOtherReport:
    """Per-employee gaps; people without a self rating, or whose self rating shares no
    competency with another rater's, are counted and left out."""

    gaps: tuple[SelfOtherGap, ...]
    threshold: float
    mean_gap: float | None
    n_over: int
    n_under: int
    n_in_line: int
    n_without_self_rating: int
    n_without_overlap: int


@dataclass(frozen=True, slots=True)
class SelfOtherGroup:
    value: str
    n: int
    mean_gap: float
    share_over: float
    share_under: float
    share_in_line: float


@dataclass(frozen=True, slots=True)
class SelfOtherBreakdown:
    """Self-other gaps summarised per value of one group attribute. People with a gap whose
    value is unknown (``n_unknown``) or who are not among the subjects (``n_not_in_subjects``)
    are excluded and counted."""

    attribute: str
    groups: tuple[SelfOtherGroup, ...]
    n_unknown: int
    n_not_in_subjects: int


class _PerSource(Protocol):
    @property
    def source(self) -> str: ...


_S = TypeVar("_S", bound=_PerSource)
_G = TypeVar("_G", bound=np.generic)


def _by_source(sources: tuple[_S, ...], name: str) -> _S:
    for source in sources:
        if source.source == name:
            return source
    raise InvalidInput(
        f"unknown rater source {name!r}; known: {', '.join(RATER_SOURCES)}", field="source"
    )


DEFAULT_PARAMETERS = RaterEffectParameters()


# -- public statistics --------------------------------------------------------------------------


def leniency_severity(
    ratings: Ratings, parameters: RaterEffectParameters = DEFAULT_PARAMETERS
) -> LeniencyReport:
    """Leniency (rates higher than the others) and severity (lower) of every rater, per source.

    For each non-self rating, deviation = value - mean of the *other* raters' non-self ratings of
    the same reviewee and competency (ratings nobody else gave drop out). Per rater the
    deviations are averaged per ratee first, so a ratee rated on five competencies counts once;
    ``d`` is the mean over ratees, ``se`` = SD(per-ratee means) / sqrt(n_ratees), and
    t = d / se is tested two-sided on n_ratees - 1 degrees of freedom.

    Shrinkage (empirical Bayes, normal-normal): within a source, the raters' true effects are
    taken to vary with variance tau^2 around 0 and each d to be measured with error se^2, so
    E[var(d)] = tau^2 + mean(se^2) and the method-of-moments estimate is
    tau^2 = max(0, var(d) - mean(se^2)). The posterior mean is d * tau^2 / (tau^2 + se^2): a
    rater with few ratees (large se) is pulled toward 0 more than one with many, and if the
    source shows no between-rater variance (tau^2 = 0) every estimate is pulled to 0. A rater
    with one ratee has no SD of their own and takes se^2 = the source's pooled within-rater
    variance (and its degrees of freedom). The practical threshold applies to the shrunken
    estimate; the significance test to the raw t.
    """
    n_raters = len(ratings.rater_ids)
    rater_source, reviewee, deviation = _deviations(ratings)
    n, d, ss = _per_ratee_then_per_rater(
        rater_source, reviewee, deviation, len(ratings.reviewee_ids), len(SOURCES) * n_raters
    )
    sources = tuple(
        _leniency_source(
            name,
            _block(n, name, n_raters),
            _block(d, name, n_raters),
            _block(ss, name, n_raters),
            ratings.rater_ids,
            parameters,
        )
        for name in RATER_SOURCES
    )
    return LeniencyReport(sources, parameters)


def central_tendency(
    ratings: Ratings, parameters: RaterEffectParameters = DEFAULT_PARAMETERS
) -> SpreadReport:
    """Raters who use too little of the scale across the people they rate.

    A rater's spread is the SD of their per-ratee mean ratings (df = n_ratees - 1); the
    reference is the pooled SD of the other raters of the same source (their sums of squares
    and degrees of freedom added up). F = spread^2 / reference^2 is tested one-sided
    (lower tail of F(df, reference_df)) for "too narrow". Flagged when n_ratees >= min_ratees,
    ratio <= central_tendency_ratio and the corrected p < alpha.
    """
    n_raters = len(ratings.rater_ids)
    keep = ratings.source != SELF
    n, _, ss = _per_ratee_then_per_rater(
        ratings.source[keep] * n_raters + ratings.rater[keep],
        ratings.reviewee[keep],
        ratings.value[keep],
        len(ratings.reviewee_ids),
        len(SOURCES) * n_raters,
    )
    df = np.maximum(n - 1, 0)
    return _spread_report("central tendency", n, df, ss, ratings, parameters)


def halo(ratings: Ratings, parameters: RaterEffectParameters = DEFAULT_PARAMETERS) -> SpreadReport:
    """Raters who barely tell one competency from another within a ratee.

    For each ratee a rater rated on at least two competencies, the within-ratee sum of squares
    across competencies (k - 1 degrees of freedom) is taken; the rater's spread is the pooled
    within-ratee SD, sqrt(sum SS / sum (k - 1)) - a df-weighted root-mean-square of the
    within-ratee SDs rather than their plain mean, because the mean of small-sample SDs is
    biased and has no clean sampling distribution, whereas under normal errors the pooled
    variance is a scaled chi-square. The reference is the same quantity pooled over the other
    raters of the source, and F = spread^2 / reference^2 is tested one-sided (lower tail of
    F(df, reference_df)). Ratees need not be shared: the test compares error variances, not
    levels. Flagged when the rater has at least min_ratees such ratees,
    ratio <= halo_ratio and the corrected p < alpha.
    """
    n_raters = len(ratings.rater_ids)
    n_reviewees = len(ratings.reviewee_ids)
    keep = ratings.source != SELF
    rater_source = ratings.source[keep] * n_raters + ratings.rater[keep]
    value = ratings.value[keep]
    groups, inverse = _factorize(rater_source * n_reviewees + ratings.reviewee[keep])
    k, _, within_ss = _moments(inverse, value, len(groups))
    several = k >= 2
    group_rater = groups // n_reviewees
    size = len(SOURCES) * n_raters
    n = _counts(group_rater[several], size)
    df = _sums(group_rater[several], (k[several] - 1).astype(np.float64), size).astype(np.int64)
    ss = _sums(group_rater[several], within_ss[several], size)
    return _spread_report("halo", n, df, ss, ratings, parameters)


def self_other_gaps(
    ratings: Ratings, parameters: RaterEffectParameters = DEFAULT_PARAMETERS
) -> SelfOtherReport:
    """Each employee's self rating minus everyone else's, over the competencies both rated.

    Per shared competency the self rating (mean, should there be several) is compared with the
    mean of all non-self ratings of it; gap = mean over shared competencies of that difference.
    |gap| >= self_other_threshold classifies an over- or under-estimator, else "in line".
    """
    gaps = _self_other_arrays(ratings)
    category = _categories(gaps.gap, parameters.self_other_threshold)
    names = ("over-estimator", "under-estimator", "in line")
    ids = ratings.reviewee_ids
    results = tuple(
        SelfOtherGap(ids[i], s, o, g, c, m, names[k])  # type: ignore[arg-type]
        for i, s, o, g, c, m, k in zip(
            gaps.reviewee.tolist(),
            gaps.self_mean.tolist(),
            gaps.others_mean.tolist(),
            gaps.gap.tolist(),
            gaps.n_competencies.tolist(),
            gaps.n_others.tolist(),
            category.tolist(),
            strict=True,
        )
    )
    counts = _counts(category, 3)
    return SelfOtherReport(
        results,
        float(parameters.self_other_threshold),
        float(gaps.gap.mean()) if len(gaps.gap) else None,
        int(counts[0]),
        int(counts[1]),
        int(counts[2]),
        gaps.n_without_self_rating,
        gaps.n_without_overlap,
    )


def self_other_breakdown(
    ratings: Ratings,
    subjects: Subjects,
    attribute: str,
    parameters: RaterEffectParameters = DEFAULT_PARAMETERS,
) -> SelfOtherBreakdown:
    """The self-other gaps summarised per value of one group attribute of ``subjects``
    (matched to ratings by reviewee id): n, mean gap and the shares of over-estimators,
    under-estimators and people in line, per value in sorted order."""
    if attribute not in subjects.groups:
        attributes = ", ".join(sorted(subjects.groups)) or "none"
        raise InvalidInput(
            f"unknown group attribute {attribute!r}; known: {attributes}", field="attribute"
        )
    gaps = _self_other_arrays(ratings)
    category = _categories(gaps.gap, parameters.self_other_threshold)
    position: dict[str, int] = {}
    for index, subject_id in enumerate(subjects.ids):
        position.setdefault(subject_id, index)
    subject_of = np.fromiter(
        (position.get(rid, -1) for rid in ratings.reviewee_ids),
        dtype=np.int64,
        count=len(ratings.reviewee_ids),
    )[gaps.reviewee]
    labels = sorted({v for v in subjects.groups[attribute] if v is not None})
    label_code = {label: code for code, label in enumerate(labels)}
    value_code = np.fromiter(
        (-1 if v is None else label_code[v] for v in subjects.groups[attribute]),
        dtype=np.int64,
        count=len(subjects.ids),
    )
    in_subjects = subject_of >= 0
    code = np.full(len(subject_of), -1, dtype=np.int64)
    code[in_subjects] = value_code[subject_of[in_subjects]]
    known = code >= 0
    size = len(labels)
    n = _counts(code[known], size)
    gap_sum = _sums(code[known], gaps.gap[known], size)
    per_category = [_counts(code[known & (category == c)], size) for c in range(3)]
    groups = tuple(
        SelfOtherGroup(
            label,
            int(n[i]),
            float(gap_sum[i] / n[i]),
            float(per_category[0][i] / n[i]),
            float(per_category[1][i] / n[i]),
            float(per_category[2][i] / n[i]),
        )
        for i, label in enumerate(labels)
        if n[i] > 0
    )
    return SelfOtherBreakdown(
        attribute,
        groups,
        n_unknown=int((in_subjects & ~known).sum()),
        n_not_in_subjects=int((~in_subjects).sum()),
    )


# -- leniency internals -------------------------------------------------------------------------


def _deviations(ratings: Ratings) -> tuple[IntArray, IntArray, FloatArray]:
    """(rater-source code, reviewee, deviation) of every non-self rating that has another
    rater: deviation = value - mean of the other raters' non-self ratings of the same reviewee
    and competency (a rater's own further ratings of that cell, under another source, are not
    "other")."""
    keep = ratings.source != SELF
    reviewee, rater, value = ratings.reviewee[keep], ratings.rater[keep], ratings.value[keep]
    n_competencies, n_raters = len(ratings.competencies), len(ratings.rater_ids)
    cell, n_cells = _dense(
        reviewee * n_competencies + ratings.competency[keep],
        len(ratings.reviewee_ids) * n_competencies,
    )
    cell_n = _counts(cell, n_cells)
    cell_sum = _sums(cell, value, n_cells)
    _, own = _factorize(cell * n_raters + rater)
    n_own = int(own.max()) + 1 if len(own) else 0
    own_n = _counts(own, n_own)
    own_sum = _sums(own, value, n_own)
    other_n = cell_n[cell] - own_n[own]
    has_other = other_n > 0
    other_mean = (cell_sum[cell] - own_sum[own])[has_other] / other_n[has_other]
    rater_source = ratings.source[keep] * n_raters + rater
    return rater_source[has_other], reviewee[has_other], value[has_other] - other_mean


def _leniency_source(
    name: str,
    n: IntArray,
    d: FloatArray,
    ss: FloatArray,
    rater_ids: Sequence[str],
    parameters: RaterEffectParameters,
) -> LeniencySource | InsufficientSource:
    present = np.flatnonzero(n > 0)
    n, d, ss = n[present], d[present], ss[present]
    insufficient = _insufficiency(name, n, parameters.min_ratees)
    if insufficient is not None:
        return insufficient
    several = n >= 2
    pooled_df = int((n[several] - 1).sum())
    pooled_variance = float(ss[several].sum() / pooled_df)
    se = np.sqrt(np.where(several, ss / np.maximum(n - 1, 1) / n, pooled_variance))
    df = np.where(several, n - 1, pooled_df).astype(np.int64)
    t = _divide_signed(d, se)
    p = np.minimum(1.0, 2.0 * stats.t.sf(np.abs(t), df))
    tau2 = max(0.0, float(np.var(d, ddof=1) - np.mean(se**2)))
    weight = _divide_signed(np.full(len(se), tau2), tau2 + se**2, when_zero=0.0)
    shrunk = d * weight
    tested = n >= parameters.min_ratees
    p_adjusted = _adjusted(p, tested, parameters.correction)
    reason = _reasons(
        tested, np.abs(shrunk) >= parameters.min_practical_effect, p_adjusted, parameters.alpha
    )
    return LeniencySource(
        name,
        tau2,
        pooled_variance,
        pooled_df,
        _rule(parameters, parameters.min_practical_effect, tested),
        rater_ids,
        *_frozen(present, n, d, se, shrunk, t, df, p, p_adjusted, reason),
    )


# -- spread internals (central tendency, halo) --------------------------------------------------


def _spread_report(
    kind: SpreadKind,
    n: IntArray,
    df: IntArray,
    ss: FloatArray,
    ratings: Ratings,
    parameters: RaterEffectParameters,
) -> SpreadReport:
    n_raters = len(ratings.rater_ids)
    threshold = (
        parameters.central_tendency_ratio if kind == "central tendency" else parameters.halo_ratio
    )
    sources = tuple(
        _spread_source(
            name,
            kind,
            _block(n, name, n_raters),
            _block(df, name, n_raters),
            _block(ss, name, n_raters),
            ratings.rater_ids,
            threshold,
            parameters,
        )
        for name in RATER_SOURCES
    )
    return SpreadReport(kind, sources, parameters)


def _spread_source(
    name: str,
    kind: SpreadKind,
    n: IntArray,
    df: IntArray,
    ss: FloatArray,
    rater_ids: Sequence[str],
    threshold: float,
    parameters: RaterEffectParameters,
) -> SpreadSource | InsufficientSource:
    present = np.flatnonzero(n > 0)
    n, df, ss = n[present], df[present].astype(np.int64), ss[present]
    insufficient = _insufficiency(name, n, parameters.min_ratees)
    if insufficient is not None:
        return insufficient
    total_ss = float(ss.sum())
    reference_df = int(df.sum()) - df
    reference_ss = total_ss - ss
    # A difference of sums: what rounding leaves of "the others never varied" is zero.
    reference_ss[reference_ss <= 1e-12 * total_ss] = 0.0
    reference_var = np.divide(
        reference_ss, reference_df, out=np.zeros(len(n)), where=reference_df > 0
    )
    own_var = np.divide(ss, df, out=np.zeros(len(n)), where=df > 0)
    comparable = (df > 0) & (reference_var > 0)
    f = np.divide(own_var, reference_var, out=np.full(len(n), np.nan), where=comparable)
    p = np.full(len(n), np.nan)
    p[comparable] = stats.f.cdf(f[comparable], df[comparable], reference_df[comparable])
    tested = (n >= parameters.min_ratees) & (reference_var > 0)
    p_adjusted = _adjusted(p, tested, parameters.correction)
    ratio = np.sqrt(f)
    reason = _reasons(tested, ratio <= threshold, p_adjusted, parameters.alpha)
    reason[(n >= parameters.min_ratees) & ~tested] = SPREAD_REASONS.index(NO_REFERENCE_SPREAD)
    spread = np.where(df > 0, np.sqrt(own_var), np.nan)
    reference_spread = np.where(reference_var > 0, np.sqrt(reference_var), np.nan)
    return SpreadSource(
        name,
        kind,
        _rule(parameters, threshold, tested),
        rater_ids,
        *_frozen(present, n, df),
        *_frozen(spread, reference_spread, reference_df, ratio, f, p, p_adjusted, reason),
    )


# -- self-other internals -----------------------------------------------------------------------


@dataclass(frozen=True)
class _GapColumns:
    reviewee: IntArray
    self_mean: FloatArray
    others_mean: FloatArray
    gap: FloatArray
    n_competencies: IntArray
    n_others: IntArray
    n_without_self_rating: int
    n_without_overlap: int


def _self_other_arrays(ratings: Ratings) -> _GapColumns:
    n_reviewees, n_competencies = len(ratings.reviewee_ids), len(ratings.competencies)
    n_raters = len(ratings.rater_ids)
    cell, n_cells = _dense(
        ratings.reviewee * n_competencies + ratings.competency, n_reviewees * n_competencies
    )
    cell_reviewee = np.zeros(n_cells, dtype=np.int64)
    cell_reviewee[cell] = ratings.reviewee
    is_self = ratings.source == SELF
    self_n = _counts(cell[is_self], n_cells)
    self_sum = _sums(cell[is_self], ratings.value[is_self], n_cells)
    other_n = _counts(cell[~is_self], n_cells)
    other_sum = _sums(cell[~is_self], ratings.value[~is_self], n_cells)
    shared = np.flatnonzero((self_n > 0) & (other_n > 0))
    owner = cell_reviewee[shared]
    k = _counts(owner, n_reviewees)
    self_total = _sums(owner, self_sum[shared] / self_n[shared], n_reviewees)
    other_total = _sums(owner, other_sum[shared] / other_n[shared], n_reviewees)
    other_rows = ~is_self & np.isin(cell, shared)
    pairs, _ = _factorize(ratings.reviewee[other_rows] * n_raters + ratings.rater[other_rows])
    n_others = _counts(pairs // n_raters, n_reviewees)
    reviewee = np.flatnonzero(k > 0)
    self_mean = self_total[reviewee] / k[reviewee]
    others_mean = other_total[reviewee] / k[reviewee]
    has_self = _counts(ratings.reviewee[is_self], n_reviewees) > 0
    return _GapColumns(
        reviewee,
        self_mean,
        others_mean,
        self_mean - others_mean,
        k[reviewee],
        n_others[reviewee],
        n_without_self_rating=int((~has_self).sum()),
        n_without_overlap=int((has_self & (k == 0)).sum()),
    )


def _categories(gap: FloatArray, threshold: float) -> IntArray:
    """0 over-estimator, 1 under-estimator, 2 in line."""
    category = np.full(len(gap), 2, dtype=np.int64)
    category[(gap >= threshold) & (gap > 0)] = 0
    category[(gap <= -threshold) & (gap < 0)] = 1
    return category


# -- shared helpers -----------------------------------------------------------------------------


def _factorize(codes: IntArray) -> tuple[IntArray, IntArray]:
    """(the distinct codes in ascending order, each row's index into them)."""
    uniques, inverse = np.unique(codes, return_inverse=True)
    return uniques.astype(np.int64), inverse.reshape(-1).astype(np.int64)


def _dense(codes: IntArray, space: int) -> tuple[IntArray, int]:
    """Codes to count into with np.bincount: as they are when their space is small, else
    renumbered."""
    if space <= _DIRECT_SPACE:
        return codes.astype(np.int64), space
    uniques, inverse = _factorize(codes)
    return inverse, len(uniques)


def _per_ratee_then_per_rater(
    rater_source: IntArray, reviewee: IntArray, value: FloatArray, n_reviewees: int, size: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Average ``value`` per (rater-source, reviewee), then per rater-source: the number of
    ratees, the mean of the per-ratee means and their sum of squared deviations from it."""
    groups, inverse = _factorize(rater_source * n_reviewees + reviewee)
    _, per_ratee, _ = _moments(inverse, value, len(groups))
    return _moments(groups // n_reviewees, per_ratee, size)


def _moments(
    codes: IntArray, values: FloatArray, size: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per code in range(size): the count, the mean and the sum of squared deviations from it.

    Computed about one member of each group, so that a group of equal values has exactly that
    value as its mean and exactly 0 as its sum of squares (a rater who always gives 3 has no
    spread at all, not 1e-16 of it), and large means cost no precision."""
    counts = _counts(codes, size)
    anchor = np.zeros(size)
    anchor[codes] = values
    shifted = values - anchor[codes]
    offset = np.divide(_sums(codes, shifted, size), counts, out=np.zeros(size), where=counts > 0)
    ss = _sums(codes, (shifted - offset[codes]) ** 2, size)
    return counts, anchor + offset, ss


def _counts(codes: IntArray, size: int) -> IntArray:
    """How many rows carry each code in range(size)."""
    return np.bincount(codes, minlength=size).astype(np.int64)


def _sums(codes: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """The sum of ``weights`` per code in range(size)."""
    return np.bincount(codes, weights=weights, minlength=size).astype(np.float64)


def _block(column: npt.NDArray[_G], source: str, n_raters: int) -> npt.NDArray[_G]:
    """The rows of ``column`` (indexed by rater-source code) that belong to ``source``."""
    start = SOURCES.index(source) * n_raters
    return column[start : start + n_raters]


def _insufficiency(name: str, n_ratees: IntArray, min_ratees: int) -> InsufficientSource | None:
    enough = int((n_ratees >= min_ratees).sum())
    if enough >= 2:
        return None
    if len(n_ratees) == 0:
        reason = f"no {name} ratings to compare"
    else:
        reason = (
            f"{enough} {name} rater(s) with at least {min_ratees} ratees; at least 2 are needed"
        )
    return InsufficientSource(name, reason, len(n_ratees), enough)


def _adjusted(p: FloatArray, tested: BoolArray, correction: str) -> FloatArray:
    """p-values corrected over the tested family (NaN outside it): Holm's step-down
    (adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j))), Bonferroni, or none."""
    adjusted = np.full(len(p), np.nan)
    family = p[tested]
    m = len(family)
    if correction == "none" or m == 0:
        adjusted[tested] = family
    elif correction == "bonferroni":
        adjusted[tested] = np.minimum(1.0, m * family)
    else:
        order = np.argsort(family, kind="stable")
        stepped = np.maximum.accumulate((m - np.arange(m)) * family[order])
        holm = np.empty(m)
        holm[order] = np.minimum(1.0, stepped)
        adjusted[tested] = holm
    return adjusted


def _reasons(
    tested: BoolArray, big_enough: BoolArray, p_adjusted: FloatArray, alpha: float
) -> IntArray:
    """0 flagged, 1 too few ratees, 2 below the practical threshold, 3 not significant."""
    significant = np.zeros(len(tested), dtype=bool)
    significant[tested] = p_adjusted[tested] < alpha
    return np.select([~tested, ~big_enough, ~significant], [1, 2, 3], default=0).astype(np.int64)


def _rule(parameters: RaterEffectParameters, threshold: float, tested: BoolArray) -> FlagRule:
    return FlagRule(
        parameters.min_ratees,
        float(threshold),
        float(parameters.alpha),
        parameters.correction,
        int(tested.sum()),
    )


def _divide_signed(
    numerator: FloatArray, denominator: FloatArray, *, when_zero: float = 0.0
) -> FloatArray:
    """numerator / denominator, with x / 0 = +-inf and 0 / 0 = ``when_zero`` (an exact
    estimate: a rater who deviated by the same amount from everyone has t = +-inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = numerator / denominator
    quotient[np.isnan(quotient)] = when_zero
    return quotient


def _optional(values: FloatArray) -> list[float | None]:
    """The values as Python floats, None where NaN (a number that does not exist)."""
    boxed = values.astype(object)
    boxed[np.isnan(values)] = None
    return boxed.tolist()  # type: ignore[no-any-return]


def _frozen(*columns: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], ...]:
    """The columns made read-only, so that a frozen result stays frozen."""
    for column in columns:
        column.flags.writeable = False
    return columns


def _row_of(
    rater_ids: Sequence[str], rater_index: IntArray, rater_id: str, source: str
) -> IntArray:
    """The row of ``rater_id`` in a source's columns; InvalidInput if they did not rate as it."""
    try:
        index = list(rater_ids).index(rater_id)
    except ValueError:
        index = -1
    row = int(np.searchsorted(rater_index, index))
    if index < 0 or row >= len(rater_index) or rater_index[row] != index:
        raise InvalidInput(f"{rater_id!r} is not a {source} rater of these ratings", field="rater")
    return np.array([row], dtype=np.int64)
