"""Small-cell suppression: which group statistics of a fairness audit may be published.

A table of group statistics (head counts, mean scores, selection rates) must not let its reader
learn something about a handful of identifiable people. :func:`plan_suppression` decides, cell by
cell, whether a table publishes the cell or only the word "suppressed", and why:

``small group`` (primary)
    The cell has fewer than ``min_size`` people (5 for one attribute, 10 for an intersection is
    the audit's default).
``differencing``
    The cell's membership differs from the membership of the same cell in an earlier published
    report of the same cycle and grouping by 1 to ``min_size - 1`` people: subtracting the two
    reports would isolate those few people (an as-of report before and after one person joined a
    department gives that person's score away). When only a *fingerprint* of the earlier cell
    was kept -- its head count and a digest of its sorted member ids
    (:func:`membership_fingerprint`), so that the record holds no ids -- the difference cannot be
    counted; the cell is then suppressed when its digest differs and its head count differs by
    less than ``min_size`` (conservatively: a swap of members at an unchanged count is
    suppressed too, however many people were swapped).
``complementary``
    The cell is large enough and unchanged, but publishing it would let a reader work out a
    suppressed cell from the totals (see below).

The complementary rule
----------------------
A table's cells are the value combinations of one attribute, or of several for an intersection.
Every figure the audit publishes for a cell -- the head count, the sum of scores (mean x count),
the number of people with a score, each outcome's selection count -- is additive over cells, and
every *line* of the table has a total a reader knows or can work out: for one attribute the line
is the whole table (its total is the population minus the people counted as unknown, both
published); for an intersection the lines are the sets of cells that agree on all attributes but
one (their totals are cells of the lower-order tables) and the whole table. A suppressed cell is
*exposed* when a reader can derive it from those totals and the published cells:

1. exactly, by subtraction: the suppressed cells of each line sum to the line total minus its
   published cells. A suppressed cell is determined when its indicator vector lies in the row
   space of the line-by-suppressed-cell incidence matrix. A line with exactly one suppressed cell
   is the everyday case; in an intersection a cell that bridges two otherwise separate rings of
   suppressed cells is another one. Counts, score sums, scored counts and selection counts share
   the cells and the totals, so this one check covers them all.
2. by bounds: a reader who knows the rule knows that a "small group" cell holds 1 to
   ``min_size - 1`` people and any other suppressed cell at least ``min_size``. Two small cells
   adding up to 2, or a small cell and a complementary one adding up to ``min_size + 1``, pin
   both values. The intervals are tightened line by line until they stop changing.
3. by uniform selections: when the suppressed cells of a line together have nobody (or
   everybody) selected for an outcome while the line as a whole is mixed, every one of those
   cells has a selection rate of 0 (or 100) percent -- a disclosure about each of its members even
   though the counts stay hidden.

While a suppressed cell is exposed, the smallest published cell sharing a line with it is
suppressed as well (for rule 3 the smallest one whose selections break the uniformity; ties go to
the earlier cell), and all checks run again until no suppressed cell is exposed. A cell that no
further suppression in this table can protect (every cell of its lines is suppressed already; in
an intersection this happens when a line's only cell equals a lower-order cell) is listed in
:attr:`SuppressionPlan.exposed` for the caller to deal with, e.g. by suppressing the lower-order
cell.

Limits, stated so that nobody relies on more: the rules protect cells, not totals -- two reports
whose population differs by one person still differ, in their totals, by that person (publish
totals of the same population only); and the complementary cells are chosen greedily (smallest
first), which is safe but not the pattern that hides the fewest people.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

from domain.errors import InvalidInput
from domain.fairness.data import BoolArray, FloatArray, IntArray

# How the values of an intersection are joined into one label ("F x Berlin" with a real
# multiplication sign).
LABEL_SEPARATOR = " \u00d7 "  # a multiplication sign

# Numerical slack for the rank / leverage computation of the exact-derivation check.
_RANK_TOLERANCE = 1e-9

# A published cell's membership as an earlier report recorded it: (head count, sha256 hex).
Fingerprint = tuple[int, str]


class SuppressionReason(StrEnum):
    SMALL_GROUP = "small group"
    COMPLEMENTARY = "complementary"
    DIFFERENCING = "differencing"


def cell_label(values: Sequence[str]) -> str:
    """A cell's label: its values joined with LABEL_SEPARATOR (the value, for one attribute)."""
    return LABEL_SEPARATOR.join(values)


