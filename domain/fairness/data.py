"""The columnar inputs of a fairness audit.

A cycle's ratings are one long table, one row per (reviewee, rater, competency) rating, held as
numpy arrays so that 10,000 employees x 7 raters x 5 competencies (350,000 ratings) audit in
well under a second. Labels (ids, competency keys, group values) live in side lists and the
arrays hold indexes into them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from domain.errors import InvalidInput

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# The rater sources, in a fixed order so that ``source`` codes mean the same everywhere.
SOURCES: tuple[str, ...] = ("self", "manager", "peer", "customer")


def source_code(source: str) -> int:
    try:
        return SOURCES.index(source)
    except ValueError:
        raise InvalidInput(
            f"unknown rater source {source!r}; known: {', '.join(SOURCES)}", field="source"
        ) from None


@dataclass(frozen=True)
class RatingScale:
    low: float
    high: float

    @property
    def points(self) -> int:
        """The number of scale points (a 1-5 scale has 5)."""
        return round(self.high - self.low) + 1


@dataclass(frozen=True)
class Ratings:
    """One cycle's submitted ratings (not-observed competencies are simply absent).

    ``reviewee``, ``rater`` and ``competency`` index ``reviewee_ids``, ``rater_ids`` and
    ``competencies``; ``source`` indexes ``SOURCES``; ``value`` is on ``scale``. A rater id is
    whatever stable key the caller uses (an employee id, or an external rater's reference); the
    same person rating as a peer and as a manager is one rater with two sources.
    """

    reviewee: IntArray
    rater: IntArray
    source: IntArray
    competency: IntArray
    value: FloatArray
    reviewee_ids: Sequence[str]
    rater_ids: Sequence[str]
    competencies: Sequence[str]
    scale: RatingScale

    def __post_init__(self) -> None:
        n = len(self.value)
        for name in ("reviewee", "rater", "source", "competency"):
            if len(getattr(self, name)) != n:
                rows = len(getattr(self, name))
                raise ValueError(f"ratings column {name} has {rows} rows, not {n}")

    def __len__(self) -> int:
        return len(self.value)

    def where(self, mask: BoolArray) -> Ratings:
        """The same table restricted to the rows where ``mask`` holds (labels unchanged)."""
        return Ratings(
            self.reviewee[mask],
            self.rater[mask],
            self.source[mask],
            self.competency[mask],
            self.value[mask],
            self.reviewee_ids,
            self.rater_ids,
            self.competencies,
            self.scale,
        )

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[tuple[str, str, str, str, float]],
        scale: RatingScale,
        competencies: Sequence[str] | None = None,
    ) -> Ratings:
        """Build from (reviewee id, rater id, source, competency, value) rows (tests, small
        inputs). Ids are numbered in order of first appearance."""
        reviewees: dict[str, int] = {}
        raters: dict[str, int] = {}
        comps: dict[str, int] = {c: i for i, c in enumerate(competencies or ())}
        columns: list[list[int]] = [[], [], [], []]
        values: list[float] = []
        for reviewee, rater, source, competency, value in rows:
            columns[0].append(reviewees.setdefault(reviewee, len(reviewees)))
            columns[1].append(raters.setdefault(rater, len(raters)))
            columns[2].append(source_code(source))
            columns[3].append(comps.setdefault(competency, len(comps)))
            values.append(float(value))
        return cls(
            np.asarray(columns[0], dtype=np.int64),
            np.asarray(columns[1], dtype=np.int64),
            np.asarray(columns[2], dtype=np.int64),
            np.asarray(columns[3], dtype=np.int64),
            np.asarray(values, dtype=np.float64),
            list(reviewees),
            list(raters),
            list(comps),
            scale,
        )


@dataclass(frozen=True)
class Subjects:
    """The people a disparity analysis compares: one entry per reviewee of the cycle.

    ``groups`` maps an attribute name (department, gender, location, tenure_band, ...) to each
    person's value, ``None`` where unknown (such people are left out of that attribute's
    comparisons, and counted as left out). ``score`` is the final score (NaN where none),
    ``kpi`` the KPI result (optional, NaN where none),
    ``tier`` the tier label (None where none), ``selections`` maps an outcome name (a tier such
    as ``tier:exceeds`` or a reward kind such as ``reward:bonus``) to who was selected into it.
    """

    ids: Sequence[str]
    groups: Mapping[str, Sequence[str | None]]
    score: FloatArray
    selections: Mapping[str, BoolArray] = field(default_factory=dict)
    # Each person's KPI result (NaN where none): with it, the audit also compares ratings
    # adjusted for results (what people were rated, against what their KPIs warranted).
    kpi: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.score) != n:
            raise ValueError(f"score has {len(self.score)} entries, not {n}")
        for name, values in self.groups.items():
            if len(values) != n:
                raise ValueError(f"group attribute {name} has {len(values)} entries, not {n}")
        if self.kpi is not None and len(self.kpi) != n:
            raise ValueError(f"kpi has {len(self.kpi)} entries, not {n}")
        for name, selected in self.selections.items():
            if len(selected) != n:
                raise ValueError(f"selection {name} has {len(selected)} entries, not {n}")
