"""The charts of the fairness audit's HTML report (:mod:`service.fairness_html`): markup
building, inline SVG charts drawn by this code alone, and the data they draw.

Markup. Everything here returns :class:`Markup`, text that is already HTML or SVG.
:func:`element` and :func:`empty` escape every plain ``str`` they are given (children and
attribute values alike), so a label from the data -- a group called ``<script>``, a rater id with
quotes -- cannot become markup; only what these functions built passes through unescaped. A
chart coordinate that is not a finite number raises ``ValueError`` instead of writing ``NaN``
into an attribute: the charts drop non-finite values before drawing, so that error is a bug.

Charts (no JavaScript, no chart library): a caterpillar plot of the raters' leniency estimates
with their intervals, 100 % stacked bars of rating distributions, impact-ratio bars with the
four-fifths line, and a dumbbell plot of group means before and after calibration. Each is an
``<svg>`` with a ``viewBox`` (it scales with the page and prints crisply), a ``<title>`` for
screen readers and a ``<title>`` tooltip per mark. Flagged marks differ in shape or pattern and
in text as well as in colour, so a black-and-white print still tells them apart.

Data. :func:`rating_distributions` counts the calibrated ratings at each scale point per
published group (the report keeps no ratings, so the caller computes it from the audit's
inputs); :func:`raters_to_draw` picks the raters of a caterpillar plot.

Suppression. A rating distribution is counted and drawn only for a group the report publishes
in its head counts *and* in its calibrated mean-rating table (a distribution gives the group's
mean rating away); the impact chart draws the bars it is given, published groups only.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from domain.errors import InvalidInput
from domain.fairness.data import SOURCES, IntArray, Ratings, Subjects
from domain.fairness.disparities import DisparityReport, group_people
from domain.fairness.rater_effects import InsufficientSource, LeniencySource
from domain.fairness.report import MEAN_RATING, FairnessReport

INK = "#1b1f24"
MUTED = "#5b6570"
GRID = "#e3e7eb"
LENIENT = "#b35806"
SEVERE = "#542788"
FLAGGED = "#b42318"
NEUTRAL = "#8c959f"
# Diverging scale-point colours, low to high (ColorBrewer RdBu ends, grey middle).
_LOW_RGB = (202, 0, 32)
_MID_RGB = (230, 230, 230)
_HIGH_RGB = (5, 113, 176)

_CHART_WIDTH = 720.0
_LABEL_WIDTH = 170.0
_RIGHT_MARGIN = 24.0
_LABEL_CHARS = 26

SELF = SOURCES.index("self")
# A caterpillar plot draws at most this many raters of a source: the flagged ones first, then
# the most extreme others.
MAX_RATERS_DRAWN = 60
_Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


# -- markup -------------------------------------------------------------------------------------


class Markup(str):
    """A string that is already markup: :func:`element` inserts it as it is and escapes every
    other ``str``."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """``value`` as text safe to put anywhere in HTML or SVG (quotes escaped too)."""
    return Markup(html.escape(str(value), quote=True))


def concat(parts: Iterable[str]) -> Markup:
    """The parts one after the other, plain strings escaped."""
    return Markup("".join(p if isinstance(p, Markup) else escape(p) for p in parts))


def element(tag: str, /, *children: str, **attributes: object) -> Markup:
    """``<tag attributes>children</tag>``. Attribute names drop a trailing underscore and turn
    other underscores into hyphens (``class_`` -> ``class``, ``stroke_width`` ->
    ``stroke-width``); attributes whose value is None are left out."""
    return Markup(f"<{tag}{_attributes(attributes)}>{concat(children)}</{tag}>")


def empty(tag: str, /, **attributes: object) -> Markup:
    """A content-less SVG element, self-closed (``<line ... />``), or with ``tag`` one of
    HTML's void elements (``meta``) the same form, which HTML5 reads as the start tag."""
    return Markup(f"<{tag}{_attributes(attributes)}/>")


