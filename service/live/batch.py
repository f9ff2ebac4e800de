"""What one committed range of the log changed, learnt from its audit-trail rows.

The audit trail holds one row per event, naming the aggregate, the event and the employees it
touches; that is enough to tell which scorecards, goals and trials a range may have changed,
without asking each read model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

AUDIT_ROWS = "SELECT * FROM audit_trail WHERE position > $1 AND position <= $2 ORDER BY position"

# Adopting a rule-set version re-scores every scorecard of the periods it covers.
RESCORING_EVENTS = frozenset({"VersionAdopted", "VersionAdoptedForScope"})
# Who reports to whom (and so what a manager sees) changes only through these aggregates.
ORGANISATION_AGGREGATES = frozenset({"Employee", "OrgStructure"})


@dataclass
class Batch:
    """The audit rows of the positions ``after`` (exclusive) to ``upto`` (inclusive)."""

    after: int
    upto: int
    rows: Sequence[asyncpg.Record]
    touched: set[UUID] = field(init=False, default_factory=set)
    goal_events: dict[str, dict[UUID, int]] = field(init=False, default_factory=dict)
    rescores_everyone: bool = field(init=False, default=False)
    reorganised: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        for r in self.rows:
            self.touched.update(r["employee_ids"])
            aggregate_type = r["aggregate_type"]
            if aggregate_type == "Goal":
                # Rows come in log order, so each goal keeps its last event's position.
                self.goal_events.setdefault(r["event_type"], {})[r["aggregate_id"]] = r["position"]
            elif aggregate_type == "RuleBook" and r["event_type"] in RESCORING_EVENTS:
                self.rescores_everyone = True
            elif aggregate_type in ORGANISATION_AGGREGATES:
                self.reorganised = True

    def goals(self, event_types: Iterable[str]) -> dict[UUID, int]:
        """The goals with events of these types, each with the position of its last one."""
        found: dict[UUID, int] = {}
        for event_type in event_types:
            for goal_id, position in self.goal_events.get(event_type, {}).items():
                found[goal_id] = max(position, found.get(goal_id, 0))
        return found
