"""The fairness audit's HTML report: a well-formed standalone document with every section, the
flagged raters and groups in it, suppressed groups without a single number, data escaped, sane
SVG coordinates; the rating distributions counted per published group; the caterpillar plot's
choice of raters."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

import numpy as np
import pytest

from domain.errors import InvalidInput
from domain.fairness.audit import FairnessReport, cell_fingerprints, flags
from domain.fairness.data import SOURCES, Ratings, Subjects
from domain.fairness.rater_effects import FlagRule, LeniencySource
from service.fairness_html import RatingDistributions, rating_distributions, render_html
from service.fairness_svg import Markup, element, empty, number, raters_to_draw
from tests.test_fairness_audit import audit, moved, organisation, planted, raised

HIDDEN = "Back Office"  # a department suppressed by differencing (a label without digits)
ODD = '<script>alert("x")</script> & Paris'  # a location label that must stay text
TITLE = 'Audit <2025-Q4> & "all"'
META = {"Position": "1234", "Digest": "<sha256>", "Run by": "HR & Audit"}
SECTIONS = ("summary", "flags", "raters", "reliability", "disparities", "selections", "calibration")
VOID = {"meta", "br", "hr", "img", "input", "link"}
COORDINATES = {"x", "y", "x1", "x2", "cx", "y1", "y2", "cy", "r", "width", "height"}


def with_odd_groups(subjects: Subjects) -> Subjects:
    """Ops becomes HIDDEN and Paris ODD."""
    department = [HIDDEN if v == "Ops" else v for v in subjects.groups["department"]]
    location = [ODD if v == "Paris" else v for v in subjects.groups["location"]]
    return replace(
        subjects, groups={**subjects.groups, "department": department, "location": location}
    )


@pytest.fixture(scope="module")
def audited() -> tuple[FairnessReport, Ratings, Subjects]:
    """A lenient manager (m03), a severe one (m07) whom calibration raises, Lisbon scored
    lower; with ODD groups, and HIDDEN suppressed: an earlier report published it with one
    more member (e001, who has moved to Eng since)."""
    ratings, subjects = planted(1)
    earlier = cell_fingerprints(audit(ratings, with_odd_groups(subjects)))
    subjects = with_odd_groups(moved(subjects, {1: "Eng"}))
    calibrated = raised(ratings, "m07", 1.5)
    report = audit(ratings, subjects, calibrated, previous=[earlier])
    return report, calibrated, subjects


@pytest.fixture(scope="module")
def page(audited: tuple[FairnessReport, Ratings, Subjects]) -> str:
    report, calibrated, subjects = audited
    distributions = rating_distributions(calibrated, subjects, report)
    return render_html(report, title=TITLE, distributions=distributions, meta=META)


@pytest.fixture(scope="module")
def document(page: str) -> Document:
    return parsed(page)


# -- reading the document back ------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attributes: dict[str, str]
    ancestors: tuple[str, ...]
    view_box: tuple[float, float] | None  # of the enclosing svg


@dataclass
class Text:
    text: str
    ancestors: tuple[str, ...]


class Document(HTMLParser):
    """Every element, text and table row of a page, and every tag that was not closed in
    order (``problems``). A section stands on the stack with its id (``section#flags``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.elements: list[Element] = []
        self.texts: list[Text] = []
        self.rows: list[str] = []
        self.row_classes: list[str] = []
        self._row: list[str] | None = None
        self._row_class = ""
        self._view_box: tuple[float, float] | None = None
        self.doctype: str | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)
        if tag in VOID:
            return
        self.stack.append(f"section#{dict(attrs).get('id')}" if tag == "section" else tag)
        if tag == "tr":
            self._row, self._row_class = [], dict(attrs).get("class") or ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        top = self.stack[-1] if self.stack else ""
        if top.split("#")[0] != tag:
            self.problems.append(f"</{tag}> closes <{top}>")
            return
        self.stack.pop()
        if tag == "svg":
            self._view_box = None
        if tag == "tr" and self._row is not None:
            self.rows.append(" ".join(self._row))
            self.row_classes.append(self._row_class)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.texts.append(Text(data, tuple(self.stack)))
        if self._row is not None:
            self._row.append(data)

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "svg":
            _, _, width, height = (float(v) for v in attributes["viewbox"].split())
            self._view_box = (width, height)
        self.elements.append(Element(tag, attributes, tuple(self.stack), self._view_box))

    def section_text(self, anchor: str) -> str:
        """All text inside the section with that id."""
        return "".join(t.text for t in self.texts if f"section#{anchor}" in t.ancestors)

    def in_section(self, anchor: str) -> list[Element]:
        return [e for e in self.elements if f"section#{anchor}" in e.ancestors]


