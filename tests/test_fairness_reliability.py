"""Inter-rater reliability: ICC, Krippendorff's alpha and rwg(J) against published worked
examples, hand-computed cases and invariants."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.random import PCG64, Generator
from scipy import stats

from domain.errors import InsufficientData, InvalidInput
from domain.fairness.data import Ratings, RatingScale
from domain.fairness.reliability import (
    ALL_OTHERS,
    Insufficient,
    KrippendorffAlpha,
    OneWayICC,
    WithinGroupAgreement,
    icc_one_way,
    krippendorff_alpha,
    krippendorff_alpha_of_units,
    reliability_by_source,
    rwg_j_from_variances,
    shrout_fleiss_icc,
    uniform_null_variance,
    within_group_agreement,
)

FIVE_POINT = RatingScale(1, 5)
TEN_POINT = RatingScale(1, 10)

# Shrout & Fleiss (1979), Table 2: 6 targets (rows) rated by 4 judges (columns).
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: observers A-D
# (rows) x 12 units (columns), None = missing.
N = None
KRIPPENDORFF_2011: list[list[int | None]] = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def matrix_ratings(
    matrix: Sequence[Sequence[float | None]],
    *,
    rows_are: str = "observers",
    scale: RatingScale = TEN_POINT,
    source: str = "peer",
) -> Ratings:
    """A reliability-data matrix as Ratings: every column (or row, for targets x judges) a
    reviewee rated on one competency, every observer a rater."""
    table = np.array(matrix, dtype=object)
    if rows_are == "targets":
        table = table.T
    rows = [
        (f"unit{unit}", f"rater{observer}", source, "overall", float(value))
        for observer, row in enumerate(table)
        for unit, value in enumerate(row)
        if value is not None
    ]
    return Ratings.from_rows(rows, scale)


def grouped_ratings(groups: Sequence[Sequence[float]], scale: RatingScale = TEN_POINT) -> Ratings:
    """One reviewee per group, each value a different rater's single rating."""
    rows = [
        (f"reviewee{g}", f"rater{g}-{j}", "peer", "overall", float(value))
        for g, values in enumerate(groups)
        for j, value in enumerate(values)
    ]
    return Ratings.from_rows(rows, scale)


def alpha_of(matrix: Sequence[Sequence[float | None]], metric: str) -> KrippendorffAlpha:
    units = [u for row in matrix for u, value in enumerate(row) if value is not None]
    values = [value for row in matrix for value in row if value is not None]
    return krippendorff_alpha_of_units(units, values, metric)  # type: ignore[arg-type]


# -- ICC: Shrout & Fleiss (1979) ----------------------------------------------------------------


def test_shrout_fleiss_table_4_is_reproduced() -> None:
    result = shrout_fleiss_icc(SHROUT_FLEISS)

    # Shrout & Fleiss (1979), Table 4, to the two decimals published.
    assert round(result.icc1_1, 2) == 0.17
    assert round(result.icc2_1, 2) == 0.29
    assert round(result.icc3_1, 2) == 0.71
    assert round(result.icc1_k, 2) == 0.44
    assert round(result.icc2_k, 2) == 0.62
    assert round(result.icc3_k, 2) == 0.91
    assert (result.n_targets, result.n_judges) == (6, 4)


def test_shrout_fleiss_anova_mean_squares_match_table_2() -> None:
    result = shrout_fleiss_icc(SHROUT_FLEISS)

    # Shrout & Fleiss (1979), Table 2 (analysis of variance): BMS, WMS, JMS, EMS.
    assert round(result.ms_between_targets, 2) == 11.24
    assert round(result.ms_within_targets, 2) == 6.26
    assert round(result.ms_between_judges, 2) == 32.49
    assert round(result.ms_error, 2) == 1.02


@pytest.mark.parametrize(
    "matrix",
    [[[1, 2, 3]], [[1], [2], [3]], [1, 2, 3], [[1, 2], [3, float("nan")]], [[1, 2], [3, None]]],
)
def test_shrout_fleiss_rejects_incomplete_or_degenerate_matrices(matrix: object) -> None:
    with pytest.raises(InvalidInput) as raised:
        shrout_fleiss_icc(matrix)  # type: ignore[arg-type]
    assert raised.value.field == "matrix"