def membership_fingerprint(ids: Iterable[str]) -> Fingerprint:
    """A cell's membership in a form that can be recorded without the ids: the head count and
    the sha256 hex digest of the ids sorted (by code point) and encoded as a compact JSON array
    in UTF-8, e.g. ``["e1","e2"]`` -- unambiguous whatever characters an id holds."""
    members = sorted(ids)
    encoded = json.dumps(members, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return len(members), hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True, slots=True)
class CellDecision:
    """Whether one cell is published, and if not, why. Deliberately carries no size."""

    label: str
    values: tuple[str, ...]
    reason: SuppressionReason | None

    @property
    def published(self) -> bool:
        return self.reason is None

    @property
    def status(self) -> Literal["published", "suppressed"]:
        return "published" if self.reason is None else "suppressed"


@dataclass(frozen=True)
class SuppressionPlan:
    """The decisions for every cell of one table, in the order the cells were given.

    ``exposed`` lists the labels of suppressed cells that remain derivable and that no further
    suppression inside this table can protect (see the module docstring); it is empty in the
    ordinary case.
    """

    min_size: int
    cells: tuple[CellDecision, ...]
    exposed: tuple[str, ...] = ()

    @property
    def published(self) -> BoolArray:
        """One flag per cell: True where the cell is published."""
        return np.fromiter((c.published for c in self.cells), dtype=np.bool_, count=len(self.cells))

    @property
    def suppressed(self) -> tuple[CellDecision, ...]:
        return tuple(c for c in self.cells if not c.published)

    @property
    def reasons(self) -> tuple[SuppressionReason | None, ...]:
        return tuple(c.reason for c in self.cells)

    def decision(self, label: str) -> CellDecision:
        for cell in self.cells:
            if cell.label == label:
                return cell
        raise InvalidInput(f"no cell labelled {label!r} in this table", field="label")


@dataclass(frozen=True, slots=True)
class _Exposure:
    """A suppressed cell a reader could derive, and the published cells that could hide it."""

    cell: int
    candidates: IntArray


def plan_suppression(
    cells: Sequence[Sequence[str]],
    sizes: npt.ArrayLike,
    min_size: int,
    *,
    least_size: int = 1,
    too_small: npt.ArrayLike | None = None,
    selected: npt.ArrayLike | None = None,
    members: Sequence[frozenset[str]] | None = None,
    previous: Sequence[Mapping[str, frozenset[str]]] = (),
    carried: Sequence[SuppressionReason | None] | None = None,
    fingerprints: Sequence[Fingerprint] | None = None,
    previous_fingerprints: Sequence[Mapping[str, Fingerprint]] = (),
) -> SuppressionPlan:
    """Decide which cells of one table are published (see the module docstring for the rules).

    ``cells`` gives each cell's values (one per attribute; all of the same length), ``sizes`` the
    number of people each cell's statistics are computed from. ``least_size`` is the smallest
    size a listed cell can have as far as a reader knows (1 for head counts: a listed group has
    somebody in it; 0 for, say, the number of people with a score). ``too_small`` overrides which
    cells are suppressed as small groups (default: ``sizes < min_size``). ``selected`` holds, per
    cell and outcome (cells x outcomes), how many people of the cell were selected, for the
    uniform-selection check. ``members`` are the ids in each cell and ``previous`` the published
    cells (label -> ids) of earlier reports of the same cycle and grouping, for the differencing
    rule. ``carried`` starts from the decisions of another plan over the same cells (a score table
    starting from the head-count table's pattern); carried reasons are kept. ``fingerprints``
    (one per cell, see :func:`membership_fingerprint`) and ``previous_fingerprints`` (label ->
    fingerprint of the cells earlier reports published) apply the differencing rule to earlier
    reports that kept fingerprints instead of ids.
    """
    values = tuple(tuple(v) for v in cells)
    size = np.asarray(sizes, dtype=np.int64)
    _check_arguments(values, size, min_size, least_size, members, previous, carried)
    _check_fingerprints(len(values), fingerprints, previous_fingerprints)
    count = len(values)
    if count == 0:
        return SuppressionPlan(min_size, ())
    labels = tuple(cell_label(v) for v in values)
    small = _small_cells(size, min_size, too_small)
    outcome_counts = _selection_counts(selected, size)

    reasons: list[SuppressionReason | None] = (
        list(carried) if carried is not None else [None] * count
    )
    # Reasons this plan assigns itself: a reader of this table can infer size bounds from them.
    own = np.zeros(count, dtype=np.bool_)
    for i in np.flatnonzero(small).tolist():
        if reasons[i] is None:
            reasons[i], own[i] = SuppressionReason.SMALL_GROUP, True
    moved = _differencing_cells(labels, members, previous, min_size)
    moved += _fingerprint_differencing_cells(labels, fingerprints, previous_fingerprints, min_size)
    for i in moved:
        if reasons[i] is None:
            reasons[i], own[i] = SuppressionReason.DIFFERENCING, True

    table = _Table.of(values)
    # Cells the line totals fix whatever else is suppressed (alone in a line): reported, not chased.
    inherent = table.determined(np.ones(count, dtype=np.bool_))
    while True:
        suppressed = np.fromiter((r is not None for r in reasons), dtype=np.bool_, count=count)
        lower, upper = _size_bounds(reasons, own, size, min_size, least_size)
        exposures = [
            e
            for e in _exposures(table, suppressed, size, lower, upper, outcome_counts)
            if not inherent[e.cell]
        ]
        if not exposures:
            break
        repairable = [e for e in exposures if e.candidates.size]
        if not repairable:
            break
        candidates = repairable[0].candidates
        chosen = candidates[np.lexsort((candidates, size[candidates]))[0]]
        reasons[chosen], own[chosen] = SuppressionReason.COMPLEMENTARY, True
    exposed = sorted(
        {e.cell for e in exposures} | set(np.flatnonzero(inherent & suppressed).tolist())
    )

    decisions = tuple(
        CellDecision(label, cell_values, reason)
        for label, cell_values, reason in zip(labels, values, reasons, strict=True)
    )
    return SuppressionPlan(min_size, decisions, tuple(labels[i] for i in exposed))


