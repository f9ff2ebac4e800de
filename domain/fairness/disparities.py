"""Group disparities in final scores and in selections (tiers, rewards), small cells suppressed.

Two questions for one attribute (department, gender, location, ...) or an intersection of
attributes (gender x location), asked by :func:`disparity_report` (several groupings sharing one
permutation draw: :func:`audit_disparities`):

* Do the groups' final scores differ? (:class:`ScoreDisparities`) For every published group: head
  count, number with a score, mean and SD of the score (and the mean of the mean rating and of the
  severity-adjusted mean rating when given), the difference to the rest, Hedges' g, and a two-sided
  permutation p-value for the group-vs-rest difference in means, corrected for multiplicity (Holm
  by default); plus an omnibus permutation test across the published groups.
* Do the groups differ in further per-person measures (a mean rating, a severity-adjusted mean
  rating, before and after calibration)? ``tested_measures`` of :func:`audit_disparities` gives
  each measure a table of its own, built and tested exactly like the score's (suppression from the
  people who have the measure, group-vs-rest and omnibus permutation tests from the same draw), in
  :attr:`DisparityReport.measures`.
* Are the groups selected at different rates? (:class:`OutcomeDisparities`) For every outcome
  (``tier:exceeds``, ``reward:bonus``, ...): selection rate, impact ratio against the most-selected
  published group, the four-fifths rule of thumb (EEOC Uniform Guidelines, 29 CFR 1607.4(D)), and
  Fisher's exact test of each group against that reference group. A group is *flagged* only when
  its impact ratio is below four-fifths AND its corrected p-value is below alpha; both pieces of
  evidence are reported separately.

Who is compared. People with an unknown value for any of the grouping's attributes are left out of
the grouping entirely (and counted in ``excluded_unknown``): "women against the rest" must not
count people of unknown gender in the rest. The score comparisons use the analysed people with a
final score; a group's "rest" is every other one of them, including the people of suppressed
cells. The selection comparisons use every analysed person.

Suppression (:mod:`domain.fairness.suppression`). The head-count plan -- cells under
``min_group_size`` (``min_intersection_size`` for an intersection) suppressed, then differencing
against earlier reports and complementary suppression -- governs the counts and the selection
tables. The score table starts from that pattern and also suppresses cells with too few people
with a score (or with a rating, when ratings are given), again with complementary suppression,
because a mean of three scores is three people's scores however large the group. Suppressed cells
get no statistics, are never the reference group and are not tested; their people stay in the
rest and in the permutation population.

Permutation tests. Under the null hypothesis a grouping's scores are exchangeable among its
analysed people. One draw of ``permutations`` random orderings of everybody with a score (seeded
``Generator(PCG64(seed))``; with tested measures, of everybody with a score or a value of one of
them, so the score's p-values then differ from a run without measures) serves every grouping and
measure of an audit: restricted to a grouping's analysed people each ordering is a uniformly
random ordering of them, whose first n1 scores go to the first cell, the next n2 to the second,
and so on; ``np.add.reduceat`` then gives every cell's score sum for every permutation at once.
Orderings come from sorting random 64-bit keys whose low b bits hold the person's index, b = bit
length of n - 1 (two of n people tie on the other 64 - b random bits with probability about
n^2 / 2^(65 - b) per permutation -- 4e-8 for 10,000 people -- and a tie merely orders those two by
index). p = (exceedances + 1) / (B + 1) (Phipson & Smyth 2010), never 0.

Multiplicity. Each table is one family: the published groups' group-vs-rest p-values of the score
table, and the non-reference groups' Fisher p-values of one outcome. The reference group is the
most-selected one, so the comparisons are against the most favourable rate observed -- the
four-fifths rule's own convention, which the corrected p-value does not adjust for.

References
----------
* Equal Employment Opportunity Commission et al. (1978). Uniform Guidelines on Employee Selection
  Procedures, 29 CFR 1607.4(D) (the four-fifths rule).
* Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis, ch. 5 (g and its
  small-sample correction J = 1 - 3 / (4 (n1 + n2) - 9)).
* Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal of
  Statistics, 6(2), 65-70.
* Phipson, B., & Smyth, G. K. (2010). Permutation p-values should never be zero. Statistical
  Applications in Genetics and Molecular Biology, 9(1), Article 39.
* Fisher, R. A. (1935). The Design of Experiments (the tea-tasting 2x2 table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import stats

from domain.errors import InvalidInput
from domain.fairness.data import BoolArray, FloatArray, IntArray, Subjects
from domain.fairness.suppression import (
    LABEL_SEPARATOR,
    CellDecision,
    Fingerprint,
    SuppressionPlan,
    cell_label,
    membership_fingerprint,
    plan_suppression,
)

Correction = Literal["holm", "bonferroni", "none"]
CORRECTIONS: tuple[Correction, ...] = get_args(Correction)

# The subject of the score comparison in an InsufficientDisparityData result.
SCORE = "score"
# Permutations drawn and evaluated per batch: keeps the working set (~10 MB for 10,000 people)
# in cache. The random stream is consumed row by row, so the batch size changes no result.
_BATCH = 64
# Relative slack when counting permuted statistics "at least as extreme" as the observed one, so
# that a permutation reproducing the observed grouping (ties in discrete scores) always counts.
_TIE_TOLERANCE = 1e-9

PublishedCells = Mapping[str, frozenset[str]]
SmallGroups = Literal["exclude", "suppress"]


# -- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DisparityParameters:
    """How a disparity audit is run. ``seed`` is required so that a re-run reproduces every
    permutation p-value bit for bit."""

    seed: int
    min_group_size: int = 5
    min_intersection_size: int = 10
    permutations: int = 2000
    alpha: float = 0.05
    four_fifths: float = 0.8
    correction: Correction = "holm"
    # "exclude": people in a cell smaller than the minimum are left out of the grouping's
    # comparison altogether (counted with the unknowns), so no published figure includes them
    # and no other cell needs suppressing to protect them; "suppress": they stay in the rest and
    # the totals, and complementary suppression protects them (which, with one tiny category,
    # can take a whole attribute's comparison down with it).
    small_groups: SmallGroups = "suppress"

    def __post_init__(self) -> None:
        if self.small_groups not in ("exclude", "suppress"):
            raise InvalidInput(
                f"small_groups must be exclude or suppress, not {self.small_groups!r}",
                field="small_groups",
            )
        _check_whole(self.seed, "seed", low=0)
        _check_whole(self.min_group_size, "min_group_size", low=2)
        _check_whole(self.min_intersection_size, "min_intersection_size", low=self.min_group_size)
        _check_whole(self.permutations, "permutations", low=100, high=100_000)
        _check_share(self.alpha, "alpha", include_one=False)
        _check_share(self.four_fifths, "four_fifths", include_one=True)
        if self.correction not in CORRECTIONS:
            raise InvalidInput(
                f"correction must be one of {', '.join(CORRECTIONS)}, not {self.correction!r}",
                field="correction",
            )

    def min_size(self, dimensions: int) -> int:
        """The smallest publishable cell for a grouping of that many attributes."""
        return self.min_group_size if dimensions == 1 else self.min_intersection_size


def _check_whole(value: object, name: str, *, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(f"{name} must be a whole number, not {value!r}", field=name)
    if value < low or (high is not None and value > high):
        span = f"at least {low}" if high is None else f"between {low} and {high}"
        raise InvalidInput(f"{name} must be {span}, not {value}", field=name)


def _check_share(value: object, name: str, *, include_one: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number, not {value!r}", field=name)
    if not (0 < value < 1 or (include_one and value == 1)):
        span = "(0, 1]" if include_one else "(0, 1)"
        raise InvalidInput(f"{name} must lie in {span}, not {value}", field=name)


# -- grouping -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Grouping:
    """People sorted into the cells of one attribute or an intersection of attributes.

    ``cells`` holds each cell's values in sorted order, ``cell`` each person's cell index
    (-1 where any of the attributes is unknown), ``sizes`` the head count of each cell.
    """

    attributes: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    cell: IntArray
    sizes: IntArray
    excluded_unknown: int

    @property
    def name(self) -> str:
        return LABEL_SEPARATOR.join(self.attributes)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(cell_label(v) for v in self.cells)

    @property
    def analysed(self) -> BoolArray:
        known: BoolArray = self.cell >= 0
        return known


def group_people(subjects: Subjects, attributes: str | Sequence[str]) -> Grouping:
    """Sort the subjects into the cells of ``attributes`` (one name, or several for their
    intersection); people with any unknown value are left out and counted."""
    names = _attribute_names(subjects, attributes)
    people = len(subjects.ids)
    codes = np.empty((len(names), people), dtype=np.int64)
    levels: list[npt.NDArray[np.str_]] = []
    for row, name in enumerate(names):
        codes[row], values = _factorise(subjects.groups[name], people)
        levels.append(values)
    known = np.all(codes >= 0, axis=0)
    cell = np.full(people, -1, dtype=np.int64)
    if not known.any():
        return Grouping(names, (), cell, np.zeros(0, dtype=np.int64), people)
    shape = tuple(len(v) for v in levels)
    combined = np.ravel_multi_index(tuple(codes[:, known]), shape)
    present, cell[known] = np.unique(combined, return_inverse=True)
    value_codes = np.unravel_index(present, shape)
    cells = tuple(
        tuple(str(levels[a][value_codes[a][i]]) for a in range(len(names)))
        for i in range(present.size)
    )
    sizes = np.bincount(cell[known], minlength=present.size).astype(np.int64)
    return Grouping(names, cells, cell, sizes, int(people - known.sum()))


def without_small_cells(grouping: Grouping, min_size: int) -> Grouping:
    """The grouping with the people of cells smaller than ``min_size`` left out (counted in
    ``excluded_unknown``: unknown value or a group too small to show)."""
    small = grouping.sizes < min_size
    if not small.any():
        return grouping
    keep = np.flatnonzero(~small)
    renumber = np.full(len(grouping.sizes) + 1, -1, dtype=np.int64)  # last slot: cell -1
    renumber[keep] = np.arange(keep.size)
    cell = renumber[grouping.cell]
    return Grouping(
        grouping.attributes,
        tuple(grouping.cells[i] for i in keep),
        cell,
        grouping.sizes[keep],
        grouping.excluded_unknown + int(grouping.sizes[small].sum()),
    )


def _attribute_names(subjects: Subjects, attributes: str | Sequence[str]) -> tuple[str, ...]:
    names = (attributes,) if isinstance(attributes, str) else tuple(attributes)
    if not names:
        raise InvalidInput("name at least one attribute", field="attributes")
    if len(set(names)) != len(names):
        raise InvalidInput("an attribute cannot be crossed with itself", field="attributes")
    unknown = [n for n in names if n not in subjects.groups]
    if unknown:
        known = ", ".join(sorted(subjects.groups)) or "none"
        raise InvalidInput(
            f"unknown attribute(s) {', '.join(unknown)}; known: {known}", field="attributes"
        )
    return names


def _factorise(values: Sequence[str | None], people: int) -> tuple[IntArray, npt.NDArray[np.str_]]:
    """Each person's index into the sorted distinct values (-1 where unknown)."""
    raw = np.asarray(values, dtype=object)
    known = np.fromiter((v is not None for v in values), dtype=np.bool_, count=people)
    codes = np.full(people, -1, dtype=np.int64)
    levels, codes[known] = np.unique(raw[known].astype(str), return_inverse=True)
    return codes, levels


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupCount:
    """A published cell's head count."""

    label: str
    values: tuple[str, ...]
    n: int


