"""Who may see whose performance data.

An employee sees their own goals and scorecards; a manager also those of everyone below them;
hr, auditors and admins see everyone's. Every query path asks this one object.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from domain.provenance import Role
from service.auth import Viewer

_REPORTS = """
WITH RECURSIVE below AS (
    SELECT id FROM employees WHERE manager_id = $1
    UNION
    SELECT e.id FROM employees e JOIN below b ON e.manager_id = b.id
)
SELECT id FROM below
"""


class Visibility:
    def __init__(self, viewer: Viewer, pool: asyncpg.Pool) -> None:
        self.viewer = viewer
        self.pool = pool
        self._visible: frozenset[UUID] | None = None

    @property
    def everyone(self) -> bool:
        return self.viewer.sees_everyone

    async def people(self) -> frozenset[UUID] | None:
        """The employees whose performance data the viewer sees; None means everyone."""
        if self.everyone:
            return None
        if self._visible is None:
            visible = {self.viewer.employee_id}
            if self.viewer.role is Role.MANAGER:
                async with self.pool.acquire() as conn:
                    rows = await conn.fetch(_REPORTS, self.viewer.employee_id)
                visible.update(r["id"] for r in rows)
            self._visible = frozenset(visible)
        return self._visible

    async def sees(self, employee_id: UUID) -> bool:
        people = await self.people()
        return people is None or employee_id in people

    @property
    def sees_attributes(self) -> bool:
        """Group attributes (gender, location, ...) are for hr, auditors and admins only."""
        return self.everyone
