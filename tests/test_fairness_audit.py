"""The fairness audit orchestrator: planted rater effects and group disparities found with their
evidence, a clean organisation left alone, the calibration effect, reuse equal to recomputation,
determinism and the digest, parameters round-tripping, differencing suppression from recorded
fingerprints, explicit insufficient results and bad input."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from numpy.random import PCG64, Generator

from domain.errors import InsufficientData, InvalidInput
from domain.fairness.audit import (
    METHOD_VERSION,
    AuditInputs,
    AuditParameters,
    DisparitySettings,
    FairnessReport,
    Flag,
    cell_fingerprints,
    flags,
    report_digest,
    report_json,
    run_audit,
)
from domain.fairness.data import SOURCES, FloatArray, Ratings, RatingScale, Subjects
from domain.fairness.disparities import InsufficientDisparityData, ScoreDisparities
from domain.fairness.rater_effects import (
    InsufficientSource,
    LeniencySource,
    RaterEffectParameters,
    self_other_breakdown,
)
from domain.fairness.reliability import Insufficient, SourceReliability, reliability_by_source
from domain.fairness.report import flag_level
from domain.fairness.suppression import SuppressionReason, membership_fingerprint

SCALE = RatingScale(1, 5)
COMPETENCIES = ("c1", "c2", "c3", "c4", "c5")
DEPARTMENTS = ("Eng", "Ops", "Sales", "Support")
LOCATIONS = ("Berlin", "Lisbon", "Paris")
GroupShift = Mapping[tuple[str, str], float]
PARAMETERS = AuditParameters(
    group_by=("department", "gender", "location"),
    intersections=(("gender", "location"),),
    seed=3,
)


# -- a hand-sized organisation ------------------------------------------------------------------


def organisation(
    seed: int,
    *,
    employees: int = 120,
    rater_shift: Mapping[str, float] | None = None,
    score_shift: GroupShift | None = None,
    rating_shift: GroupShift | None = None,
    sources: Sequence[str] = SOURCES,
    exceeds_above: float = 3.4,
) -> tuple[Ratings, Subjects]:
    """``employees`` people in four departments (by position), three locations (by position) and
    two genders (at random), with true performance ~ N(3, 0.6). Everyone rates themselves (+0.3),
    is rated by their manager (m00 manages e000-e009, m01 the next ten, ...), four random peers
    and one of twenty customers, on five competencies: truth + the rater's shift + the group's
    rating shift + N(0, 0.5), rounded to the 1-5 scale. The final score is truth + the group's
    score shift + N(0, 0.15); ``tier:exceeds`` selects scores above ``exceeds_above``."""
    g = Generator(PCG64(seed))
    ids = [f"e{i:03d}" for i in range(employees)]
    groups: dict[str, Sequence[str | None]] = {
        "department": [DEPARTMENTS[i % 4] for i in range(employees)],
        "gender": [("F", "M")[int(b)] for b in g.integers(0, 2, employees)],
        "location": [LOCATIONS[(i // 4) % 3] for i in range(employees)],
    }
    truth = g.normal(3.0, 0.6, employees)
    raters: dict[str, int] = {rater: index for index, rater in enumerate(ids)}
    rows: list[tuple[int, int, int, int, float]] = []
    for i in range(employees):
        peers = g.choice(np.delete(np.arange(employees), i), 4, replace=False)
        panel = [
            (ids[i], "self"),
            (f"m{i // 10:02d}", "manager"),
            *((ids[p], "peer") for p in peers),
            (f"c{int(g.integers(0, 20)):02d}", "customer"),
        ]
        shift = _group_shift(rating_shift, groups, i)
        for rater, source in panel:
            bias = (rater_shift or {}).get(rater, 0.0) + (0.3 if source == "self" else 0.0)
            noise = g.normal(0, 0.5, len(COMPETENCIES))
            if source not in sources:
                continue
            code = raters.setdefault(rater, len(raters))
            for c, e in enumerate(noise):
                value = float(np.clip(np.rint(truth[i] + shift + bias + e), 1, 5))
                rows.append((i, code, SOURCES.index(source), c, value))
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    codes = [table[:, k].astype(np.int64) for k in range(4)]
    ratings = Ratings(
        codes[0], codes[1], codes[2], codes[3], table[:, 4], ids, list(raters), COMPETENCIES, SCALE
    )
    score = truth + g.normal(0, 0.15, employees)
    score += [_group_shift(score_shift, groups, i) for i in range(employees)]
    return ratings, Subjects(ids, groups, score, {"tier:exceeds": score > exceeds_above})


def _group_shift(
    shifts: GroupShift | None, groups: Mapping[str, Sequence[str | None]], person: int
) -> float:
    return sum(v for (name, value), v in (shifts or {}).items() if groups[name][person] == value)


def with_values(ratings: Ratings, value: FloatArray) -> Ratings:
    return replace(ratings, value=np.asarray(value, dtype=np.float64))


def raised(ratings: Ratings, rater: str, by: float) -> Ratings:
    """The ratings with ``rater``'s raised by ``by`` (on the scale): a calibration."""
    rows = ratings.rater == list(ratings.rater_ids).index(rater)
    value = ratings.value.copy()
    value[rows] = np.clip(np.rint(value[rows] + by), 1, 5)
    return with_values(ratings, value)