@dataclass(frozen=True, slots=True)
class MeasureGap:
    """A group's mean of one per-person measure (mean rating, adjusted mean rating) against the
    rest of the analysed people who have it."""

    n: int
    mean: float
    rest_mean: float
    difference: float


@dataclass(frozen=True, slots=True)
class GroupScoreDisparity:
    """One published group's final scores against the rest's.

    ``n`` is the head count, ``scored`` how many have a score (the mean, SD and test use those).
    ``difference`` = ``mean - rest_mean``; ``hedges_g`` is that difference over the pooled SD,
    small-sample corrected (None when every score is the same). ``p_value`` is the two-sided
    permutation p of the difference, ``p_adjusted`` after the report's correction, and
    ``significant`` says ``p_adjusted < alpha``.
    """

    label: str
    values: tuple[str, ...]
    n: int
    scored: int
    mean: float
    sd: float
    rest_n: int
    rest_mean: float
    rest_sd: float
    difference: float
    hedges_g: float | None
    p_value: float
    p_adjusted: float
    significant: bool
    mean_rating: MeasureGap | None
    adjusted_mean_rating: MeasureGap | None


@dataclass(frozen=True, slots=True)
class OmnibusTest:
    """Do the published groups' mean scores differ at all? ``statistic`` is the between-group sum
    of squares sum(n_g (mean_g - grand mean)^2) over the published groups, the grand mean taken
    over everyone compared (suppressed cells included); ``p_value`` is its permutation p."""

    statistic: float
    p_value: float
    groups: int