def number(value: float) -> str:
    """A coordinate or size with at most two decimals; raises ValueError when not finite."""
    if not math.isfinite(value):
        raise ValueError(f"a chart coordinate is not a finite number: {value!r}")
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _attributes(attributes: Mapping[str, object]) -> str:
    parts = []
    for key, value in attributes.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        if isinstance(value, bool):
            raise TypeError(f"attribute {name} takes text or a number, not {value!r}")
        text = number(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(text)}"')
    return "".join(parts)


def _shortened(label: str, limit: int = _LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


def _svg(width: float, height: float, description: str, *content: str) -> Markup:
    return element(
        "svg",
        element("title", description),
        *content,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {number(width)} {number(height)}",
        width=width,
        height=height,
        role="img",
        aria_label=description,
        font_family="system-ui, sans-serif",
        font_size=11,
    )


# -- scales -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearScale:
    """Maps the data interval [low, high] onto the drawing interval [start, end]."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        share = 0.5 if span == 0 else (value - self.low) / span
        return self.start + share * (self.end - self.start)

    def ticks(self, count: int = 6) -> list[float]:
        """Round values inside [low, high], about ``count`` of them (steps of 1, 2, 2.5 or 5
        times a power of ten)."""
        span = self.high - self.low
        if not span > 0:
            return [self.low]
        raw = span / count
        power = 10.0 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
        first = math.ceil(self.low / step - 1e-9)
        last = math.floor(self.high / step + 1e-9)
        return [round(i * step, 10) for i in range(first, last + 1)]


def _padded(values: Sequence[float], pad: float = 0.05) -> tuple[float, float]:
    low, high = min(values), max(values)
    margin = (high - low) * pad or 0.5
    return low - margin, high + margin


def _tick_label(value: float) -> str:
    return f"{value:g}"


def _x_axis(scale: LinearScale, top: float, bottom: float, caption: str) -> Markup:
    """Vertical grid lines with tick labels under ``bottom`` and the axis caption below them."""
    parts: list[str] = []
    for tick in scale.ticks():
        x = scale(tick)
        parts.append(empty("line", x1=x, x2=x, y1=top, y2=bottom, stroke=GRID))
        parts.append(
            element("text", _tick_label(tick), x=x, y=bottom + 13, text_anchor="middle", fill=MUTED)
        )
    middle = (scale.start + scale.end) / 2
    parts.append(element("text", caption, x=middle, y=bottom + 28, text_anchor="middle", fill=INK))
    return concat(parts)


def _vertical_rule(
    x: float, top: float, bottom: float, label: str, *, colour: str, dashed: bool
) -> Markup:
    return concat(
        [
            empty(
                "line",
                x1=x,
                x2=x,
                y1=top,
                y2=bottom,
                stroke=colour,
                stroke_width=1.5 if not dashed else 1.0,
                stroke_dasharray="4 3" if dashed else None,
            ),
            element("text", label, x=x, y=top - 4, text_anchor="middle", fill=colour),
        ]
    )


def _row_label(label: str, y: float, *, bold: bool = False, size: int | None = None) -> Markup:
    """A row's label right-aligned left of the plot area (shortened, the full label as its
    tooltip); ``size`` overrides the chart's font size."""
    shown = _shortened(label)
    tooltip = element("title", label) if shown != label else Markup("")
    return element(
        "text",
        tooltip,
        shown,
        x=_LABEL_WIDTH - 8,
        y=y + 4 if size is None else y + size / 3,
        text_anchor="end",
        fill=INK,
        font_weight="bold" if bold else None,
        font_size=size,
    )


# -- caterpillar --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RaterPoint:
    """One rater of the caterpillar plot. ``label`` is the rater id for a flagged rater and None
    for the others (a rater who is not flagged has nothing to answer for and stays unnamed);
    ``low``/``high`` bound the interval (no whisker where either is not finite)."""

    label: str | None
    estimate: float
    low: float
    high: float
    flag: Literal["lenient", "severe"] | None


