"""Builders for review cycles in tests: the framework every review test starts from (delivery
weighs 60, teamwork 40, rated 1 to 5), which a test overrides only where it is about something
else."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.reviews import Competency, CycleDeadlines, CycleDefinition, Rating, RatingScale

LEVELS = ["poor", "weak", "solid", "strong", "outstanding"]


def competency(key: str, weight: int | str, **overrides: Any) -> Competency:
    values: dict[str, Any] = {
        "key": key,
        "name": key.replace("_", " ").title(),
        "weight": Decimal(weight),
        "levels": list(LEVELS),
    }
    values.update(overrides)
    return Competency(**values)


def cycle_definition(department: UUID, **overrides: Any) -> CycleDefinition:
    """A Q1 2026 cycle over one department."""
    values: dict[str, Any] = {
        "name": "Q1 2026 review",
        "period": "2026-Q1",
        "scope_departments": [department],
        "scope_employees": [],
        "competencies": [competency("delivery", 60), competency("teamwork", 40)],
        "scale": RatingScale(1, 5, ["1", "2", "3", "4", "5"]),
        "deadlines": CycleDeadlines(date(2026, 3, 20), date(2026, 3, 31)),
        "min_peer_raters": 3,
        "anonymity_threshold": 3,
    }
    values.update(overrides)
    return CycleDefinition(**values)


def ratings(delivery: int | None = 4, teamwork: int | None = 3) -> list[Rating]:
    """One rating for each competency of the framework; None is "not observed"."""
    return [Rating("delivery", delivery), Rating("teamwork", teamwork)]
