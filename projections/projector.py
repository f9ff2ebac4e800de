"""Applies the event log to every read model, batch by batch, exactly once.

A batch's rows and the new tracking position commit in one transaction. The tracking update is
conditional on the position the batch started from, so even a runner that lost its lock cannot
apply a batch twice: its transaction fails, it drops its memory and reloads from the database.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import asyncpg
from eventsourcing.utils import get_topic

from projections.audit_trail import AuditTrailModel
from projections.base import Handler, ReadModel, Sealer
from projections.cycle_scorecards import CycleScorecardsModel
from projections.feedback import FeedbackModel
from projections.goals import GoalsModel
from projections.organisation import OrganisationModel
from projections.reviews import ReviewsModel
from projections.rewards import RewardsModel
from projections.rules import RulesModel
from projections.scorecards import ScorecardsModel

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

    def __init__(self, secrets: Sealer | None = None) -> None:
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
            self.audit_trail,
        ]
        self.dispatch: dict[type, Handler] = {}
        for model in self.models:
            for cls, handler in model.handlers().items():
                # The audit trail takes every event that another model takes too: both run.
                earlier = self.dispatch.get(cls)
                self.dispatch[cls] = handler if earlier is None else _both(earlier, handler)
        self.topics = frozenset(get_topic(cls) for cls in self.dispatch)
        self.position: int | None = None  # None: memory not loaded

    @property
    def tables(self) -> list[str]:
        return [table for model in self.models for table in model.tables]

    async def create_schema(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            # Two processes starting at once must not race on CREATE TABLE IF NOT EXISTS.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('perfledger:ddl'))")
            await conn.execute(TRACKING_DDL)
            for model in self.models:
                await conn.execute(model.ddl)
            await conn.execute(
                "INSERT INTO projection_tracking (name, position) VALUES ($1, 0) "
                "ON CONFLICT (name) DO NOTHING",
                self.name,
            )

    async def load(self, conn: asyncpg.Connection) -> int:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for model in self.models:
                await model.load(conn)
            position: int = await conn.fetchval(
                "SELECT position FROM projection_tracking WHERE name = $1", self.name
            )
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

    async def commit(self, conn: asyncpg.Connection, last_position: int) -> None:
        """Write what the applied events changed and move the tracking position, atomically."""
        assert self.position is not None
        try:
            async with conn.transaction():
                for model in self.models:
                    await model.flush(conn)
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
                await conn.execute(
                    "SELECT pg_notify($1, $2)", PROJECTED_CHANNEL, str(last_position)
                )
        except BaseException:
            self.forget()  # memory now runs ahead of the database; reload before going on
            raise
        for model in self.models:
            model.committed()
        self.position = last_position