@dataclass(frozen=True)
class ScoreDisparities:
    """The score table: published groups' statistics, the omnibus test, and which cells were
    suppressed (with reasons). ``population`` is everyone compared (analysed and scored)."""

    population: int
    permutations: int
    correction: Correction
    groups: tuple[GroupScoreDisparity, ...]
    omnibus: OmnibusTest
    suppressed: tuple[CellDecision, ...]


@dataclass(frozen=True, slots=True)
class GroupSelection:
    """One published group's selection into one outcome.

    ``impact_ratio`` = ``rate`` / the reference (most-selected published) group's rate;
    ``below_four_fifths`` says ``impact_ratio < four_fifths``. Fisher's exact test (two-sided) of
    the group's 2x2 table against the reference group gives ``odds_ratio`` (None where it is 0/0
    or infinite) and ``p_value``; the reference group itself has no test (all three None).
    ``flagged`` needs both the four-fifths breach and ``significant`` (corrected p < alpha).
    """

    label: str
    values: tuple[str, ...]
    n: int
    selected: int
    rate: float
    impact_ratio: float
    below_four_fifths: bool
    reference: bool
    odds_ratio: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    flagged: bool


@dataclass(frozen=True)
class OutcomeDisparities:
    """The selection table of one outcome."""

    outcome: str
    reference: str
    reference_rate: float
    correction: Correction
    groups: tuple[GroupSelection, ...]
    suppressed: tuple[CellDecision, ...]


@dataclass(frozen=True)
class InsufficientDisparityData:
    """No comparison for ``subject`` (``"score"`` or an outcome name), and why: fewer than two
    groups survive suppression, nobody has a score, nobody was selected, ..."""

    subject: str
    reason: str
    published_groups: int
    suppressed: tuple[CellDecision, ...]


@dataclass(frozen=True)
class DisparityReport:
    """Everything publishable about one grouping.

    ``people`` is everyone in the subjects, ``analysed`` those with every attribute known,
    ``excluded_unknown`` the rest. ``counts`` are the published cells' head counts and
    ``suppression`` the decision for every cell of the head-count and selection tables (the score
    table's own decisions are in ``scores``). ``measures`` holds the table of each tested measure
    by name (empty unless ``tested_measures`` were given).
    """

    attributes: tuple[str, ...]
    name: str
    people: int
    analysed: int
    excluded_unknown: int
    min_size: int
    counts: tuple[GroupCount, ...]
    suppression: SuppressionPlan
    scores: ScoreDisparities | InsufficientDisparityData
    selections: tuple[OutcomeDisparities | InsufficientDisparityData, ...]
    measures: Mapping[str, ScoreDisparities | InsufficientDisparityData] = field(
        default_factory=dict
    )


# -- entry points ---------------------------------------------------------------------------------


def disparity_report(
    subjects: Subjects,
    attributes: str | Sequence[str],
    parameters: DisparityParameters,
    *,
    mean_rating: FloatArray | None = None,
    adjusted_mean_rating: FloatArray | None = None,
    outcomes: Sequence[str] | None = None,
    previous: Sequence[PublishedCells] = (),
) -> DisparityReport:
    """The disparity report of one attribute or intersection (see the module docstring).

    ``mean_rating`` / ``adjusted_mean_rating`` are optional per-person arrays aligned with
    ``subjects.ids`` (NaN where none). ``outcomes`` picks selection outcomes (default: all of
    ``subjects.selections``). ``previous`` holds the published cells (label -> member ids) of
    earlier reports of the same cycle and grouping, for the differencing rule.
    """
    names = _attribute_names(subjects, attributes)
    (report,) = audit_disparities(
        subjects,
        [names],
        parameters,
        mean_rating=mean_rating,
        adjusted_mean_rating=adjusted_mean_rating,
        outcomes=outcomes,
        previous={LABEL_SEPARATOR.join(names): previous} if previous else None,
    )
    return report