def caterpillar_chart(
    points: Sequence[RaterPoint], *, threshold: float, description: str
) -> Markup:
    """Each rater's estimate as a dot with its interval as a whisker, one row per rater in the
    order given (sort by estimate before), with the zero line and the practical thresholds at
    -threshold and +threshold. Flagged raters are larger diamonds in their direction's colour,
    named at the left."""
    row = 14.0 if len(points) <= 40 else 10.0
    top, left, right = 26.0, _LABEL_WIDTH, _CHART_WIDTH - _RIGHT_MARGIN
    bottom = top + row * max(len(points), 1)
    extent = [0.0, -threshold, threshold]
    for p in points:
        extent += [v for v in (p.estimate, p.low, p.high) if math.isfinite(v)]
    scale = LinearScale(*_padded(extent), left, right)
    parts = [_x_axis(scale, top, bottom, "shrunken leniency estimate (scale points)")]
    parts.append(_vertical_rule(scale(0.0), top, bottom, "0", colour=INK, dashed=False))
    for value in (-threshold, threshold):
        parts.append(
            _vertical_rule(scale(value), top, bottom, f"{value:+g}", colour=MUTED, dashed=True)
        )
    label_size = 11 if row >= 14 else 9
    for index, point in enumerate(points):
        y = top + row * (index + 0.5)
        parts.append(_rater_mark(point, scale, y, label_size))
    return _svg(_CHART_WIDTH, bottom + 36, description, *parts)


def _rater_mark(point: RaterPoint, scale: LinearScale, y: float, label_size: int) -> Markup:
    colour = {"lenient": LENIENT, "severe": SEVERE, None: NEUTRAL}[point.flag]
    parts: list[str] = []
    interval = math.isfinite(point.low) and math.isfinite(point.high)
    if interval:
        parts.append(
            empty("line", x1=scale(point.low), x2=scale(point.high), y1=y, y2=y, stroke=colour)
        )
    spread = f" (95% interval {point.low:.2f} to {point.high:.2f})" if interval else ""
    who = f"{point.flag} rater {point.label}" if point.flag else "rater, not flagged"
    tooltip = element("title", f"{who}: {point.estimate:+.2f}{spread}")
    x = scale(point.estimate)
    if point.flag is None:
        parts.append(element("circle", tooltip, cx=x, cy=y, r=2.6, fill=colour))
    else:
        half = 5.0
        diamond = f"{number(x)},{number(y - half)} {number(x + half)},{number(y)} " + (
            f"{number(x)},{number(y + half)} {number(x - half)},{number(y)}"
        )
        parts.append(element("polygon", tooltip, points=diamond, fill=colour, stroke=INK))
    if point.label is not None:
        parts.append(_row_label(point.label, y, bold=True, size=label_size))
    return concat(parts)


# -- rater figures ------------------------------------------------------------------------------


def leniency_figure(source: LeniencySource | InsufficientSource, version: str) -> Markup:
    """The caterpillar plot of one source's leniency estimates (``version`` names the ratings:
    "as submitted", ...) with its caption, or why there is none."""
    if isinstance(source, InsufficientSource):
        return _note(
            f"{version.capitalize()}: no estimates ({source.reason}; {source.n_raters} raters, "
            f"{source.n_raters_with_enough_data} with enough data).",
            class_="insufficient",
        )
    rows, not_drawn = raters_to_draw(source, MAX_RATERS_DRAWN)
    if rows.size == 0:
        return _note(f"{version.capitalize()}: no rater has an estimate.", class_="insufficient")
    flagged = source.reason_code == 0
    lenient = int(np.count_nonzero(flagged & (source.d > 0)))
    points = [_rater_point(source, row) for row in rows.tolist()]
    threshold = source.rule.practical_threshold
    description = f"Leniency of {source.source} raters, {version}"
    chart = caterpillar_chart(points, threshold=threshold, description=description)
    count = int(flagged.sum())
    caption = (
        f"{version.capitalize()}: {source.n_raters} raters, {count} flagged ({lenient} lenient, "
        f"{count - lenient} severe); dashed: the practical threshold \u00b1{threshold:g}; "
        "sorted by estimate; only flagged raters are named."
    )
    if source.tau2 == 0:
        caption += (
            " The raters of this source differ no more than chance would make them"
            " (\u03c4\u00b2 = 0), so every estimate is shrunk to 0."
        )
    if not_drawn:
        caption += f" {not_drawn} raters with less extreme estimates (or none) are not drawn."
    return figure(chart, caption)