# -- primary and differencing rules -------------------------------------------------------------


def _small_cells(size: IntArray, min_size: int, too_small: npt.ArrayLike | None) -> BoolArray:
    if too_small is None:
        return size < min_size
    flags = np.asarray(too_small, dtype=np.bool_)
    if flags.shape != size.shape:
        raise InvalidInput("too_small needs one flag per cell", field="too_small")
    return flags


def _differencing_cells(
    labels: tuple[str, ...],
    members: Sequence[frozenset[str]] | None,
    previous: Sequence[Mapping[str, frozenset[str]]],
    min_size: int,
) -> list[int]:
    """Cells whose membership moved by 1 .. min_size-1 people against any earlier publication."""
    if members is None:
        return []
    flagged = []
    for i, label in enumerate(labels):
        for report in previous:
            before = report.get(label)
            if before is not None and 0 < len(members[i] ^ before) < min_size:
                flagged.append(i)
                break
    return flagged


def _fingerprint_differencing_cells(
    labels: tuple[str, ...],
    fingerprints: Sequence[Fingerprint] | None,
    previous: Sequence[Mapping[str, Fingerprint]],
    min_size: int,
) -> list[int]:
    """Cells whose membership digest differs from an earlier publication's while the head
    counts differ by less than min_size (the number of people who moved is unknown, but may be
    small)."""
    if fingerprints is None:
        return []
    flagged = []
    for i, label in enumerate(labels):
        count, digest = fingerprints[i]
        for report in previous:
            before = report.get(label)
            if before is not None and before[1] != digest and abs(before[0] - count) < min_size:
                flagged.append(i)
                break
    return flagged


# -- the table's lines and what a reader can derive from them ------------------------------------