def test_shrout_fleiss_needs_targets_that_differ() -> None:
    with pytest.raises(InsufficientData):
        shrout_fleiss_icc([[1, 2], [2, 1], [1, 2]])


# -- ICC: one-way, unbalanced -------------------------------------------------------------------


def test_one_way_icc_on_balanced_data_equals_shrout_fleiss() -> None:
    balanced = shrout_fleiss_icc(SHROUT_FLEISS)
    result = icc_one_way(matrix_ratings(SHROUT_FLEISS, rows_are="targets"))

    assert result.icc1 == pytest.approx(balanced.icc1_1, abs=1e-12)
    assert result.icc1k == pytest.approx(balanced.icc1_k, abs=1e-12)
    assert result.k0 == pytest.approx(4.0)
    assert result.mean_raters_per_target == 4.0
    assert (result.n_targets, result.n_ratings, result.n_targets_excluded) == (6, 24, 0)
    assert (result.df_between, result.df_within) == (5, 18)
    assert result.ms_between == pytest.approx(balanced.ms_between_targets)
    assert result.ms_within == pytest.approx(balanced.ms_within_targets)


def test_one_way_icc_test_and_interval_on_shrout_fleiss_data() -> None:
    result = icc_one_way(matrix_ratings(SHROUT_FLEISS, rows_are="targets"))

    # Cross-check against R psych::ICC on the same data (ICC1 row: F = 1.8 on 5 and 18 df,
    # p = 0.16477, 95% interval -0.133 to 0.72).
    assert result.f == pytest.approx(11.241666666 / 6.263888888, rel=1e-8)
    assert round(result.p_value, 5) == 0.16477
    assert round(result.ci_low, 3) == -0.133
    assert round(result.ci_high, 2) == 0.72
    assert result.ci_low < result.icc1 < result.ci_high
    assert result.confidence == 0.95


def test_one_way_icc_unbalanced_hand_computed() -> None:
    # Groups {1, 3}, {4, 5, 6}, {7, 9}; a fourth reviewee has a single rating and is left out.
    # N = 7, n = 3, grand mean 5: SSB = 2*9 + 0 + 2*9 = 36, MSB = 18; SSW = 2 + 2 + 2 = 6,
    # MSW = 1.5; k0 = (7 - 17/7) / 2 = 16/7;
    # ICC(1) = 16.5 / (18 + (9/7) * 1.5) = 77/93; ICC(1,k) = 16.5 / 18 = 11/12;
    # F = 12 on (2, 4) df, and for 2 numerator df P(F > f) = (1 + 2f/4)^(-2) = 1/49.
    result = icc_one_way(grouped_ratings([[1, 3], [4, 5, 6], [7, 9], [2]]))

    assert result.ms_between == pytest.approx(18.0)
    assert result.ms_within == pytest.approx(1.5)
    assert result.k0 == pytest.approx(16 / 7)
    assert result.icc1 == pytest.approx(77 / 93)
    assert result.icc1k == pytest.approx(11 / 12)
    assert result.f == pytest.approx(12.0)
    assert result.p_value == pytest.approx(1 / 49)
    assert (result.df_between, result.df_within) == (2, 4)
    assert (result.n_targets, result.n_ratings, result.n_targets_excluded) == (3, 7, 1)
    assert result.mean_raters_per_target == pytest.approx(7 / 3)


def test_one_way_icc_interval_uses_k0_in_the_f_based_formula() -> None:
    result = icc_one_way(grouped_ratings([[1, 3], [4, 5, 6], [7, 9]]))
    f_low = 12.0 / stats.f.ppf(0.975, 2, 4)
    f_high = 12.0 * stats.f.ppf(0.975, 4, 2)
    k0 = 16 / 7

    assert result.ci_low == pytest.approx((f_low - 1) / (f_low + k0 - 1))
    assert result.ci_high == pytest.approx((f_high - 1) / (f_high + k0 - 1))