def raters_to_draw(source: LeniencySource, limit: int) -> tuple[IntArray, int]:
    """The rows of ``source`` to draw, most lenient first (ties by the unshrunken deviation),
    and how many raters are left out. Every rater when there are at most ``limit``; else the
    flagged ones, then the others with the largest |estimate| (then |unshrunken deviation|, as
    shrinkage can pull every estimate to 0), ``limit`` in all. A rater without a finite
    estimate is never drawn."""
    finite = np.isfinite(source.shrunk)
    if source.n_raters <= limit:
        chosen = np.flatnonzero(finite)
    else:
        flagged = np.flatnonzero(finite & (source.reason_code == 0))
        others = np.flatnonzero(finite & (source.reason_code != 0))
        room = max(limit - flagged.size, 0)
        size = (np.abs(np.nan_to_num(source.d[others])), np.abs(source.shrunk[others]))
        extreme = others[np.lexsort((others, -size[0], -size[1]))[:room]]
        chosen = np.concatenate([flagged, extreme])
    order = chosen[np.lexsort((chosen, -np.nan_to_num(source.d[chosen]), -source.shrunk[chosen]))]
    return order.astype(np.int64), source.n_raters - int(order.size)


def _rater_point(source: LeniencySource, row: int) -> RaterPoint:
    estimate = float(source.shrunk[row])
    half = _Z95 * float(source.se[row])
    flagged = int(source.reason_code[row]) == 0
    direction: Literal["lenient", "severe"] = "lenient" if source.d[row] > 0 else "severe"
    return RaterPoint(
        label=source.rater_ids[int(source.rater_index[row])] if flagged else None,
        estimate=estimate,
        low=estimate - half,
        high=estimate + half,
        flag=direction if flagged else None,
    )


# -- rating distributions -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GroupingDistribution:
    """The rating distributions of one grouping's published groups: ``counts[i, k]`` is the
    number of ratings of the people of group ``labels[i]`` at scale point ``k`` (lowest first)."""

    grouping: str
    labels: tuple[str, ...]
    counts: IntArray


@dataclass(frozen=True, eq=False)
class RatingDistributions:
    """Per grouping of a report, the published groups' rating distributions. ``points`` are
    the scale's points, lowest first."""

    points: tuple[float, ...]
    groupings: tuple[GroupingDistribution, ...]

    def grouping(self, name: str) -> GroupingDistribution | None:
        return next((g for g in self.groupings if g.grouping == name), None)


def rating_distributions(
    inputs_ratings: Ratings, subjects: Subjects, report: FairnessReport
) -> RatingDistributions:
    """Count the ratings other people gave (self ratings excluded, as in the audit's mean
    rating) at each scale point, per published group of every grouping of ``report``.

    ``inputs_ratings`` are the audit's calibrated ratings and ``subjects`` its subjects. A
    group is counted only when the report publishes it in its head counts and in its calibrated
    mean-rating table; a value between two points counts at the nearest one. Raises
    InvalidInput when a rating lies off the scale or the subjects are not the report's.
    """
    scale, points = inputs_ratings.scale, inputs_ratings.scale.points
    values = inputs_ratings.value
    if not np.all(np.isfinite(values)):
        raise InvalidInput("a rating is not a finite number", field="ratings")
    subject_of = _subject_index(inputs_ratings.reviewee_ids, subjects.ids)
    rated = (inputs_ratings.source != SELF) & (subject_of[inputs_ratings.reviewee] >= 0)
    subject = subject_of[inputs_ratings.reviewee[rated]]
    point = np.rint(values[rated] - scale.low).astype(np.int64)
    if point.size and (int(point.min()) < 0 or int(point.max()) >= points):
        raise InvalidInput(
            f"a rating lies outside the scale {scale.low:g} to {scale.high:g}", field="ratings"
        )
    scale_points = tuple(float(scale.low + k) for k in range(points))
    return RatingDistributions(
        scale_points,
        tuple(
            _grouping_distribution(report, grouping, subjects, subject, point, points)
            for grouping in report.disparities
        ),
    )