def parsed(page: str) -> Document:
    document = Document()
    document.feed(page)
    document.close()
    return document


# -- the document -------------------------------------------------------------------------------


def test_the_page_is_one_well_formed_standalone_document(page: str, document: Document) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert document.doctype is not None
    assert document.doctype.lower() == "doctype html"
    assert document.problems == []
    assert document.stack == []  # every element closed
    tags = [e.tag for e in document.elements]
    assert tags.count("html") == tags.count("head") == tags.count("body") == 1
    assert tags.count("style") == 1
    # Nothing runs and nothing is fetched: no script, no external resource of any kind.
    assert "script" not in tags
    for e in document.elements:
        assert "src" not in e.attributes
        assert not any(k.startswith("on") for k in e.attributes), e
        href = e.attributes.get("href", "#")
        assert href.startswith("#"), href
    assert "url(http" not in page
    assert "@import" not in page


def test_every_section_is_there_in_order(document: Document) -> None:
    ids = [e.attributes.get("id") for e in document.elements if e.tag == "section"]
    assert ids == list(SECTIONS)
    headings = "".join(t.text for t in document.texts if t.ancestors[-1:] == ("h2",))
    for heading in (
        "Summary",
        "Flagged findings",
        "Rater severity",
        "Reliability",
        "Group disparities",
        "Selection rates",
        "Calibration effect",
    ):
        assert heading in headings


def test_the_summary_names_the_audit_and_counts_its_flags(
    audited: tuple[FairnessReport, Ratings, Subjects], document: Document
) -> None:
    report = audited[0]
    summary = document.section_text("summary")
    found = flags(report)
    assert report.cycle in summary
    assert report.method_version in summary
    assert "Seed" in summary
    assert str(report.parameters.seed) in summary
    for key, value in META.items():
        assert key in summary
        assert value in summary  # as text, once unescaped
    assert f"{len(found)} flagged findings" in summary
    assert "gender \u00d7 location" in summary  # the parameters' intersection
    assert "disparities.permutations" in summary


def test_flagged_raters_are_named_with_their_evidence_and_no_other_rater_is(
    audited: tuple[FairnessReport, Ratings, Subjects], document: Document, page: str
) -> None:
    report = audited[0]
    found = flags(report)
    raters = {
        f.subject for f in found if f.kind in ("lenient", "severe", "central tendency", "halo")
    }
    assert {"m03", "m07"} <= raters
    flag_rows = [r for r in document.rows if r.split(" ")[0] in ("lenient", "severe")]
    lenient = next(r for r in flag_rows if "m03" in r)
    assert "manager rater" in lenient
    assert "submitted and calibrated" in lenient  # m03 is flagged in both versions
    severe = next(r for r in flag_rows if "m07" in r)
    assert "severe" in severe
    # The caterpillar plots name the flagged raters, as labels in the SVG.
    svg_labels = [t.text for t in document.texts if "svg" in t.ancestors]
    assert "m03" in svg_labels
    assert "m07" in svg_labels
    # Raters who are not flagged are never named anywhere.
    unflagged = [f"m{i:02d}" for i in range(12) if f"m{i:02d}" not in raters]
    assert unflagged
    for rater in unflagged:
        assert rater not in page