def test_default_target_averages_each_raters_competencies() -> None:
    # Rater a rates reviewee x 2 and 4 (mean 3), rater b 5: the observations are 3 and 5.
    rows = [
        ("x", "a", "peer", "c1", 2.0),
        ("x", "a", "peer", "c2", 4.0),
        ("x", "b", "peer", "c1", 5.0),
        ("y", "c", "peer", "c1", 8.0),
        ("y", "d", "peer", "c2", 9.0),
        ("y", "d", "peer", "c1", 9.0),
        ("y", "e", "peer", "c1", 10.0),
    ]
    result = icc_one_way(Ratings.from_rows(rows, TEN_POINT))
    expected = icc_one_way(grouped_ratings([[3, 5], [8, 9, 10]]))

    assert result.icc1 == pytest.approx(expected.icc1)
    assert result.icc1k == pytest.approx(expected.icc1k)
    assert result.n_ratings == 5


def test_competency_target_treats_each_reviewee_competency_as_a_target() -> None:
    rows = [
        ("x", "a", "peer", "c1", 1.0),
        ("x", "b", "peer", "c1", 3.0),
        ("x", "a", "peer", "c2", 4.0),
        ("x", "b", "peer", "c2", 5.0),
        ("x", "c", "peer", "c2", 6.0),
        ("y", "d", "peer", "c1", 7.0),
        ("y", "e", "peer", "c1", 9.0),
        ("y", "f", "peer", "c2", 2.0),  # a lone rating: this target is left out
    ]
    result = icc_one_way(Ratings.from_rows(rows, TEN_POINT), "reviewee_competency")

    assert result.target == "reviewee_competency"
    assert result.icc1 == pytest.approx(77 / 93)
    assert (result.n_targets, result.n_targets_excluded) == (3, 1)


def test_one_way_icc_is_invariant_to_a_linear_change_of_scale() -> None:
    groups = [[1, 3], [4, 5, 6], [7, 9], [2, 2, 5, 4]]
    base = icc_one_way(grouped_ratings(groups))
    scaled = icc_one_way(grouped_ratings([[3 * v + 2 for v in g] for g in groups]))

    assert scaled.icc1 == pytest.approx(base.icc1)
    assert scaled.icc1k == pytest.approx(base.icc1k)
    assert scaled.p_value == pytest.approx(base.p_value)


def test_one_way_icc_recovers_a_known_population_value() -> None:
    # Variance components 1 (target) and 1 (error): the population ICC(1) is 0.5.
    rng = Generator(PCG64(20240601))
    sizes = rng.integers(2, 9, size=4000)
    target = np.repeat(np.arange(sizes.size), sizes)
    value = rng.normal(0.0, 1.0, sizes.size)[target] + rng.normal(0.0, 1.0, target.size)
    ratings = Ratings(
        target,
        np.arange(target.size),
        np.full(target.size, 2),
        np.zeros(target.size, dtype=np.int64),
        value,
        [str(i) for i in range(sizes.size)],
        [str(i) for i in range(target.size)],
        ["overall"],
        TEN_POINT,
    )
    result = icc_one_way(ratings)

    assert result.icc1 == pytest.approx(0.5, abs=0.03)
    assert result.ci_low < 0.5 < result.ci_high
    assert result.k0 < result.mean_raters_per_target  # k0 shrinks the mean for unequal sizes


def test_one_way_icc_of_perfect_agreement_is_one() -> None:
    result = icc_one_way(grouped_ratings([[2, 2], [5, 5, 5], [7, 7]]))

    assert (result.icc1, result.icc1k, result.p_value) == (1.0, 1.0, 0.0)
    assert (result.ci_low, result.ci_high) == (1.0, 1.0)


@pytest.mark.parametrize(
    "groups",
    [
        [[1, 2, 3]],  # one target
        [[1, 2], [3]],  # one usable target
        [[1], [2], [3]],  # no usable target
        [[1, 3], [2, 2]],  # equal target means: no between-target variance
        [],
    ],
)
def test_one_way_icc_reports_insufficient_data(groups: list[list[float]]) -> None:
    with pytest.raises(InsufficientData):
        icc_one_way(grouped_ratings(groups))