@dataclass(frozen=True, eq=False)
class _Table:
    """The lines of a table (sets of cells whose totals a reader knows) as index arrays and as a
    line-by-cell incidence matrix. ``neighbourhood`` are the lines to look for complementary cells
    in: for an intersection, not the whole table (its total is the sum of the other lines', and
    hiding an unrelated cell elsewhere in it protects nothing)."""

    lines: tuple[IntArray, ...]
    incidence: FloatArray
    neighbourhood: tuple[IntArray, ...]

    @classmethod
    def of(cls, values: tuple[tuple[str, ...], ...]) -> _Table:
        everything = np.arange(len(values), dtype=np.int64)
        lines = [everything]
        dimensions = len(values[0])
        for dropped in range(dimensions if dimensions > 1 else 0):
            by_rest: dict[tuple[str, ...], list[int]] = {}
            for i, cell in enumerate(values):
                by_rest.setdefault(cell[:dropped] + cell[dropped + 1 :], []).append(i)
            lines.extend(np.asarray(ix, dtype=np.int64) for ix in by_rest.values())
        incidence = np.zeros((len(lines), len(values)), dtype=np.float64)
        for row, line in enumerate(lines):
            incidence[row, line] = 1.0
        neighbourhood = lines if dimensions == 1 else lines[1:]
        return cls(tuple(lines), incidence, tuple(neighbourhood))

    @property
    def whole_table_last(self) -> tuple[IntArray, ...]:
        """Every line, the rows and columns of an intersection before its whole table."""
        return (*self.lines[1:], self.lines[0])

    def determined(self, suppressed: BoolArray) -> BoolArray:
        """Which cells the line totals and the published cells fix exactly: a suppressed cell is
        fixed when its unit vector lies in the row space of the incidence matrix restricted to the
        suppressed cells, i.e. when its leverage (the diagonal of the row-space projector) is 1."""
        fixed = np.zeros(suppressed.shape, dtype=np.bool_)
        hidden = np.flatnonzero(suppressed)
        if hidden.size == 0:
            return fixed
        _, singular, vt = np.linalg.svd(self.incidence[:, hidden], full_matrices=False)
        rank = int(np.sum(singular > _RANK_TOLERANCE * max(1.0, float(singular.max()))))
        leverage = np.sum(vt[:rank] ** 2, axis=0)
        fixed[hidden] = leverage > 1.0 - 1e-6
        return fixed

    def hiders(self, cell: int, suppressed: BoolArray) -> tuple[IntArray, bool]:
        """Published cells that could hide ``cell``, and whether ``cell`` is the only suppressed
        cell of some line (a direct leak, to be mended first): the published cells of those
        lines, or failing such lines, of every line through the cell."""
        through = [line for line in self.neighbourhood if np.any(line == cell)]
        alone = [line for line in through if suppressed[line].sum() == 1]
        pool = np.unique(np.concatenate(alone or through))
        return pool[~suppressed[pool]], bool(alone)


def _size_bounds(
    reasons: Sequence[SuppressionReason | None],
    own: BoolArray,
    size: IntArray,
    min_size: int,
    least_size: int,
) -> tuple[FloatArray, FloatArray]:
    """What a reader who knows the rules can say about each cell's size without seeing it.

    A small-group cell is below ``min_size`` (when it truly is: a cell flagged small for another
    reason only gets the general bound); a cell this plan suppressed for another reason is at
    least ``min_size`` (or its true size, if smaller); a carried cell only at least
    ``least_size``. The bounds always hold for the true sizes.
    """
    small = np.fromiter(
        (r is SuppressionReason.SMALL_GROUP for r in reasons), dtype=np.bool_, count=len(reasons)
    )
    lower = np.full(size.shape, float(least_size))
    lower[own & ~small] = np.minimum(size[own & ~small], min_size)
    upper = np.full(size.shape, np.inf)
    upper[small & (size < min_size)] = float(min_size - 1)
    return lower, upper


def _exposures(
    table: _Table,
    suppressed: BoolArray,
    size: IntArray,
    lower: FloatArray,
    upper: FloatArray,
    selected: IntArray | None,
) -> list[_Exposure]:
    """Every suppressed cell a reader could derive, with the cells that could hide it, most
    urgent first: cells alone in a line, then cells derived through other derived cells (both
    exactly or by bounds, small cells first), then uniform selections."""
    derived = table.determined(suppressed) | _pinned(table.lines, suppressed, size, lower, upper)
    direct: list[_Exposure] = []
    indirect: list[_Exposure] = []
    for cell in _by_size(np.flatnonzero(derived), size).tolist():
        candidates, alone = table.hiders(cell, suppressed)
        (direct if alone else indirect).append(_Exposure(cell, candidates))
    found = direct + indirect
    if selected is not None:
        found.extend(_uniform_selections(table, suppressed, size, selected))
    return found


def _by_size(cells: IntArray, size: IntArray) -> IntArray:
    return cells[np.lexsort((cells, size[cells]))]


def _pinned(
    lines: Sequence[IntArray],
    suppressed: BoolArray,
    size: IntArray,
    lower: FloatArray,
    upper: FloatArray,
) -> BoolArray:
    """Suppressed cells whose size interval shrinks to one value: each line's suppressed cells add
    up to a known amount, which bounds every one of them by the others' bounds."""
    lo, hi = lower.copy(), upper.copy()
    parts = [line[suppressed[line]] for line in lines]
    parts = [part for part in parts if part.size]
    for _ in range(len(size) + 1):
        changed = False
        for part in parts:
            amount = float(size[part].sum())
            new_lo = np.maximum(lo[part], amount - _sum_of_others(hi[part]))
            new_hi = np.minimum(hi[part], amount - (lo[part].sum() - lo[part]))
            if np.any(new_lo != lo[part]) or np.any(new_hi != hi[part]):
                lo[part], hi[part], changed = new_lo, new_hi, True
        if not changed:
            break
    pinned: BoolArray = suppressed & (lo == hi)
    return pinned