def audit(
    ratings: Ratings,
    subjects: Subjects,
    calibrated: Ratings | None = None,
    parameters: AuditParameters = PARAMETERS,
    previous: Sequence[Mapping[str, Mapping[str, tuple[int, str]]]] = (),
) -> FairnessReport:
    inputs = AuditInputs(ratings, calibrated or ratings, subjects, "2025-Q4", previous)
    return run_audit(inputs, parameters)


def plain(report: FairnessReport) -> Any:
    """The report's canonical JSON, as parsed JSON (for reading it in tests)."""
    return json.loads(json.dumps(report_json(report), allow_nan=False))


def by_finding(found: Sequence[Flag]) -> dict[tuple[str, str], Flag]:
    return {(flag.kind, flag.subject): flag for flag in found}


def planted(seed: int) -> tuple[Ratings, Subjects]:
    """A lenient manager (m03, +1.5), a severe one (m07, -1.5), and final scores 0.8 lower in
    Lisbon, with half the people selected into ``tier:exceeds``."""
    return organisation(
        seed,
        rater_shift={"m03": 1.5, "m07": -1.5},
        score_shift={("location", "Lisbon"): -0.8},
        exceeds_above=3.0,
    )


# -- planted effects ----------------------------------------------------------------------------


def test_planted_raters_and_group_disparity_are_flagged_with_their_evidence() -> None:
    ratings, subjects = planted(1)
    report = audit(ratings, subjects)
    found = by_finding(flags(report))
    level = flag_level(report)

    lenient = found["lenient", "m03"]
    assert (lenient.attribute, lenient.outcome, lenient.holds) == ("manager", None, "both")
    assert lenient.n == 10  # every one of m03's reports
    assert lenient.effect is not None
    assert lenient.effect > 1.0
    assert lenient.evidence.difference is not None
    assert lenient.evidence.difference > 1.0
    assert lenient.p_adjusted is not None
    assert lenient.p_adjusted < 0.05
    assert lenient.evidence.gate_p is None  # judged within the manager source
    assert lenient.thresholds == {
        "min_ratees": 5, "min_practical_effect": 0.5, "alpha": 0.05, "correction": "holm",
    }  # fmt: skip
    severe = found["severe", "m07"]
    assert severe.attribute == "manager"
    assert severe.effect is not None
    assert severe.effect < -1.0
    # No other manager is flagged either way.
    managers = {f.subject for f in flags(report) if f.attribute == "manager"}
    assert managers == {"m03", "m07"}

    lisbon = found["score disparity", "Lisbon"]
    assert (lisbon.attribute, lisbon.holds, lisbon.pre) == ("location", "post", None)
    assert lisbon.n == 40
    assert lisbon.effect is not None
    assert lisbon.effect < -0.8
    assert lisbon.evidence.difference is not None
    assert lisbon.evidence.difference < -0.5
    assert lisbon.p_adjusted is not None
    assert lisbon.p_adjusted < 0.05
    assert lisbon.evidence.gate_p is not None
    assert lisbon.evidence.gate_p < level.level
    # 4 groupings x (score + 2 measures x 2 versions... one version here: no calibration) + 1
    # selection table each, all sufficient: 4 x (1 + 2 + 1) = 16 families.
    assert level.families == 16
    assert lisbon.thresholds["level"] == pytest.approx(0.05 / 16)
    selection = found["selection disparity", "Lisbon"]
    assert (selection.attribute, selection.outcome) == ("location", "tier:exceeds")
    assert selection.effect is not None
    assert selection.effect < 0.8
    assert selection.thresholds["four_fifths"] == 0.8


