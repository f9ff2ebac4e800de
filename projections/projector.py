"""Applies the event log to every read model, batch by batch, exactly once.

A batch's rows and the new tracking position commit in one transaction. The tracking update is
conditional on the position the batch started from, so even a runner that lost its lock cannot
apply a batch twice: its transaction fails, it drops its memory and reloads from the database.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from eventsourcing.utils import get_topic

from projections.audit_trail import AuditTrailModel
from projections.base import Handler, ReadModel, Sealer
from projections.cycle_scorecards import CycleScorecardsModel
from projections.fairness_audits import FairnessAuditsModel
from projections.feedback import FeedbackModel
from projections.goals import GoalsModel
from projections.organisation import OrganisationModel
from projections.pilot_scorecards import PilotScorecardsModel
from projections.reviews import ReviewsModel
from projections.rewards import RewardsModel
from projections.rules import RulesModel
from projections.scorecards import ScorecardsModel
from projections.trials import TrialsModel

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS projection_tracking (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""

PROJECTED_CHANNEL = "perfledger_projected"


def _both(first: Handler, then: Handler) -> Handler:
    def handle(event: Any, position: int) -> None:
        first(event, position)
        then(event, position)

    return handle


class TrackingConflict(RuntimeError):
    """Another runner moved this projection's position: this runner's memory is stale."""


class Projector:
    name = "read_models"

    def __init__(self, secrets: Sealer | None = None, *, with_audit_trail: bool = True) -> None:
        # For read models that keep sensitive text sealed; None where none is stored.
        self.secrets = secrets
        self.organisation = OrganisationModel()
        self.goals = GoalsModel()
        self.rules = RulesModel()
        self.feedback = FeedbackModel(secrets)
        self.rewards = RewardsModel(self.organisation)
        self.scorecards = ScorecardsModel(self.organisation, self.goals, self.rules)
        self.reviews = ReviewsModel(secrets)
        self.cycle_scorecards = CycleScorecardsModel(
            self.reviews, self.goals, self.scorecards, self.rules, self.rewards, self.feedback
        )
        self.fairness_audits = FairnessAuditsModel()
        self.trials = TrialsModel(self.organisation, secrets)
        self.pilot_scorecards = PilotScorecardsModel(
            self.trials,
            self.goals,
            self.rules,
            self.scorecards,
            self.reviews,
            self.cycle_scorecards,
        )
        self.audit_trail = AuditTrailModel(secrets)
        # Order matters: scorecards read the others' state when they flush.
        self.models: list[ReadModel] = [
            self.organisation,
            self.rules,
            self.goals,
            self.feedback,
            self.rewards,
            self.scorecards,
            self.reviews,
            self.cycle_scorecards,
            self.fairness_audits,
            self.trials,  # after the organisation: people joining a trial's scope
            self.pilot_scorecards,  # after the trials and every model it reads
        ]
        if with_audit_trail:  # as-of replays answer about scores, not about the trail
            self.models.append(self.audit_trail)
        self.position: int | None = None  # None: memory not loaded
        # Tell waiting readers (PositionWatcher) when a batch commits; a replay into another
        # schema must not, or they would take its position for the live read models'.
        self.announce = True
        self._wire()

    def _wire(self) -> None:
        self.dispatch: dict[type, Handler] = {}
        for model in self.models:
            for cls, handler in model.handlers().items():
                # The audit trail takes every event that another model takes too: both run.
                earlier = self.dispatch.get(cls)
                self.dispatch[cls] = handler if earlier is None else _both(earlier, handler)
        self.topics = frozenset(get_topic(cls) for cls in self.dispatch)

    def __getstate__(self) -> dict[str, Any]:
        """The models' memory, for as-of checkpoints; the handler table is rebuilt on load."""
        state = dict(self.__dict__)
        del state["dispatch"], state["topics"]
        if self.audit_trail not in self.models:
            del state["audit_trail"]  # unused here, and its handlers are closures
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "audit_trail" not in state:
            self.audit_trail = AuditTrailModel(self.secrets)
        self._wire()

    @property
    def tables(self) -> list[str]:
        return [table for model in self.models for table in model.tables]

    @property
    def schema_digest(self) -> str:
        """Names the read models' table layout: a release that changes it rebuilds them."""
        ddl = "\n".join(model.ddl for model in self.models)
        return hashlib.sha256(ddl.encode()).hexdigest()[:16]

    async def create_schema(self, conn: asyncpg.Connection) -> bool:
        """Create the read models' tables; if they were made by a release with another layout,
        drop them first and start again from position 0. True when that happened."""
        async with conn.transaction():
            # Two processes starting at once must not race on CREATE TABLE IF NOT EXISTS.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('perfledger:ddl'))")
            await conn.execute(TRACKING_DDL)
            await conn.execute(
                "ALTER TABLE projection_tracking ADD COLUMN IF NOT EXISTS schema_digest text"
            )
            stored = await conn.fetchrow(
                "SELECT position, schema_digest FROM projection_tracking WHERE name = $1",
                self.name,
            )
            outdated = stored is not None and stored["schema_digest"] != self.schema_digest
            if outdated:
                await conn.execute(f"DROP TABLE IF EXISTS {', '.join(self.tables)}")
            for model in self.models:
                await conn.execute(model.ddl)
            await conn.execute(
                "INSERT INTO projection_tracking (name, position, schema_digest) "
                "VALUES ($1, 0, $2) ON CONFLICT (name) DO UPDATE SET position = 0, "
                "schema_digest = $2, updated_at = now() "
                "WHERE projection_tracking.schema_digest IS DISTINCT FROM $2",
                self.name,
                self.schema_digest,
            )
        return outdated

    async def tracked_position(self, conn: asyncpg.Connection | PoolConnectionProxy) -> int:
        """The log position the read models (of ``conn``'s schema) reflect."""
        position: int = await conn.fetchval(
            "SELECT position FROM projection_tracking WHERE name = $1", self.name
        )
        return position

    async def load(self, conn: asyncpg.Connection) -> int:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for model in self.models:
                await model.load(conn)
            position = await self.tracked_position(conn)
        self.position = position
        gc.freeze()  # see ProjectionRunner.catch_up
        return position

    def forget(self) -> None:
        for model in self.models:
            model.clear()
        self.position = None

    async def reset(self, conn: asyncpg.Connection) -> None:
        """Empty every read model and start again from the beginning of the log."""
        async with conn.transaction():
            await conn.execute(f"TRUNCATE {', '.join(self.tables)}")
            await conn.execute(
                "UPDATE projection_tracking SET position = 0, updated_at = now() WHERE name = $1",
                self.name,
            )
        self.forget()

    def wants(self, topic: str) -> bool:
        return topic in self.topics

    def apply(self, events: Sequence[tuple[int, Any]]) -> None:
        dispatch = self.dispatch
        for position, domain_event in events:
            handler = dispatch.get(type(domain_event))
            if handler is not None:
                handler(domain_event, position)

    async def write_rows(self, conn: asyncpg.Connection) -> None:
        """Write the rows the applied events changed, and nothing else (``commit`` adds the
        tracking; an as-of replay writes into temporary tables and rolls them back)."""
        for model in self.models:
            await model.flush(conn)

    async def commit(self, conn: asyncpg.Connection, last_position: int) -> None:
        """Write what the applied events changed and move the tracking position, atomically."""
        assert self.position is not None
        try:
            async with conn.transaction():
                await self.write_rows(conn)
                moved = await conn.execute(
                    "UPDATE projection_tracking SET position = $2, updated_at = now() "
                    "WHERE name = $1 AND position = $3",
                    self.name,
                    last_position,
                    self.position,
                )
                if moved != "UPDATE 1":
                    raise TrackingConflict(
                        f"projection {self.name} is no longer at position {self.position}"
                    )
                if self.announce:
                    await conn.execute(
                        "SELECT pg_notify($1, $2)", PROJECTED_CHANNEL, str(last_position)
                    )
        except BaseException:
            self.forget()  # memory now runs ahead of the database; reload before going on
            raise
        for model in self.models:
            model.committed()
        self.position = last_position