def _subject_index(reviewee_ids: Sequence[str], subject_ids: Sequence[str]) -> IntArray:
    """Each reviewee's index among the subjects (-1 where not a subject)."""
    position = {subject: index for index, subject in enumerate(subject_ids)}
    return np.fromiter(
        (position.get(r, -1) for r in reviewee_ids), dtype=np.int64, count=len(reviewee_ids)
    )


def _grouping_distribution(
    report: FairnessReport,
    disparity: DisparityReport,
    subjects: Subjects,
    subject: IntArray,
    point: IntArray,
    points: int,
) -> GroupingDistribution:
    if disparity.people != len(subjects.ids):
        raise InvalidInput(
            f"the report compared {disparity.people} people, these subjects are "
            f"{len(subjects.ids)}",
            field="subjects",
        )
    grouping = group_people(subjects, disparity.attributes)
    cell = grouping.cell[subject]
    known = cell >= 0
    cells = len(grouping.cells)
    counts = np.bincount(cell[known] * points + point[known], minlength=cells * points)
    index = {label: i for i, label in enumerate(grouping.labels)}
    labels = published_rating_cells(report, disparity)
    missing = [label for label in labels if label not in index]
    if missing:
        raise InvalidInput(
            f"the subjects have no group {missing[0]!r} of {disparity.name}, which the report "
            "publishes: they are not the report's subjects",
            field="subjects",
        )
    rows = np.array([index[label] for label in labels], dtype=np.int64)
    return GroupingDistribution(
        disparity.name, tuple(labels), counts.reshape(cells, points)[rows].astype(np.int64)
    )


def published_rating_cells(report: FairnessReport, disparity: DisparityReport) -> list[str]:
    """The labels of the groups whose rating distribution may be shown: published in the head
    counts and not suppressed in the calibrated mean-rating table."""
    table = report.rating_table(disparity.name, MEAN_RATING, "post")
    hidden = {d.label for d in table.suppressed} if table is not None else set()
    return [d.label for d in disparity.suppression.cells if d.published and d.label not in hidden]


def point_colours(points: int) -> list[str]:
    """One colour per scale point, low (red) through grey to high (blue)."""
    colours = []
    for index in range(points):
        share = 0.5 if points == 1 else index / (points - 1)
        start, end, t = (
            (_LOW_RGB, _MID_RGB, share * 2)
            if share <= 0.5
            else (_MID_RGB, _HIGH_RGB, share * 2 - 1)
        )
        rgb = (round(a + (b - a) * t) for a, b in zip(start, end, strict=True))
        colours.append("#" + "".join(f"{c:02x}" for c in rgb))
    return colours


def _text_colour(background: str) -> str:
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return INK if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#ffffff"


def distribution_chart(
    rows: Sequence[tuple[str, Sequence[int]]], points: Sequence[str], *, description: str
) -> Markup:
    """One 100 % stacked bar per group: the share of its ratings at each scale point (``points``
    are the points' labels), with the number of ratings at the right and a legend on top.
    Groups without ratings get an empty bar and "no ratings"."""
    colours = point_colours(len(points))
    row, top = 22.0, 34.0
    left, right = _LABEL_WIDTH, _CHART_WIDTH - _RIGHT_MARGIN - 90
    parts: list[str] = [_legend(points, colours, left)]
    for index, (label, counts) in enumerate(rows):
        y = top + row * index
        parts.append(_row_label(label, y + 8))
        parts.append(_stacked_bar(label, counts, points, colours, left, right, y))
    height = top + row * max(len(rows), 1) + 8
    return _svg(_CHART_WIDTH, height, description, *parts)