def audit_disparities(
    subjects: Subjects,
    groupings: Sequence[str | Sequence[str]],
    parameters: DisparityParameters,
    *,
    mean_rating: FloatArray | None = None,
    adjusted_mean_rating: FloatArray | None = None,
    outcomes: Sequence[str] | None = None,
    previous: Mapping[str, Sequence[PublishedCells]] | None = None,
    tested_measures: Mapping[str, FloatArray] | None = None,
    previous_fingerprints: Mapping[str, Sequence[Mapping[str, Fingerprint]]] | None = None,
) -> tuple[DisparityReport, ...]:
    """One report per grouping, all of them sharing one permutation draw (which makes a grouping's
    p-values independent of the other groupings asked for). ``previous`` is keyed by grouping
    name (the attributes joined with LABEL_SEPARATOR).

    ``tested_measures`` are further per-person measures (aligned with ``subjects.ids``, NaN where
    none), each tested like the score in a table of its own (``DisparityReport.measures``), from
    the same draw. ``previous_fingerprints`` is ``previous`` for earlier reports that kept each
    published cell's (head count, membership digest) instead of its ids (see
    :func:`membership_fingerprints`), keyed by grouping name the same way.
    """
    inputs = _AuditInputs.of(subjects, mean_rating, adjusted_mean_rating, outcomes, tested_measures)
    earlier = dict(previous or {})
    earlier_fingerprints = dict(previous_fingerprints or {})
    prepared = []
    for attributes in groupings:
        grouping = group_people(subjects, attributes)
        if parameters.small_groups == "exclude":
            grouping = without_small_cells(grouping, parameters.min_size(len(grouping.attributes)))
        prepared.append(
            _prepare(
                inputs,
                grouping,
                parameters,
                earlier.pop(grouping.name, ()),
                earlier_fingerprints.pop(grouping.name, ()),
            )
        )
    if earlier or earlier_fingerprints:
        names = ", ".join(sorted(set(earlier) | set(earlier_fingerprints)))
        raise InvalidInput(
            f"earlier reports given for groupings not asked for: {names}",
            field="previous_fingerprints" if earlier_fingerprints else "previous",
        )
    tasks = [p.task for p in prepared if p.task is not None]
    tasks += [m.task for p in prepared for m in p.measure_tables.values() if m.task is not None]
    _count_exceedances(inputs.draw_values, tasks, parameters.permutations, parameters.seed)
    return tuple(_report(p, inputs, parameters) for p in prepared)


def membership_fingerprints(subjects: Subjects, grouping: Grouping) -> list[Fingerprint]:
    """Each cell's (head count, membership digest) in cell order: what a report records of its
    published cells so that a later report can apply the differencing rule without keeping ids
    (:func:`domain.fairness.suppression.membership_fingerprint`)."""
    return [membership_fingerprint(members) for members in _members(subjects, grouping)]


@dataclass(frozen=True, eq=False)
class _AuditInputs:
    """The per-person columns every grouping of an audit reads, checked once."""

    subjects: Subjects
    score: FloatArray
    scored: BoolArray
    measures: Mapping[str, FloatArray | None]
    outcome_names: tuple[str, ...]
    chosen: BoolArray  # outcomes x people
    # Further measures tested like the score, by name, and the permutation draw's population:
    # everybody with a score or a value of a tested measure (``population``, a mask over people),
    # and the values it permutes (the score, then each tested measure; one row per measure when
    # there are tested measures, else the scores alone).
    tested: Mapping[str, FloatArray]
    population: BoolArray
    draw_values: FloatArray

    @classmethod
    def of(
        cls,
        subjects: Subjects,
        mean_rating: FloatArray | None,
        adjusted_mean_rating: FloatArray | None,
        outcomes: Sequence[str] | None,
        tested_measures: Mapping[str, FloatArray] | None = None,
    ) -> _AuditInputs:
        people = len(subjects.ids)
        measures = {
            "mean_rating": _measure(mean_rating, people, "mean_rating"),
            "adjusted_mean_rating": _measure(adjusted_mean_rating, people, "adjusted_mean_rating"),
        }
        names = _outcome_names(subjects, outcomes)
        chosen = np.zeros((len(names), people), dtype=np.bool_)
        for row, name in enumerate(names):
            chosen[row] = np.asarray(subjects.selections[name], dtype=np.bool_)
        score = np.asarray(subjects.score, dtype=np.float64)
        scored = np.isfinite(score)
        tested: dict[str, FloatArray] = {}
        for name, values in (tested_measures or {}).items():
            if name == SCORE:
                raise InvalidInput(
                    f"{SCORE!r} names the score table, not a tested measure",
                    field="tested_measures",
                )
            array = _measure(values, people, name)
            assert array is not None
            tested[name] = array
        population = scored.copy()
        for values in tested.values():
            population |= np.isfinite(values)
        draw_values = (
            np.stack([score[population], *(v[population] for v in tested.values())])
            if tested
            else score[scored]
        )
        return cls(
            subjects, score, scored, measures, names, chosen, tested, population, draw_values
        )


def _measure(values: FloatArray | None, people: int, name: str) -> FloatArray | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (people,):
        raise InvalidInput(f"{name} needs one value per subject ({people})", field=name)
    return array