def test_flagged_groups_appear_flagged_in_their_tables(
    audited: tuple[FairnessReport, Ratings, Subjects], document: Document
) -> None:
    found = flags(audited[0])
    assert any(f.kind == "score disparity" and f.subject == "Lisbon" for f in found)
    classes = zip(document.rows, document.row_classes, strict=True)
    flagged_rows = [r for r, c in classes if "flagged" in c.split()]
    assert any(r.startswith("score disparity Lisbon location") for r in flagged_rows)
    # Its score row in the location table, and its selection row (n, selected, rate, ...).
    assert any(re.match(r"Lisbon 40 final score .* flagged$", r) for r in flagged_rows)
    assert any(re.match(r"Lisbon 40 \d+ [\d.]+% .* flagged$", r) for r in flagged_rows)
    # Groups that are not flagged are not shown as flagged.
    assert not any(r.startswith("Sales") for r in flagged_rows)


def test_a_suppressed_group_appears_only_as_suppressed_without_any_number(
    audited: tuple[FairnessReport, Ratings, Subjects], document: Document
) -> None:
    decision = audited[0].grouping("department").suppression.decision(HIDDEN)
    assert not decision.published
    mentions = [t for t in document.texts if HIDDEN in t.text]
    assert mentions
    for mention in mentions:
        assert "tr" in mention.ancestors, mention  # only ever in a table row
    rows = [r for r in document.rows if HIDDEN in r]
    # The disparity table, the selection table and the calibration comparison list it.
    assert len(rows) >= 3
    for row in rows:
        assert "suppressed (differencing)" in row
        assert not re.search(r"\d", row), row
    for e in document.elements:  # nor in an attribute (tooltips, aria labels)
        assert all(HIDDEN not in v for v in e.attributes.values()), e


def test_text_from_the_data_is_escaped(page: str, document: Document) -> None:
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Paris" in page
    assert "Audit &lt;2025-Q4&gt; &amp; &quot;all&quot;" in page
    assert "&lt;sha256&gt;" in page
    # Read back, the label is the label: in tables, in chart labels and in the intersection.
    texts = "".join(t.text for t in document.texts)
    assert ODD in texts
    assert f"F \u00d7 {ODD}" in texts
    titles = [t.text for t in document.texts if t.ancestors[-1:] == ("title",)]
    assert TITLE in titles


def test_the_charts_are_inline_svg_with_finite_coordinates_inside_their_view(
    document: Document,
) -> None:
    svgs = [e for e in document.elements if e.tag == "svg"]
    # Managers, peers and customers before and after calibration, a distribution chart per
    # grouping, an impact chart per grouping and outcome, a before/after chart per grouping.
    assert len(svgs) == 3 * 2 + 4 + 4 + 4
    for svg in svgs:
        assert svg.attributes["xmlns"] == "http://www.w3.org/2000/svg"
        assert svg.attributes.get("role") == "img"
    drawn = [e for e in document.elements if "svg" in e.ancestors]
    assert {"line", "circle", "polygon", "rect", "text"} <= {e.tag for e in drawn}
    for e in drawn:
        assert e.view_box is not None
        width, height = e.view_box
        for name, value in e.attributes.items():
            assert "nan" not in value.lower() or name in ("aria-label",), e
            if name in COORDINATES:
                number_ = float(value)
                assert math.isfinite(number_), e
                limit = width if name in ("x", "x1", "x2", "cx", "width") else height
                assert -0.01 <= number_ <= limit + 0.01, e
        if e.tag == "polygon":
            for coordinate in re.split(r"[ ,]", e.attributes["points"]):
                assert math.isfinite(float(coordinate)), e