def test_a_group_rated_lower_by_everyone_is_a_rating_disparity_before_and_after() -> None:
    ratings, subjects = organisation(2, rating_shift={("gender", "F"): -0.8})
    found = by_finding(flags(audit(ratings, subjects)))
    for kind in ("rating disparity", "adjusted rating disparity"):
        women = found[kind, "F"]
        assert (women.attribute, women.holds) == ("gender", "both")
        assert women.pre is not None
        assert women.pre.effect is not None
        assert women.pre.effect < -0.5
    assert ("score disparity", "F") not in found  # the scores were not shifted


def test_clean_organisations_flag_nothing_in_most_seeds() -> None:
    # Group findings are held to 5% per audit; rater findings to 5% per source and effect, nine
    # families, so a clean audit of this size shows a rater flag now and then (mostly a central-
    # tendency customer or manager with five to ten ratees): 5 of these 20 seeds show one.
    flagged = {}
    for seed in range(1, 21):
        ratings, subjects = organisation(seed)
        flagged[seed] = [(f.kind, f.subject) for f in flags(audit(ratings, subjects))]
    assert sum(1 for found in flagged.values() if found) <= 6, flagged
    assert sum(len(found) for found in flagged.values()) <= 8, flagged


# -- calibration --------------------------------------------------------------------------------


def test_calibrating_the_severe_rater_up_removes_the_flag_after_calibration_only() -> None:
    ratings, subjects = planted(1)
    calibrated = raised(ratings, "m07", 1.5)
    report = audit(ratings, subjects, calibrated)
    found = by_finding(flags(report))

    severe = found["severe", "m07"]
    assert severe.holds == "pre"
    assert severe.pre is not None
    assert severe.pre.effect is not None
    assert severe.pre.effect < -1.0
    assert severe.post is not None
    assert severe.post.effect is not None
    assert abs(severe.post.effect) < abs(severe.pre.effect) / 2
    assert found["lenient", "m03"].holds == "both"  # not calibrated

    changed = int(np.count_nonzero(calibrated.value != ratings.value))
    by_source = {s.source: s for s in report.calibration.sources}
    assert report.calibration.ratings_changed == by_source["manager"].changed == changed
    assert report.calibration.reviewees_changed == 10
    assert by_source["manager"].mean_change is not None
    assert by_source["manager"].mean_change > 0
    assert by_source["peer"].changed == 0
    assert by_source["peer"].mean_change is None
    # Only the manager source changed: the other sources' results are the earlier ones.
    assert report.post.reliability["peer"] is report.pre.reliability["peer"]
    assert report.post.reliability["manager"] is not report.pre.reliability["manager"]
    assert report.post.halo.source("customer") is report.pre.halo.source("customer")


def test_post_calibration_results_equal_a_fresh_audit_of_the_calibrated_ratings() -> None:
    ratings, subjects = planted(1)
    calibrated = raised(ratings, "m07", 1.5)
    side_by_side = plain(audit(ratings, subjects, calibrated))
    fresh = plain(audit(calibrated, subjects))
    assert side_by_side["ratings"]["post"] == fresh["ratings"]["pre"]
    for mine, theirs in zip(side_by_side["disparities"], fresh["disparities"], strict=True):
        for measure in ("mean_rating", "adjusted_mean_rating"):
            assert mine["ratings"][measure]["post"] == theirs["ratings"][measure]["pre"]


def test_without_calibration_both_versions_are_one_analysis() -> None:
    ratings, subjects = organisation(3)
    report = audit(ratings, subjects)
    assert report.post is report.pre
    assert report.calibration.ratings_changed == 0
    table = report.rating_table("gender", "mean_rating", "post")
    assert table is report.rating_table("gender", "mean_rating", "pre")
    assert "mean_rating:post" not in report.grouping("gender").measures  # tested once