def _outcome_names(subjects: Subjects, outcomes: Sequence[str] | None) -> tuple[str, ...]:
    if outcomes is None:
        return tuple(subjects.selections)
    names = tuple(outcomes)
    unknown = [n for n in names if n not in subjects.selections]
    if unknown:
        raise InvalidInput(f"unknown outcome(s) {', '.join(unknown)}", field="outcomes")
    return names


# -- preparing one grouping -----------------------------------------------------------------------


@dataclass(eq=False)
class _PermutationTask:
    """One grouping's permutation test: its population (a mask over everybody with a score, None
    when that is everybody), its cells laid out as consecutive blocks, the observed statistics,
    and the exceedance counters the shared draw fills in."""

    included: BoolArray | None
    size: int
    block_starts: IntArray
    tested_blocks: IntArray
    tested_sizes: FloatArray
    total: float
    observed_differences: FloatArray
    observed_between: float
    difference_slack: float
    between_slack: float
    difference_hits: IntArray
    between_hits: int = 0
    measure: int = 0  # the row of the draw's values it tests (0: the score)


@dataclass(frozen=True, eq=False)
class _Prepared:
    """One grouping with its suppression plans, per-cell figures and permutation task."""

    grouping: Grouping
    min_size: int
    plan: SuppressionPlan
    score_plan: SuppressionPlan
    selected: IntArray  # cells x outcomes
    scores: _CellScores | None
    measures: dict[str, _CellMeasure | None]
    task: _PermutationTask | None
    measure_tables: dict[str, _PreparedMeasure] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class _PreparedMeasure:
    """One tested measure's table for one grouping: its suppression plan (starting from the
    head-count plan), per-cell figures and permutation task."""

    plan: SuppressionPlan
    cells: _CellScores | None
    task: _PermutationTask | None


@dataclass(frozen=True, eq=False)
class _CellScores:
    """Score moments of every cell and of every cell's rest (arrays over cells)."""

    scored: IntArray
    mean: FloatArray
    sd: FloatArray
    rest_n: IntArray
    rest_mean: FloatArray
    rest_sd: FloatArray
    hedges_g: FloatArray  # NaN where the pooled SD is 0 (reported as None)
    population: int


@dataclass(frozen=True, eq=False)
class _CellMeasure:
    count: IntArray
    mean: FloatArray
    rest_mean: FloatArray


def _prepare(
    inputs: _AuditInputs,
    grouping: Grouping,
    parameters: DisparityParameters,
    previous: Sequence[PublishedCells],
    previous_fingerprints: Sequence[Mapping[str, Fingerprint]] = (),
) -> _Prepared:
    min_size = parameters.min_size(len(grouping.attributes))
    selected = _selection_counts(grouping, inputs.chosen)
    plan = plan_suppression(
        grouping.cells,
        grouping.sizes,
        min_size,
        selected=selected if selected.shape[1] else None,
        members=_members(inputs.subjects, grouping) if previous else None,
        previous=previous,
        fingerprints=(
            membership_fingerprints(inputs.subjects, grouping) if previous_fingerprints else None
        ),
        previous_fingerprints=previous_fingerprints,
    )
    # The score table: people with a score (and a rating, where ratings are given) per cell.
    cells = len(grouping.cells)
    scored_counts = np.bincount(grouping.cell[grouping.analysed & inputs.scored], minlength=cells)
    too_small = scored_counts < min_size
    measures: dict[str, _CellMeasure | None] = {}
    for name, values in inputs.measures.items():
        measure = None if values is None else _cell_measure(grouping, values)
        measures[name] = measure
        if measure is not None:
            too_small |= measure.count < min_size
    score_plan = plan_suppression(
        grouping.cells,
        scored_counts,
        min_size,
        least_size=0,
        too_small=too_small,
        carried=plan.reasons,
    )
    cell_scores = None
    if scored_counts.sum() >= 2:
        cell_scores = _cell_scores(grouping, inputs.score, inputs.scored)
    tested = np.flatnonzero(score_plan.published)
    task = None
    if cell_scores is not None and tested.size >= 2:
        task = _permutation_task(grouping, inputs.score, inputs.scored, tested, inputs.population)
    measure_tables = {
        name: _prepare_measure(inputs, grouping, plan, min_size, values, row)
        for row, (name, values) in enumerate(inputs.tested.items(), start=1)
    }
    return _Prepared(
        grouping,
        min_size,
        plan,
        score_plan,
        selected,
        cell_scores,
        measures,
        task,
        measure_tables,
    )


def _prepare_measure(
    inputs: _AuditInputs,
    grouping: Grouping,
    plan: SuppressionPlan,
    min_size: int,
    values: FloatArray,
    row: int,
) -> _PreparedMeasure:
    """A tested measure's table, as the score's: cells with too few people who have the measure
    are suppressed too (complementary suppression again), published cells are tested."""
    have = np.isfinite(values)
    counts = np.bincount(grouping.cell[grouping.analysed & have], minlength=len(grouping.cells))
    measure_plan = plan_suppression(
        grouping.cells, counts, min_size, least_size=0, carried=plan.reasons
    )
    cells = _cell_scores(grouping, values, have) if counts.sum() >= 2 else None
    tested = np.flatnonzero(measure_plan.published)
    task = None
    if cells is not None and tested.size >= 2:
        task = _permutation_task(grouping, values, have, tested, inputs.population, row)
    return _PreparedMeasure(measure_plan, cells, task)


