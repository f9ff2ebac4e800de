"""The fairness report of one review cycle: its typed form, its canonical JSON form and digest,
its flagged findings and the membership fingerprints a later report needs.

:func:`domain.fairness.audit.run_audit` builds a :class:`FairnessReport`; everything here reads
one. The report keeps the package's own result types (leniency, spread, reliability and disparity
results), once for the ratings as submitted (``pre``) and once as calibrated (``post``), so that
the calibration effect can be read side by side.

Canonical JSON (:func:`report_json`). A plain ``dict`` of JSON values with a fixed key order:
floats are rounded to 9 decimal places (so that re-runs, and runs on machines whose last bits
differ, compare exactly), a number that does not exist (NaN, infinity) is ``None``, and every
insufficient result is an object with an ``insufficient`` key holding the reason. Per-rater and
per-person columns are summarised, not listed: a rater source publishes its summary and its
flagged raters (every rater of a 10,000-person organisation would be millions of numbers, and a
rater who is not flagged has nothing to answer for); a self-other breakdown publishes groups,
never people. The cells' membership fingerprints are *not* part of it (see
:func:`cell_fingerprints`).
:func:`report_digest` is the sha256 of that JSON with sorted keys and compact separators.

Flags (:func:`flags`).

* A lenient, severe, central-tendency or halo rater is flagged as its source decides (enough
  ratees, a practical effect, a corrected p below ``rater_effects.alpha`` over the raters of the
  source): a rater is judged against the other raters of their source, family by family.
* Group disparities are the audit's own families: every grouping crossed with five score and
  rating tables and a selection table per outcome, a few dozen families, so per-table control
  alone would flag something in about half of the audits of a perfectly fair organisation. A
  group finding therefore needs its table's decision *and* a gate p-value below the audit-wide
  level ``flag_alpha / families`` (Bonferroni over the group tables the audit actually tested):

  - a score or (adjusted) rating disparity: corrected group-vs-rest permutation p below
    ``disparities.alpha`` and |Hedges' g| >= ``disparities.min_effect_size`` (with thousands of
    people a difference of no practical size is "significant"); gate: the table's omnibus
    permutation p (gatekeeping: a table of twenty groups could never pass a Bonferroni-split
    level group by group with 2,000 permutations, its omnibus test can);
  - a selection disparity: the four-fifths breach and a corrected Fisher p below
    ``disparities.alpha``; gate: that corrected p.

  Rater families are not pooled into that level on purpose: a rater's test uses their own
  standard error on n_ratees - 1 degrees of freedom, so a manager of eight, tested among 1,250
  managers, could not pass an audit-wide level whatever their leniency.

Each flag carries its evidence before and after calibration and says where it holds; final scores
and selections exist only after calibration (``post``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from typing import TYPE_CHECKING, Literal

import numpy as np

from domain.errors import InvalidInput
from domain.fairness.disparities import (
    DisparityReport,
    GroupScoreDisparity,
    InsufficientDisparityData,
    OutcomeDisparities,
    ScoreDisparities,
)
from domain.fairness.rater_effects import (
    RATER_SOURCES,
    InsufficientSource,
    LeniencyReport,
    LeniencySource,
    SpreadReport,
    SpreadSource,
)
from domain.fairness.reliability import Insufficient, SourceReliability
from domain.fairness.suppression import CellDecision, Fingerprint

if TYPE_CHECKING:
    from domain.fairness.audit import AuditParameters, DisparitySettings

Json = None | bool | int | float | str | list["Json"] | dict[str, "Json"]
Version = Literal["pre", "post"]
Holds = Literal["pre", "post", "both"]
FlagKind = Literal[
    "lenient",
    "severe",
    "central tendency",
    "halo",
    "score disparity",
    "rating disparity",
    "adjusted rating disparity",
    "kpi-adjusted rating disparity",
    "selection disparity",
]

VERSIONS: tuple[Version, ...] = ("pre", "post")
# The per-person rating measures tested for group disparities, before and after calibration.
MEAN_RATING = "mean_rating"
ADJUSTED_MEAN_RATING = "adjusted_mean_rating"
# The mean rating less what the person's KPI result predicts (a least-squares line over everyone
# with both), plus the overall mean: a group rated below what its results warrant shows here even
# when it performs better than others and its plain mean rating looks like everyone's.
KPI_ADJUSTED_RATING = "kpi_adjusted_rating"
RATING_MEASURES: tuple[str, ...] = (MEAN_RATING, ADJUSTED_MEAN_RATING, KPI_ADJUSTED_RATING)
_MEASURE_FLAG: Mapping[str, FlagKind] = {
    MEAN_RATING: "rating disparity",
    ADJUSTED_MEAN_RATING: "adjusted rating disparity",
    KPI_ADJUSTED_RATING: "kpi-adjusted rating disparity",
}
_DECIMALS = 9


def measure_key(measure: str, version: Version) -> str:
    """The name a rating measure's table has in ``DisparityReport.measures``
    (``mean_rating:pre``)."""
    return f"{measure}:{version}"


# -- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Population:
    """Who and what the audit looked at. ``raters`` and ``subjects_rated`` count non-self
    ratings only (a self rating is not a rater's judgement of someone else)."""

    subjects: int
    subjects_with_score: int
    subjects_rated: int
    ratings: int
    self_ratings: int
    reviewees: int
    reviewees_not_in_subjects: int
    raters: int


@dataclass(frozen=True, slots=True)
class SourceCalibration:
    """How calibration moved one source's ratings: ``mean_change`` is the mean of
    (calibrated - submitted) over the changed ratings (None when none changed)."""

    source: str
    ratings: int
    changed: int
    mean_change: float | None


@dataclass(frozen=True)
class CalibrationSummary:
    ratings_changed: int
    reviewees_changed: int
    sources: tuple[SourceCalibration, ...]


@dataclass(frozen=True)
class GapBreakdown:
    """Self-other gaps per value of one attribute, small groups suppressed like any other table
    of the audit (``suppressed``: the groups shown only as "suppressed", with the reason)."""

    attribute: str
    groups: tuple[SelfOtherGroupView, ...]
    suppressed: tuple[CellDecision, ...]
    n_unknown: int
    n_not_in_subjects: int


@dataclass(frozen=True, slots=True)
class SelfOtherGroupView:
    """One published group of a :class:`GapBreakdown`."""

    value: str
    n: int
    mean_gap: float
    share_over: float
    share_under: float
    share_in_line: float


@dataclass(frozen=True)
class SelfOtherSummary:
    """The self-other gaps of the cycle, summarised. ``insufficient`` says why there is no
    summary (fewer people with a gap than the smallest publishable group); the counts of people
    without a self rating or without a shared competency are always given."""

    threshold: float
    people: int
    mean_gap: float | None
    over_estimators: int | None
    under_estimators: int | None
    in_line: int | None
    without_self_rating: int
    without_overlap: int
    breakdowns: tuple[GapBreakdown, ...]
    insufficient: str | None


@dataclass(frozen=True, eq=False)
class RatingAnalysis:
    """Everything computed from one version of the ratings (submitted or calibrated).
    ``reliability`` has every rater source and ``all_others``; a source without ratings is an
    :class:`~domain.fairness.reliability.Insufficient`."""

    leniency: LeniencyReport
    central_tendency: SpreadReport
    halo: SpreadReport
    reliability: Mapping[str, SourceReliability | Insufficient]
    self_other: SelfOtherSummary


@dataclass(frozen=True, eq=False)
class FairnessReport:
    """One audit of one cycle. ``pre`` analyses the submitted ratings, ``post`` the calibrated
    ones (the same object when calibration changed nothing). ``disparities`` has one report per
    grouping (each ``group_by`` attribute, then each intersection), with the score table, the
    rating measures' tables (``measures``, keyed by :func:`measure_key`) and the selection
    tables. ``fingerprints`` are the published cells' membership fingerprints (grouping ->
    label -> (count, digest)), for the audit event, not for readers."""

    method_version: str
    cycle: str
    parameters: AuditParameters
    population: Population
    calibration: CalibrationSummary
    pre: RatingAnalysis
    post: RatingAnalysis
    disparities: tuple[DisparityReport, ...]
    fingerprints: Mapping[str, Mapping[str, Fingerprint]]

    def analysis(self, version: Version) -> RatingAnalysis:
        return self.pre if version == "pre" else self.post

    def grouping(self, name: str) -> DisparityReport:
        """The disparity report of a grouping by name (``gender``, or for an
        intersection the attributes joined with LABEL_SEPARATOR)."""
        for report in self.disparities:
            if report.name == name:
                return report
        known = ", ".join(r.name for r in self.disparities)
        raise InvalidInput(f"no grouping {name!r} in this report; known: {known}", field="grouping")

    def rating_table(
        self, grouping: str, measure: str, version: Version
    ) -> ScoreDisparities | InsufficientDisparityData | None:
        """A rating measure's disparity table (None when the audit did not compute it, e.g.
        the adjusted rating with ``adjust_for_severity`` off). When calibration changed nothing
        the post-calibration table is the pre-calibration one."""
        if self.post is self.pre:
            version = "pre"
        return self.grouping(grouping).measures.get(measure_key(measure, version))


# -- flags --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlagLevel:
    """The audit-wide level of group findings: ``level = flag_alpha / families``, ``families``
    the number of score, rating and selection tables the audit tested (the rating tables of a
    version calibration did not change are tested, and counted, once)."""

    flag_alpha: float
    families: int
    level: float


@dataclass(frozen=True, slots=True)
class FlagEvidence:
    """The numbers behind a finding in one version. ``effect`` is what the practical threshold
    was applied to (see ``Flag.effect_measure``); ``difference`` the raw quantity behind it (a
    rater's unshrunk mean deviation, a group's mean minus the rest's, a selection rate minus the
    reference group's; None for spread ratios); ``n_tested`` the size of the corrected family;
    ``gate_p`` the p-value held against the audit-wide level for a group finding (the corrected
    Fisher p of a selection, the table's omnibus p of a score or rating disparity; None for a
    rater)."""

    n: int
    effect: float | None
    difference: float | None
    p: float | None
    p_adjusted: float | None
    n_tested: int
    gate_p: float | None


@dataclass(frozen=True)
class Flag:
    """One flagged finding: a rater (``subject`` = rater id, ``attribute`` = their source) or a
    group (``subject`` = the cell label, ``attribute`` = the grouping, ``outcome`` for a
    selection). ``holds`` says in which version it is flagged; ``pre``/``post`` hold the evidence
    of each version where the finding was computed at all (so a flag that calibration removed
    still shows its post-calibration numbers)."""

    kind: FlagKind
    subject: str
    attribute: str
    outcome: str | None
    holds: Holds
    effect_measure: str
    thresholds: Mapping[str, float | int | str]
    pre: FlagEvidence | None
    post: FlagEvidence | None

    @property
    def evidence(self) -> FlagEvidence:
        """The evidence of the flagged version (post-calibration when flagged in both)."""
        chosen = self.pre if self.holds == "pre" else self.post
        assert chosen is not None
        return chosen

    @property
    def n(self) -> int:
        return self.evidence.n

    @property
    def effect(self) -> float | None:
        return self.evidence.effect

    @property
    def p(self) -> float | None:
        return self.evidence.p

    @property
    def p_adjusted(self) -> float | None:
        return self.evidence.p_adjusted


def flags(report: FairnessReport) -> list[Flag]:
    """Every flagged finding of the report (see the module docstring for the rule): raters by
    kind (lenient, severe, central tendency, halo), then source, then rater id; then groups by
    grouping, each with its score, rating and adjusted-rating disparities, then selections."""
    level = flag_level(report)
    return [*_rater_flags(report), *_group_flags(report, level)]


def flag_level(report: FairnessReport) -> FlagLevel:
    """The audit-wide level every group finding's gate p-value must stay below."""
    tables = sum(
        isinstance(table, ScoreDisparities)
        for grouping in report.disparities
        for table in (grouping.scores, *grouping.measures.values())
    )
    selections = sum(
        isinstance(table, OutcomeDisparities)
        for grouping in report.disparities
        for table in grouping.selections
    )
    families = max(1, tables + selections)
    flag_alpha = report.parameters.flag_alpha
    return FlagLevel(flag_alpha, families, flag_alpha / families)


def _rater_flags(report: FairnessReport) -> Iterator[Flag]:
    positions = _Positions()
    for direction in ("lenient", "severe"):
        for source in RATER_SOURCES:
            pair = (report.pre.leniency.source(source), report.post.leniency.source(source))
            yield from _paired_rater_flags(direction, source, pair, positions)
    for kind in ("central tendency", "halo"):
        for source in RATER_SOURCES:
            spreads = (
                _spread_report(report.pre, kind).source(source),
                _spread_report(report.post, kind).source(source),
            )
            yield from _paired_rater_flags(kind, source, spreads, positions)


def _spread_report(analysis: RatingAnalysis, kind: str) -> SpreadReport:
    return analysis.central_tendency if kind == "central tendency" else analysis.halo


_RaterSource = LeniencySource | SpreadSource | InsufficientSource


def _paired_rater_flags(
    kind: FlagKind,
    source: str,
    pair: tuple[_RaterSource, _RaterSource],
    positions: _Positions,
) -> Iterator[Flag]:
    flagged = [_flagged_raters(kind, side) for side in pair]
    for rater in sorted(set(flagged[0]) | set(flagged[1])):
        pre, post = (_rater_evidence(side, rater, positions) for side in pair)
        shown = pair[1] if rater in flagged[1] else pair[0]
        assert not isinstance(shown, InsufficientSource)
        rule = shown.rule
        is_leniency = isinstance(shown, LeniencySource)
        yield Flag(
            kind=kind,
            subject=rater,
            attribute=source,
            outcome=None,
            holds=_holds(rater in flagged[0], rater in flagged[1]),
            effect_measure=(
                "shrunken mean deviation (scale points)" if is_leniency else "spread ratio"
            ),
            thresholds={
                "min_ratees": rule.min_ratees,
                "min_practical_effect" if is_leniency else "max_ratio": rule.practical_threshold,
                "alpha": rule.alpha,
                "correction": rule.correction,
            },
            pre=pre,
            post=post,
        )


def _flagged_raters(kind: FlagKind, source: _RaterSource) -> list[str]:
    if isinstance(source, InsufficientSource):
        return []
    rows = source.reason_code == 0
    if isinstance(source, LeniencySource):
        rows &= (source.d > 0) if kind == "lenient" else (source.d < 0)
    return [source.rater_ids[i] for i in source.rater_index[rows].tolist()]


class _Positions:
    """Rater id -> index into the ratings' rater ids, built once per id list."""

    def __init__(self) -> None:
        self._built: dict[int, tuple[Sequence[str], dict[str, int]]] = {}

    def row(self, source: LeniencySource | SpreadSource, rater: str) -> int | None:
        """The rater's row in the source's columns (None if they did not rate in it)."""
        key = id(source.rater_ids)
        if key not in self._built:
            ids = source.rater_ids
            self._built[key] = (ids, {r: i for i, r in enumerate(ids)})
        index = self._built[key][1].get(rater)
        if index is None:
            return None
        row = int(np.searchsorted(source.rater_index, index))
        found = row < len(source.rater_index) and int(source.rater_index[row]) == index
        return row if found else None


def _rater_evidence(source: _RaterSource, rater: str, positions: _Positions) -> FlagEvidence | None:
    if isinstance(source, InsufficientSource):
        return None
    row = positions.row(source, rater)
    if row is None:
        return None
    if isinstance(source, LeniencySource):
        effect, difference = _finite(source.shrunk[row]), _finite(source.d[row])
    else:
        effect, difference = _finite(source.ratio[row]), None
    return FlagEvidence(
        n=int(source.n_ratees[row]),
        effect=effect,
        difference=difference,
        p=_finite(source.p[row]),
        p_adjusted=_finite(source.p_adjusted[row]),
        n_tested=source.rule.n_tested,
        gate_p=None,
    )


def _group_flags(report: FairnessReport, level: FlagLevel) -> Iterator[Flag]:
    settings = report.parameters.disparities
    for grouping in report.disparities:
        thresholds: dict[str, float | int | str] = {
            "min_effect_size": settings.min_effect_size,
            "alpha": settings.alpha,
            "correction": settings.correction,
            "min_size": grouping.min_size,
            **_level_thresholds(level),
        }
        for label, evidence in _flagged_groups(grouping.scores, settings, level).items():
            yield Flag(
                "score disparity", label, grouping.name, None, "post", "Hedges' g", thresholds,
                None, evidence,
            )  # fmt: skip
        for measure in RATING_MEASURES:
            tables = [report.rating_table(grouping.name, measure, v) for v in VERSIONS]
            pre, post = (_flagged_groups(table, settings, level) for table in tables)
            for label in _in_cell_order(tables, set(pre) | set(post)):
                yield Flag(
                    _MEASURE_FLAG[measure], label, grouping.name, None,
                    _holds(label in pre, label in post), "Hedges' g", thresholds,
                    _group_evidence(tables[0], label), _group_evidence(tables[1], label),
                )  # fmt: skip
        yield from _selection_flags(grouping, settings, level)


def _flagged_groups(
    table: ScoreDisparities | InsufficientDisparityData | None,
    settings: DisparitySettings,
    level: FlagLevel,
) -> dict[str, FlagEvidence]:
    if not isinstance(table, ScoreDisparities) or not table.omnibus.p_value < level.level:
        return {}
    return {
        group.label: _score_evidence(table, group)
        for group in table.groups
        if group.significant
        and group.hedges_g is not None
        and abs(group.hedges_g) >= settings.min_effect_size
    }


def _group_evidence(
    table: ScoreDisparities | InsufficientDisparityData | None, label: str
) -> FlagEvidence | None:
    if not isinstance(table, ScoreDisparities):
        return None
    for group in table.groups:
        if group.label == label:
            return _score_evidence(table, group)
    return None


def _score_evidence(table: ScoreDisparities, group: GroupScoreDisparity) -> FlagEvidence:
    return FlagEvidence(
        n=group.scored,
        effect=group.hedges_g,
        difference=group.difference,
        p=group.p_value,
        p_adjusted=group.p_adjusted,
        n_tested=len(table.groups),
        gate_p=table.omnibus.p_value,
    )


def _in_cell_order(
    tables: Sequence[ScoreDisparities | InsufficientDisparityData | None], labels: set[str]
) -> list[str]:
    ordered: list[str] = []
    for table in tables:
        if isinstance(table, ScoreDisparities):
            ordered += [
                g.label for g in table.groups if g.label in labels and g.label not in ordered
            ]
    return ordered


def _selection_flags(
    grouping: DisparityReport, settings: DisparitySettings, level: FlagLevel
) -> Iterator[Flag]:
    for table in grouping.selections:
        if not isinstance(table, OutcomeDisparities):
            continue
        tested = len(table.groups) - 1
        for group in table.groups:
            if not (group.flagged and group.p_adjusted is not None) or not (
                group.p_adjusted < level.level
            ):
                continue
            yield Flag(
                kind="selection disparity",
                subject=group.label,
                attribute=grouping.name,
                outcome=table.outcome,
                holds="post",
                effect_measure="impact ratio",
                thresholds={
                    "four_fifths": settings.four_fifths,
                    "alpha": settings.alpha,
                    "correction": settings.correction,
                    "min_size": grouping.min_size,
                    **_level_thresholds(level),
                },
                pre=None,
                post=FlagEvidence(
                    n=group.n,
                    effect=group.impact_ratio,
                    difference=group.rate - table.reference_rate,
                    p=group.p_value,
                    p_adjusted=group.p_adjusted,
                    n_tested=tested,
                    gate_p=group.p_adjusted,
                ),
            )


def _level_thresholds(level: FlagLevel) -> dict[str, float | int | str]:
    return {"flag_alpha": level.flag_alpha, "families": level.families, "level": level.level}


def _holds(pre: bool, post: bool) -> Holds:
    return "both" if pre and post else ("pre" if pre else "post")


# -- fingerprints -------------------------------------------------------------------------------


def cell_fingerprints(report: FairnessReport) -> dict[str, dict[str, Fingerprint]]:
    """grouping -> published cell label -> (head count, sha256 of the sorted member ids), for the
    audit event, so that a later report of the same cycle can apply the differencing rule
    (``AuditInputs.previous``). Kept out of :func:`report_json` on purpose: with the org chart at
    hand, a digest of a small cell's members can be matched by trying candidate member sets,
    which would tell a reader who is in a group whose size alone was safe to publish."""
    return {grouping: dict(cells) for grouping, cells in report.fingerprints.items()}


# -- canonical JSON -----------------------------------------------------------------------------


def report_json(report: FairnessReport) -> dict[str, Json]:
    """The report as plain JSON values, in a fixed key order (see the module docstring)."""
    return {
        "method_version": report.method_version,
        "cycle": report.cycle,
        "parameters": report.parameters.to_json(),
        "population": _plain(report.population),
        "calibration": _plain(report.calibration),
        "ratings": {version: _analysis_json(report.analysis(version)) for version in VERSIONS},
        "disparities": [_disparity_json(report, d) for d in report.disparities],
        "flag_level": _plain(flag_level(report)),
        "flags": [_plain(flag) for flag in flags(report)],
    }


def report_digest(report: FairnessReport) -> str:
    """sha256 hex of the canonical JSON (sorted keys, compact separators, UTF-8)."""
    text = json.dumps(
        report_json(report),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _analysis_json(analysis: RatingAnalysis) -> dict[str, Json]:
    return {
        "leniency": [_leniency_json(s) for s in analysis.leniency.sources],
        "central_tendency": [_spread_json(s) for s in analysis.central_tendency.sources],
        "halo": [_spread_json(s) for s in analysis.halo.sources],
        "reliability": {
            name: _reliability_json(name, result) for name, result in analysis.reliability.items()
        },
        "self_other": _plain(analysis.self_other),
    }


def _leniency_json(source: LeniencySource | InsufficientSource) -> Json:
    if isinstance(source, InsufficientSource):
        return _insufficient_source_json(source)
    return {
        "source": source.source,
        "raters": source.n_raters,
        "flagged_count": int(np.count_nonzero(source.reason_code == 0)),
        "tau2": _number(source.tau2),
        "pooled_within_variance": _number(source.pooled_within_variance),
        "pooled_df": source.pooled_df,
        "rule": _plain(source.rule),
        "flagged": _plain(source.flagged),
    }


def _spread_json(source: SpreadSource | InsufficientSource) -> Json:
    if isinstance(source, InsufficientSource):
        return _insufficient_source_json(source)
    return {
        "source": source.source,
        "kind": source.kind,
        "raters": source.n_raters,
        "flagged_count": int(np.count_nonzero(source.reason_code == 0)),
        "rule": _plain(source.rule),
        "flagged": _plain(source.flagged),
    }


def _insufficient_source_json(source: InsufficientSource) -> Json:
    return {
        "source": source.source,
        "insufficient": source.reason,
        "raters": source.n_raters,
        "raters_with_enough_data": source.n_raters_with_enough_data,
    }


def _reliability_json(name: str, result: SourceReliability | Insufficient) -> Json:
    if isinstance(result, Insufficient):
        return {"source": name, "insufficient": result.reason}
    rwg: Json
    if isinstance(result.rwg, Insufficient):
        rwg = {"insufficient": result.rwg.reason}
    else:
        summary = result.rwg
        rwg = {
            "mean": _number(summary.mean),
            "median": _number(summary.median),
            "share_at_least_cutoff": _number(summary.share_at_least_cutoff),
            "cutoff": _number(summary.cutoff),
            "expected_variance": _number(summary.expected_variance),
            "scale_points": summary.scale_points,
            "min_raters": summary.min_raters,
            "reviewees_sufficient": summary.n_sufficient,
            "reviewees_insufficient": summary.n_insufficient,
        }
    return {
        "source": result.source,
        "ratings": result.n_ratings,
        "reviewees": result.n_reviewees,
        "raters": result.n_raters,
        "icc": _insufficient_or_plain(result.icc),
        "alpha": _insufficient_or_plain(result.alpha),
        "rwg": rwg,
    }


def _insufficient_or_plain(result: object) -> Json:
    if isinstance(result, Insufficient):
        return {"insufficient": result.reason}
    return _plain(result)


def _disparity_json(fairness: FairnessReport, report: DisparityReport) -> Json:
    ratings: dict[str, Json] = {}
    for measure in RATING_MEASURES:
        tables = {v: fairness.rating_table(report.name, measure, v) for v in VERSIONS}
        if all(table is not None for table in tables.values()):
            ratings[measure] = {v: _table_json(t) for v, t in tables.items()}
    return {
        "grouping": report.name,
        "attributes": list(report.attributes),
        "people": report.people,
        "analysed": report.analysed,
        "excluded_unknown": report.excluded_unknown,
        "min_size": report.min_size,
        "counts": _plain(report.counts),
        "suppressed": _plain(report.suppression.suppressed),
        "exposed": list(report.suppression.exposed),
        "score": _table_json(report.scores),
        "ratings": ratings,
        "selections": [_table_json(t) for t in report.selections],
    }


def _table_json(
    table: ScoreDisparities | OutcomeDisparities | InsufficientDisparityData | None,
) -> Json:
    if isinstance(table, InsufficientDisparityData):
        return {
            "subject": table.subject,
            "insufficient": table.reason,
            "published_groups": table.published_groups,
            "suppressed": _plain(table.suppressed),
        }
    return _plain(table)


def _plain(value: object) -> Json:
    """A result object as JSON values: dataclasses by their fields in order, enums by value,
    floats rounded (None where not finite), tuples and mappings recursively."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _number(float(value))
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"no canonical JSON form for {type(value).__name__}")


def _number(value: float) -> float | None:
    """A float rounded to 9 decimals (-0.0 as 0.0), or None for NaN and infinities."""
    if not math.isfinite(value):
        return None
    rounded = round(value, _DECIMALS)
    return 0.0 if rounded == 0 else rounded


def _finite(value: float | np.floating) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
