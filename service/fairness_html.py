"""A fairness audit as one self-contained HTML page, for auditors and HR.

:func:`render_html` turns a :class:`~domain.fairness.report.FairnessReport` into a single HTML5
document: inline CSS, charts as inline SVG drawn by :mod:`service.fairness_svg`, no JavaScript
and nothing fetched from anywhere, so the file can be mailed, archived with the audit and
printed. Its sections: a summary (what was audited, how, and how many findings), the flagged
findings with their evidence before and after calibration, rater leniency/severity per source as
caterpillar plots, reliability per source, group disparities per grouping with the groups'
rating distributions, selection rates with the four-fifths line, and the calibration effect.

Three rules hold throughout:

* Suppressed cells never show a number: a suppressed group appears only as its label and
  "suppressed (reason)", in tables and charts alike.
* Every piece of text from the data (labels, rater ids, outcome names, reasons, the title and
  meta) is escaped: the markup helpers escape every plain string they are given.
* Only flagged raters are named: the report publishes flagged raters and summarises the others
  (:mod:`domain.fairness.report`), so the caterpillar plots show every other rater as an
  unnamed dot.

The rating distributions the report does not hold are counted from the audit's inputs by
:func:`rating_distributions` (:mod:`service.fairness_svg`, re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from domain.fairness.disparities import (
    DisparityReport,
    GroupSelection,
    InsufficientDisparityData,
    OutcomeDisparities,
    ScoreDisparities,
)
from domain.fairness.rater_effects import RATER_SOURCES
from domain.fairness.reliability import Insufficient, SourceReliability
from domain.fairness.report import (
    ADJUSTED_MEAN_RATING,
    MEAN_RATING,
    RATING_MEASURES,
    FairnessReport,
    Flag,
    FlagEvidence,
    flag_level,
    flags,
)
from domain.fairness.suppression import CellDecision
from service.fairness_svg import (
    GroupingDistribution,
    ImpactBar,
    Markup,
    RatingDistributions,
    Shift,
    concat,
    distribution_figure,
    dumbbell_chart,
    element,
    empty,
    figure,
    impact_chart,
    leniency_figure,
    rating_distributions,
)

__all__ = [
    "GroupingDistribution",
    "RatingDistributions",
    "rating_distributions",
    "render_html",
]

_NONE = "\u2014"  # an em dash: a number that does not exist
_VERSION_NAMES = {"pre": "submitted", "post": "calibrated", "both": "submitted and calibrated"}
_SOURCE_NAMES = {"all_others": "all but self"}
_RATER_KINDS = ("lenient", "severe", "central tendency", "halo")


# -- the document -------------------------------------------------------------------------------


def render_html(
    report: FairnessReport,
    *,
    title: str,
    distributions: RatingDistributions,
    meta: Mapping[str, str],
) -> str:
    """The report as one standalone HTML5 document (see the module docstring). ``meta`` holds
    the facts the report does not know, shown in the summary in the order given: position,
    digest, who ran it, ... (a key naming the cycle, method version or seed replaces the
    report's own line)."""
    found = flags(report)
    sections = [
        _summary_section(report, meta, found),
        _flags_section(found),
        _raters_section(report),
        _reliability_section(report),
        _disparities_section(report, distributions, found),
        _selections_section(report, found),
        _calibration_section(report, found),
    ]
    head = element(
        "head",
        empty("meta", charset="utf-8"),
        empty("meta", name="viewport", content="width=device-width, initial-scale=1"),
        element("title", title),
        element("style", Markup(_CSS)),
    )
    lede = f"Fairness audit of review cycle {report.cycle}, method {report.method_version}."
    body = element(
        "body",
        element("header", element("h1", title), element("p", lede, class_="lede")),
        _contents(),
        element("main", *sections),
        element("footer", element("p", _FOOTER)),
    )
    return "<!DOCTYPE html>\n" + element("html", head, body, lang="en") + "\n"


_SECTIONS = (
    ("summary", "Summary"),
    ("flags", "Flagged findings"),
    ("raters", "Rater severity and leniency"),
    ("reliability", "Reliability"),
    ("disparities", "Group disparities"),
    ("selections", "Selection rates"),
    ("calibration", "Calibration effect"),
)
_FOOTER = (
    "Groups below the minimum size, and groups whose numbers could be worked out from the "
    "published totals, are shown as \u201csuppressed\u201d without any number. Only flagged "
    "raters are named."
)


def _contents() -> Markup:
    items = (element("li", element("a", name, href=f"#{anchor}")) for anchor, name in _SECTIONS)
    return element("nav", element("ol", *items), aria_label="Contents")


def _section(anchor: str, *content: str) -> Markup:
    heading = dict(_SECTIONS)[anchor]
    return element("section", element("h2", heading), *content, id=anchor)


# -- small building blocks ----------------------------------------------------------------------


def _fixed(value: float | None, digits: int = 2, *, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return _NONE
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return _NONE
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _td(
    text: str,
    *,
    numeric: bool = False,
    span: int | None = None,
    rows: int | None = None,
    class_: str | None = None,
) -> Markup:
    """A table cell (``numeric``: right-aligned figures; ``span``/``rows``: colspan/rowspan)."""
    classes = " ".join(c for c in ("num" if numeric else None, class_) if c) or None
    return element("td", text, class_=classes, colspan=span, rowspan=rows)


def _suppressed(decision: CellDecision, span: int) -> Markup:
    reason = decision.reason.value if decision.reason is not None else "unknown reason"
    return _td(f"suppressed ({reason})", span=span, class_="suppressed")


def _table(headers: Sequence[str], rows: Iterable[str], caption: str | None = None) -> Markup:
    head = element("thead", element("tr", *(element("th", h, scope="col") for h in headers)))
    parts = [element("caption", caption)] if caption else []
    return element(
        "div", element("table", *parts, head, element("tbody", *rows)), class_="table-wrap"
    )


def _paragraph(text: str, class_: str | None = None) -> Markup:
    return element("p", text, class_=class_)


def _source_name(source: str) -> str:
    return _SOURCE_NAMES.get(source, source)


def _flagged_in(flag: Flag, version: str) -> bool:
    return flag.holds in (version, "both")


def _where(flag: Flag) -> str:
    if flag.kind in _RATER_KINDS:
        return f"{flag.attribute} rater"
    return flag.attribute + (f", outcome {flag.outcome}" if flag.outcome else "")


def _effect(flag: Flag, evidence: FlagEvidence) -> str:
    """The effect, signed where its sign is a direction (not for ratios)."""
    signed = flag.effect_measure not in ("spread ratio", "impact ratio")
    return _fixed(evidence.effect, signed=signed)


def _flag_keys(found: Sequence[Flag], version: str) -> set[tuple[str, str, str, str | None]]:
    """(kind, subject, attribute, outcome) of the findings flagged in ``version``."""
    return {(f.kind, f.subject, f.attribute, f.outcome) for f in found if _flagged_in(f, version)}


# -- summary ------------------------------------------------------------------------------------


def _summary_section(
    report: FairnessReport, meta: Mapping[str, str], found: Sequence[Flag]
) -> Markup:
    given = {_fact_key(key) for key in meta}
    own = [
        ("Cycle", report.cycle),
        ("Method version", report.method_version),
        ("Seed", str(report.parameters.seed)),
    ]
    facts = [(k, v) for k, v in own if _fact_key(k) not in given] + list(meta.items())
    listing = element(
        "dl", *(concat([element("dt", k), element("dd", v)]) for k, v in facts), class_="facts"
    )
    kinds: dict[str, int] = {}
    for flag in found:
        kinds[flag.kind] = kinds.get(flag.kind, 0) + 1
    by_kind = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
    headline = f"{len(found)} flagged finding{'s' if len(found) != 1 else ''}" + (
        f": {by_kind}." if found else "."
    )
    level = flag_level(report)
    gate = (
        f"A group finding needs its table's own decision and a gate p-value below "
        f"flag_alpha / families = {level.flag_alpha:g} / {level.families} = {level.level:.2g}; "
        "a rater finding is judged against the other raters of the same source."
    )
    return _section(
        "summary",
        listing,
        _paragraph(headline, class_="headline"),
        _paragraph(gate),
        _population_table(report),
        _parameters_table(report),
    )


def _fact_key(key: str) -> str:
    return key.strip().lower().replace("_", " ")


def _population_table(report: FairnessReport) -> Markup:
    population = report.population
    rows = [
        ("People (subjects)", population.subjects),
        ("with a final score", population.subjects_with_score),
        ("rated by someone else", population.subjects_rated),
        ("Ratings", population.ratings),
        ("of which self ratings", population.self_ratings),
        ("Raters (other than self)", population.raters),
        ("Reviewees who are not subjects", population.reviewees_not_in_subjects),
    ]
    return _table(
        ("Population", "Count"),
        (element("tr", element("th", k, scope="row"), _td(str(v), numeric=True)) for k, v in rows),
    )


def _parameters_table(report: FairnessReport) -> Markup:
    parameters = report.parameters.to_json()
    if parameters.get("outcomes") is None:
        parameters["outcomes"] = "every outcome"
    rows = (
        element("tr", element("th", key, scope="row"), _td(value))
        for key, value in _flattened(parameters)
    )
    return _table(("Parameter", "Value"), rows, caption="Parameters")


def _flattened(value: object, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            name = f"{prefix}{key}" + ("." if isinstance(item, Mapping) else "")
            pairs += _flattened(item, name)
        return pairs
    return [(prefix, _json_text(value))]


def _json_text(value: object) -> str:
    """A parameter or threshold value as text (lists joined, an intersection with "x")."""
    if value is None:
        return _NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        parts = (
            " \u00d7 ".join(map(str, v)) if isinstance(v, list | tuple) else _json_text(v)
            for v in value
        )
        return "; ".join(parts) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- flags --------------------------------------------------------------------------------------

_FLAG_HEADERS = (
    "Finding", "Subject", "Where", "Flagged in", "Version", "n", "Effect", "Difference", "p",
    "Adjusted p (family)", "Gate p", "Thresholds",
)  # fmt: skip


def _flags_section(found: Sequence[Flag]) -> Markup:
    if not found:
        return _section("flags", _paragraph("No finding was flagged."))
    intro = (
        "Each finding with its evidence as submitted and as calibrated (where it was computed "
        "in that version). Final scores and selections exist only after calibration."
    )
    rows = [row for flag in found for row in _flag_rows(flag)]
    return _section("flags", _paragraph(intro), _table(_FLAG_HEADERS, rows))


def _flag_rows(flag: Flag) -> list[Markup]:
    versions = [(v, e) for v, e in (("pre", flag.pre), ("post", flag.post)) if e is not None]
    span = len(versions)
    where = _where(flag)
    holds = _VERSION_NAMES[flag.holds]
    thresholds = "; ".join(f"{k} = {_json_text(v)}" for k, v in flag.thresholds.items())
    rows = []
    for index, (version, evidence) in enumerate(versions):
        cells: list[str] = []
        if index == 0:
            cells += [
                _td(flag.kind, rows=span, class_="kind"),
                _td(flag.subject, rows=span, class_="subject"),
                _td(where, rows=span),
                _td(holds, rows=span),
            ]
        cells += _evidence_cells(flag, version, evidence)
        if index == 0:
            cells.append(_td(thresholds, rows=span, class_="thresholds"))
        rows.append(element("tr", *cells, class_="flagged" if _flagged_in(flag, version) else None))
    return rows


def _evidence_cells(flag: Flag, version: str, evidence: FlagEvidence) -> list[Markup]:
    name = _VERSION_NAMES[version] + (" (flagged)" if _flagged_in(flag, version) else "")
    measure = element("span", flag.effect_measure, class_="unit")
    effect = concat([_effect(flag, evidence), " ", measure])
    return [
        _td(name),
        _td(str(evidence.n), numeric=True),
        _td(effect, numeric=True),
        _td(_fixed(evidence.difference, signed=True), numeric=True),
        _td(_p(evidence.p), numeric=True),
        _td(f"{_p(evidence.p_adjusted)} (of {evidence.n_tested})", numeric=True),
        _td(_p(evidence.gate_p), numeric=True),
    ]


# -- raters -------------------------------------------------------------------------------------


def _raters_section(report: FairnessReport) -> Markup:
    intro = (
        "Each rater's leniency (above 0) or severity (below 0) against the other raters of the "
        "same source: the empirical-Bayes shrunken estimate of their mean deviation, in scale "
        "points, with estimate \u00b1 1.96 \u00d7 SE as the whisker. A rater is flagged with "
        "enough ratees, an estimate beyond the dashed practical threshold and a corrected "
        "p-value below alpha."
    )
    parts: list[str] = [_paragraph(intro)]
    for source in RATER_SOURCES:
        parts.append(element("h3", f"{source.capitalize()} raters"))
        post = report.post.leniency.source(source)
        if report.post is report.pre:
            parts.append(leniency_figure(post, "submitted (calibration changed nothing)"))
            continue
        pre = report.pre.leniency.source(source)
        parts.append(
            element(
                "div",
                leniency_figure(pre, "as submitted"),
                leniency_figure(post, "as calibrated"),
                class_="pair",
            )
        )
    return _section("raters", *parts)


# -- reliability --------------------------------------------------------------------------------

_RELIABILITY_HEADERS = (
    "Source", "Ratings", "Reviewees", "Raters", "ICC(1) [95% CI]", "ICC(1,k)",
    "Krippendorff's \u03b1 (interval)", "rwg(J) mean / median", "rwg(J) \u2265 cutoff",
)  # fmt: skip


def _reliability_section(report: FairnessReport) -> Markup:
    intro = (
        "Agreement among the raters of each source, on the calibrated ratings"
        + (
            " (the submitted ones are compared under Calibration effect)"
            if report.post is not report.pre
            else ""
        )
        + ": ICC(1) is the reliability of one rater's rating, ICC(1,k) of the mean of a "
        "reviewee's k\u2080 raters, Krippendorff's \u03b1 the agreement across all ratings, "
        "rwg(J) the agreement within each reviewee's raters."
    )
    rows = [_reliability_row(name, result) for name, result in report.post.reliability.items()]
    return _section("reliability", _paragraph(intro), _table(_RELIABILITY_HEADERS, rows))


def _reliability_row(name: str, result: SourceReliability | Insufficient) -> Markup:
    label = element("th", _source_name(name), scope="row")
    if isinstance(result, Insufficient):
        return element("tr", label, _td(result.reason, span=8, class_="insufficient"))
    return element(
        "tr",
        label,
        _td(str(result.n_ratings), numeric=True),
        _td(str(result.n_reviewees), numeric=True),
        _td(str(result.n_raters), numeric=True),
        *_reliability_cells(result),
    )


def _reliability_cells(result: SourceReliability) -> list[Markup]:
    cells: list[Markup] = []
    icc = result.icc
    if isinstance(icc, Insufficient):
        cells.append(_td(icc.reason, span=2, class_="insufficient"))
    else:
        interval = f"{_fixed(icc.icc1)} [{_fixed(icc.ci_low)}, {_fixed(icc.ci_high)}]"
        cells.append(_td(interval, numeric=True))
        cells.append(_td(f"{_fixed(icc.icc1k)} (k\u2080 = {_fixed(icc.k0, 1)})", numeric=True))
    alpha = result.alpha
    cells.append(
        _td(alpha.reason, class_="insufficient")
        if isinstance(alpha, Insufficient)
        else _td(_fixed(alpha.alpha), numeric=True)
    )
    rwg = result.rwg
    if isinstance(rwg, Insufficient):
        cells.append(_td(rwg.reason, span=2, class_="insufficient"))
    else:
        cells.append(_td(f"{_fixed(rwg.mean)} / {_fixed(rwg.median)}", numeric=True))
        share = rwg.share_at_least_cutoff
        text = _NONE if not math.isfinite(share) else f"{share:.0%}"
        cells.append(_td(f"{text} of {rwg.n_sufficient} (\u2265 {rwg.cutoff:g})", numeric=True))
    return cells


# -- group disparities --------------------------------------------------------------------------

_DISPARITY_HEADERS = (
    "Group", "n", "Measure", "n with value", "Mean", "Difference vs rest", "Hedges' g", "p",
    "Adjusted p", "Flag",
)  # fmt: skip
# How each rating measure of the report is shown, and the kind of its findings; a measure not
# listed here is shown by its name.
_MEASURE_NAMES: Mapping[str, tuple[str, str]] = {
    MEAN_RATING: ("mean rating", "rating disparity"),
    ADJUSTED_MEAN_RATING: ("severity-adjusted mean rating", "adjusted rating disparity"),
    "kpi_adjusted_rating": ("KPI-adjusted mean rating", "kpi-adjusted rating disparity"),
}
_Table = ScoreDisparities | InsufficientDisparityData


def _measure_tables(
    report: FairnessReport, disparity: DisparityReport, version: str = "post"
) -> list[tuple[str, _Table, str]]:
    """(measure name, table, flag kind) of the grouping's score table and of each rating
    measure's table the audit computed, in ``version`` (``pre`` or ``post``)."""
    tables: list[tuple[str, _Table, str]] = [("final score", disparity.scores, "score disparity")]
    for measure in RATING_MEASURES:
        table = report.rating_table(disparity.name, measure, "pre" if version == "pre" else "post")
        if table is not None:
            spoken = measure.replace("_", " ")
            name, kind = _MEASURE_NAMES.get(measure, (spoken, f"{spoken} disparity"))
            tables.append((name, table, kind))
    return tables


def _disparities_section(
    report: FairnessReport, distributions: RatingDistributions, found: Sequence[Flag]
) -> Markup:
    intro = (
        "Per grouping, each published group against the rest of the people compared: the final "
        "score and the calibrated rating measures (the mean rating from other people, plain "
        "and adjusted, e.g. for the raters' severity). p is the two-sided permutation p-value "
        "of the difference, adjusted for the groups of the table."
    )
    flagged = _flag_keys(found, "post")
    parts: list[str] = [_paragraph(intro)]
    for disparity in report.disparities:
        parts += _grouping_disparities(report, disparity, distributions, flagged)
    return _section("disparities", *parts)


def _grouping_disparities(
    report: FairnessReport,
    disparity: DisparityReport,
    distributions: RatingDistributions,
    flagged: set[tuple[str, str, str, str | None]],
) -> list[str]:
    """One grouping: who was compared, the table, the omnibus tests, the distributions."""
    tables = _measure_tables(report, disparity)
    small = getattr(report.parameters.disparities, "small_groups", "suppress")
    left_out = "an unknown value" + (
        f" or in a group under {disparity.min_size} people" if small == "exclude" else ""
    )
    scope = (
        f"{disparity.analysed} of {disparity.people} people compared, "
        f"{disparity.excluded_unknown} left out ({left_out}). A group is shown as suppressed "
        "when it is too small or its numbers could be worked out from other published figures."
    )
    parts: list[str] = [
        element("h3", f"By {disparity.name}"),
        _paragraph(scope),
        _table(_DISPARITY_HEADERS, _disparity_rows(disparity, tables, flagged)),
        _paragraph(_omnibus_note(tables), class_="note"),
    ]
    if disparity.suppression.exposed:
        exposed = ", ".join(disparity.suppression.exposed)
        text = f"Suppressed cells still derivable from lower-order totals: {exposed}."
        parts.append(_paragraph(text, class_="note"))
    parts.append(distribution_figure(report, disparity, distributions))
    return parts


def _disparity_rows(
    disparity: DisparityReport,
    tables: Sequence[tuple[str, _Table, str]],
    flagged: set[tuple[str, str, str, str | None]],
) -> list[Markup]:
    """Per group, one row per measure (the group's label and head count spanning them), or one
    "suppressed" row."""
    counts = {c.label: c.n for c in disparity.counts}
    rows: list[Markup] = []
    for decision in disparity.suppression.cells:
        if not decision.published:
            cells = [_td(decision.label, class_="group"), _suppressed(decision, 9)]
            rows.append(element("tr", *cells, class_="suppressed-row"))
            continue
        for index, (name, table, kind) in enumerate(tables):
            is_flagged = (kind, decision.label, disparity.name, None) in flagged
            cells = []
            if index == 0:
                cells += [
                    _td(decision.label, rows=len(tables), class_="group"),
                    _td(str(counts.get(decision.label, _NONE)), numeric=True, rows=len(tables)),
                ]
            cells += [_td(name), *_measure_cells(table, decision.label)]
            cells.append(_td("flagged" if is_flagged else "", class_="flag"))
            rows.append(element("tr", *cells, class_="flagged" if is_flagged else None))
    return rows


def _measure_cells(table: _Table, label: str) -> list[Markup]:
    """n with value, mean, difference, g, p, adjusted p of ``label`` in ``table`` (one cell
    saying why where the group has none)."""
    decision = next((d for d in table.suppressed if d.label == label), None)
    if decision is not None:
        return [_suppressed(decision, 6)]
    if isinstance(table, InsufficientDisparityData):
        return [_td(f"no comparison: {table.reason}", span=6, class_="insufficient")]
    group = next((g for g in table.groups if g.label == label), None)
    if group is None:
        return [_td(_NONE, span=6)]
    return [
        _td(str(group.scored), numeric=True),
        _td(_fixed(group.mean), numeric=True),
        _td(_fixed(group.difference, signed=True), numeric=True),
        _td(_fixed(group.hedges_g, signed=True), numeric=True),
        _td(_p(group.p_value), numeric=True),
        _td(_p(group.p_adjusted), numeric=True),
    ]


def _omnibus_note(tables: Sequence[tuple[str, _Table, str]]) -> str:
    parts = []
    for name, table, _ in tables:
        if isinstance(table, ScoreDisparities):
            omnibus = table.omnibus
            parts.append(f"{name} {_p(omnibus.p_value)} over {omnibus.groups} groups")
        else:
            parts.append(f"{name}: no comparison ({table.reason})")
    return "Omnibus permutation p (do the groups differ at all?): " + "; ".join(parts) + "."


# -- selections ---------------------------------------------------------------------------------

_SELECTION_HEADERS = (
    "Group", "n", "Selected", "Rate", "Impact ratio", "Odds ratio", "p (Fisher)", "Adjusted p",
    "Flag",
)  # fmt: skip


def _selections_section(report: FairnessReport, found: Sequence[Flag]) -> Markup:
    intro = (
        "Per outcome, each published group's selection rate and its impact ratio against the "
        "most-selected group (the reference). A group is flagged when its ratio is below "
        f"four-fifths ({report.parameters.disparities.four_fifths:g}), Fisher's exact test "
        "against the reference is significant after correction, and that p-value is below the "
        "audit-wide level."
    )
    flagged = _flag_keys(found, "post")
    parts: list[str] = [_paragraph(intro)]
    for disparity in report.disparities:
        for table in disparity.selections:
            parts += _selection_table(report, disparity, table, flagged)
    if len(parts) == 1:
        parts.append(_paragraph("The audit tested no selection outcome."))
    return _section("selections", *parts)


def _selection_table(
    report: FairnessReport,
    disparity: DisparityReport,
    table: OutcomeDisparities | InsufficientDisparityData,
    flagged: set[tuple[str, str, str, str | None]],
) -> list[str]:
    if isinstance(table, InsufficientDisparityData):
        heading = element("h3", f"{table.subject} by {disparity.name}")
        return [heading, _paragraph(f"No comparison: {table.reason}.", class_="insufficient")]
    heading = element("h3", f"{table.outcome} by {disparity.name}")
    groups = {g.label: g for g in table.groups}
    rows: list[str] = []
    bars: list[ImpactBar] = []
    for decision in disparity.suppression.cells:
        group = groups.get(decision.label)
        if not decision.published:
            cells = [_td(decision.label, class_="group"), _suppressed(decision, 8)]
            rows.append(element("tr", *cells, class_="suppressed-row"))
        elif group is not None:
            key = ("selection disparity", group.label, disparity.name, table.outcome)
            rows.append(_selection_row(group, key in flagged))
            bars.append(
                ImpactBar(
                    group.label, group.rate, group.impact_ratio, group.reference, key in flagged
                )
            )
    four_fifths = report.parameters.disparities.four_fifths
    description = f"Impact ratios of {table.outcome} by {disparity.name}"
    chart = impact_chart(bars, four_fifths=four_fifths, description=description)
    caption = (
        f"Impact ratio = a group's selection rate / the reference group's ({table.reference}, "
        f"{table.reference_rate:.1%}); dashed: four-fifths. Suppressed groups are not drawn."
    )
    return [heading, _table(_SELECTION_HEADERS, rows), figure(chart, caption)]


def _selection_row(group: GroupSelection, flagged: bool) -> Markup:
    """A published group's selection figures; the last cell says how its ratio stands (a table
    flag without the audit-wide gate is said so, not shown as flagged)."""
    if group.reference:
        state = "reference"
    elif flagged:
        state = "flagged"
    elif group.flagged:
        state = "below four-fifths and significant, not past the audit-wide level"
    else:
        state = "below four-fifths" if group.below_four_fifths else ""
    return element(
        "tr",
        _td(group.label, class_="group"),
        _td(str(group.n), numeric=True),
        _td(str(group.selected), numeric=True),
        _td(f"{group.rate:.1%}", numeric=True),
        _td(_fixed(group.impact_ratio), numeric=True),
        _td(_fixed(group.odds_ratio), numeric=True),
        _td(_p(group.p_value), numeric=True),
        _td(_p(group.p_adjusted), numeric=True),
        _td(state, class_="flag"),
        class_="flagged" if flagged else None,
    )


# -- calibration --------------------------------------------------------------------------------


def _calibration_section(report: FairnessReport, found: Sequence[Flag]) -> Markup:
    """What calibration changed, and the findings, reliability and rating disparities as
    submitted and as calibrated side by side."""
    if report.post is report.pre:
        text = "Calibration changed no rating: the submitted and calibrated results are the same."
        return _section("calibration", _paragraph(text))
    summary = report.calibration
    intro = (
        f"Calibration changed {summary.ratings_changed} ratings of {summary.reviewees_changed} "
        "reviewees. Submitted and calibrated results side by side."
    )
    sources = (
        element(
            "tr",
            element("th", s.source, scope="row"),
            _td(str(s.ratings), numeric=True),
            _td(str(s.changed), numeric=True),
            _td(_fixed(s.mean_change, signed=True), numeric=True),
        )
        for s in summary.sources
    )
    parts: list[str] = [
        _paragraph(intro),
        _table(("Source", "Ratings", "Changed", "Mean change of those changed"), sources),
        element("h3", "Findings as submitted and as calibrated"),
        _findings_comparison(found),
        element("h3", "Reliability"),
        _reliability_comparison(report),
    ]
    for disparity in report.disparities:
        parts += _rating_comparison(report, disparity)
    return _section("calibration", *parts)


def _findings_comparison(found: Sequence[Flag]) -> Markup:
    """The findings computed in both versions, flagged or not in each."""
    compared = [f for f in found if f.pre is not None and f.post is not None]
    if not compared:
        return _paragraph("No finding was computed in both versions.")
    rows = (
        element(
            "tr",
            _td(f.kind),
            _td(f.subject, class_="subject"),
            _td(_where(f)),
            *(_td(_flag_state(f, v, e)) for v, e in (("pre", f.pre), ("post", f.post))),
        )
        for f in compared
    )
    return _table(("Finding", "Subject", "Where", "Submitted", "Calibrated"), rows)


def _flag_state(flag: Flag, version: str, evidence: FlagEvidence | None) -> str:
    if evidence is None:
        return _NONE
    state = "flagged" if _flagged_in(flag, version) else "not flagged"
    return f"{state} ({flag.effect_measure} {_effect(flag, evidence)})"


def _reliability_comparison(report: FairnessReport) -> Markup:
    headers = (
        "Source",
        "ICC(1) submitted",
        "ICC(1) calibrated",
        "\u03b1 submitted",
        "\u03b1 calibrated",
        "rwg(J) mean submitted",
        "rwg(J) mean calibrated",
    )
    rows = []
    for name, post in report.post.reliability.items():
        pre = report.pre.reliability.get(name)
        values = [
            _reliability_value(result, statistic)
            for statistic in ("icc", "alpha", "rwg")
            for result in (pre, post)
        ]
        rows.append(
            element(
                "tr",
                element("th", _source_name(name), scope="row"),
                *(_td(v, numeric=True) for v in values),
            )
        )
    return _table(headers, rows)


def _reliability_value(result: SourceReliability | Insufficient | None, statistic: str) -> str:
    if result is None:
        return _NONE
    if isinstance(result, Insufficient):
        return "insufficient"
    value = getattr(result, statistic)
    if isinstance(value, Insufficient):
        return "insufficient"
    number = {"icc": "icc1", "alpha": "alpha", "rwg": "mean"}[statistic]
    return _fixed(float(getattr(value, number)))


def _rating_comparison(report: FairnessReport, disparity: DisparityReport) -> list[str]:
    """A grouping's rating measures per group as submitted and as calibrated, and a chart of
    the mean rating's move."""
    versions = {
        v: {name: table for name, table, _ in _measure_tables(report, disparity, v)[1:]}
        for v in ("pre", "post")
    }
    measures = [m for m in versions["post"] if m in versions["pre"]]
    if not measures:
        return []
    headers = (
        "Group",
        "Measure",
        "Mean submitted",
        "g submitted",
        "Adjusted p submitted",
        "Mean calibrated",
        "g calibrated",
        "Adjusted p calibrated",
    )
    rows: list[str] = []
    for decision in disparity.suppression.cells:
        if not decision.published:
            cells = [_td(decision.label, class_="group"), _suppressed(decision, 7)]
            rows.append(element("tr", *cells, class_="suppressed-row"))
            continue
        for index, measure in enumerate(measures):
            cells = [_td(decision.label, rows=len(measures), class_="group")] if index == 0 else []
            cells.append(_td(measure))
            for version in ("pre", "post"):
                cells += _version_cells(versions[version][measure], decision.label)
            rows.append(element("tr", *cells))
    parts: list[str] = [element("h3", f"Ratings by {disparity.name}"), _table(headers, rows)]
    shifts = (
        _mean_shifts(versions["pre"]["mean rating"], versions["post"]["mean rating"])
        if "mean rating" in measures
        else []
    )
    if shifts:
        description = f"Mean rating by {disparity.name}, submitted and calibrated"
        chart = dumbbell_chart(shifts, axis="mean rating", description=description)
        caption = "Each published group's mean rating as submitted and as calibrated."
        parts.append(figure(chart, caption))
    return parts


def _version_cells(table: _Table, label: str) -> list[Markup]:
    """Mean, g and adjusted p of ``label`` in one version's table (one cell saying why not)."""
    decision = next((d for d in table.suppressed if d.label == label), None)
    if decision is not None:
        return [_suppressed(decision, 3)]
    if isinstance(table, InsufficientDisparityData):
        return [_td("no comparison", span=3, class_="insufficient")]
    group = next((g for g in table.groups if g.label == label), None)
    if group is None:
        return [_td(_NONE, span=3)]
    return [
        _td(_fixed(group.mean), numeric=True),
        _td(_fixed(group.hedges_g, signed=True), numeric=True),
        _td(_p(group.p_adjusted), numeric=True),
    ]


def _mean_shifts(pre: _Table, post: _Table) -> list[Shift]:
    """The groups published in both tables, with their means before and after."""
    if not isinstance(pre, ScoreDisparities) or not isinstance(post, ScoreDisparities):
        return []
    before = {g.label: g.mean for g in pre.groups}
    return [Shift(g.label, before[g.label], g.mean) for g in post.groups if g.label in before]


# -- style --------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #1b1f24; --muted: #5b6570; --rule: #d0d7de; --flag: #b42318;
  --flag-bg: #fdecea; --head: #f3f5f7; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.3em; border-bottom: 2px solid var(--ink); padding-bottom: 2px;
  margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.6em 0 0.4em; }
.lede, .note, figcaption, .unit { color: var(--muted); }
.unit { font-size: 0.85em; }
.headline { font-size: 1.15em; font-weight: 600; }
nav ol { display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; list-style: none; }
nav a { color: var(--ink); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
.table-wrap { overflow-x: auto; margin: 8px 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
thead th { background: var(--head); border-bottom: 1px solid var(--ink); }
td.num { text-align: right; white-space: nowrap; }
td.group, td.subject { font-weight: 600; overflow-wrap: anywhere; }
td.thresholds { font-size: 0.85em; color: var(--muted); max-width: 22em; }
tr.flagged td { background: var(--flag-bg); }
td.flag { color: var(--flag); font-weight: 600; }
.suppressed, .insufficient { color: var(--muted); font-style: italic; }
figure { margin: 12px 0 20px; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
.pair { display: flex; flex-wrap: wrap; gap: 0 24px; }
.pair > figure, .pair > p { flex: 1 1 460px; min-width: 0; }
footer { margin-top: 3em; border-top: 1px solid var(--rule); color: var(--muted); }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  nav { display: none; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  tr, figure { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  .pair { display: block; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
