"""Per-request state: the caller, what they may see, batched loaders, and the services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from domain.goals import OwnerKind
from domain.provenance import Provenance
from domain.rules import DEFAULT_RULES
from projections.rules import rules_to_json
from service.api.rules import Adoption, RuleSetVersion
from service.api.scorecards import Scorecard
from service.api.types import Department, Employee, Goal
from service.api.visibility import Visibility
from service.auth import ExternalRater, Viewer
from service.bootstrap import Services

OwnerPeriod = tuple[UUID, str]
OwnerMaybePeriod = tuple[UUID, str | None]


class Loaders:
    """One set per request, so batching never mixes two callers' visibility."""

    def __init__(self, pool: asyncpg.Pool, visibility: Visibility) -> None:
        self.pool = pool
        self.visibility = visibility
        self.department = DataLoader(self._departments)
        self.employee = DataLoader(self._employees)
        self.goal = DataLoader(self._goals)
        self.goals_of: DataLoader[OwnerMaybePeriod, list[Goal]] = DataLoader(self._goals_of)
        self.scorecard: DataLoader[OwnerPeriod, Scorecard | None] = DataLoader(self._scorecards)
        self.rule_set = DataLoader(self._rule_sets)

    async def _fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
            return rows

    async def _departments(self, ids: Sequence[UUID]) -> list[Department | None]:
        rows = await self._fetch("SELECT * FROM departments WHERE id = ANY($1::uuid[])", ids)
        found = {r["id"]: Department.from_row(r) for r in rows}
        return [found.get(i) for i in ids]

    async def _employees(self, ids: Sequence[UUID]) -> list[Employee | None]:
        rows = await self._fetch("SELECT * FROM employees WHERE id = ANY($1::uuid[])", ids)
        found = {r["id"]: Employee.from_row(r) for r in rows}
        return [found.get(i) for i in ids]

    async def _visible_goal(self, goal: Goal) -> bool:
        if goal.owner_kind is OwnerKind.DEPARTMENT:
            return True  # department goals are shared with everyone
        return await self.visibility.sees(UUID(goal.owner_id))

    async def _goals(self, ids: Sequence[UUID]) -> list[Goal | None]:
        rows = await self._fetch("SELECT * FROM goals WHERE id = ANY($1::uuid[])", ids)
        found: dict[UUID, Goal] = {}
        for r in rows:
            goal = Goal.from_row(r)
            if await self._visible_goal(goal):
                found[r["id"]] = goal
        return [found.get(i) for i in ids]

    async def _goals_of(self, keys: Sequence[OwnerMaybePeriod]) -> list[list[Goal]]:
        owners = list({owner for owner, _ in keys})
        rows = await self._fetch(
            "SELECT * FROM goals WHERE owner_id = ANY($1::uuid[]) ORDER BY period, title, id",
            owners,
        )
        by_owner: dict[UUID, list[Goal]] = defaultdict(list)
        for r in rows:
            by_owner[r["owner_id"]].append(Goal.from_row(r))
        return [
            [g for g in by_owner.get(owner, []) if period is None or g.period == period]
            for owner, period in keys
        ]

    async def _scorecards(self, keys: Sequence[OwnerPeriod]) -> list[Scorecard | None]:
        rows = await self._fetch(
            "SELECT s.* FROM scorecards s JOIN unnest($1::uuid[], $2::text[]) AS k(o, p) "
            "ON s.owner_id = k.o AND s.period = k.p",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        found = {(r["owner_id"], r["period"]): Scorecard.from_row(r) for r in rows}
        return [found.get(k) for k in keys]

    async def _rule_sets(self, versions: Sequence[int]) -> list[RuleSetVersion | None]:
        rows = await self._fetch(
            "SELECT * FROM rule_sets WHERE version = ANY($1::int[])", list(versions)
        )
        adoption_rows = await self._fetch(
            "SELECT * FROM rule_adoptions WHERE version = ANY($1::int[]) ORDER BY position",
            list(versions),
        )
        adoptions: dict[int, list[Adoption]] = defaultdict(list)
        for a in adoption_rows:
            adoptions[a["version"]].append(
                Adoption(
                    effective_from=a["effective_from"],
                    adopted_at=a["adopted_at"],
                    adopted_by=a["adopted_by"],
                    reason=a["reason"],
                    scoped_to=None if a["employee_ids"] is None else len(a["employee_ids"]),
                )
            )
        found = {r["version"]: RuleSetVersion.from_row(r, adoptions[r["version"]]) for r in rows}
        found[0] = RuleSetVersion.from_row(
            {
                "version": 0,
                "description": "Built-in defaults, in force until a version is adopted",
                "defined_at": None,
                "defined_by": None,
                "rules": rules_to_json(DEFAULT_RULES),
            },
            [],
        )
        return [found.get(v) for v in versions]


@dataclass
class Context:
    services: Services
    viewer: Viewer
    correlation_id: str
    idempotency_key: str | None = None
    # A customer with a review invitation; `viewer` is then a nobody that sees nothing.
    external: ExternalRater | None = None
    # An as-of view's single connection, whose read-model tables hold the replayed past;
    # None: the live read models.
    read_source: asyncpg.Pool | None = None
    visibility: Visibility = field(init=False)
    loaders: Loaders = field(init=False)
    # What lives as long as the request: as-of views' connections (closed by CloseRequestScope).
    request_scope: AsyncExitStack = field(init=False, default_factory=AsyncExitStack)
    as_of_views: dict[tuple[object, ...], Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Who may see whom is decided by today's org chart, also for answers about the past.
        self.visibility = Visibility(self.viewer, self.services.read_pool)
        self.loaders = Loaders(self.pool, self.visibility)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.read_source if self.read_source is not None else self.services.read_pool

    def provenance(self, reason: str | None = None) -> Provenance:
        return Provenance(
            str(self.viewer.employee_id), self.viewer.role, self.correlation_id, reason
        )

    async def reach(self, position: int | None) -> None:
        """Answer only once the read models reflect ``position`` (read-your-writes)."""
        if position is not None and position > 0:
            await self.services.watcher.wait_for(
                position, self.services.settings.wait_timeout_seconds
            )