def _sum_of_others(bounds: FloatArray) -> FloatArray:
    """For each entry, the sum of all the other entries (infinite ones included, without the
    inf - inf that a plain ``total - own`` would give)."""
    infinite = np.isinf(bounds)
    finite_total = float(bounds[~infinite].sum())
    others_infinite = infinite.sum() - infinite > 0
    others: FloatArray = np.where(
        others_infinite, np.inf, finite_total - np.where(infinite, 0, bounds)
    )
    return others


def _uniform_selections(
    table: _Table, suppressed: BoolArray, size: IntArray, selected: IntArray
) -> list[_Exposure]:
    """Suppressed cells whose selection rate a reader knows to be 0 or 100 percent because all
    the suppressed cells of a mixed line share it; the rows and columns of an intersection are
    looked at before its whole table, so that the cells offered to break it up are close by."""
    found: list[_Exposure] = []
    for outcome in range(selected.shape[1]):
        chosen = selected[:, outcome]
        for line in table.whole_table_last:
            hidden = line[suppressed[line]]
            shown = line[~suppressed[line]]
            if hidden.size < 2:  # one hidden cell is the exact case, handled before
                continue
            line_selected, line_size = chosen[line].sum(), size[line].sum()
            if line_selected in (0, line_size):  # the line's total says it already
                continue
            if chosen[hidden].sum() == 0:
                breakers = shown[chosen[shown] > 0]
            elif chosen[hidden].sum() == size[hidden].sum():
                breakers = shown[chosen[shown] < size[shown]]
            else:
                continue
            found.extend(_Exposure(int(cell), breakers) for cell in _by_size(hidden, size))
    return found


# -- argument checks -----------------------------------------------------------------------------


def _check_fingerprints(
    cells: int,
    fingerprints: Sequence[Fingerprint] | None,
    previous: Sequence[Mapping[str, Fingerprint]],
) -> None:
    if fingerprints is not None and len(fingerprints) != cells:
        raise InvalidInput("fingerprints needs one per cell", field="fingerprints")
    if previous and fingerprints is None:
        raise InvalidInput(
            "comparing with earlier fingerprints needs the cells' fingerprints",
            field="fingerprints",
        )


def _selection_counts(selected: npt.ArrayLike | None, size: IntArray) -> IntArray | None:
    if selected is None:
        return None
    counts = np.asarray(selected, dtype=np.int64)
    if counts.ndim == 1:
        counts = counts[:, None]
    if counts.ndim != 2 or counts.shape[0] != size.shape[0]:
        raise InvalidInput("selected needs one row per cell (cells x outcomes)", field="selected")
    if np.any(counts < 0) or np.any(counts > size[:, None]):
        raise InvalidInput(
            "selection counts must lie between 0 and the cell size", field="selected"
        )
    return counts


def _check_arguments(
    values: tuple[tuple[str, ...], ...],
    size: IntArray,
    min_size: int,
    least_size: int,
    members: Sequence[frozenset[str]] | None,
    previous: Sequence[Mapping[str, frozenset[str]]],
    carried: Sequence[SuppressionReason | None] | None,
) -> None:
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise InvalidInput(
            f"min_size must be a whole number >= 1, not {min_size!r}", field="min_size"
        )
    if isinstance(least_size, bool) or not isinstance(least_size, int) or least_size < 0:
        raise InvalidInput("least_size must be a whole number >= 0", field="least_size")
    if size.shape != (len(values),):
        raise InvalidInput("sizes needs one entry per cell", field="sizes")
    if np.any(size < 0):
        raise InvalidInput("sizes cannot be negative", field="sizes")
    if values and (len(values[0]) == 0 or any(len(v) != len(values[0]) for v in values)):
        raise InvalidInput(
            "every cell needs one value per attribute, the same number", field="cells"
        )
    if len(set(values)) != len(values):
        raise InvalidInput("cells must be distinct", field="cells")
    if members is not None and len(members) != len(values):
        raise InvalidInput("members needs one set of ids per cell", field="members")
    if previous and members is None:
        raise InvalidInput("comparing with earlier reports needs the members", field="members")
    if carried is not None and len(carried) != len(values):
        raise InvalidInput("carried needs one decision per cell", field="carried")