# -- determinism --------------------------------------------------------------------------------


def test_the_same_inputs_and_parameters_give_the_same_report_and_digest() -> None:
    ratings, subjects = planted(1)
    calibrated = raised(ratings, "m07", 1.5)
    first, second = (audit(ratings, subjects, calibrated) for _ in range(2))
    assert report_json(first) == report_json(second)
    assert report_digest(first) == report_digest(second)
    text = json.dumps(report_json(first), sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert len(report_digest(first)) == 64
    assert text


def test_another_seed_gives_other_permutation_p_values_and_the_same_everything_else() -> None:
    ratings, subjects = planted(1)
    one = audit(ratings, subjects)
    other = audit(ratings, subjects, parameters=replace(PARAMETERS, seed=4))
    assert report_digest(one) != report_digest(other)
    tables = [report.grouping("department").scores for report in (one, other)]
    p_values = [
        tuple(g.p_value for g in table.groups)
        for table in tables
        if isinstance(table, ScoreDisparities)
    ]
    assert len(p_values) == 2
    assert p_values[0] != p_values[1]
    assert report_json(one)["ratings"] == report_json(other)["ratings"]


def test_report_json_is_plain_rounded_json_in_a_fixed_order() -> None:
    ratings, subjects = planted(1)
    report = audit(ratings, subjects)
    document = report_json(report)
    assert list(document) == [
        "method_version", "cycle", "parameters", "population", "calibration", "ratings",
        "disparities", "flag_level", "flags",
    ]  # fmt: skip
    assert document["method_version"] == METHOD_VERSION == "perfledger-fairness/1"
    assert document["parameters"] == PARAMETERS.to_json()
    text = json.dumps(document, allow_nan=False)  # raises on NaN or infinity
    for number in _floats(json.loads(text)):
        assert number == round(number, 9)
    assert len(plain(report)["flags"]) == len(flags(report))


def _floats(value: object) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for item in value.values() for f in _floats(item)]
    if isinstance(value, list):
        return [f for item in value for f in _floats(item)]
    return []


# -- parameters ---------------------------------------------------------------------------------


def test_default_parameters_round_trip_through_json() -> None:
    document = PARAMETERS.to_json()
    assert list(document) == [
        "group_by", "intersections", "outcomes", "adjust_for_severity", "seed", "min_raters",
        "flag_alpha", "rater_effects", "disparities",
    ]  # fmt: skip
    assert AuditParameters.from_json(json.loads(json.dumps(document))) == PARAMETERS


def test_every_parameter_round_trips_through_json() -> None:
    parameters = AuditParameters(
        group_by=("gender",),
        intersections=(("gender", "location"), ("department", "gender")),
        outcomes=("tier:exceeds",),
        adjust_for_severity=False,
        seed=2**40 + 7,
        min_raters=3,
        flag_alpha=0.1,
        rater_effects=RaterEffectParameters(min_ratees=4, alpha=0.01, correction="bonferroni"),
        disparities=DisparitySettings(
            min_group_size=6, min_intersection_size=12, permutations=3000, alpha=0.01,
            four_fifths=0.75, correction="none", min_effect_size=0.3,
        ),
    )  # fmt: skip
    restored = AuditParameters.from_json(json.loads(json.dumps(parameters.to_json())))
    assert restored == parameters
    assert restored.groupings == (("gender",), ("gender", "location"), ("department", "gender"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"rater_effects": {"min_ratees": 1}}, "rater_effects.min_ratees"),
        ({"rater_effects": {"shade": 1}}, "rater_effects.shade"),
        ({"disparities": {"permutations": 10}}, "disparities.permutations"),
        ({"disparities": {"alpha": 2}}, "disparities.alpha"),
        ({"disparities": "many"}, "disparities"),
        ({"group_by": "gender"}, "group_by"),
        ({"intersections": [["gender"]]}, "intersections"),
        ({"seed": "42"}, "seed"),
    ],
)
def test_from_json_names_the_field_in_error(change: dict[str, Any], field: str) -> None:
    document = {**PARAMETERS.to_json(), **change}
    with pytest.raises(InvalidInput) as error:
        AuditParameters.from_json(document)
    assert error.value.field == field