def test_one_way_icc_min_raters_leaves_small_targets_out() -> None:
    result = icc_one_way(grouped_ratings([[1, 3], [4, 5, 6], [7, 8, 9], [2, 6, 4]]), min_raters=3)

    assert (result.n_targets, result.n_targets_excluded) == (3, 1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": "rater"}, "target"),
        ({"min_raters": 1}, "min_raters"),
        ({"min_raters": 2.5}, "min_raters"),
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": 0.0}, "confidence"),
    ],
)
def test_one_way_icc_rejects_bad_parameters(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        icc_one_way(grouped_ratings([[1, 3], [4, 5]]), **kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_non_finite_ratings_are_rejected() -> None:
    ratings = grouped_ratings([[1, 3], [4, 5]])
    broken = Ratings(
        ratings.reviewee,
        ratings.rater,
        ratings.source,
        ratings.competency,
        np.array([1.0, np.nan, 4.0, 5.0]),
        ratings.reviewee_ids,
        ratings.rater_ids,
        ratings.competencies,
        ratings.scale,
    )
    for compute in (icc_one_way, krippendorff_alpha, within_group_agreement):
        with pytest.raises(InvalidInput) as raised:
            compute(broken)
        assert raised.value.field == "value"


# -- Krippendorff's alpha -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_reproduces_krippendorff_2011_worked_example(metric: str, published: float) -> None:
    result = alpha_of(KRIPPENDORFF_2011, metric)

    assert round(result.alpha, 3) == published
    assert result.metric == metric
    # Unit 12 has a single value and is not pairable; the 11 others hold n = 40 values.
    assert (result.pairable_units, result.pairable_values) == (11, 40)
    assert result.alpha == pytest.approx(
        1 - result.observed_disagreement / result.expected_disagreement
    )


def test_alpha_nominal_worked_example_exact_disagreements() -> None:
    # Coincidences off the diagonal total 8 of n = 40 pairable values: D_o = 8/40. The value
    # frequencies are n_c = 9, 13, 10, 5, 3, so D_e = (40^2 - sum n_c^2) / (40 * 39) = 1216/1560.
    result = alpha_of(KRIPPENDORFF_2011, "nominal")

    assert result.observed_disagreement == pytest.approx(8 / 40)
    assert result.expected_disagreement == pytest.approx(1216 / 1560)


def test_alpha_from_ratings_uses_reviewee_competency_units() -> None:
    result = krippendorff_alpha(matrix_ratings(KRIPPENDORFF_2011), "interval")

    assert round(result.alpha, 3) == 0.849
    assert result.pairable_units == 11


def test_alpha_two_coder_examples_from_krippendorff_2011() -> None:
    # Section A: binary data, two observers, no missing data (alpha = 0.095).
    binary = alpha_of([[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]], "nominal")
    # Section B: nominal data (a..e coded 1..5), two observers, no missing data (alpha = 0.692).
    nominal = alpha_of(
        [[1, 1, 2, 2, 4, 3, 3, 3, 5, 4, 4, 1], [2, 1, 2, 2, 2, 3, 3, 3, 5, 4, 4, 4]], "nominal"
    )

    assert round(binary.alpha, 3) == 0.095
    assert binary.alpha == pytest.approx(1 - 19 * 4 / (14 * 6))  # 1 - (n-1) o_01 / (n_0 n_1)
    assert round(nominal.alpha, 3) == 0.692


def test_alpha_hand_computed_systematic_disagreement() -> None:
    # Units (1, 2) and (2, 1): o_12 = o_21 = 2, n_1 = n_2 = 2, n = 4;
    # D_o = 4/4 = 1, D_e = 2*2*2 / (4*3) = 2/3, alpha = 1 - 3/2 = -0.5.
    result = alpha_of([[1, 2], [2, 1]], "nominal")

    assert result.alpha == pytest.approx(-0.5)
    assert result.observed_disagreement == pytest.approx(1.0)
    assert result.expected_disagreement == pytest.approx(2 / 3)


@pytest.mark.parametrize("metric", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_of_perfect_agreement_is_one(metric: str) -> None:
    assert alpha_of([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, None, 5]], metric).alpha == 1.0


def test_alpha_invariances() -> None:
    base = {m: alpha_of(KRIPPENDORFF_2011, m).alpha for m in ("nominal", "ordinal", "interval")}
    affine = [[None if v is None else 2 * v + 7 for v in row] for row in KRIPPENDORFF_2011]
    relabel = {1: 40, 2: 10, 3: 30, 4: 20, 5: 50}
    relabelled = [[None if v is None else relabel[v] for v in row] for row in KRIPPENDORFF_2011]
    # a strictly increasing but non-linear recoding keeps the order only
    monotone = [[None if v is None else v**3 for v in row] for row in KRIPPENDORFF_2011]
    reordered = [row[::-1] for row in KRIPPENDORFF_2011[::-1]]

    assert alpha_of(affine, "interval").alpha == pytest.approx(base["interval"])
    assert alpha_of(relabelled, "nominal").alpha == pytest.approx(base["nominal"])
    assert alpha_of(monotone, "ordinal").alpha == pytest.approx(base["ordinal"])
    assert alpha_of(monotone, "interval").alpha != pytest.approx(base["interval"])
    for metric, value in base.items():
        assert alpha_of(reordered, metric).alpha == pytest.approx(value)


def test_units_with_one_value_do_not_change_alpha() -> None:
    padded = [
        [*row, 4 if observer == 0 else None] for observer, row in enumerate(KRIPPENDORFF_2011)
    ]

    assert alpha_of(padded, "interval").alpha == alpha_of(KRIPPENDORFF_2011, "interval").alpha


@pytest.mark.parametrize(
    "matrix",
    [
        [[3, 3, 3], [3, 3, None]],  # one value everywhere: expected disagreement 0
        [[1, None], [None, 2]],  # no unit with two values
        [[], []],
    ],
)
def test_alpha_reports_insufficient_data(matrix: list[list[int | None]]) -> None:
    with pytest.raises(InsufficientData):
        alpha_of(matrix, "interval")


def test_alpha_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput) as unknown:
        alpha_of(KRIPPENDORFF_2011, "cardinal")
    with pytest.raises(InvalidInput) as negative:
        alpha_of([[-1, 2], [1, 2]], "ratio")
    with pytest.raises(InvalidInput) as mismatched:
        krippendorff_alpha_of_units([0, 0, 1], [1.0, 2.0], "interval")

    assert unknown.value.field == "metric"
    assert negative.value.field == "value"
    assert mismatched.value.field == "unit"


# -- rwg(J) -------------------------------------------------------------------------------------


def test_uniform_null_variance_matches_published_values() -> None:
    # James, Demaree & Wolf (1984); LeBreton & Senter (2008, Table 2): sigma_EU^2 = 2.0 for a
    # 5-point scale, 4.0 for a 7-point one, 6.67 for a 9-point one.
    assert uniform_null_variance(5) == 2.0
    assert uniform_null_variance(7) == 4.0
    assert round(uniform_null_variance(9), 2) == 6.67
    with pytest.raises(InvalidInput):
        uniform_null_variance(1)


def test_rwg_j_formula_and_truncation() -> None:
    rwg = rwg_j_from_variances(
        [0.0, 0.5, 0.5, 1.0, 2.0, 2.5, 6.0, np.nan], [3, 2, 1, 4, 2, 2, 2, 2], 2.0
    )

    assert rwg[0] == 1.0  # no variance: perfect agreement
    assert rwg[1] == pytest.approx(2 * 0.75 / (2 * 0.75 + 0.25))  # 6/7
    assert rwg[2] == pytest.approx(0.75)  # J = 1: single-item rwg = 1 - s2 / sigma_EU^2
    assert rwg[3] == pytest.approx(4 * 0.5 / (4 * 0.5 + 0.5))  # 0.8
    assert rwg[4] == 0.0  # s2 = sigma_EU^2
    assert rwg[5] == 0.0  # untruncated: 2(1-1.25)/(2(1-1.25)+1.25) = -0.67
    assert rwg[6] == 0.0  # untruncated: 2(1-3)/(2(1-3)+3) = 4, out of range above
    assert np.isnan(rwg[7])


def test_rwg_j_is_spearman_brown_of_the_single_item_rwg() -> None:
    ratio = np.linspace(0.0, 0.95, 20)
    for items in (1, 2, 5, 9):
        single = 1.0 - ratio
        stepped_up = items * single / (1.0 + (items - 1) * single)
        assert rwg_j_from_variances(ratio * 3.0, np.full(20, items), 3.0) == pytest.approx(
            stepped_up
        )


def rwg_example() -> Ratings:
    rows = [
        # r1: 3 raters; c1 = 4, 5, 3 (s2 = 1), c2 = 4, 4, 4 (s2 = 0); mean s2 0.5, J = 2
        ("r1", "a", "peer", "c1", 4.0),
        ("r1", "b", "peer", "c1", 5.0),
        ("r1", "c", "manager", "c1", 3.0),
        ("r1", "a", "peer", "c2", 4.0),
        ("r1", "b", "peer", "c2", 4.0),
        ("r1", "c", "manager", "c2", 4.0),
        # r2: c1 = 1, 5 (s2 = 8), c2 = 2, 4 (s2 = 2): mean s2 5 > 2, truncated to 0
        ("r2", "a", "peer", "c1", 1.0),
        ("r2", "d", "peer", "c1", 5.0),
        ("r2", "a", "peer", "c2", 2.0),
        ("r2", "d", "peer", "c2", 4.0),
        # r3: a single rater
        ("r3", "a", "peer", "c1", 3.0),
        ("r3", "a", "peer", "c2", 3.0),
        # r4: only c1 shared (3, 4: s2 = 0.5, J = 1); c2 has one rating and is skipped
        ("r4", "b", "peer", "c1", 3.0),
        ("r4", "c", "peer", "c1", 4.0),
        ("r4", "c", "peer", "c2", 1.0),
        # r5: two raters who never rate the same competency
        ("r5", "a", "peer", "c1", 3.0),
        ("r5", "b", "peer", "c2", 5.0),
    ]
    return Ratings.from_rows(rows, FIVE_POINT)


def test_rwg_hand_computed_per_reviewee() -> None:
    result = within_group_agreement(rwg_example())

    assert result.expected_variance == 2.0
    assert result.scale_points == 5
    assert list(result.insufficient) == [False, False, True, False, True]
    assert list(result.n_raters) == [3, 2, 1, 2, 2]
    assert list(result.n_items) == [2, 2, 0, 1, 0]
    np.testing.assert_allclose(result.mean_item_variance, [0.5, 5.0, np.nan, 0.5, np.nan])
    np.testing.assert_allclose(result.rwg_j, [6 / 7, 0.0, np.nan, 0.75, np.nan])
    assert result.mean == pytest.approx((6 / 7 + 0.0 + 0.75) / 3)
    assert result.median == pytest.approx(0.75)
    assert result.share_at_least_cutoff == pytest.approx(2 / 3)
    assert (result.n_sufficient, result.n_insufficient) == (3, 2)
    assert result.cutoff == 0.70


def test_rwg_arrays_align_with_reviewee_ids_including_unrated_reviewees() -> None:
    ratings = rwg_example()
    wider = Ratings(
        ratings.reviewee,
        ratings.rater,
        ratings.source,
        ratings.competency,
        ratings.value,
        [*ratings.reviewee_ids, "never-rated"],
        ratings.rater_ids,
        ratings.competencies,
        ratings.scale,
    )
    result = within_group_agreement(wider)

    assert result.rwg_j.shape == (6,)
    assert result.insufficient[5]
    assert np.isnan(result.rwg_j[5])
    assert result.n_raters[5] == 0


def test_rwg_min_raters_marks_smaller_groups_insufficient() -> None:
    result = within_group_agreement(rwg_example(), min_raters=3)

    assert list(result.insufficient) == [False, True, True, True, True]
    assert result.mean == pytest.approx(6 / 7)


def test_rwg_values_lie_in_the_unit_interval() -> None:
    # Random responding, and raters who split into two camps: both push rwg(J) to its limits.
    rng = Generator(PCG64(7))
    rows = [
        (f"r{person}", f"r{person}-{rater}", "peer", f"c{item}", value)
        for person in range(300)
        for rater in range(4)
        for item in range(5)
        for value in [float(rng.integers(1, 6) if person % 2 else 1 + 4 * (rater % 2))]
    ]
    result: WithinGroupAgreement = within_group_agreement(Ratings.from_rows(rows, FIVE_POINT))
    valid = result.rwg_j[~result.insufficient]

    assert np.all((valid >= 0.0) & (valid <= 1.0))
    assert not np.any(np.isnan(valid))


def test_rwg_reports_insufficient_data_and_bad_parameters() -> None:
    single_raters = Ratings.from_rows([("r1", "a", "peer", "c1", 3.0)], FIVE_POINT)
    with pytest.raises(InsufficientData):
        within_group_agreement(single_raters)
    with pytest.raises(InvalidInput) as min_raters:
        within_group_agreement(rwg_example(), min_raters=1)
    with pytest.raises(InvalidInput) as cutoff:
        within_group_agreement(rwg_example(), cutoff=0.0)

    assert min_raters.value.field == "min_raters"
    assert cutoff.value.field == "cutoff"


# -- by source ----------------------------------------------------------------------------------


def source_example() -> Ratings:
    rng = Generator(PCG64(11))
    rows: list[tuple[str, str, str, str, float]] = []
    for person in range(40):
        level = rng.normal(3.0, 0.8)
        raters = [("self", f"e{person}")]
        raters += [("manager", f"m{person // 5}")]
        raters += [("peer", f"p{person}-{j}") for j in range(int(rng.integers(2, 5)))]
        for source, rater in raters:
            for competency in ("c1", "c2", "c3"):
                value = float(np.clip(np.round(level + rng.normal(0.0, 0.7)), 1, 5))
                rows.append((f"e{person}", rater, source, competency, value))
    return Ratings.from_rows(rows, FIVE_POINT)


def test_reliability_by_source_reports_present_sources_but_self_and_all_others() -> None:
    result = reliability_by_source(source_example())

    assert list(result) == ["manager", "peer", ALL_OTHERS]
    assert all(report.source == name for name, report in result.items())


def test_reliability_by_source_equals_direct_computation_per_subset() -> None:
    ratings = source_example()
    result = reliability_by_source(ratings)
    peers = ratings.where(ratings.source == 2)
    others = ratings.where(ratings.source != 0)

    for name, subset in (("peer", peers), (ALL_OTHERS, others)):
        report = result[name]
        assert isinstance(report.icc, OneWayICC)
        assert isinstance(report.alpha, KrippendorffAlpha)
        assert isinstance(report.rwg, WithinGroupAgreement)
        assert report.icc == icc_one_way(subset)
        assert report.alpha == krippendorff_alpha(subset, "interval")
        assert report.rwg.mean == within_group_agreement(subset).mean
        assert report.n_ratings == len(subset)
        assert report.n_reviewees == 40
    assert result[ALL_OTHERS].n_raters == len({*peers.rater.tolist()}) + 8


def test_reliability_by_source_captures_insufficient_data_with_reasons() -> None:
    result = reliability_by_source(source_example())
    manager = result["manager"]  # one manager per reviewee: no agreement to measure

    assert isinstance(manager.icc, Insufficient)
    assert isinstance(manager.rwg, Insufficient)
    assert "2" in manager.icc.reason
    assert manager.rwg.reason
    # alpha pools units, but a lone manager per (reviewee, competency) pairs with no one
    assert isinstance(manager.alpha, Insufficient)


def test_reliability_by_source_with_only_self_ratings_is_all_insufficient() -> None:
    ratings = Ratings.from_rows(
        [("a", "a", "self", "c1", 3.0), ("b", "b", "self", "c1", 4.0)], FIVE_POINT
    )
    result = reliability_by_source(ratings)

    assert list(result) == [ALL_OTHERS]
    report = result[ALL_OTHERS]
    assert report.n_ratings == 0
    assert isinstance(report.icc, Insufficient)
    assert isinstance(report.alpha, Insufficient)
    assert isinstance(report.rwg, Insufficient)


def test_reliability_by_source_passes_its_options_on() -> None:
    ratings = source_example()
    result = reliability_by_source(ratings, 3, metric="ordinal", icc_target="reviewee_competency")
    peers = ratings.where(ratings.source == 2)

    assert result["peer"].alpha == krippendorff_alpha(peers, "ordinal")
    assert result["peer"].icc == icc_one_way(peers, "reviewee_competency", min_raters=3)
    with pytest.raises(InvalidInput):
        reliability_by_source(ratings, 1)
    with pytest.raises(InvalidInput):
        reliability_by_source(ratings, metric="cardinal")  # type: ignore[arg-type]