def _legend(points: Sequence[str], colours: Sequence[str], left: float) -> Markup:
    parts: list[str] = [element("text", "rating:", x=left - 8, y=14, text_anchor="end", fill=INK)]
    step = min(58.0, (_CHART_WIDTH - _RIGHT_MARGIN - left) / max(len(points), 1))
    for index, (label, colour) in enumerate(zip(points, colours, strict=True)):
        x = left + index * step
        parts.append(empty("rect", x=x, y=4, width=14, height=12, fill=colour, stroke=NEUTRAL))
        parts.append(element("text", label, x=x + 18, y=14, fill=INK))
    return concat(parts)


def _stacked_bar(
    label: str,
    counts: Sequence[int],
    points: Sequence[str],
    colours: Sequence[str],
    left: float,
    right: float,
    y: float,
) -> Markup:
    total = sum(counts)
    parts: list[str] = []
    if total == 0:
        parts.append(
            empty("rect", x=left, y=y, width=right - left, height=16, fill="none", stroke=NEUTRAL)
        )
        parts.append(element("text", "no ratings", x=right + 6, y=y + 12, fill=MUTED))
        return concat(parts)
    x = left
    for count, point, colour in zip(counts, points, colours, strict=True):
        width = (right - left) * count / total
        if count == 0:
            continue
        share = count / total
        tooltip = element("title", f"{label}: {count} ratings at {point} ({share:.0%})")
        parts.append(element("rect", tooltip, x=x, y=y, width=width, height=16, fill=colour))
        if width >= 30:
            parts.append(
                element(
                    "text",
                    f"{share:.0%}",
                    x=x + width / 2,
                    y=y + 12,
                    text_anchor="middle",
                    fill=_text_colour(colour),
                )
            )
        x += width
    parts.append(element("text", f"n = {total}", x=right + 6, y=y + 12, fill=MUTED))
    return concat(parts)


def distribution_figure(
    report: FairnessReport, disparity: DisparityReport, distributions: RatingDistributions
) -> Markup:
    """The rating distributions of a grouping's groups that ``report`` lets one publish
    (:func:`published_rating_cells`, checked again here whatever ``distributions`` holds)."""
    given = distributions.grouping(disparity.name)
    if given is None:
        return _note("No rating distribution was given for this grouping.")
    allowed = set(published_rating_cells(report, disparity))
    rows = [
        (label, [int(c) for c in counts])
        for label, counts in zip(given.labels, given.counts.tolist(), strict=True)
        if label in allowed
    ]
    if not rows:
        return _note("No group's rating distribution can be published.")
    points = [f"{p:g}" for p in distributions.points]
    description = f"Rating distributions by {disparity.name}"
    chart = distribution_chart(rows, points, description=description)
    caption = (
        f"Ratings from other people (calibrated) by {disparity.name}: the share at each scale "
        "point and the number of ratings. Suppressed groups are not drawn."
    )
    return figure(chart, caption)


# -- impact ratios ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImpactBar:
    """One published group's selection rate and impact ratio against the reference group."""

    label: str
    rate: float
    ratio: float
    reference: bool
    flagged: bool


