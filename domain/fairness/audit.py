"""The fairness audit of one review cycle: every statistic of the package, run over the cycle's
ratings as submitted and as calibrated, and over its people's final scores and selections.

:func:`run_audit` is a pure function of :class:`AuditInputs` and :class:`AuditParameters`; the
same inputs and parameters give the same :class:`~domain.fairness.report.FairnessReport` bit for
bit (the one random draw, the disparity permutations, is seeded by ``parameters.seed``). What it
computes, for the submitted ratings (``pre``) and the calibrated ones (``post``) side by side:

* rater effects per source: leniency/severity, central tendency, halo
  (:mod:`domain.fairness.rater_effects`);
* inter-rater reliability per source and pooled: ICC(1), Krippendorff's alpha (interval), rwg(J)
  (:mod:`domain.fairness.reliability`);
* self-other gaps, summarised and broken down per ``group_by`` attribute (small groups
  suppressed like every other table);

and, per ``group_by`` attribute and intersection (:mod:`domain.fairness.disparities`), group
disparities in the final score, in each person's mean rating and severity-adjusted mean rating
(before and after calibration), and in the selection rate of every outcome. All score and rating
tables share one permutation draw.

Rating measures. A person's *mean rating* is the mean of the ratings other people gave them (self
ratings excluded; every rating counts once). The *severity-adjusted mean rating* is the mean of
(rating - the rater's shrunken leniency estimate as a rater of that source), the empirical-Bayes
estimate of :func:`~domain.fairness.rater_effects.leniency_severity` computed from the same
version of the ratings: a person rated by severe raters is not held to their severity. A rater
without an estimate (their source has too little data, or none of their ratings was shared with
another rater) is adjusted by 0, the shrinkage prior's mean.

Reuse. Calibration usually touches a few ratings of one source. A post-calibration statistic whose
inputs calibration did not change is the pre-calibration result itself (the functions are pure):
reliability, central tendency and halo are per source, so only changed sources (and the pooled
reliability) are recomputed; leniency and the self-other gaps compare sources with each other and
are recomputed whenever a rating they read changed.

Method version. :data:`METHOD_VERSION` names the method every number of a report was computed
with. Bump it with any change that can change a number of a report for the same inputs and
parameters (a formula, a default, a rounding, the random draw, what is suppressed or flagged),
so that a recorded report is only ever compared with a re-run of the same method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal, TypeVar

import numpy as np

from domain.errors import InsufficientData, InvalidInput
from domain.fairness.data import SOURCES, BoolArray, FloatArray, IntArray, Ratings, Subjects
from domain.fairness.disparities import (
    DisparityParameters,
    DisparityReport,
    SmallGroups,
    audit_disparities,
    group_people,
    membership_fingerprints,
    without_small_cells,
)
from domain.fairness.rater_effects import (
    RATER_SOURCES,
    LeniencyReport,
    LeniencySource,
    RaterEffectParameters,
    SelfOtherReport,
    SpreadReport,
    central_tendency,
    halo,
    leniency_severity,
    self_other_gaps,
)
from domain.fairness.reliability import (
    ALL_OTHERS,
    Insufficient,
    SourceReliability,
    icc_one_way,
    krippendorff_alpha,
    within_group_agreement,
)
from domain.fairness.report import (
    ADJUSTED_MEAN_RATING,
    KPI_ADJUSTED_RATING,
    MEAN_RATING,
    CalibrationSummary,
    FairnessReport,
    Flag,
    FlagEvidence,
    GapBreakdown,
    Json,
    Population,
    RatingAnalysis,
    SelfOtherGroupView,
    SelfOtherSummary,
    SourceCalibration,
    Version,
    cell_fingerprints,
    flags,
    measure_key,
    report_digest,
    report_json,
)
from domain.fairness.suppression import LABEL_SEPARATOR, Fingerprint, plan_suppression

__all__ = [
    "METHOD_VERSION",
    "AuditInputs",
    "AuditParameters",
    "DisparitySettings",
    "FairnessReport",
    "Flag",
    "FlagEvidence",
    "cell_fingerprints",
    "flags",
    "report_digest",
    "report_json",
    "run_audit",
]

METHOD_VERSION = "perfledger-fairness/1"

SELF = SOURCES.index("self")
_T = TypeVar("_T")
Correction = Literal["holm", "bonferroni", "none"]
_SpreadFunction = Callable[[Ratings, RaterEffectParameters], SpreadReport]
# Earlier reports' published cells: grouping -> label -> (head count, membership digest).
PreviousFingerprints = Mapping[str, Mapping[str, Fingerprint]]


# -- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DisparitySettings:
    """The disparity audit's settings: :class:`DisparityParameters` without its seed (the
    audit's one seed drives its one random draw), and the practical size a score or rating
    difference needs to be flagged (|Hedges' g|)."""

    min_group_size: int = 5
    min_intersection_size: int = 10
    permutations: int = 2000
    alpha: float = 0.05
    four_fifths: float = 0.8
    correction: Correction = "holm"
    min_effect_size: float = 0.2
    # The audit leaves people of too-small groups out of each grouping's comparison (see
    # DisparityParameters.small_groups): one tiny category would otherwise force complementary
    # suppression onto a large group and take the attribute's whole comparison down with it.
    small_groups: SmallGroups = "exclude"

    def __post_init__(self) -> None:
        try:
            self.with_seed(0)
        except InvalidInput as error:
            raise InvalidInput(error.message, field=f"disparities.{error.field}") from None
        value = self.min_effect_size
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise InvalidInput(
                f"min_effect_size must be a number of at least 0, not {value!r}",
                field="disparities.min_effect_size",
            )
        if not math.isfinite(value):
            raise InvalidInput(
                "min_effect_size must be finite", field="disparities.min_effect_size"
            )

    def with_seed(self, seed: int) -> DisparityParameters:
        return DisparityParameters(
            seed=seed,
            min_group_size=self.min_group_size,
            min_intersection_size=self.min_intersection_size,
            permutations=self.permutations,
            alpha=self.alpha,
            four_fifths=self.four_fifths,
            correction=self.correction,
            small_groups=self.small_groups,
        )


@dataclass(frozen=True, kw_only=True)
class AuditParameters:
    """How an audit is run; invalid values raise InvalidInput naming the field (nested fields
    as ``rater_effects.alpha``, ``disparities.permutations``).

    ``group_by`` names the attributes to compare groups by (at least one), ``intersections``
    the combinations of attributes to compare as well (each of at least two). ``outcomes`` picks
    the selections to test (None: every outcome of the subjects). ``adjust_for_severity`` adds
    the severity-adjusted mean rating. ``seed`` seeds the permutation draw. ``min_raters`` is the
    least number of raters a reviewee needs for the reliability statistics. ``flag_alpha`` is the
    audit-wide false-flag rate of group findings: a group is flagged only when its gate p-value
    is below ``flag_alpha`` divided by the number of score, rating and selection tables the audit
    tested (:mod:`domain.fairness.report`).
    """

    group_by: tuple[str, ...]
    seed: int
    intersections: tuple[tuple[str, ...], ...] = ()
    outcomes: tuple[str, ...] | None = None
    adjust_for_severity: bool = True
    min_raters: int = 2
    flag_alpha: float = 0.05
    rater_effects: RaterEffectParameters = field(default_factory=RaterEffectParameters)
    disparities: DisparitySettings = field(default_factory=DisparitySettings)

    def __post_init__(self) -> None:
        group_by = _names(self.group_by, "group_by")
        if not group_by:
            raise InvalidInput("group_by needs at least one attribute", field="group_by")
        object.__setattr__(self, "group_by", group_by)
        if not isinstance(self.intersections, tuple | list):
            raise InvalidInput("intersections must be a list of lists", field="intersections")
        intersections = tuple(_names(i, "intersections") for i in self.intersections)
        for combination in intersections:
            if len(combination) < 2:
                raise InvalidInput(
                    f"an intersection needs at least two attributes, not {list(combination)}",
                    field="intersections",
                )
        if len({frozenset(i) for i in intersections}) != len(intersections):
            raise InvalidInput("an intersection is listed twice", field="intersections")
        object.__setattr__(self, "intersections", intersections)
        if self.outcomes is not None:
            object.__setattr__(self, "outcomes", _names(self.outcomes, "outcomes"))
        if not isinstance(self.adjust_for_severity, bool):
            raise InvalidInput(
                "adjust_for_severity must be true or false", field="adjust_for_severity"
            )
        _require_whole(self.seed, "seed", low=0)
        _require_whole(self.min_raters, "min_raters", low=2)
        alpha = self.flag_alpha
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
            raise InvalidInput(f"flag_alpha must lie in (0, 1), not {alpha!r}", field="flag_alpha")
        if not isinstance(self.rater_effects, RaterEffectParameters):
            raise InvalidInput("rater_effects must be RaterEffectParameters", field="rater_effects")
        if not isinstance(self.disparities, DisparitySettings):
            raise InvalidInput("disparities must be DisparitySettings", field="disparities")

    @property
    def groupings(self) -> tuple[tuple[str, ...], ...]:
        """Every grouping the audit compares: each attribute alone, then each intersection."""
        return tuple((name,) for name in self.group_by) + self.intersections

    def to_json(self) -> dict[str, Json]:
        """The parameters as plain JSON values in a fixed key order, for the audit event."""
        return {
            "group_by": list(self.group_by),
            "intersections": [list(i) for i in self.intersections],
            "outcomes": None if self.outcomes is None else list(self.outcomes),
            "adjust_for_severity": self.adjust_for_severity,
            "seed": self.seed,
            "min_raters": self.min_raters,
            "flag_alpha": self.flag_alpha,
            "rater_effects": _fields_json(self.rater_effects),
            "disparities": _fields_json(self.disparities),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> AuditParameters:
        """The inverse of :meth:`to_json`; unknown keys and wrong types raise InvalidInput naming
        the field, absent optional keys take their defaults."""
        if not isinstance(data, Mapping):
            raise InvalidInput("audit parameters must be an object", field="parameters")
        _known_keys(data, [f.name for f in fields(cls)], "")
        for required in ("group_by", "seed"):
            if required not in data:
                raise InvalidInput(f"{required} is required", field=required)
        given: dict[str, object] = dict(data)
        given["group_by"] = _json_list(data["group_by"], "group_by")
        if "intersections" in data:
            combinations = _json_list(data["intersections"], "intersections")
            given["intersections"] = tuple(_json_list(i, "intersections") for i in combinations)
        if data.get("outcomes") is not None:
            given["outcomes"] = _json_list(data["outcomes"], "outcomes")
        given["rater_effects"] = _nested(
            RaterEffectParameters, data.get("rater_effects", {}), "rater_effects"
        )
        given["disparities"] = _nested(
            DisparitySettings, data.get("disparities", {}), "disparities"
        )
        return cls(**given)  # type: ignore[arg-type]


def _fields_json(settings: RaterEffectParameters | DisparitySettings) -> dict[str, Json]:
    """A settings object's fields in declaration order, numpy scalars as plain numbers."""
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in values.items()}


def _names(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise InvalidInput(f"{name} must be a list of names, not {value!r}", field=name)
    names = tuple(value)
    for item in names:
        if not isinstance(item, str) or not item:
            raise InvalidInput(f"{name} must hold non-empty names, not {item!r}", field=name)
    if len(set(names)) != len(names):
        raise InvalidInput(f"{name} names an entry twice: {list(names)}", field=name)
    return names


def _require_whole(value: object, name: str, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInput(
            f"{name} must be a whole number of at least {low}, not {value!r}", field=name
        )


def _known_keys(data: Mapping[str, object], known: Sequence[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            raise InvalidInput(f"unknown parameter {prefix}{key!r}", field=f"{prefix}{key}")


def _json_list(value: object, name: str) -> tuple[object, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput(f"{name} must be a list, not {value!r}", field=name)
    return tuple(value)


def _nested(kind: type[_T], value: object, name: str) -> _T:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{name} must be an object", field=name)
    _known_keys(value, [f.name for f in fields(kind)], f"{name}.")  # type: ignore[arg-type]
    try:
        return kind(**value)
    except InvalidInput as error:
        nested = error.field or ""
        prefixed = nested if nested.startswith(f"{name}.") else f"{name}.{nested}"
        raise InvalidInput(error.message, field=prefixed) from None
    except TypeError as error:
        raise InvalidInput(f"{name}: {error}", field=name) from None


# -- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AuditInputs:
    """What one audit reads. ``submitted`` are the ratings as the raters submitted them,
    ``calibrated`` the same rows after HR calibration (equal to ``submitted`` where nothing was
    calibrated); ``subjects`` the cycle's people with their final scores, group attributes and
    selections; ``cycle`` the cycle's label. ``previous`` holds the fingerprints of the reports
    published earlier for the same cycle (:func:`cell_fingerprints` of each), for the
    differencing rule; groupings this audit does not compare are ignored."""

    submitted: Ratings
    calibrated: Ratings
    subjects: Subjects
    cycle: str
    previous: Sequence[PreviousFingerprints] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.cycle, str) or not self.cycle.strip():
            raise InvalidInput("the cycle needs a label", field="cycle")
        _check_same_rows(self.submitted, self.calibrated)
        for name, ratings in (("submitted", self.submitted), ("calibrated", self.calibrated)):
            if not np.all(np.isfinite(ratings.value)):
                raise InvalidInput(
                    f"{name} ratings hold a value that is not a finite number", field=name
                )
        if len(set(self.subjects.ids)) != len(self.subjects.ids):
            raise InvalidInput("subjects list somebody twice", field="subjects")
        object.__setattr__(self, "previous", _previous_fingerprints(self.previous))


def _check_same_rows(submitted: Ratings, calibrated: Ratings) -> None:
    columns = ("reviewee", "rater", "source", "competency")
    same = len(submitted) == len(calibrated) and all(
        np.array_equal(getattr(submitted, c), getattr(calibrated, c)) for c in columns
    )
    labels = ("reviewee_ids", "rater_ids", "competencies")
    same = same and all(
        getattr(submitted, c) is getattr(calibrated, c)
        or list(getattr(submitted, c)) == list(getattr(calibrated, c))
        for c in labels
    )
    if not same or submitted.scale != calibrated.scale:
        raise InvalidInput(
            "calibrated ratings must have the submitted ratings' rows (reviewee, rater, source, "
            "competency, labels and scale); only values may differ",
            field="calibrated",
        )


def _previous_fingerprints(previous: object) -> tuple[dict[str, dict[str, Fingerprint]], ...]:
    """The earlier reports' fingerprints, checked and as tuples (a record read back from JSON
    holds lists)."""
    problem = "previous must list reports mapping grouping -> label -> (count, sha256 hex)"
    if isinstance(previous, str | Mapping) or not isinstance(previous, Sequence):
        raise InvalidInput(problem, field="previous")
    reports = []
    for report in previous:
        if not isinstance(report, Mapping):
            raise InvalidInput(problem, field="previous")
        checked: dict[str, dict[str, Fingerprint]] = {}
        for grouping, cells in report.items():
            if not isinstance(grouping, str) or not isinstance(cells, Mapping):
                raise InvalidInput(problem, field="previous")
            checked[grouping] = {}
            for label, fingerprint in cells.items():
                valid = (
                    isinstance(label, str)
                    and isinstance(fingerprint, tuple | list)
                    and len(fingerprint) == 2
                    and isinstance(fingerprint[0], int)
                    and not isinstance(fingerprint[0], bool)
                    and fingerprint[0] >= 0
                    and isinstance(fingerprint[1], str)
                    and len(fingerprint[1]) == 64
                )
                if not valid:
                    raise InvalidInput(problem, field="previous")
                checked[grouping][label] = (fingerprint[0], fingerprint[1])
        reports.append(checked)
    return tuple(reports)


# -- the audit ----------------------------------------------------------------------------------


def run_audit(inputs: AuditInputs, parameters: AuditParameters) -> FairnessReport:
    """Audit one cycle (see the module docstring). Raises InvalidInput when the parameters name
    an attribute or outcome the subjects do not have, InsufficientData when the cycle has no
    rating from anyone but the reviewees themselves; any narrower shortage is an explicit
    insufficient result inside the report."""
    subjects = inputs.subjects
    _check_against_subjects(subjects, parameters)
    _check_permutations_suffice(subjects, parameters)
    submitted, calibrated = inputs.submitted, inputs.calibrated
    if not np.any(submitted.source != SELF):
        raise InsufficientData(
            "the cycle has no ratings other than self ratings, so there is nothing to audit"
        )
    subject_of = _subject_index(submitted.reviewee_ids, subjects.ids)
    changed = submitted.value != calibrated.value
    pre = _analyse(submitted, subjects, subject_of, parameters)
    post = pre
    if changed.any():
        post = _analyse(calibrated, subjects, subject_of, parameters, earlier=pre, changed=changed)
    # Unchanged ratings are tested once: the report reads the pre tables for post then.
    versions: list[tuple[Version, _Analysed]] = [("pre", pre)]
    if post is not pre:
        versions.append(("post", post))
    measures = {
        measure_key(name, version): values
        for version, analysis in versions
        for name, values in analysis.measures.items()
    }
    groupings = parameters.groupings
    names = [LABEL_SEPARATOR.join(g) for g in groupings]
    previous = {
        name: [report[name] for report in inputs.previous if name in report] for name in names
    }
    reports = audit_disparities(
        subjects,
        groupings,
        parameters.disparities.with_seed(parameters.seed),
        outcomes=parameters.outcomes,
        tested_measures=measures,
        previous_fingerprints={name: cells for name, cells in previous.items() if cells},
    )
    return FairnessReport(
        method_version=METHOD_VERSION,
        cycle=inputs.cycle,
        parameters=parameters,
        population=_population(submitted, subjects, subject_of),
        calibration=_calibration(submitted, calibrated, changed),
        pre=pre.analysis,
        post=post.analysis,
        disparities=reports,
        fingerprints={
            r.name: _published_fingerprints(subjects, r, parameters.disparities.small_groups)
            for r in reports
        },
    )


def _check_against_subjects(subjects: Subjects, parameters: AuditParameters) -> None:
    known = ", ".join(sorted(subjects.groups)) or "none"
    for name in parameters.group_by:
        if name not in subjects.groups:
            raise InvalidInput(
                f"unknown group_by attribute {name!r}; known: {known}", field="group_by"
            )
    for combination in parameters.intersections:
        for name in combination:
            if name not in subjects.groups:
                raise InvalidInput(
                    f"unknown attribute {name!r} in intersection {list(combination)}; "
                    f"known: {known}",
                    field="intersections",
                )
    for outcome in parameters.outcomes or ():
        if outcome not in subjects.selections:
            outcomes = ", ".join(sorted(subjects.selections)) or "none"
            raise InvalidInput(f"unknown outcome {outcome!r}; known: {outcomes}", field="outcomes")


def _check_permutations_suffice(subjects: Subjects, parameters: AuditParameters) -> None:
    """Score and rating disparities are flagged through their table's omnibus permutation p,
    which is never below 1 / (permutations + 1): with too few permutations for the audit-wide
    level of the most families the audit can test, no such disparity could ever be flagged."""
    groupings = len(parameters.groupings)
    outcomes = len(subjects.selections if parameters.outcomes is None else parameters.outcomes)
    rating_tables = 2 * (2 if parameters.adjust_for_severity else 1)
    families = groupings * (1 + rating_tables + outcomes)
    needed = math.floor(families / parameters.flag_alpha)
    if parameters.disparities.permutations < needed:
        raise InvalidInput(
            f"{parameters.disparities.permutations} permutations cannot reach the audit-wide "
            f"flagging level flag_alpha / {families} families; use at least {needed}",
            field="disparities.permutations",
        )


def _subject_index(reviewee_ids: Sequence[str], subject_ids: Sequence[str]) -> IntArray:
    """Each reviewee's index among the subjects (-1 where not a subject)."""
    position = {subject: index for index, subject in enumerate(subject_ids)}
    return np.fromiter(
        (position.get(r, -1) for r in reviewee_ids), dtype=np.int64, count=len(reviewee_ids)
    )


# -- one version of the ratings -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Analysed:
    """A version's analysis and its per-subject rating measures (NaN where none)."""

    analysis: RatingAnalysis
    measures: Mapping[str, FloatArray]
    self_other: SelfOtherReport


def _analyse(
    ratings: Ratings,
    subjects: Subjects,
    subject_of: IntArray,
    parameters: AuditParameters,
    *,
    earlier: _Analysed | None = None,
    changed: BoolArray | None = None,
) -> _Analysed:
    """Every rating statistic of one version; with ``earlier`` (the other version's results) and
    ``changed`` (the rows whose value differs), results whose inputs did not change are reused."""
    effects = parameters.rater_effects
    moved: frozenset[str] = frozenset(SOURCES)
    if earlier is not None and changed is not None:
        moved = frozenset(SOURCES[c] for c in np.unique(ratings.source[changed]).tolist())
    raters_moved = moved - {"self"}
    # Leniency compares each rater with the other sources' raters, the gaps self with others.
    leniency = (
        leniency_severity(ratings, effects)
        if earlier is None or raters_moved
        else earlier.analysis.leniency
    )
    gaps = self_other_gaps(ratings, effects) if earlier is None or moved else earlier.self_other
    previous = None if earlier is None else earlier.analysis
    analysis = RatingAnalysis(
        leniency=leniency,
        central_tendency=_spread(
            central_tendency,
            ratings,
            effects,
            None if previous is None else previous.central_tendency,
            raters_moved,
        ),
        halo=_spread(
            halo, ratings, effects, None if previous is None else previous.halo, raters_moved
        ),
        reliability=_reliability(ratings, parameters.min_raters, previous, raters_moved),
        self_other=_self_other_summary(gaps, subjects, parameters),
    )
    measures = _rating_measures(
        ratings, leniency, subject_of, len(subjects.ids), parameters.adjust_for_severity
    )
    if subjects.kpi is not None:
        adjusted = kpi_adjusted(measures[MEAN_RATING], np.asarray(subjects.kpi, dtype=np.float64))
        if adjusted is not None:
            measures[KPI_ADJUSTED_RATING] = adjusted
    return _Analysed(analysis, measures, gaps)


def _spread(
    compute: _SpreadFunction,
    ratings: Ratings,
    parameters: RaterEffectParameters,
    before: SpreadReport | None,
    moved: frozenset[str],
) -> SpreadReport:
    """Central tendency or halo (``compute``); per source, so with the other version's result
    (``before``) an unchanged source keeps it and only the changed sources are analysed again."""
    if before is None or moved >= set(RATER_SOURCES):
        return compute(ratings, parameters)
    if not moved:
        return before
    codes = [SOURCES.index(name) for name in moved]
    again = compute(ratings.where(np.isin(ratings.source, codes)), parameters)
    sources = tuple(again.source(s.source) if s.source in moved else s for s in before.sources)
    return SpreadReport(before.kind, sources, parameters)


def _reliability(
    ratings: Ratings,
    min_raters: int,
    earlier: RatingAnalysis | None,
    moved: frozenset[str],
) -> dict[str, SourceReliability | Insufficient]:
    """ICC(1), alpha and rwg(J) per rater source and pooled (``all_others``), as
    :func:`~domain.fairness.reliability.reliability_by_source` computes them, with every rater
    source listed (an :class:`Insufficient` where it has no ratings) and unchanged sources
    reused."""
    result: dict[str, SourceReliability | Insufficient] = {}
    for name in (*RATER_SOURCES, ALL_OTHERS):
        unchanged = not moved if name == ALL_OTHERS else name not in moved
        if earlier is not None and unchanged:
            result[name] = earlier.reliability[name]
            continue
        rows = (
            ratings.source != SELF if name == ALL_OTHERS else ratings.source == SOURCES.index(name)
        )
        if not rows.any():
            result[name] = Insufficient(f"no {name} ratings")
        else:
            result[name] = _source_reliability(name, ratings.where(rows), min_raters)
    return result


def _source_reliability(name: str, subset: Ratings, min_raters: int) -> SourceReliability:
    def attempt(compute: Callable[[], _T]) -> _T | Insufficient:
        try:
            return compute()
        except InsufficientData as error:
            return Insufficient(error.message)

    return SourceReliability(
        source=name,
        n_ratings=len(subset),
        n_reviewees=int(np.count_nonzero(np.bincount(subset.reviewee))),
        n_raters=int(np.count_nonzero(np.bincount(subset.rater))),
        icc=attempt(lambda: icc_one_way(subset, "reviewee", min_raters=min_raters)),
        alpha=attempt(lambda: krippendorff_alpha(subset, "interval")),
        rwg=attempt(lambda: within_group_agreement(subset, min_raters=min_raters)),
    )


def _rating_measures(
    ratings: Ratings, leniency: LeniencyReport, subject_of: IntArray, people: int, adjust: bool
) -> dict[str, FloatArray]:
    """Each subject's mean rating from other people and, with ``adjust``, the mean of the
    ratings less each rater's shrunken leniency in the source they rated as."""
    rated = ratings.source != SELF
    reviewee, value = ratings.reviewee[rated], ratings.value[rated]
    measures = {MEAN_RATING: _per_subject(reviewee, value, subject_of, people)}
    if adjust:
        n_raters = len(ratings.rater_ids)
        shrunk = np.zeros(len(SOURCES) * n_raters)
        for source in leniency.sources:
            if isinstance(source, LeniencySource):
                shrunk[SOURCES.index(source.source) * n_raters + source.rater_index] = source.shrunk
        offset = shrunk[ratings.source[rated] * n_raters + ratings.rater[rated]]
        measures[ADJUSTED_MEAN_RATING] = _per_subject(reviewee, value - offset, subject_of, people)
    return measures


def kpi_adjusted(rating: FloatArray, kpi: FloatArray) -> FloatArray | None:
    """Each person's mean rating less the rating their KPI result predicts, plus the overall
    mean rating (so the scale stays the rating scale): the residual of a least-squares line of
    mean rating on KPI over everyone with both. None with fewer than three such people or KPI
    results that do not vary (no line to draw)."""
    both = np.isfinite(rating) & np.isfinite(kpi)
    if int(both.sum()) < 3:
        return None
    x, y = kpi[both], rating[both]
    spread = float(np.var(x))
    if spread <= 0.0:
        return None
    slope = float(np.mean((x - x.mean()) * (y - y.mean()))) / spread
    adjusted = np.full(rating.shape, np.nan)
    adjusted[both] = y - slope * (x - x.mean())
    return adjusted


def _per_subject(
    reviewee: IntArray, value: FloatArray, subject_of: IntArray, people: int
) -> FloatArray:
    """The mean of ``value`` per reviewee, placed at each reviewee's subject index."""
    count = np.bincount(reviewee, minlength=len(subject_of))
    total = np.bincount(reviewee, weights=value, minlength=len(subject_of))
    usable = (count > 0) & (subject_of >= 0)
    mean = np.full(people, np.nan)
    mean[subject_of[usable]] = total[usable] / count[usable]
    return mean


# -- self-other gaps ----------------------------------------------------------------------------


def _self_other_summary(
    gaps: SelfOtherReport, subjects: Subjects, parameters: AuditParameters
) -> SelfOtherSummary:
    """The gaps' summary and their breakdown per ``group_by`` attribute; with fewer people than
    the smallest publishable group, no summary at all."""
    min_size = parameters.disparities.min_group_size
    people = len(gaps.gaps)
    if people < min_size:
        reason = f"{people} people have a self-other gap; a summary needs at least {min_size}"
        return SelfOtherSummary(
            gaps.threshold, people, None, None, None, None, gaps.n_without_self_rating,
            gaps.n_without_overlap, (), reason,
        )  # fmt: skip
    position = {subject: index for index, subject in enumerate(subjects.ids)}
    subject = np.fromiter((position.get(g.reviewee, -1) for g in gaps.gaps), np.int64, people)
    gap = np.fromiter((g.gap for g in gaps.gaps), np.float64, people)
    names = ("over-estimator", "under-estimator", "in line")
    category = np.fromiter((names.index(g.category) for g in gaps.gaps), np.int64, people)
    breakdowns = tuple(
        _gap_breakdown(attribute, subjects, subject, gap, category, min_size)
        for attribute in parameters.group_by
    )
    return SelfOtherSummary(
        threshold=gaps.threshold,
        people=people,
        mean_gap=gaps.mean_gap,
        over_estimators=gaps.n_over,
        under_estimators=gaps.n_under,
        in_line=gaps.n_in_line,
        without_self_rating=gaps.n_without_self_rating,
        without_overlap=gaps.n_without_overlap,
        breakdowns=breakdowns,
        insufficient=None,
    )


def _gap_breakdown(
    attribute: str,
    subjects: Subjects,
    subject: IntArray,
    gap: FloatArray,
    category: IntArray,
    min_size: int,
) -> GapBreakdown:
    """As :func:`~domain.fairness.rater_effects.self_other_breakdown` (per value in sorted order:
    n, mean gap, shares of over-, under-estimators and people in line), with the groups under
    ``min_size`` suppressed, complementary cells too (the categories are checked like selections,
    so that no suppressed group is shown to be all in line)."""
    values = subjects.groups[attribute]
    labels = sorted({v for v in values if v is not None})
    code_of = {label: code for code, label in enumerate(labels)}
    value_code = np.fromiter(
        (-1 if v is None else code_of[v] for v in values), np.int64, len(values)
    )
    in_subjects = subject >= 0
    code = np.where(in_subjects, value_code[np.where(in_subjects, subject, 0)], -1)
    known = code >= 0
    size = len(labels)
    n = np.bincount(code[known], minlength=size)
    gap_sum = np.bincount(code[known], weights=gap[known], minlength=size)
    per_category = np.stack(
        [np.bincount(code[known & (category == c)], minlength=size) for c in range(3)], axis=1
    )
    present = np.flatnonzero(n > 0)
    plan = plan_suppression(
        [(labels[i],) for i in present], n[present], min_size, selected=per_category[present]
    )
    groups = tuple(
        SelfOtherGroupView(
            labels[i],
            int(n[i]),
            float(gap_sum[i] / n[i]),
            *(float(per_category[i, c] / n[i]) for c in range(3)),
        )
        for i, decision in zip(present.tolist(), plan.cells, strict=True)
        if decision.published
    )
    return GapBreakdown(
        attribute,
        groups,
        plan.suppressed,
        n_unknown=int((in_subjects & ~known).sum()),
        n_not_in_subjects=int((~in_subjects).sum()),
    )


# -- counts, calibration, fingerprints ----------------------------------------------------------


def _population(ratings: Ratings, subjects: Subjects, subject_of: IntArray) -> Population:
    rated = ratings.source != SELF
    reviewees = np.unique(ratings.reviewee)
    subject_rated = subject_of[np.unique(ratings.reviewee[rated])]
    return Population(
        subjects=len(subjects.ids),
        subjects_with_score=int(np.isfinite(subjects.score).sum()),
        subjects_rated=int((subject_rated >= 0).sum()),
        ratings=len(ratings),
        self_ratings=int((~rated).sum()),
        reviewees=int(reviewees.size),
        reviewees_not_in_subjects=int((subject_of[reviewees] < 0).sum()),
        raters=int(np.unique(ratings.rater[rated]).size),
    )


def _calibration(submitted: Ratings, calibrated: Ratings, changed: BoolArray) -> CalibrationSummary:
    change = calibrated.value - submitted.value
    sources = []
    for code, name in enumerate(SOURCES):
        rows = submitted.source == code
        moved = rows & changed
        count = int(moved.sum())
        sources.append(
            SourceCalibration(
                name, int(rows.sum()), count, float(change[moved].mean()) if count else None
            )
        )
    return CalibrationSummary(
        ratings_changed=int(changed.sum()),
        reviewees_changed=int(np.unique(submitted.reviewee[changed]).size),
        sources=tuple(sources),
    )


def _published_fingerprints(
    subjects: Subjects, report: DisparityReport, small_groups: SmallGroups
) -> dict[str, Fingerprint]:
    """label -> (head count, membership digest) of the cells the report publishes."""
    grouping = group_people(subjects, report.attributes)
    if small_groups == "exclude":
        grouping = without_small_cells(grouping, report.min_size)
    prints = membership_fingerprints(subjects, grouping)
    return {
        decision.label: fingerprint
        for decision, fingerprint in zip(report.suppression.cells, prints, strict=True)
        if decision.published
    }
