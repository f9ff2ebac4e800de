"""Performance periods: a month, a quarter or a year, written ``2026-03``, ``2026-Q1``, ``2026``."""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

from domain.errors import InvalidInput


class PeriodKind(Enum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_PATTERNS = (
    (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), PeriodKind.MONTH),
    (re.compile(r"^(\d{4})-Q([1-4])$"), PeriodKind.QUARTER),
    (re.compile(r"^(\d{4})$"), PeriodKind.YEAR),
)


@dataclass(frozen=True)
class Period:
    year: int
    kind: PeriodKind
    index: int  # month 1-12, quarter 1-4, or 1 for a year

    @classmethod
    def parse(cls, text: str, *, field: str = "period") -> Period:
        try:
            return _parsed(text)
        except InvalidInput as error:
            raise InvalidInput(error.message, field=field) from None

    @classmethod
    def _parse(cls, text: str) -> Period:
        for pattern, kind in _PATTERNS:
            match = pattern.match(text.strip())
            if match:
                year = int(match.group(1))
                if not 1900 <= year <= 2200:
                    break
                index = int(match.group(2)) if kind is not PeriodKind.YEAR else 1
                return cls(year, kind, index)
        raise InvalidInput(
            f"period {text!r} is not a month (2026-03), a quarter (2026-Q1) or a year (2026)"
        )

    @property
    def start(self) -> date:
        if self.kind is PeriodKind.MONTH:
            return date(self.year, self.index, 1)
        if self.kind is PeriodKind.QUARTER:
            return date(self.year, 3 * self.index - 2, 1)
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        if self.kind is PeriodKind.MONTH:
            last_month = self.index
        elif self.kind is PeriodKind.QUARTER:
            last_month = 3 * self.index
        else:
            last_month = 12
        return date(self.year, last_month, calendar.monthrange(self.year, last_month)[1])

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.index:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{self.index}"
        return f"{self.year}"


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Period:
    # Periods are immutable and few; projections and commands parse the same texts all day.
    return Period._parse(text)