def test_the_calibration_section_shows_both_versions(
    audited: tuple[FairnessReport, Ratings, Subjects], document: Document
) -> None:
    report = audited[0]
    assert report.post is not report.pre
    calibration = document.section_text("calibration")
    changed = report.calibration.ratings_changed
    assert f"Calibration changed {changed} ratings" in calibration
    assert "Mean submitted" in calibration
    assert "Mean calibrated" in calibration
    assert "ICC(1) submitted" in calibration
    raters = document.section_text("raters")
    assert "As submitted:" in raters
    assert "As calibrated:" in raters


def test_an_uncalibrated_audit_with_a_missing_source_says_so() -> None:
    ratings, subjects = organisation(4, sources=("self", "manager", "peer"))
    report = audit(ratings, subjects)
    page = render_html(
        report,
        title="t",
        distributions=rating_distributions(ratings, subjects, report),
        meta={"cycle": "Autumn review"},
    )
    document = parsed(page)
    assert document.problems == []
    summary = document.section_text("summary")
    assert "Autumn review" in summary  # meta's cycle line replaces the report's
    assert "Cycle2025-Q4" not in summary
    assert "Calibration changed no rating" in document.section_text("calibration")
    assert "no customer ratings" in document.section_text("reliability")
    raters = document.section_text("raters")
    assert "Customer raters" in raters
    assert "no estimates" in raters
    # One chart per source with ratings, no before/after pairs.
    assert sum(e.tag == "svg" for e in document.in_section("raters")) == 2


def test_many_raters_are_cut_to_the_flagged_and_most_extreme_ones(document: Document) -> None:
    # 117 peers rate in the audit: the chart draws 60 and says how many it leaves out.
    raters = document.section_text("raters")
    assert re.search(r"117 raters, \d+ flagged", raters)
    assert "57 raters with less extreme estimates (or none) are not drawn" in raters


# -- rating distributions -----------------------------------------------------------------------


def test_rating_distributions_count_other_peoples_ratings_per_published_group(
    audited: tuple[FairnessReport, Ratings, Subjects],
) -> None:
    report, calibrated, subjects = audited
    distributions = rating_distributions(calibrated, subjects, report)
    assert distributions.points == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert [g.grouping for g in distributions.groupings] == [d.name for d in report.disparities]
    department = distributions.grouping("department")
    assert department is not None
    published = [d.label for d in report.grouping("department").suppression.cells if d.published]
    assert list(department.labels) == published
    assert HIDDEN not in department.labels
    # Counted the slow way: each rating of someone else, at its point, in its person's group.
    groups = subjects.groups["department"]
    person = {p: groups[i] for i, p in enumerate(subjects.ids)}
    expected = {label: [0] * 5 for label in published}
    rows = zip(
        calibrated.reviewee.tolist(),
        calibrated.source.tolist(),
        calibrated.value.tolist(),
        strict=True,
    )
    for reviewee, source, value in rows:
        label = person[calibrated.reviewee_ids[reviewee]]
        if source != SOURCES.index("self") and label in expected:
            expected[label][int(value) - 1] += 1
    counted = zip(department.labels, department.counts.tolist(), strict=True)
    assert {label: list(counts) for label, counts in counted} == expected
    intersection = distributions.grouping("gender \u00d7 location")
    assert intersection is not None
    assert f"F \u00d7 {ODD}" in intersection.labels


def test_rating_distributions_reject_inputs_that_are_not_the_reports(
    audited: tuple[FairnessReport, Ratings, Subjects],
) -> None:
    report, calibrated, subjects = audited
    fewer = Subjects(
        subjects.ids[:-1],
        {k: list(v[:-1]) for k, v in subjects.groups.items()},
        subjects.score[:-1],
    )
    with pytest.raises(InvalidInput) as error:
        rating_distributions(calibrated, fewer, report)
    assert error.value.field == "subjects"
    off_scale = replace(calibrated, value=np.where(calibrated.value == 5, 6.0, calibrated.value))
    with pytest.raises(InvalidInput) as error:
        rating_distributions(off_scale, subjects, report)
    assert error.value.field == "ratings"


