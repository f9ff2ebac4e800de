"""Read model: the fairness audits that were run, with what it takes to run each again."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from domain.fairness_audits import FairnessAudit
from projections.base import Handler, event_type, upsert

DDL = """
CREATE TABLE IF NOT EXISTS fairness_audits (
    id uuid PRIMARY KEY,
    cycle_id uuid NOT NULL,
    as_of_position bigint NOT NULL,
    method_version text NOT NULL,
    parameters jsonb NOT NULL,
    digest text NOT NULL,
    fingerprints jsonb NOT NULL,
    flags integer NOT NULL,
    recorded_at timestamptz NOT NULL,
    recorded_by text NOT NULL,
    recorded_role text NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS fairness_audits_cycle ON fairness_audits (cycle_id, position);
"""

_COLUMNS = [
    ("id", "uuid"),
    ("cycle_id", "uuid"),
    ("as_of_position", "bigint"),
    ("method_version", "text"),
    ("parameters_json", "text"),
    ("digest", "text"),
    ("fingerprints_json", "text"),
    ("flags", "integer"),
    ("recorded_at", "timestamptz"),
    ("recorded_by", "text"),
    ("recorded_role", "text"),
    ("position", "bigint"),
]


class FairnessAuditsModel:
    tables: Sequence[str] = ("fairness_audits",)
    ddl = DDL

    def __init__(self) -> None:
        self.new: list[tuple[Any, ...]] = []

    def clear(self) -> None:
        self.new = []

    def handlers(self) -> dict[type, Handler]:
        return {event_type(FairnessAudit, "Recorded"): self._recorded}

    def _recorded(self, e: Any, position: int) -> None:
        self.new.append(
            (
                e.originator_id,
                e.cycle_id,
                e.position,
                e.method_version,
                json.dumps(e.parameters, sort_keys=True),
                e.digest,
                json.dumps(e.fingerprints, sort_keys=True),
                e.flags,
                e.timestamp,
                e.provenance.actor_id,
                e.provenance.actor_role.value,
                position,
            )
        )

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()  # recorded audits never change: nothing to remember

    async def flush(self, conn: asyncpg.Connection) -> None:
        await upsert(conn, "fairness_audits", _COLUMNS, ["id"], self.new)

    def committed(self) -> None:
        self.new = []