def _selection_counts(grouping: Grouping, chosen: BoolArray) -> IntArray:
    """How many people of each cell were selected, per outcome (cells x outcomes)."""
    analysed = grouping.analysed
    in_cell = grouping.cell[analysed]
    selected = np.zeros((len(grouping.cells), len(chosen)), dtype=np.int64)
    for column, row in enumerate(chosen):
        selected[:, column] = np.bincount(in_cell[row[analysed]], minlength=len(grouping.cells))
    return selected


def _members(subjects: Subjects, grouping: Grouping) -> list[frozenset[str]]:
    """The ids in each cell, for comparing with earlier reports."""
    if not grouping.cells:
        return []
    ids = np.asarray(subjects.ids, dtype=object)
    order = np.argsort(grouping.cell, kind="stable")
    first = int(np.searchsorted(grouping.cell[order], 0))
    bounds = np.cumsum(grouping.sizes)[:-1]
    return [frozenset(part) for part in np.split(ids[order[first:]], bounds)]


def _cell_measure(grouping: Grouping, values: FloatArray) -> _CellMeasure:
    have = grouping.analysed & np.isfinite(values)
    cells = len(grouping.cells)
    count = np.bincount(grouping.cell[have], minlength=cells)
    sums = np.bincount(grouping.cell[have], weights=values[have], minlength=cells)
    total, everyone = float(sums.sum()), int(count.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / count
        rest_mean = (total - sums) / (everyone - count)
    return _CellMeasure(count, mean, rest_mean)


def _cell_scores(grouping: Grouping, score: FloatArray, scored: BoolArray) -> _CellScores:
    """Means, SDs and Hedges' g of every cell against its rest, from per-cell sums of squared
    deviations (the rest's sum of squares by the parallel-axis rule, not by subtracting raw
    sums of squares, which loses digits)."""
    have = grouping.analysed & scored
    cell, x = grouping.cell[have], score[have]
    cells = len(grouping.cells)
    n = np.bincount(cell, minlength=cells)
    sums = np.bincount(cell, weights=x, minlength=cells)
    population, total = int(n.sum()), float(sums.sum())
    grand = total / population
    squares_total = float(np.sum((x - grand) ** 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / n
        squares = np.bincount(cell, weights=(x - mean[cell]) ** 2, minlength=cells)
        rest_n = population - n
        rest_mean = (total - sums) / rest_n
        rest_squares = np.maximum(
            squares_total
            + population * (grand - rest_mean) ** 2
            - (squares + n * (mean - rest_mean) ** 2),
            0.0,
        )
        sd = np.sqrt(squares / (n - 1))
        rest_sd = np.sqrt(rest_squares / (rest_n - 1))
        pooled = np.sqrt((squares + rest_squares) / (population - 2))
        correction = 1.0 - 3.0 / (4.0 * population - 9.0)
        hedges_g = np.where(pooled > 0, correction * (mean - rest_mean) / pooled, np.nan)
    return _CellScores(n, mean, sd, rest_n, rest_mean, rest_sd, hedges_g, population)


def _permutation_task(
    grouping: Grouping,
    score: FloatArray,
    scored: BoolArray,
    tested: IntArray,
    population: BoolArray | None = None,
    measure: int = 0,
) -> _PermutationTask:
    """The grouping's analysed, scored people as a mask over the draw's population (default:
    everybody with a score), its cells as consecutive blocks (cells without scores have no block),
    and the observed statistics of the tested (published) cells. ``score`` may be any measure,
    ``measure`` its row in the draw's values."""
    drawn = scored if population is None else population
    included = (grouping.analysed & scored)[drawn]
    cell = grouping.cell[drawn][included]
    x = score[drawn][included]
    counts = np.bincount(cell, minlength=len(grouping.cells))
    blocks = np.flatnonzero(counts)
    starts = np.concatenate(([0], np.cumsum(counts[blocks])[:-1])).astype(np.int64)
    sizes = counts[tested].astype(np.float64)
    sums = np.bincount(cell, weights=x, minlength=len(grouping.cells)).astype(np.float64)[tested]
    total, size = float(x.sum()), int(x.size)
    spread = float(np.sum((x - total / size) ** 2))
    observed_between = float(_between_groups(sums, sizes, total, size))
    return _PermutationTask(
        included=None if included.all() else included,
        size=size,
        block_starts=starts,
        tested_blocks=np.searchsorted(blocks, tested),
        tested_sizes=sizes,
        total=total,
        observed_differences=_group_differences(sums, sizes, total, size),
        observed_between=observed_between,
        difference_slack=_TIE_TOLERANCE * max(1.0, float(np.abs(x).max())),
        between_slack=_TIE_TOLERANCE * (1.0 + spread),
        difference_hits=np.zeros(tested.size, dtype=np.int64),
        measure=measure,
    )


# -- the permutation draw --------------------------------------------------------------------------


def _group_differences(
    sums: FloatArray, sizes: FloatArray, total: float, population: int
) -> FloatArray:
    """|group mean - rest mean| from the groups' score sums (last axis = groups)."""
    differences: FloatArray = np.abs(sums / sizes - (total - sums) / (population - sizes))
    return differences


def _between_groups(
    sums: FloatArray, sizes: FloatArray, total: float, population: int
) -> FloatArray:
    """sum over groups of n_g (mean_g - grand mean)^2, from the groups' score sums."""
    between: FloatArray = np.sum((sums - sizes * (total / population)) ** 2 / sizes, axis=-1)
    return between


def _count_exceedances(
    values: FloatArray, tasks: Sequence[_PermutationTask], permutations: int, seed: int
) -> None:
    """Draw ``permutations`` random orderings of the draw's population (batch by batch), apply
    each to ``values`` (the scores, or one row per measure) and count, for every task, how often
    each tested group's |difference| and the between-group sum of squares reach the observed
    values.

    Tasks over the same population (mask) lay their cells out as blocks of the same permuted
    sequence, so one pass per measure sums the segments between all their block boundaries and
    each task adds up its blocks from those few segment sums."""
    if not tasks:
        return
    rows_of_values = np.atleast_2d(values)
    generator = np.random.Generator(np.random.PCG64(seed))
    people = rows_of_values.shape[1]
    index_bits = max(1, (people - 1).bit_length())
    index_mask = np.uint64((1 << index_bits) - 1)
    random_mask = np.uint64(((1 << 64) - 1) ^ ((1 << index_bits) - 1))
    positions = np.arange(people, dtype=np.uint64)
    measures = sorted({task.measure for task in tasks})
    buffer = np.empty((len(rows_of_values), min(_BATCH, permutations), people), dtype=np.float64)
    layouts = _layouts(tasks)
    for start in range(0, permutations, _BATCH):
        rows = min(_BATCH, permutations - start)
        keys = np.asarray(generator.bit_generator.random_raw((rows, people)), dtype=np.uint64)
        keys &= random_mask
        keys |= positions
        keys.sort(axis=1)
        keys &= index_mask
        order = keys.view(np.int64)  # the low bits: who sits at each rank of this ordering
        # Every index is a position by construction, so the gathers skip numpy's bounds check
        # (mode="clip" clips nothing here and is 2-3 times faster than the default "raise").
        for measure in measures:
            np.take(rows_of_values[measure], order, out=buffer[measure, :rows], mode="clip")
        for layout in layouts:
            selected = None if layout.mask is None else np.take(layout.mask, order, mode="clip")
            segments = {}
            for measure in layout.measures:
                drawn = buffer[measure, :rows]
                if selected is not None:
                    drawn = drawn[selected].reshape(rows, layout.size)
                segments[measure] = np.add.reduceat(drawn, layout.starts, axis=1)
            for task, firsts in layout.tasks:
                blocks = np.add.reduceat(segments[task.measure], firsts, axis=1)
                _count_hits(task, blocks[:, task.tested_blocks])


def _count_hits(task: _PermutationTask, sums: FloatArray) -> None:
    """Count the permutations (rows of ``sums``, the tested groups' sums) reaching the observed
    statistics."""
    differences = _group_differences(sums, task.tested_sizes, task.total, task.size)
    task.difference_hits += np.sum(
        differences >= task.observed_differences - task.difference_slack, axis=0
    )
    between = _between_groups(sums, task.tested_sizes, task.total, task.size)
    task.between_hits += int(np.sum(between >= task.observed_between - task.between_slack))


@dataclass(frozen=True, eq=False)
class _Layout:
    """Tasks over one population: its mask over the draw's population (None: all of it) and
    size, the union of the tasks' block starts (segment boundaries), the measures they test,
    and each task with the indexes of its blocks' first segments."""

    mask: BoolArray | None
    size: int
    starts: IntArray
    measures: tuple[int, ...]
    tasks: tuple[tuple[_PermutationTask, IntArray], ...]


def _layouts(tasks: Sequence[_PermutationTask]) -> list[_Layout]:
    """The tasks grouped by population (equal masks), in order of first appearance."""
    groups: list[list[_PermutationTask]] = []
    for task in tasks:
        for group in groups:
            first = group[0]
            same = (first.included is None and task.included is None) or (
                first.included is not None
                and task.included is not None
                and np.array_equal(first.included, task.included)
            )
            if same:
                group.append(task)
                break
        else:
            groups.append([task])
    layouts = []
    for group in groups:
        starts = np.unique(np.concatenate([task.block_starts for task in group]))
        layouts.append(
            _Layout(
                mask=group[0].included,
                size=group[0].size,
                starts=starts,
                measures=tuple(sorted({task.measure for task in group})),
                tasks=tuple((t, np.searchsorted(starts, t.block_starts)) for t in group),
            )
        )
    return layouts


def adjust_p_values(p_values: npt.ArrayLike, correction: Correction) -> FloatArray:
    """Family-wise corrected p-values: Holm's step-down, Bonferroni, or none (capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if correction == "none" or m == 0:
        return p.copy()
    if correction == "bonferroni":
        bonferroni: FloatArray = np.minimum(p * m, 1.0)
        return bonferroni
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


# -- building the results -------------------------------------------------------------------------


def _report(
    prepared: _Prepared, inputs: _AuditInputs, parameters: DisparityParameters
) -> DisparityReport:
    grouping, plan = prepared.grouping, prepared.plan
    published = np.flatnonzero(plan.published)
    counts = tuple(
        GroupCount(cell_label(grouping.cells[i]), grouping.cells[i], int(grouping.sizes[i]))
        for i in published
    )
    selections = tuple(
        _outcome(prepared, column, name, parameters)
        for column, name in enumerate(inputs.outcome_names)
    )
    return DisparityReport(
        attributes=grouping.attributes,
        name=grouping.name,
        people=len(inputs.subjects.ids),
        analysed=int(grouping.sizes.sum()),
        excluded_unknown=grouping.excluded_unknown,
        min_size=prepared.min_size,
        counts=counts,
        suppression=plan,
        scores=_score_table(prepared, parameters),
        selections=selections,
        measures={
            name: _mean_table(name, table, prepared, parameters)
            for name, table in prepared.measure_tables.items()
        },
    )


def _score_table(
    prepared: _Prepared, parameters: DisparityParameters
) -> ScoreDisparities | InsufficientDisparityData:
    table = _PreparedMeasure(prepared.score_plan, prepared.scores, prepared.task)
    return _mean_table(SCORE, table, prepared, parameters)


def _mean_table(
    subject: str, table: _PreparedMeasure, prepared: _Prepared, parameters: DisparityParameters
) -> ScoreDisparities | InsufficientDisparityData:
    """The score table (``subject`` SCORE, with the rating gaps given for it) or a tested
    measure's (``scored`` then counts the people with a value of the measure)."""
    plan, grouping = table.plan, prepared.grouping
    tested = np.flatnonzero(plan.published)
    cells, task = table.cells, table.task
    if cells is None or task is None:
        having = (
            ("a final score", "a score") if subject == SCORE else (f"a value of {subject}",) * 2
        )
        reason = (
            f"fewer than two people of this grouping have {having[0]}"
            if cells is None
            else f"fewer than two groups have at least {prepared.min_size} people with "
            f"{having[1]} once small cells are suppressed"
        )
        return InsufficientDisparityData(subject, reason, int(tested.size), plan.suppressed)
    gaps = prepared.measures if subject == SCORE else {}
    b = parameters.permutations
    p_values = (task.difference_hits + 1) / (b + 1)
    adjusted = adjust_p_values(p_values, parameters.correction)
    groups = []
    for position, i in enumerate(tested.tolist()):
        g = float(cells.hedges_g[i])
        groups.append(
            GroupScoreDisparity(
                label=cell_label(grouping.cells[i]),
                values=grouping.cells[i],
                n=int(grouping.sizes[i]),
                scored=int(cells.scored[i]),
                mean=float(cells.mean[i]),
                sd=float(cells.sd[i]),
                rest_n=int(cells.rest_n[i]),
                rest_mean=float(cells.rest_mean[i]),
                rest_sd=float(cells.rest_sd[i]),
                difference=float(cells.mean[i] - cells.rest_mean[i]),
                hedges_g=None if np.isnan(g) else g,
                p_value=float(p_values[position]),
                p_adjusted=float(adjusted[position]),
                significant=bool(adjusted[position] < parameters.alpha),
                mean_rating=_gap(gaps.get("mean_rating"), i),
                adjusted_mean_rating=_gap(gaps.get("adjusted_mean_rating"), i),
            )
        )
    omnibus = OmnibusTest(
        statistic=task.observed_between,
        p_value=(task.between_hits + 1) / (b + 1),
        groups=int(tested.size),
    )
    return ScoreDisparities(
        cells.population, b, parameters.correction, tuple(groups), omnibus, plan.suppressed
    )


def _gap(measure: _CellMeasure | None, cell: int) -> MeasureGap | None:
    if measure is None or not np.isfinite(measure.rest_mean[cell]):
        return None
    mean, rest = float(measure.mean[cell]), float(measure.rest_mean[cell])
    return MeasureGap(int(measure.count[cell]), mean, rest, mean - rest)


def _outcome(
    prepared: _Prepared, column: int, outcome: str, parameters: DisparityParameters
) -> OutcomeDisparities | InsufficientDisparityData:
    grouping, plan = prepared.grouping, prepared.plan
    shown = np.flatnonzero(plan.published)
    if shown.size < 2:
        reason = (
            f"fewer than two groups have at least {prepared.min_size} people "
            "once small cells are suppressed"
        )
        return InsufficientDisparityData(outcome, reason, int(shown.size), plan.suppressed)
    n = grouping.sizes[shown]
    chosen = prepared.selected[shown, column]
    rates = chosen / n
    # The most-selected published group; ties go to the larger group, then the earlier one.
    best = int(np.lexsort((np.arange(shown.size), -n, -rates))[0])
    if rates[best] == 0:
        reason = "nobody in a published group was selected, so there is no rate to compare with"
        return InsufficientDisparityData(outcome, reason, int(shown.size), plan.suppressed)
    others = np.delete(np.arange(shown.size), best)
    odds, p_values = np.full(shown.size, np.nan), np.full(shown.size, np.nan)
    for k in others.tolist():
        table = [[chosen[k], n[k] - chosen[k]], [chosen[best], n[best] - chosen[best]]]
        result = stats.fisher_exact(table, alternative="two-sided")
        odds[k], p_values[k] = float(result.statistic), float(result.pvalue)
    adjusted = np.full(shown.size, np.nan)
    adjusted[others] = adjust_p_values(p_values[others], parameters.correction)
    groups = []
    for k, i in enumerate(shown.tolist()):
        ratio = float(rates[k] / rates[best])
        below = ratio < parameters.four_fifths
        significant = bool(k != best and adjusted[k] < parameters.alpha)
        groups.append(
            GroupSelection(
                label=cell_label(grouping.cells[i]),
                values=grouping.cells[i],
                n=int(n[k]),
                selected=int(chosen[k]),
                rate=float(rates[k]),
                impact_ratio=ratio,
                below_four_fifths=below,
                reference=k == best,
                odds_ratio=float(odds[k]) if np.isfinite(odds[k]) else None,
                p_value=None if k == best else float(p_values[k]),
                p_adjusted=None if k == best else float(adjusted[k]),
                significant=significant,
                flagged=below and significant,
            )
        )
    return OutcomeDisparities(
        outcome,
        cell_label(grouping.cells[shown[best]]),
        float(rates[best]),
        parameters.correction,
        tuple(groups),
        plan.suppressed,
    )
