"""Fairness audit benchmark: one review cycle of a synthetic organisation, audited in full.

    .venv/bin/python bench/fairness_bench.py [--employees 10000] [--seed 1] [--runs 3] [--json]

Builds a seeded cycle of ``--employees`` people, each rated by themselves, their manager, four
peers of their department and one customer, on five competencies (10,000 employees: 350,000
ratings), with planted effects:

* ten lenient managers (+1.2 scale points) and ten severe ones (-1.2), whose ratings HR calibrates
  up by 1.2 (the calibrated ratings differ from the submitted ones for those managers only);
* one manager who rates everybody 3 on everything (central tendency), one who gives each ratee
  the same rating on every competency (halo);
* final scores 0.4 lower for women in Lisbon and 0.3 lower in department D07; ``tier:exceeds``
  (top fifth) and ``reward:bonus`` (top two fifths) selected by final score.

It then runs :func:`domain.fairness.audit.run_audit` with the default parameters (2,000
permutations, group_by department, gender and location, gender x location), ``--runs`` times,
and prints JSON: the median audit time, a reference measured in the same process (numpy's
per-rater and per-reviewee means of the same ratings with ``np.bincount``: the floor of any
audit, which must at least read every rating once), their ratio, whether the target (a full
audit in at most 2 s) is met, and which planted effects the audit flagged. With ``--json`` the
result is one line (the convention of ``bench/run``), otherwise indented.

Nothing here needs a database: it imports numpy and ``domain.fairness`` only. To see where the
time goes: ``.venv/bin/py-spy record -o audit.svg -- .venv/bin/python bench/fairness_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from numpy.random import PCG64, Generator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.fairness.audit import (
    AuditInputs,
    AuditParameters,
    FairnessReport,
    flags,
    report_digest,
    run_audit,
)
from domain.fairness.data import SOURCES, FloatArray, IntArray, Ratings, RatingScale, Subjects

TARGET_SECONDS = 2.0
COMPETENCIES = ("delivery", "collaboration", "craft", "ownership", "communication")
LOCATIONS = ("Berlin", "Lisbon", "Paris", "Remote", "Toronto")
TEAM = 8  # people per manager
DEPARTMENTS = 20
CUSTOMERS = 2000
PLANTED_SHIFT = 1.2
PARAMETERS = AuditParameters(
    group_by=("department", "gender", "location"),
    intersections=(("gender", "location"),),
    seed=20251231,
)


def synthetic_cycle(
    employees: int, seed: int
) -> tuple[Ratings, Ratings, Subjects, dict[str, list[str]]]:
    """(submitted, calibrated, subjects, planted) for one cycle; ``planted`` names the planted
    raters and groups by effect."""
    g = Generator(PCG64(seed))
    n = employees
    ids = [f"e{i:05d}" for i in range(n)]
    department = g.integers(0, DEPARTMENTS, n)
    gender = g.choice(np.array(["F", "M", "X"]), n, p=[0.48, 0.48, 0.04])
    location = g.choice(np.array(LOCATIONS), n)
    truth = g.normal(3.3, 0.5, n)

    # Managers: the first member of every team of eight manages the others and is managed by the
    # next team's lead.
    lead = (np.arange(n) // TEAM) * TEAM
    manager = np.where(lead == np.arange(n), (lead + TEAM) % n, lead)
    peers = _department_peers(department, g)
    customer = n + g.integers(0, CUSTOMERS, n)
    panel = np.column_stack([np.arange(n), manager, peers, customer])  # n x 7 rater codes
    source = np.array([SOURCES.index(s) for s in ("self", "manager", *["peer"] * 4, "customer")])

    k = len(COMPETENCIES)
    reviewee = np.repeat(np.arange(n), 7 * k)
    rater = np.repeat(panel, k, axis=1).reshape(-1)
    rater_source = np.tile(np.repeat(source, k), n)
    competency = np.tile(np.arange(k), 7 * n)
    rater_bias = g.normal(0.0, 0.15, n + CUSTOMERS)
    leads = np.unique(manager)
    lenient, severe, central, haloed = leads[:10], leads[10:20], leads[20], leads[21]
    rater_bias[lenient] += PLANTED_SHIFT
    rater_bias[severe] -= PLANTED_SHIFT
    noise = g.normal(0.0, 0.6, reviewee.size)
    value = truth[reviewee] + rater_bias[rater] + noise + np.where(rater_source == 0, 0.3, 0.0)
    is_manager = rater_source == SOURCES.index("manager")
    value[is_manager & (rater == central)] = 3.0
    halo_rows = is_manager & (rater == haloed)
    value[halo_rows] = np.repeat(value[halo_rows][::k], k)  # first competency's rating, every time
    value = np.clip(np.rint(value), 1, 5)

    calibrated_value = value.copy()
    by_severe = np.isin(rater, severe) & is_manager
    calibrated_value[by_severe] = np.clip(calibrated_value[by_severe] + PLANTED_SHIFT, 1, 5)
    calibrated_value = np.rint(calibrated_value)

    rater_ids = ids + [f"c{c:04d}" for c in range(CUSTOMERS)]
    scale = RatingScale(1, 5)

    def ratings(values: FloatArray) -> Ratings:
        return Ratings(
            reviewee, rater, rater_source, competency, values.astype(np.float64),
            ids, rater_ids, COMPETENCIES, scale,
        )  # fmt: skip

    departments = np.array([f"D{d + 1:02d}" for d in range(DEPARTMENTS)])[department]
    score = truth + g.normal(0.0, 0.2, n)
    score -= 0.4 * ((gender == "F") & (location == "Lisbon"))
    score -= 0.3 * (departments == "D07")
    subjects = Subjects(
        ids,
        {
            "department": departments.tolist(),
            "gender": gender.tolist(),
            "location": location.tolist(),
        },
        score,
        {
            "tier:exceeds": score >= np.quantile(score, 0.8),
            "reward:bonus": score >= np.quantile(score, 0.6),
        },
    )
    planted = {
        "lenient": [rater_ids[r] for r in lenient],
        "severe": [rater_ids[r] for r in severe],
        "central tendency": [rater_ids[central]],
        "halo": [rater_ids[haloed]],
        "score disparity": ["D07", "F \u00d7 Lisbon"],
    }
    return ratings(value), ratings(calibrated_value), subjects, planted


def _department_peers(department: IntArray, g: Generator) -> IntArray:
    """Four distinct colleagues of the same department for everyone: the next four after a
    random offset in a random ordering of the department."""
    peers = np.empty((department.size, 4), dtype=np.int64)
    for d in np.unique(department):
        members = g.permutation(np.flatnonzero(department == d))
        size = members.size
        offset = g.integers(1, size - 4, size)
        position = (np.arange(size)[:, None] + offset[:, None] + np.arange(4)) % size
        peers[members] = members[position]
    return peers


def reference_seconds(ratings: Ratings, repeats: int = 7) -> float:
    """The floor: per-rater and per-reviewee mean ratings with np.bincount (median of repeats)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for codes in (ratings.rater, ratings.reviewee):
            count = np.bincount(codes)
            total = np.bincount(codes, weights=ratings.value)
            np.divide(total, count, out=np.zeros(count.size), where=count > 0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def found_planted(report: FairnessReport, planted: dict[str, list[str]]) -> dict[str, object]:
    """How many of each planted effect the audit flagged, and in which version."""
    found = flags(report)
    holds: dict[tuple[str, str], str] = {(f.kind, f.subject): f.holds for f in found}
    result: dict[str, object] = {}
    for kind, subjects in planted.items():
        result[kind] = {
            "planted": len(subjects),
            "flagged": Counter(holds[kind, s] for s in subjects if (kind, s) in holds),
        }
    planted_keys = {(kind, s) for kind, subjects in planted.items() for s in subjects}
    others = Counter(f.kind for f in found if (f.kind, f.subject) not in planted_keys)
    result["other flags"] = dict(sorted(others.items()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON line")
    options = parser.parse_args()
    if options.employees < 1000:
        parser.error("--employees must be at least 1000 (twenty departments with peers to spare)")

    build_start = time.perf_counter()
    submitted, calibrated, subjects, planted = synthetic_cycle(options.employees, options.seed)
    build = time.perf_counter() - build_start
    inputs = AuditInputs(submitted, calibrated, subjects, "bench")
    runs, report = [], None
    for _ in range(options.runs):
        start = time.perf_counter()
        report = run_audit(inputs, PARAMETERS)
        runs.append(time.perf_counter() - start)
    assert report is not None
    audit = statistics.median(runs)
    reference = reference_seconds(submitted)
    result = {
        "figure": "fairness_audit",
        "value": round(audit, 3),
        "unit": "s",
        "target": f"<= {TARGET_SECONDS:g} s",
        "met": audit <= TARGET_SECONDS,
        "runs": [round(r, 3) for r in runs],
        "reference_seconds": round(reference, 4),
        "reference": "np.bincount per-rater and per-reviewee mean ratings of the same ratings",
        "audit_over_reference": round(audit / reference, 1),
        "employees": options.employees,
        "ratings": len(submitted),
        "calibrated_ratings": int(np.count_nonzero(submitted.value != calibrated.value)),
        "permutations": PARAMETERS.disparities.permutations,
        "groupings": [" x ".join(g) for g in PARAMETERS.groupings],
        "build_seconds": round(build, 3),
        "digest": report_digest(report),
        "planted": found_planted(report, planted),
    }
    print(json.dumps(result, indent=None if options.json else 2))


if __name__ == "__main__":
    main()
