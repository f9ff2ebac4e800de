"""Small-cell suppression: primary, complementary and differencing rules, checked both by the
decisions taken and from a reader's side -- enumerating every table of sizes consistent with what
is published (totals, published cells, the size bounds the reasons imply) and asserting that no
suppressed cell has only one possible value."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from domain.errors import InvalidInput
from domain.fairness.suppression import (
    LABEL_SEPARATOR,
    CellDecision,
    SuppressionPlan,
    SuppressionReason,
    cell_label,
    plan_suppression,
)

SMALL = SuppressionReason.SMALL_GROUP
COMPLEMENTARY = SuppressionReason.COMPLEMENTARY
DIFFERENCING = SuppressionReason.DIFFERENCING


def one_attribute(*names: str) -> list[tuple[str]]:
    return [(name,) for name in names]


def reasons(plan: SuppressionPlan) -> dict[str, SuppressionReason | None]:
    return {cell.label: cell.reason for cell in plan.cells}


def lines_of(cells: Sequence[tuple[str, ...]]) -> list[list[int]]:
    """The totals a reader knows, written out independently of the module: the whole table and,
    for an intersection, every row and column."""
    lines = [list(range(len(cells)))]
    if len(cells[0]) > 1:
        for dropped in range(len(cells[0])):
            keys = sorted({c[:dropped] + c[dropped + 1 :] for c in cells})
            for key in keys:
                lines.append(
                    [i for i, c in enumerate(cells) if c[:dropped] + c[dropped + 1 :] == key]
                )
    return lines


def readers_solutions(
    cells: Sequence[tuple[str, ...]], sizes: Sequence[int], plan: SuppressionPlan
) -> np.ndarray:
    """Every assignment of sizes to the suppressed cells that agrees with the line totals, the
    published cells and the bounds a reader infers from the reasons (small group: 1 .. m-1;
    otherwise at least m). Rows = solutions, columns = suppressed cells in order."""
    m = plan.min_size
    hidden = [i for i, c in enumerate(plan.cells) if not c.published]
    lines = lines_of(cells)
    # what each line's hidden cells add up to: its total minus its published cells
    hidden_total = [sum(sizes[i] for i in line if i in hidden) for line in lines]
    ranges = []
    for i in hidden:
        cap = min(t for line, t in zip(lines, hidden_total, strict=True) if i in line)
        low, high = (1, m - 1) if plan.cells[i].reason is SMALL else (m, cap)
        ranges.append(np.arange(low, min(high, cap) + 1))
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, len(hidden))
    keep = np.ones(len(grid), dtype=bool)
    for line, total in zip(lines, hidden_total, strict=True):
        hidden_in_line = [hidden.index(i) for i in line if i in hidden]
        if hidden_in_line:
            keep &= grid[:, hidden_in_line].sum(axis=1) == total
    return grid[keep]


def assert_not_derivable(
    cells: Sequence[tuple[str, ...]], sizes: Sequence[int], plan: SuppressionPlan
) -> None:
    solutions = readers_solutions(cells, sizes, plan)
    hidden = [i for i, c in enumerate(plan.cells) if not c.published]
    truth = np.array([sizes[i] for i in hidden])
    assert (solutions == truth).all(axis=1).any(), "the true sizes must be a solution"
    for column, i in enumerate(hidden):
        assert len(set(solutions[:, column].tolist())) >= 2, f"{plan.cells[i].label} derivable"


# -- primary suppression -----------------------------------------------------------------------


def test_no_small_group_publishes_everything() -> None:
    plan = plan_suppression(one_attribute("A", "B", "C"), [20, 5, 7], 5)
    assert all(cell.published for cell in plan.cells)
    assert [cell.status for cell in plan.cells] == ["published"] * 3
    assert plan.published.tolist() == [True, True, True]
    assert plan.suppressed == ()
    assert plan.exposed == ()


def test_two_small_groups_hide_each_other() -> None:
    # C (3) and D (4) are both small; together 7, and each lies in 1..4, so C is 3 or 4 (and D
    # the other): nothing to add.
    cells = one_attribute("A", "B", "C", "D")
    plan = plan_suppression(cells, [20, 15, 3, 4], 5)
    assert reasons(plan) == {"A": None, "B": None, "C": SMALL, "D": SMALL}
    assert_not_derivable(cells, [20, 15, 3, 4], plan)


def test_suppressed_cell_says_only_suppressed() -> None:
    plan = plan_suppression(one_attribute("A", "B", "C", "D"), [20, 15, 3, 4], 5)
    decision = plan.decision("C")
    assert decision.status == "suppressed"
    assert decision.reason == "small group"
    assert not hasattr(decision, "n")
    with pytest.raises(InvalidInput) as error:
        plan.decision("Z")
    assert error.value.field == "label"


# -- complementary suppression -------------------------------------------------------------------


def test_one_small_group_suppresses_the_next_smallest() -> None:
    # Published A = 20 and B = 15 with the total 50 leave C + D = 15: C (3) could be 1 .. 4.
    cells = one_attribute("A", "B", "C", "D")
    sizes = [20, 15, 3, 12]
    plan = plan_suppression(cells, sizes, 5)
    assert reasons(plan) == {"A": None, "B": None, "C": SMALL, "D": COMPLEMENTARY}
    assert_not_derivable(cells, sizes, plan)


def test_without_the_complementary_cell_the_small_one_is_derivable() -> None:
    # The reader's check can fail: with only C suppressed, C = 50 - 20 - 15 - 12 = 3.
    cells = one_attribute("A", "B", "C", "D")
    only_primary = SuppressionPlan(
        5,
        (
            CellDecision("A", ("A",), None),
            CellDecision("B", ("B",), None),
            CellDecision("C", ("C",), SMALL),
            CellDecision("D", ("D",), None),
        ),
    )
    with pytest.raises(AssertionError, match="C derivable"):
        assert_not_derivable(cells, [20, 15, 3, 12], only_primary)


def test_bounds_small_cell_plus_minimal_complementary_is_pinned() -> None:
    # D = 1 is small, C = 5 the next smallest: C + D = 6 with C >= 5 and D >= 1 pins D = 1 and
    # C = 5, so B (20) is suppressed as well.
    cells = one_attribute("A", "B", "C", "D")
    sizes = [30, 20, 5, 1]
    plan = plan_suppression(cells, sizes, 5)
    assert reasons(plan) == {"A": None, "B": COMPLEMENTARY, "C": COMPLEMENTARY, "D": SMALL}
    assert_not_derivable(cells, sizes, plan)


def test_bounds_two_singletons_are_pinned() -> None:
    # C = D = 1: together 2, and each holds at least one person, so both are 1.
    cells = one_attribute("A", "B", "C", "D")
    sizes = [20, 15, 1, 1]
    plan = plan_suppression(cells, sizes, 5)
    assert reasons(plan) == {"A": None, "B": COMPLEMENTARY, "C": SMALL, "D": SMALL}
    assert_not_derivable(cells, sizes, plan)


def test_uniform_selections_in_the_suppressed_cells_are_broken_up() -> None:
    # C and D hide 11 people of whom none was selected: each one's rate would be 0 %. B, the
    # smallest published cell with someone selected, joins them.
    cells = one_attribute("A", "B", "C", "D")
    plan = plan_suppression(cells, [30, 20, 8, 3], 5, selected=[10, 5, 0, 0])
    assert reasons(plan) == {"A": None, "B": COMPLEMENTARY, "C": COMPLEMENTARY, "D": SMALL}


def test_uniform_selections_of_the_whole_line_need_nothing_more() -> None:
    # Nobody at all was selected: the published total says so already.
    plan = plan_suppression(one_attribute("A", "B", "C", "D"), [30, 20, 8, 3], 5, selected=[0] * 4)
    assert reasons(plan) == {"A": None, "B": None, "C": COMPLEMENTARY, "D": SMALL}


def test_every_outcome_is_checked_and_mixed_ones_need_nothing_more() -> None:
    cells = one_attribute("A", "B", "C", "D")
    # One selected among C and D's 11 people: their rates stay unknown.
    plan = plan_suppression(cells, [30, 20, 8, 3], 5, selected=[10, 5, 1, 0])
    assert reasons(plan) == {"A": None, "B": None, "C": COMPLEMENTARY, "D": SMALL}
    # A second outcome selects all 11 of C and D and nobody else: B (the smallest cell with
    # someone not selected) joins them.
    two_outcomes = [[10, 0], [5, 0], [1, 8], [0, 3]]
    plan = plan_suppression(cells, [30, 20, 8, 3], 5, selected=two_outcomes)
    assert reasons(plan) == {"A": None, "B": COMPLEMENTARY, "C": COMPLEMENTARY, "D": SMALL}


# -- intersections ------------------------------------------------------------------------------

GENDER_BY_LOCATION = [("F", "B"), ("F", "L"), ("F", "P"), ("M", "B"), ("M", "L"), ("M", "P")]


def test_intersection_needs_two_suppressed_cells_in_every_row_and_column() -> None:
    # F x P (3) is below 10. Its column P gets M x P, its row F gets F x L (smallest), and
    # F x L's column gets M x L: a ring of four that no row or column total can open.
    sizes = [20, 15, 3, 25, 18, 12]
    plan = plan_suppression(GENDER_BY_LOCATION, sizes, 10)
    sep = LABEL_SEPARATOR
    assert reasons(plan) == {
        f"F{sep}B": None,
        f"F{sep}L": COMPLEMENTARY,
        f"F{sep}P": SMALL,
        f"M{sep}B": None,
        f"M{sep}L": COMPLEMENTARY,
        f"M{sep}P": COMPLEMENTARY,
    }
    for line in lines_of(GENDER_BY_LOCATION):
        assert sum(not plan.cells[i].published for i in line) != 1
    assert_not_derivable(GENDER_BY_LOCATION, sizes, plan)


def test_intersection_cell_alone_in_its_column_is_reported_exposed() -> None:
    # Location L has only women: F x L equals L's own total, which no suppression inside this
    # table can hide; the plan says so instead of suppressing everything else.
    plan = plan_suppression([("F", "B"), ("M", "B"), ("F", "L")], [20, 20, 3], 10)
    assert reasons(plan) == {
        cell_label(("F", "B")): None,
        cell_label(("M", "B")): None,
        cell_label(("F", "L")): SMALL,
    }
    assert plan.exposed == (cell_label(("F", "L")),)


def test_label_joins_values_with_a_multiplication_sign() -> None:
    assert cell_label(("F", "Berlin")) == "F \u00d7 Berlin"
    assert cell_label(("F",)) == "F"


# -- differencing --------------------------------------------------------------------------------

PEOPLE = [f"p{i:02d}" for i in range(60)]


def test_one_person_joining_a_group_suppresses_it_and_a_complement() -> None:
    earlier = {"A": frozenset(PEOPLE[:20]), "B": frozenset(PEOPLE[21:41])}
    members = [frozenset(PEOPLE[:21]), frozenset(PEOPLE[21:41]), frozenset(PEOPLE[41:60])]
    plan = plan_suppression(
        one_attribute("A", "B", "C"), [21, 20, 19], 5, members=members, previous=[earlier]
    )
    # A moved by one person: differencing. Then A alone would be total - B - C: C (the smaller
    # of B and C) is suppressed as its complement.
    assert reasons(plan) == {"A": DIFFERENCING, "B": None, "C": COMPLEMENTARY}


def test_differencing_counts_people_leaving_and_joining() -> None:
    # One left and one joined: same size, but two people moved.
    earlier = {"A": frozenset(PEOPLE[:20])}
    members = [frozenset(PEOPLE[1:21]), frozenset(PEOPLE[21:41]), frozenset(PEOPLE[41:60])]
    plan = plan_suppression(
        one_attribute("A", "B", "C"), [20, 20, 19], 5, members=members, previous=[earlier]
    )
    assert reasons(plan)["A"] is DIFFERENCING


@pytest.mark.parametrize("moved", [0, 5, 8])
def test_unchanged_or_largely_changed_groups_stay_published(moved: int) -> None:
    earlier = {"A": frozenset(PEOPLE[:20])}
    members = [frozenset(PEOPLE[:20] + PEOPLE[40 : 40 + moved]), frozenset(PEOPLE[20:40])]
    plan = plan_suppression(
        one_attribute("A", "B"), [20 + moved, 20], 5, members=members, previous=[earlier]
    )
    assert all(cell.published for cell in plan.cells)


def test_differencing_against_any_earlier_report() -> None:
    first = {"A": frozenset(PEOPLE[:10])}
    second = {"A": frozenset(PEOPLE[:18])}
    members = [frozenset(PEOPLE[:19]), frozenset(PEOPLE[20:40]), frozenset(PEOPLE[40:60])]
    plan = plan_suppression(
        one_attribute("A", "B", "C"), [19, 20, 20], 5, members=members, previous=[first, second]
    )
    assert reasons(plan)["A"] is DIFFERENCING


# -- a plan that starts from another one (the score table) ------------------------------------


def test_carried_plan_keeps_reasons_and_adds_its_own() -> None:
    # Head counts publish A, B, C, D (none small). Only 2 of C's people have a score: the score
    # table suppresses C and, to hide it, the next smallest by scored count (D).
    cells = one_attribute("A", "B", "C", "D")
    heads = plan_suppression(cells, [20, 15, 8, 12], 5)
    scores = plan_suppression(
        cells, [18, 15, 2, 11], 5, least_size=0, carried=heads.reasons, too_small=None
    )
    assert reasons(scores) == {"A": None, "B": None, "C": SMALL, "D": COMPLEMENTARY}


def test_too_small_overrides_the_size_test() -> None:
    plan = plan_suppression(one_attribute("A", "B", "C"), [20, 15, 12], 5, too_small=[0, 0, 1])
    assert reasons(plan)["C"] is SMALL
    assert reasons(plan)["B"] is COMPLEMENTARY


def test_empty_table() -> None:
    plan = plan_suppression([], [], 5)
    assert plan.cells == ()


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_size": 0}, "min_size"),
        ({"min_size": True}, "min_size"),
        ({"sizes": [1, 2]}, "sizes"),
        ({"sizes": [1, -2, 3]}, "sizes"),
        ({"cells": [("A",), ("B", "x"), ("C",)]}, "cells"),
        ({"cells": [("A",), ("A",), ("C",)]}, "cells"),
        ({"selected": [1, 2]}, "selected"),
        ({"selected": [1, 2, 9]}, "selected"),
        ({"members": [frozenset()]}, "members"),
        ({"previous": [{"A": frozenset()}]}, "members"),
        ({"carried": [None]}, "carried"),
        ({"too_small": [True]}, "too_small"),
        ({"least_size": -1}, "least_size"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "cells": one_attribute("A", "B", "C"),
        "sizes": [10, 10, 5],
        "min_size": 5,
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidInput) as error:
        plan_suppression(**arguments)  # type: ignore[arg-type]
    assert error.value.field == field


def test_solutions_helper_enumerates_small_tables() -> None:
    # The reader's-eye helper on its own: two hidden cells summing to 15 with C in 1..4 and
    # D >= 5 leave four possibilities.
    cells = one_attribute("A", "B", "C", "D")
    plan = plan_suppression(cells, [20, 15, 3, 12], 5)
    solutions = readers_solutions(cells, [20, 15, 3, 12], plan)
    assert sorted(map(tuple, solutions.tolist())) == [(c, 15 - c) for c in range(1, 5)]