def test_from_json_needs_group_by_and_seed() -> None:
    for missing in ("group_by", "seed"):
        document = {k: v for k, v in PARAMETERS.to_json().items() if k != missing}
        with pytest.raises(InvalidInput) as error:
            AuditParameters.from_json(document)
        assert error.value.field == missing


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"group_by": ()}, "group_by"),
        ({"group_by": ("gender", "gender")}, "group_by"),
        ({"group_by": "gender"}, "group_by"),
        ({"group_by": ("",)}, "group_by"),
        ({"intersections": (("gender",),)}, "intersections"),
        ({"intersections": (("gender", "location"), ("location", "gender"))}, "intersections"),
        ({"outcomes": "tier:exceeds"}, "outcomes"),
        ({"adjust_for_severity": "yes"}, "adjust_for_severity"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"min_raters": 1}, "min_raters"),
        ({"flag_alpha": 0}, "flag_alpha"),
        ({"flag_alpha": 1}, "flag_alpha"),
    ],
)
def test_bad_parameters_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        replace(PARAMETERS, **change)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"permutations": 10}, "disparities.permutations"),
        ({"min_intersection_size": 3}, "disparities.min_intersection_size"),
        ({"correction": "sidak"}, "disparities.correction"),
        ({"min_effect_size": -0.1}, "disparities.min_effect_size"),
        ({"min_effect_size": float("inf")}, "disparities.min_effect_size"),
    ],
)
def test_bad_disparity_settings_name_the_nested_field(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        DisparitySettings(**settings)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("change", "field", "named"),
    [
        ({"group_by": ("department", "tenure")}, "group_by", "'tenure'"),
        ({"intersections": (("gender", "team"),)}, "intersections", "'team'"),
        ({"outcomes": ("reward:bonus",)}, "outcomes", "'reward:bonus'"),
        # 4 groupings x (score + 4 rating tables + 1 outcome) = 24 families: 24 / 0.05 = 480.
        ({"disparities": DisparitySettings(permutations=400)}, "disparities.permutations", "480"),
    ],
)
def test_parameters_the_subjects_cannot_serve_are_rejected(
    change: dict[str, Any], field: str, named: str
) -> None:
    ratings, subjects = organisation(1)
    with pytest.raises(InvalidInput) as error:
        audit(ratings, subjects, parameters=replace(PARAMETERS, **change))
    assert error.value.field == field
    assert named in error.value.message


# -- inputs -------------------------------------------------------------------------------------


def test_inputs_are_checked() -> None:
    ratings, subjects = organisation(1)
    shorter = ratings.where(np.arange(len(ratings)) > 0)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"calibrated": shorter}, "calibrated"),
        ({"calibrated": replace(ratings, rater=np.roll(ratings.rater, 1))}, "calibrated"),
        ({"calibrated": replace(ratings, scale=RatingScale(1, 7))}, "calibrated"),
        ({"submitted": with_values(ratings, np.where(ratings.rater == 0, np.nan, 3.0)),
          "calibrated": with_values(ratings, np.where(ratings.rater == 0, np.nan, 3.0))},
         "submitted"),
        ({"cycle": " "}, "cycle"),
        ({"subjects": Subjects(["e000", "e000"], {}, np.zeros(2))}, "subjects"),
        ({"previous": [{"department": {"Eng": (30, "abc")}}]}, "previous"),
        ({"previous": [{"department": ["Eng"]}]}, "previous"),
    ]  # fmt: skip
    for change, field in cases:
        arguments: dict[str, Any] = {
            "submitted": ratings, "calibrated": ratings, "subjects": subjects, "cycle": "2025-Q4",
        }  # fmt: skip
        with pytest.raises(InvalidInput) as error:
            AuditInputs(**{**arguments, **change})
        assert error.value.field == field, change


def test_a_cycle_with_only_self_ratings_is_insufficient_data() -> None:
    ratings, subjects = organisation(1, sources=("self",))
    with pytest.raises(InsufficientData):
        audit(ratings, subjects)