def impact_chart(bars: Sequence[ImpactBar], *, four_fifths: float, description: str) -> Markup:
    """Horizontal bars of the impact ratio (0 to 1, the reference group's bar is 1), with the
    four-fifths line; flagged groups are red and hatched, the reference group is outlined."""
    row, top = 22.0, 22.0
    left, right = _LABEL_WIDTH, _CHART_WIDTH - _RIGHT_MARGIN - 170
    bottom = top + row * max(len(bars), 1)
    high = max([1.0, four_fifths, *(b.ratio for b in bars if math.isfinite(b.ratio))])
    scale = LinearScale(0.0, high, left, right)
    parts: list[str] = [_hatch_pattern(), _x_axis(scale, top, bottom, "impact ratio")]
    for index, bar in enumerate(bars):
        if not math.isfinite(bar.ratio):
            continue
        y = top + row * index + 3
        fill = "url(#flag-hatch)" if bar.flagged else (NEUTRAL if not bar.reference else "#ffffff")
        tooltip = element(
            "title", f"{bar.label}: impact ratio {bar.ratio:.2f}, rate {bar.rate:.1%}"
        )
        parts.append(_row_label(bar.label, y + 8, bold=bar.flagged))
        parts.append(
            element(
                "rect",
                tooltip,
                x=left,
                y=y,
                width=max(scale(bar.ratio) - left, 0.5),
                height=16,
                fill=fill,
                stroke=FLAGGED if bar.flagged else INK,
            )
        )
        note = "reference" if bar.reference else ("flagged" if bar.flagged else "")
        text = f"{bar.ratio:.2f} (rate {bar.rate:.1%}){' ' + note if note else ''}"
        parts.append(element("text", text, x=scale(bar.ratio) + 6, y=y + 12, fill=INK))
    parts.append(
        _vertical_rule(
            scale(four_fifths),
            top,
            bottom,
            f"four-fifths ({four_fifths:g})",
            colour=FLAGGED,
            dashed=True,
        )
    )
    return _svg(_CHART_WIDTH, bottom + 36, description, *parts)


def _hatch_pattern() -> Markup:
    return element(
        "defs",
        element(
            "pattern",
            empty("rect", width=6, height=6, fill="#f4c7c3"),
            empty("line", x1=0, y1=0, x2=0, y2=6, stroke=FLAGGED, stroke_width=2),
            id="flag-hatch",
            width=6,
            height=6,
            patternUnits="userSpaceOnUse",
            patternTransform="rotate(45)",
        ),
    )


# -- pre vs post --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shift:
    """A published group's mean before (``pre``) and after (``post``) calibration."""

    label: str
    pre: float
    post: float


def dumbbell_chart(shifts: Sequence[Shift], *, axis: str, description: str) -> Markup:
    """Per group, a hollow dot at the pre-calibration value joined to a filled dot at the
    post-calibration value."""
    row, top = 18.0, 26.0
    left, right = _LABEL_WIDTH, _CHART_WIDTH - _RIGHT_MARGIN
    shown = [s for s in shifts if math.isfinite(s.pre) and math.isfinite(s.post)]
    bottom = top + row * max(len(shown), 1)
    extent = [v for s in shown for v in (s.pre, s.post)] or [0.0]
    scale = LinearScale(*_padded(extent), left, right)
    parts: list[str] = [_x_axis(scale, top, bottom, axis)]
    parts.append(
        element("text", "\u25cb submitted   \u25cf calibrated", x=left, y=top - 8, fill=MUTED)
    )
    for index, shift in enumerate(shown):
        y = top + row * (index + 0.5)
        tooltip = f"{shift.label}: {shift.pre:.2f} submitted, {shift.post:.2f} calibrated"
        parts.append(_row_label(shift.label, y))
        parts.append(
            empty(
                "line",
                x1=scale(shift.pre),
                x2=scale(shift.post),
                y1=y,
                y2=y,
                stroke=NEUTRAL,
                stroke_width=2,
            )
        )
        parts.append(
            element(
                "circle",
                element("title", tooltip),
                cx=scale(shift.pre),
                cy=y,
                r=4,
                fill="#ffffff",
                stroke=INK,
            )
        )
        parts.append(
            element("circle", element("title", tooltip), cx=scale(shift.post), cy=y, r=4, fill=INK)
        )
    return _svg(_CHART_WIDTH, bottom + 36, description, *parts)


# -- figures ------------------------------------------------------------------------------------


def figure(chart: str, caption: str) -> Markup:
    """A chart with its caption."""
    return element("figure", chart, element("figcaption", caption))


def _note(text: str, class_: str | None = None) -> Markup:
    return element("p", text, class_=class_ or "note")
