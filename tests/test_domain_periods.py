"""Performance periods: parsing the three spellings, their first and last days, bad input."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput
from domain.periods import Period, PeriodKind


@pytest.mark.parametrize(
    ("text", "kind", "index", "start", "end"),
    [
        ("2026-01", PeriodKind.MONTH, 1, date(2026, 1, 1), date(2026, 1, 31)),
        ("2026-04", PeriodKind.MONTH, 4, date(2026, 4, 1), date(2026, 4, 30)),
        ("2026-12", PeriodKind.MONTH, 12, date(2026, 12, 1), date(2026, 12, 31)),
        ("2026-Q1", PeriodKind.QUARTER, 1, date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-Q2", PeriodKind.QUARTER, 2, date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q3", PeriodKind.QUARTER, 3, date(2026, 7, 1), date(2026, 9, 30)),
        ("2026-Q4", PeriodKind.QUARTER, 4, date(2026, 10, 1), date(2026, 12, 31)),
        ("2026", PeriodKind.YEAR, 1, date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_a_period_parses_to_its_kind_and_spans_its_first_to_its_last_day(
    text: str, kind: PeriodKind, index: int, start: date, end: date
) -> None:
    period = Period.parse(text)
    assert period == Period(2026, kind, index)
    assert period.start == start
    assert period.end == end
    assert str(period) == text


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("2024-02", date(2024, 2, 29)),  # divisible by 4
        ("2026-02", date(2026, 2, 28)),
        ("2000-02", date(2000, 2, 29)),  # divisible by 400
        ("1900-02", date(1900, 2, 28)),  # divisible by 100, not by 400
    ],
)
def test_february_ends_on_the_29th_only_in_leap_years(text: str, end: date) -> None:
    assert Period.parse(text).end == end


def test_a_leap_year_quarter_one_contains_the_29th_of_february() -> None:
    assert Period.parse("2024-Q1").contains(date(2024, 2, 29))


def test_surrounding_whitespace_is_ignored_and_the_text_is_normalised() -> None:
    assert str(Period.parse("  2026-Q3 ")) == "2026-Q3"


def test_a_period_contains_its_first_and_last_day_and_nothing_outside() -> None:
    period = Period.parse("2026-03")
    assert period.contains(date(2026, 3, 1))
    assert period.contains(date(2026, 3, 31))
    assert not period.contains(date(2026, 2, 28))
    assert not period.contains(date(2026, 4, 1))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-13",
        "2026-00",
        "2026-1",
        "2026-Q0",
        "2026-Q5",
        "2026-q1",
        "26-03",
        "2026/03",
        "2026-03-01",
        "1899",
        "2201-01",
        "Q1-2026",
        "twenty",
    ],
)
def test_text_that_is_no_month_quarter_or_year_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Period.parse(text)
    assert caught.value.field == "period"


def test_a_rejected_period_names_the_field_the_caller_passed() -> None:
    with pytest.raises(InvalidInput) as caught:
        Period.parse("next year", field="reportingPeriod")
    assert caught.value.field == "reportingPeriod"


def test_years_at_the_edges_of_the_accepted_range_parse() -> None:
    assert Period.parse("1900").start == date(1900, 1, 1)
    assert Period.parse("2200-Q4").end == date(2200, 12, 31)