def test_missing_sources_and_small_groups_are_explicit_insufficient_results() -> None:
    ratings, subjects = organisation(1, employees=40, sources=("self", "manager", "peer"))
    teams = [f"t{i % 10}" for i in range(40)]  # ten teams of four: none publishable
    subjects = replace(subjects, groups={**subjects.groups, "team": teams})
    parameters = replace(PARAMETERS, group_by=("team", "gender"), intersections=())
    report = audit(ratings, subjects, parameters=parameters)

    assert isinstance(report.pre.leniency.source("customer"), InsufficientSource)
    assert isinstance(report.pre.reliability["customer"], Insufficient)
    assert isinstance(report.pre.reliability["peer"], SourceReliability)
    team = report.grouping("team")
    assert isinstance(team.scores, InsufficientDisparityData)
    assert isinstance(report.rating_table("team", "mean_rating", "pre"), InsufficientDisparityData)

    document = plain(report)
    pre = document["ratings"]["pre"]
    assert pre["reliability"]["customer"] == {
        "source": "customer",
        "insufficient": "no customer ratings",
    }
    assert "insufficient" in pre["leniency"][2]
    team_json = document["disparities"][0]
    assert "insufficient" in team_json["score"]
    assert "insufficient" in team_json["ratings"]["mean_rating"]["pre"]
    json.dumps(document, allow_nan=False)


# -- agreement with the statistics modules ------------------------------------------------------


def test_reliability_per_source_is_what_reliability_by_source_computes() -> None:
    ratings, subjects = organisation(5)
    report = audit(ratings, subjects, parameters=replace(PARAMETERS, min_raters=3))
    expected = reliability_by_source(ratings, 3)
    assert list(report.pre.reliability) == ["manager", "peer", "customer", "all_others"]
    for name, theirs in expected.items():
        mine = report.pre.reliability[name]
        assert isinstance(mine, SourceReliability)
        assert (mine.n_ratings, mine.n_reviewees, mine.n_raters) == (
            theirs.n_ratings, theirs.n_reviewees, theirs.n_raters,
        )  # fmt: skip
        assert mine.icc == theirs.icc
        assert mine.alpha == theirs.alpha
        if isinstance(theirs.rwg, Insufficient):  # one manager per reviewee: no agreement
            assert mine.rwg == theirs.rwg
        else:
            assert not isinstance(mine.rwg, Insufficient)
            assert (mine.rwg.mean, mine.rwg.median, mine.rwg.n_sufficient) == (
                theirs.rwg.mean, theirs.rwg.median, theirs.rwg.n_sufficient,
            )  # fmt: skip
    assert isinstance(report.pre.reliability["manager"], SourceReliability)
    assert isinstance(report.pre.reliability["manager"].rwg, Insufficient)


def test_self_other_breakdown_is_the_module_s_with_small_groups_suppressed() -> None:
    ratings, subjects = organisation(6)
    report = audit(ratings, subjects)
    summary = report.pre.self_other
    assert summary.insufficient is None
    assert summary.people == 120
    for breakdown in summary.breakdowns:
        theirs = self_other_breakdown(ratings, subjects, breakdown.attribute)
        assert [
            (g.value, g.n, g.mean_gap, g.share_over, g.share_under) for g in breakdown.groups
        ] == [(g.value, g.n, g.mean_gap, g.share_over, g.share_under) for g in theirs.groups]
        assert breakdown.suppressed == ()

    # Three people (one each from Eng, Ops, Sales) in a group of their own: suppressed, and the
    # smallest other group with them (29 each for Eng, Ops, Sales; ties go to the first).
    departments = ["Legal"] * 3 + list(subjects.groups["department"][3:])
    groups = {**subjects.groups, "department": departments}
    small = audit(ratings, replace(subjects, groups=groups)).pre.self_other.breakdowns[0]
    assert {c.label: c.reason for c in small.suppressed} == {
        "Legal": SuppressionReason.SMALL_GROUP,
        "Eng": SuppressionReason.COMPLEMENTARY,
    }
    assert [(g.value, g.n) for g in small.groups] == [("Ops", 29), ("Sales", 29), ("Support", 30)]