def test_the_page_never_draws_a_distribution_the_report_suppresses(
    audited: tuple[FairnessReport, Ratings, Subjects],
) -> None:
    report, calibrated, subjects = audited
    given = rating_distributions(calibrated, subjects, report)
    department = given.grouping("department")
    assert department is not None
    # Distributions computed elsewhere that (wrongly) include the suppressed group.
    forged = replace(
        department,
        labels=(*department.labels, HIDDEN),
        counts=np.vstack([department.counts, [[1, 2, 3, 4, 5]]]),
    )
    distributions = RatingDistributions(
        given.points, tuple(forged if g is department else g for g in given.groupings)
    )
    page = render_html(report, title="t", distributions=distributions, meta={})
    for mention in (t for t in parsed(page).texts if HIDDEN in t.text):
        assert "tr" in mention.ancestors


# -- the caterpillar plot's raters --------------------------------------------------------------


@dataclass
class Raters:
    """A hand-made source: ``shrunk`` estimates, rows ``flagged`` (reason 0)."""

    shrunk: list[float]
    flagged: set[int] = field(default_factory=set)

    def source(self) -> LeniencySource:
        n = len(self.shrunk)
        shrunk = np.array(self.shrunk)
        reason = np.array([0 if i in self.flagged else 3 for i in range(n)])
        return LeniencySource(
            source="peer",
            tau2=0.1,
            pooled_within_variance=0.2,
            pooled_df=10,
            rule=FlagRule(5, 0.5, 0.05, "holm", n),
            rater_ids=[f"r{i}" for i in range(n)],
            rater_index=np.arange(n),
            n_ratees=np.full(n, 6),
            d=shrunk,  # the unshrunken deviation: the same, for these tests
            se=np.full(n, 0.1),
            shrunk=shrunk,
            t=shrunk,
            df=np.full(n, 5),
            p=np.full(n, 0.5),
            p_adjusted=np.full(n, 0.5),
            reason_code=reason,
        )


def test_raters_to_draw_keeps_all_raters_of_a_small_source_sorted_most_lenient_first() -> None:
    rows, left_out = raters_to_draw(Raters([0.1, -0.4, 0.3, float("nan")]).source(), 60)
    assert rows.tolist() == [2, 0, 1]  # the rater without an estimate is not drawn
    assert left_out == 1


def test_raters_to_draw_keeps_the_flagged_and_the_most_extreme_of_a_large_source() -> None:
    # 100 raters at -0.49 ... +0.50; rater 50 (estimate +0.01) is flagged.
    estimates = [(i - 49) / 100 for i in range(100)]
    rows, left_out = raters_to_draw(Raters(estimates, flagged={50}).source(), 5)
    assert left_out == 95
    # The flagged one, then the four largest |estimate|: +0.50, -0.49, +0.49, -0.48.
    assert sorted(rows.tolist()) == [0, 1, 50, 98, 99]
    assert rows.tolist() == [99, 98, 50, 1, 0]


# -- markup -------------------------------------------------------------------------------------


def test_markup_escapes_text_and_attributes_but_not_markup() -> None:
    inner = element("b", "<i>")
    assert inner == "<b>&lt;i&gt;</b>"
    assert (
        element("p", inner, "&", title='"q"')
        == '<p title="&quot;q&quot;"><b>&lt;i&gt;</b>&amp;</p>'
    )
    assert isinstance(inner, Markup)
    assert empty("line", x1=1.0, stroke_width=0.5, class_="a") == (
        '<line x1="1" stroke-width="0.5" class="a"/>'
    )
    assert number(-0.001) == "0"
    with pytest.raises(ValueError, match="not a finite number"):
        number(float("nan"))
    with pytest.raises(ValueError, match="not a finite number"):
        element("circle", cx=float("inf"))
