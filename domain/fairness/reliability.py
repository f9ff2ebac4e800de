"""Inter-rater reliability and agreement of 360-degree ratings.

Three questions, three classic statistics, each computed for the unbalanced data a 360 review
always produces (reviewees have different numbers of raters, raters skip competencies):

* Do raters rank reviewees consistently? -- ICC(1) and ICC(1,k) from a one-way random-effects
  ANOVA with unequal group sizes (:func:`icc_one_way`), plus the balanced Shrout & Fleiss (1979)
  family for complete targets-by-judges matrices (:func:`shrout_fleiss_icc`).
* How reliable is the coding across all units, whatever is missing? -- Krippendorff's alpha for
  nominal, ordinal, interval and ratio metrics (:func:`krippendorff_alpha`).
* Do a reviewee's raters agree with each other? -- rwg(J) of James, Demaree & Wolf (1984) per
  reviewee (:func:`within_group_agreement`).

:func:`reliability_by_source` runs all three for every rater source (and for every source but
self together), turning "too little data" into an explicit :class:`Insufficient` result.

Everything is a pure, vectorised function of a :class:`~domain.fairness.data.Ratings` table:
grouping is done with ``np.unique`` on combined integer keys and sums with ``np.bincount``, so
350,000 ratings take tens of milliseconds per statistic.

References
----------
* Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
  reliability. Psychological Bulletin, 86(2), 420-428.
* McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass correlation
  coefficients. Psychological Methods, 1(1), 30-46.
* Searle, S. R. (1971). Linear Models, ch. 9 (one-way classification, unequal numbers);
  Donner, A. (1986). A review of inference procedures for the intraclass correlation coefficient
  in the one-way random effects model. International Statistical Review, 54(1), 67-82.
* Bliese, P. D. (2000). Within-group agreement, non-independence, and reliability. In Klein &
  Kozlowski (Eds.), Multilevel Theory, Research, and Methods in Organizations, 349-381.
* Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
  Communication, University of Pennsylvania, https://repository.upenn.edu/asc_papers/43
* James, L. R., Demaree, R. G., & Wolf, G. (1984). Estimating within-group interrater
  reliability with and without response bias. Journal of Applied Psychology, 69(1), 85-98.
* LeBreton, J. M., & Senter, J. L. (2008). Answers to 20 questions about interrater reliability
  and interrater agreement. Organizational Research Methods, 11(4), 815-852.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt
from scipy import stats

from domain.errors import InsufficientData, InvalidInput
from domain.fairness.data import SOURCES, BoolArray, FloatArray, IntArray, Ratings, source_code

ICCTarget = Literal["reviewee", "reviewee_competency"]
AlphaMetric = Literal["nominal", "ordinal", "interval", "ratio"]

# The conventional rwg threshold for "enough agreement to aggregate" (LeBreton & Senter 2008, Q12).
RWG_CUTOFF = 0.70
# The key under which reliability_by_source reports every source but self, pooled.
ALL_OTHERS = "all_others"
# Krippendorff's values-by-units count matrix is dense; beyond this many cells the input is not
# a rating scale with a handful of distinct values and alpha is the wrong tool.
_MAX_VALUE_UNIT_CELLS = 10_000_000

_T = TypeVar("_T")


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneWayICC:
    """ICC(1) and ICC(1,k) of a one-way random-effects ANOVA with unequal group sizes.

    ``icc1`` is the reliability of one rating, ``icc1k`` that of the mean of ``k0`` ratings
    (the adjusted group size; ``mean_raters_per_target`` is the plain mean). Neither is truncated
    at 0: a negative ICC(1) says raters of the same target agree less than raters of different
    targets, which is worth seeing. ``ci_low``/``ci_high`` bound ICC(1) at ``confidence``.
    ``n_ratings`` counts the observations entering the ANOVA: one per (reviewee, rater) for
    target ``reviewee``, one per rating for ``reviewee_competency``.
    """

    target: ICCTarget
    icc1: float
    icc1k: float
    k0: float
    mean_raters_per_target: float
    n_targets: int
    n_ratings: int
    n_targets_excluded: int
    ms_between: float
    ms_within: float
    df_between: int
    df_within: int
    f: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float


@dataclass(frozen=True)
class ShroutFleissICC:
    """The six intraclass correlations of Shrout & Fleiss (1979) for a complete
    targets x judges matrix, with the mean squares they are built from."""

    icc1_1: float
    icc2_1: float
    icc3_1: float
    icc1_k: float
    icc2_k: float
    icc3_k: float
    n_targets: int
    n_judges: int
    ms_between_targets: float
    ms_within_targets: float
    ms_between_judges: float
    ms_error: float


@dataclass(frozen=True)
class KrippendorffAlpha:
    """alpha = 1 - D_o / D_e over the pairable units (units with at least two values)."""

    alpha: float
    metric: AlphaMetric
    observed_disagreement: float
    expected_disagreement: float
    pairable_units: int
    pairable_values: int


@dataclass(frozen=True, eq=False)
class WithinGroupAgreement:
    """rwg(J) per reviewee (arrays indexed like ``Ratings.reviewee_ids``) and its summary.

    Where ``insufficient`` holds (fewer than ``min_raters`` raters, or no competency rated by two
    of them) ``rwg_j`` and ``mean_item_variance`` are NaN: read them only through the mask. The
    summary (``mean``, ``median``, ``share_at_least_cutoff``) covers sufficient reviewees only.
    """

    rwg_j: FloatArray
    mean_item_variance: FloatArray
    n_raters: IntArray
    n_items: IntArray
    insufficient: BoolArray
    expected_variance: float
    scale_points: int
    min_raters: int
    mean: float
    median: float
    share_at_least_cutoff: float
    cutoff: float
    n_sufficient: int
    n_insufficient: int


@dataclass(frozen=True)
class Insufficient:
    """A statistic that could not be computed, and why (the InsufficientData message)."""

    reason: str


@dataclass(frozen=True, eq=False)
class SourceReliability:
    """All three reliability views of one rater source (or of ``all_others``)."""

    source: str
    n_ratings: int
    n_reviewees: int
    n_raters: int
    icc: OneWayICC | Insufficient
    alpha: KrippendorffAlpha | Insufficient
    rwg: WithinGroupAgreement | Insufficient


# -- ICC ----------------------------------------------------------------------------------------


def icc_one_way(
    ratings: Ratings,
    target: ICCTarget = "reviewee",
    *,
    min_raters: int = 2,
    confidence: float = 0.95,
) -> OneWayICC:
    """ICC(1) and ICC(1,k) of ``ratings`` for unbalanced designs (Searle 1971; Bliese 2000).

    Targets are reviewees (default; each rater contributes one observation, the mean of the
    competencies they rated for that reviewee) or (reviewee, competency) pairs (each rating is an
    observation). Targets with fewer than ``min_raters`` observations are left out and counted in
    ``n_targets_excluded``. With group sizes n_i, N = sum n_i and n targets::

        MSB = sum n_i (mean_i - grand mean)^2 / (n - 1)
        MSW = sum_i sum_j (y_ij - mean_i)^2 / (N - n)
        k0  = (N - sum n_i^2 / N) / (n - 1)
        ICC(1)   = (MSB - MSW) / (MSB + (k0 - 1) MSW)
        ICC(1,k) = (MSB - MSW) / MSB     (= Spearman-Brown of ICC(1) to k0 ratings)
        F = MSB / MSW on (n - 1, N - n) degrees of freedom, p = P(F' >= F)

    The interval for ICC(1) is the F-based one of Shrout & Fleiss (1979, ICC(1,1)) and McGraw &
    Wong (1996, case 1) with k replaced by k0 (exact for balanced data under normality,
    approximate for unbalanced, Donner 1986)::

        F_L = F / F_{1-a/2}(n - 1, N - n)        low  = (F_L - 1) / (F_L + k0 - 1)
        F_U = F * F_{1-a/2}(N - n, n - 1)        high = (F_U - 1) / (F_U + k0 - 1)

    Raises InsufficientData with fewer than two usable targets, or when targets' means do not
    differ at all (MSB = 0, ICC(1,k) undefined).
    """
    _check_ratings(ratings)
    _check_choice(target, get_args(ICCTarget), "target")
    _check_min_raters(min_raters)
    if not 0.0 < confidence < 1.0:
        raise InvalidInput(
            f"confidence must lie strictly between 0 and 1, not {confidence}", field="confidence"
        )
    group, value = _icc_observations(ratings, target)
    return _one_way_icc(group, value, target, min_raters, confidence)


def _icc_observations(ratings: Ratings, target: ICCTarget) -> tuple[IntArray, FloatArray]:
    """One (target code, value) per ANOVA observation."""
    if target == "reviewee_competency":
        group, _ = _group_codes(ratings.reviewee, ratings.competency)
        return group, ratings.value
    cell, first = _group_codes(ratings.reviewee, ratings.rater)
    cell_mean = _group_means(cell, ratings.value)
    group, _ = _group_codes(ratings.reviewee[first])
    return group, cell_mean


def _one_way_icc(
    group: IntArray, value: FloatArray, target: ICCTarget, min_raters: int, confidence: float
) -> OneWayICC:
    sizes_all = np.bincount(group)
    usable = sizes_all >= min_raters
    n_targets = int(np.count_nonzero(usable))
    if n_targets < 2:
        raise InsufficientData(
            f"ICC(1) needs at least 2 targets with {min_raters} or more ratings; "
            f"{n_targets} of {sizes_all.size} have them"
        )
    rows = usable[group]
    renumber = np.cumsum(usable) - 1
    g = renumber[group[rows]]
    y = value[rows]

    sizes = np.bincount(g).astype(np.float64)
    n_ratings = int(y.size)
    means = np.bincount(g, weights=y) / sizes
    grand_mean = float(y.mean())
    df_between = n_targets - 1
    df_within = n_ratings - n_targets
    ms_between = float(np.sum(sizes * (means - grand_mean) ** 2)) / df_between
    ms_within = float(np.sum((y - means[g]) ** 2)) / df_within
    if ms_between == 0.0:
        raise InsufficientData(
            "the targets' mean ratings are all equal: there is no between-target variance, "
            "so ICC(1,k) is undefined"
        )
    k0 = (n_ratings - float(np.sum(sizes**2)) / n_ratings) / df_between

    if ms_within == 0.0:  # raters of each target agree exactly
        icc1 = icc1k = ci_low = ci_high = 1.0
        f_stat, p_value = float("inf"), 0.0
    else:
        f_stat = ms_between / ms_within
        p_value = float(stats.f.sf(f_stat, df_between, df_within))
        icc1 = (ms_between - ms_within) / (ms_between + (k0 - 1.0) * ms_within)
        icc1k = (ms_between - ms_within) / ms_between
        tail = 1.0 - (1.0 - confidence) / 2.0
        f_low = f_stat / float(stats.f.ppf(tail, df_between, df_within))
        f_high = f_stat * float(stats.f.ppf(tail, df_within, df_between))
        ci_low = (f_low - 1.0) / (f_low + k0 - 1.0)
        ci_high = (f_high - 1.0) / (f_high + k0 - 1.0)

    return OneWayICC(
        target=target,
        icc1=icc1,
        icc1k=icc1k,
        k0=k0,
        mean_raters_per_target=n_ratings / n_targets,
        n_targets=n_targets,
        n_ratings=n_ratings,
        n_targets_excluded=int(sizes_all.size - n_targets),
        ms_between=ms_between,
        ms_within=ms_within,
        df_between=df_between,
        df_within=df_within,
        f=f_stat,
        p_value=p_value,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=confidence,
    )


def shrout_fleiss_icc(matrix: npt.ArrayLike) -> ShroutFleissICC:
    """The six ICCs of Shrout & Fleiss (1979, Table 3) for a complete targets x judges matrix.

    With n targets (rows), k judges (columns) and the two-way ANOVA mean squares BMS (between
    targets), WMS (within targets), JMS (between judges) and EMS (residual)::

        ICC(1,1) = (BMS - WMS) / (BMS + (k-1) WMS)          ICC(1,k) = (BMS - WMS) / BMS
        ICC(2,1) = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n)
        ICC(2,k) = (BMS - EMS) / (BMS + (JMS - EMS) / n)
        ICC(3,1) = (BMS - EMS) / (BMS + (k-1) EMS)          ICC(3,k) = (BMS - EMS) / BMS

    Missing cells are not allowed (use :func:`icc_one_way` for unbalanced data).
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise InvalidInput(
            f"need a targets x judges matrix with at least 2 rows and 2 columns, got shape "
            f"{x.shape}",
            field="matrix",
        )
    if not np.all(np.isfinite(x)):
        raise InvalidInput(
            "the matrix has missing or non-finite cells; use icc_one_way for unbalanced data",
            field="matrix",
        )
    n, k = x.shape
    grand = float(x.mean())
    ss_total = float(np.sum((x - grand) ** 2))
    ss_targets = k * float(np.sum((x.mean(axis=1) - grand) ** 2))
    ss_judges = n * float(np.sum((x.mean(axis=0) - grand) ** 2))
    bms = ss_targets / (n - 1)
    wms = (ss_total - ss_targets) / (n * (k - 1))
    jms = ss_judges / (k - 1)
    ems = (ss_total - ss_targets - ss_judges) / ((n - 1) * (k - 1))
    if bms == 0.0:
        raise InsufficientData("every target has the same mean: the ICCs are undefined")
    return ShroutFleissICC(
        icc1_1=(bms - wms) / (bms + (k - 1) * wms),
        icc2_1=(bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        icc3_1=(bms - ems) / (bms + (k - 1) * ems),
        icc1_k=(bms - wms) / bms,
        icc2_k=(bms - ems) / (bms + (jms - ems) / n),
        icc3_k=(bms - ems) / bms,
        n_targets=n,
        n_judges=k,
        ms_between_targets=bms,
        ms_within_targets=wms,
        ms_between_judges=jms,
        ms_error=ems,
    )


# -- Krippendorff's alpha -----------------------------------------------------------------------


def krippendorff_alpha(ratings: Ratings, metric: AlphaMetric = "interval") -> KrippendorffAlpha:
    """Krippendorff's alpha of ``ratings`` with units = (reviewee, competency), coders = raters.

    Every rating is one value of its unit; units with fewer than two values are not pairable and
    drop out, as Krippendorff (2011) prescribes. See :func:`krippendorff_alpha_of_units`.
    """
    _check_ratings(ratings)
    unit, _ = _group_codes(ratings.reviewee, ratings.competency)
    return krippendorff_alpha_of_units(unit, ratings.value, metric)


def krippendorff_alpha_of_units(
    unit: npt.ArrayLike, value: npt.ArrayLike, metric: AlphaMetric = "interval"
) -> KrippendorffAlpha:
    """Krippendorff's alpha from one (unit, value) pair per recorded value (missing = absent).

    Following Krippendorff (2011): with n_uc the number of values c in unit u and m_u the values
    in u, the coincidence matrix over the distinct values is::

        o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1)      over units with m_u >= 2

    (here N^T diag(1/(m_u - 1)) N minus its diagonal correction, N the units x values counts).
    With n_c = sum_k o_ck and n = sum_c n_c (the pairable values)::

        D_o = sum_{c,k} o_ck delta^2(c,k) / n
        D_e = sum_{c,k} n_c n_k delta^2(c,k) / (n (n - 1))
        alpha = 1 - D_o / D_e

    delta^2 is 1 for unequal values (nominal); (c - k)^2 (interval); ((c - k) / (c + k))^2
    (ratio, values must be >= 0); and (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2 (ordinal, the
    n_g summed over the distinct values from c to k inclusive).

    Raises InsufficientData when fewer than two values are pairable, or when D_e = 0 (every
    pairable value is the same, so there is no variation to be reliable about).
    """
    _check_choice(metric, get_args(AlphaMetric), "metric")
    units = np.asarray(unit, dtype=np.int64)
    values = np.asarray(value, dtype=np.float64)
    if units.shape != values.shape or units.ndim != 1:
        raise InvalidInput("unit and value must be 1-D arrays of the same length", field="unit")
    if not np.all(np.isfinite(values)):
        raise InvalidInput("values must be finite numbers (leave missing ones out)", field="value")
    if metric == "ratio" and np.any(values < 0):
        raise InvalidInput("the ratio metric needs values >= 0", field="value")

    coincidence, distinct, pairable_units = _coincidence_matrix(units, values)
    marginals = coincidence.sum(axis=1)
    n = float(marginals.sum())
    if n < 2:
        raise InsufficientData(
            "Krippendorff's alpha needs at least one unit with two or more values"
        )
    delta = _difference_matrix(distinct, marginals, metric)
    observed = float(np.sum(coincidence * delta)) / n
    expected = float(marginals @ delta @ marginals) / (n * (n - 1.0))
    if expected == 0.0:
        raise InsufficientData(
            "every pairable value is the same: expected disagreement is 0 and alpha undefined"
        )
    return KrippendorffAlpha(
        alpha=1.0 - observed / expected,
        metric=metric,
        observed_disagreement=observed,
        expected_disagreement=expected,
        pairable_units=pairable_units,
        pairable_values=round(n),
    )


def _coincidence_matrix(unit: IntArray, value: FloatArray) -> tuple[FloatArray, FloatArray, int]:
    """The values x values coincidence matrix of the pairable units, the distinct values it is
    indexed by, and the number of pairable units."""
    _, u = np.unique(unit, return_inverse=True)
    per_unit = np.bincount(u)
    pairable = per_unit >= 2
    rows = pairable[u]
    n_units = int(np.count_nonzero(pairable))
    u = (np.cumsum(pairable) - 1)[u[rows]]
    distinct, v = np.unique(value[rows], return_inverse=True)
    n_values = distinct.size
    if n_units * n_values > _MAX_VALUE_UNIT_CELLS:
        raise InvalidInput(
            f"{n_values} distinct values over {n_units} units: Krippendorff's alpha here expects "
            "a rating scale with few distinct values",
            field="value",
        )
    flat_counts = np.bincount(u * n_values + v, minlength=n_units * n_values)
    counts = flat_counts.reshape(n_units, n_values).astype(np.float64)
    weighted = counts / (per_unit[pairable] - 1.0)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    return coincidence, distinct, n_units


def _difference_matrix(distinct: FloatArray, marginals: FloatArray, metric: str) -> FloatArray:
    """delta^2(c, k) for every pair of distinct values (Krippendorff 2011, metric differences)."""
    if metric == "nominal":
        return 1.0 - np.eye(distinct.size)
    if metric == "interval":
        return (distinct[:, None] - distinct[None, :]) ** 2
    if metric == "ratio":
        total = distinct[:, None] + distinct[None, :]
        diff = distinct[:, None] - distinct[None, :]
        safe = np.where(total == 0.0, 1.0, total)
        return np.asarray(np.where(total == 0.0, 0.0, (diff / safe) ** 2), dtype=np.float64)
    # ordinal: ranks come from the marginal frequencies of the values between c and k
    index = np.arange(distinct.size)
    low = np.minimum(index[:, None], index[None, :])
    high = np.maximum(index[:, None], index[None, :])
    cumulative = np.cumsum(marginals)
    between = cumulative[high] - cumulative[low] + marginals[low]
    return np.asarray(
        (between - (marginals[:, None] + marginals[None, :]) / 2.0) ** 2, dtype=np.float64
    )


# -- rwg(J) -------------------------------------------------------------------------------------


def uniform_null_variance(scale_points: int) -> float:
    """sigma_EU^2 = (A^2 - 1) / 12, the variance of a discrete uniform ("random responding")
    distribution over an A-point scale (James, Demaree & Wolf 1984): 2.0 for 5 points."""
    if scale_points < 2:
        raise InvalidInput(
            f"an agreement index needs a scale of at least 2 points, not {scale_points}",
            field="scale",
        )
    return (scale_points**2 - 1) / 12.0


def rwg_j_from_variances(
    mean_item_variance: npt.ArrayLike, n_items: npt.ArrayLike, expected_variance: float
) -> FloatArray:
    """rwg(J) of James, Demaree & Wolf (1984) from each group's mean item variance, elementwise.

    With r = mean_s2 / sigma_EU^2::

        rwg(J) = J (1 - r) / (J (1 - r) + r)        (J = 1 gives the single-item rwg = 1 - r)

    When r >= 1 (raters disagree at least as much as random responders) the formula leaves
    [0, 1] -- negative for 1 < r < J/(J-1), above 1 beyond it -- so, as James et al. (1984)
    prescribe and LeBreton & Senter (2008, Q9) recommend, the observed variance is truncated at
    the null variance and rwg(J) set to 0. Results therefore lie in [0, 1]; NaN inputs stay NaN.
    """
    variance = np.asarray(mean_item_variance, dtype=np.float64)
    items = np.asarray(n_items, dtype=np.float64)
    if expected_variance <= 0:
        raise InvalidInput("the null variance must be positive", field="expected_variance")
    ratio = np.minimum(variance / expected_variance, 1.0)
    agreement = items * (1.0 - ratio)
    with np.errstate(invalid="ignore", divide="ignore"):
        rwg = np.where(ratio >= 1.0, 0.0, agreement / (agreement + ratio))
    return np.asarray(rwg, dtype=np.float64)


def within_group_agreement(
    ratings: Ratings, *, min_raters: int = 2, cutoff: float = RWG_CUTOFF
) -> WithinGroupAgreement:
    """rwg(J) per reviewee over the competencies, uniform null on ``ratings.scale``.

    For each reviewee, s2_j is the sample variance (n - 1 denominator) of the ratings of
    competency j; competencies rated by fewer than two raters have no variance and are skipped,
    so J counts the competencies that do. rwg(J) is :func:`rwg_j_from_variances` of the mean
    s2_j; with J = 1 it is the single-item rwg. A reviewee with fewer than ``min_raters``
    distinct raters, or with J = 0, is marked ``insufficient`` (NaN, never a number). Raises
    InsufficientData when no reviewee is sufficient.
    """
    _check_ratings(ratings)
    _check_min_raters(min_raters)
    if not 0.0 < cutoff <= 1.0:
        raise InvalidInput(f"the rwg cutoff must lie in (0, 1], not {cutoff}", field="cutoff")
    points = ratings.scale.points
    expected = uniform_null_variance(points)
    n_reviewees = _label_count(len(ratings.reviewee_ids), ratings.reviewee)

    item, first = _group_codes(ratings.reviewee, ratings.competency)
    item_size = np.bincount(item)
    item_mean = _group_means(item, ratings.value)
    item_ss = np.bincount(item, weights=(ratings.value - item_mean[item]) ** 2)
    has_variance = item_size >= 2
    item_reviewee = ratings.reviewee[first][has_variance]
    item_variance = item_ss[has_variance] / (item_size[has_variance] - 1.0)
    n_items = np.bincount(item_reviewee, minlength=n_reviewees).astype(np.int64)
    variance_sum = np.bincount(item_reviewee, weights=item_variance, minlength=n_reviewees)

    _, rater_first = _group_codes(ratings.reviewee, ratings.rater)
    n_raters = np.bincount(ratings.reviewee[rater_first], minlength=n_reviewees).astype(np.int64)

    insufficient = (n_raters < min_raters) | (n_items == 0)
    sufficient = ~insufficient
    mean_variance = np.full(n_reviewees, np.nan)
    mean_variance[sufficient] = variance_sum[sufficient] / n_items[sufficient]
    rwg = np.full(n_reviewees, np.nan)
    rwg[sufficient] = rwg_j_from_variances(mean_variance[sufficient], n_items[sufficient], expected)
    n_sufficient = int(np.count_nonzero(sufficient))
    if n_sufficient == 0:
        raise InsufficientData(
            f"rwg(J) needs a reviewee with {min_raters} or more raters who share a competency; "
            f"none of {n_reviewees} has"
        )
    valid = rwg[sufficient]
    return WithinGroupAgreement(
        rwg_j=rwg,
        mean_item_variance=mean_variance,
        n_raters=n_raters,
        n_items=n_items,
        insufficient=insufficient,
        expected_variance=expected,
        scale_points=points,
        min_raters=min_raters,
        mean=float(valid.mean()),
        median=float(np.median(valid)),
        share_at_least_cutoff=float(np.count_nonzero(valid >= cutoff)) / n_sufficient,
        cutoff=cutoff,
        n_sufficient=n_sufficient,
        n_insufficient=n_reviewees - n_sufficient,
    )


# -- by source ----------------------------------------------------------------------------------


def reliability_by_source(
    ratings: Ratings,
    min_raters: int = 2,
    *,
    metric: AlphaMetric = "interval",
    icc_target: ICCTarget = "reviewee",
) -> dict[str, SourceReliability]:
    """ICC(1), Krippendorff's alpha and rwg(J) for each rater source present, and pooled.

    Keys are the sources present in ``ratings`` other than ``self`` (a reviewee has one self
    rater, so there is no agreement to measure), in ``SOURCES`` order, then ``all_others`` (every
    rating but self ones, always reported). ``min_raters`` applies to ICC targets and rwg
    reviewees; alpha uses every pairable unit, as Krippendorff defines it. A statistic that
    lacks data is an :class:`Insufficient` with the reason instead of an exception.
    """
    _check_ratings(ratings)
    _check_min_raters(min_raters)
    _check_choice(metric, get_args(AlphaMetric), "metric")
    _check_choice(icc_target, get_args(ICCTarget), "icc_target")
    self_code = source_code("self")
    present = set(np.unique(ratings.source).tolist())
    selections: dict[str, BoolArray] = {
        name: ratings.source == code
        for code, name in enumerate(SOURCES)
        if code != self_code and code in present
    }
    selections[ALL_OTHERS] = ratings.source != self_code

    return {
        name: _source_reliability(name, ratings.where(mask), min_raters, metric, icc_target)
        for name, mask in selections.items()
    }


def _source_reliability(
    name: str, subset: Ratings, min_raters: int, metric: AlphaMetric, icc_target: ICCTarget
) -> SourceReliability:
    return SourceReliability(
        source=name,
        n_ratings=len(subset),
        n_reviewees=int(np.unique(subset.reviewee).size),
        n_raters=int(np.unique(subset.rater).size),
        icc=_or_insufficient(lambda: icc_one_way(subset, icc_target, min_raters=min_raters)),
        alpha=_or_insufficient(lambda: krippendorff_alpha(subset, metric)),
        rwg=_or_insufficient(lambda: within_group_agreement(subset, min_raters=min_raters)),
    )


def _or_insufficient(compute: Callable[[], _T]) -> _T | Insufficient:
    try:
        return compute()
    except InsufficientData as error:
        return Insufficient(error.message)


# -- shared helpers -----------------------------------------------------------------------------


def _group_codes(*columns: IntArray) -> tuple[IntArray, IntArray]:
    """Number the distinct combinations of non-negative integer columns 0..g-1 (in key order).

    Returns each row's group code and, per group, the index of one of its rows (to read the
    group's column values back).
    """
    key = columns[0].astype(np.int64)
    for column in columns[1:]:
        width = int(column.max()) + 1 if column.size else 1
        key = key * width + column
    _, first, code = np.unique(key, return_index=True, return_inverse=True)
    return code.astype(np.int64), first.astype(np.int64)


def _group_means(group: IntArray, value: FloatArray) -> FloatArray:
    return np.asarray(np.bincount(group, weights=value) / np.bincount(group), dtype=np.float64)


def _label_count(n_labels: int, codes: IntArray) -> int:
    return max(n_labels, int(codes.max()) + 1 if codes.size else 0)


def _check_ratings(ratings: Ratings) -> None:
    if not np.all(np.isfinite(ratings.value)):
        raise InvalidInput(
            "ratings contain a value that is not a finite number (leave missing ratings out)",
            field="value",
        )
    for name in ("reviewee", "rater", "competency"):
        column: IntArray = getattr(ratings, name)
        if column.size and int(column.min()) < 0:
            raise InvalidInput(f"ratings column {name} has a negative index", field=name)


def _check_min_raters(min_raters: int) -> None:
    if isinstance(min_raters, bool) or not isinstance(min_raters, int | np.integer):
        raise InvalidInput(f"min_raters must be an integer, not {min_raters!r}", field="min_raters")
    if min_raters < 2:
        raise InvalidInput(
            f"agreement needs at least 2 raters per target; min_raters={min_raters}",
            field="min_raters",
        )


def _check_choice(chosen: str, allowed: tuple[str, ...], field: str) -> None:
    if chosen not in allowed:
        raise InvalidInput(f"unknown {field} {chosen!r}; known: {', '.join(allowed)}", field=field)