def test_the_adjusted_mean_rating_takes_each_rater_s_shrunken_leniency_off() -> None:
    ratings, subjects = planted(1)
    report = audit(ratings, subjects)
    n_raters = len(ratings.rater_ids)
    shrunk = np.zeros(len(SOURCES) * n_raters)
    for source in report.pre.leniency.sources:
        if isinstance(source, LeniencySource):
            shrunk[SOURCES.index(source.source) * n_raters + source.rater_index] = source.shrunk
    others = ratings.source != SOURCES.index("self")
    adjusted = ratings.value - shrunk[ratings.source * n_raters + ratings.rater]
    per_person = np.bincount(ratings.reviewee[others], weights=adjusted[others]) / np.bincount(
        ratings.reviewee[others]
    )
    raw = np.bincount(ratings.reviewee[others], weights=ratings.value[others]) / np.bincount(
        ratings.reviewee[others]
    )
    for name, key in (("adjusted_mean_rating", per_person), ("mean_rating", raw)):
        table = report.rating_table("location", name, "pre")
        assert isinstance(table, ScoreDisparities)
        for group in table.groups:
            members = [i for i, v in enumerate(subjects.groups["location"]) if v == group.label]
            assert group.mean == pytest.approx(float(key[members].mean()), abs=1e-12)
    # m07's ten reports are held less to m07's severity than everyone else is to theirs.
    reports = np.arange(70, 80)
    assert np.all(per_person[reports] - raw[reports] > 0.1)


# -- differencing ---------------------------------------------------------------------------------


def test_fingerprints_are_the_published_cells_memberships_and_stay_out_of_the_json() -> None:
    ratings, subjects = organisation(1)
    report = audit(ratings, subjects)
    prints = cell_fingerprints(report)
    assert list(prints) == ["department", "gender", "location", "gender \u00d7 location"]
    eng = [
        i for i, d in zip(subjects.ids, subjects.groups["department"], strict=True) if d == "Eng"
    ]
    assert (
        prints["department"]["Eng"]
        == membership_fingerprint(eng)
        == (30, prints["department"]["Eng"][1])
    )
    assert prints["department"]["Eng"][1] not in json.dumps(report_json(report))


def moved(subjects: Subjects, people: Mapping[int, str]) -> Subjects:
    departments = list(subjects.groups["department"])
    for person, department in people.items():
        departments[person] = department
    return replace(subjects, groups={**subjects.groups, "department": departments})


def department_reasons(report: FairnessReport) -> dict[str, SuppressionReason | None]:
    return {c.label: c.reason for c in report.grouping("department").suppression.cells}


def test_one_person_moving_suppresses_both_departments_by_differencing() -> None:
    ratings, subjects = organisation(1)
    earlier = cell_fingerprints(audit(ratings, subjects))
    later = moved(subjects, {1: "Eng"})  # e001 leaves Ops for Eng
    recorded = json.loads(json.dumps(earlier))  # as an audit event holds them: lists, not tuples
    report = audit(ratings, later, previous=[recorded])
    reasons = department_reasons(report)
    assert reasons["Eng"] is reasons["Ops"] is SuppressionReason.DIFFERENCING
    assert (
        SuppressionReason.COMPLEMENTARY not in reasons.values()
    )  # two hidden cells hide each other
    assert {c.label for c in report.grouping("department").counts} == {"Sales", "Support"}
    assert "Eng" not in cell_fingerprints(report)["department"]
    # The other groupings did not change and publish as before.
    assert cell_fingerprints(report)["location"] == earlier["location"]


def test_a_swap_at_equal_counts_is_suppressed_too() -> None:
    ratings, subjects = organisation(1)
    earlier = cell_fingerprints(audit(ratings, subjects))
    swapped = moved(subjects, {0: "Ops", 1: "Eng"})
    reasons = department_reasons(audit(ratings, swapped, previous=[earlier]))
    assert reasons["Eng"] is reasons["Ops"] is SuppressionReason.DIFFERENCING


def test_unchanged_or_largely_changed_departments_stay_published() -> None:
    ratings, subjects = organisation(1)
    earlier = cell_fingerprints(audit(ratings, subjects))
    assert set(department_reasons(audit(ratings, subjects, previous=[earlier])).values()) == {None}
    five = moved(subjects, dict.fromkeys((1, 5, 9, 13, 17), "Eng"))  # 35 Eng, 25 Ops
    assert set(department_reasons(audit(ratings, five, previous=[earlier])).values()) == {None}
    # Groupings this audit does not compare are ignored.
    other = {"tenure": {"new": (12, "0" * 64)}}
    assert set(department_reasons(audit(ratings, subjects, previous=[other])).values()) == {None}
