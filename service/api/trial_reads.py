"""Reading trials from their read models, and who may read what of them.

hr, auditors and admins read every trial, all feedback on it, its comparison and every pilot
scorecard. A participant reads a trial they take part in and their own pilot scorecard when the
trial shows participants what the pilot says about them (``show_participants``), and always
their own feedback. Nobody else reads anything of a trial, managers included: a manager is not
told how the pilot scores their reports.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from domain.provenance import Role
from service.api.errors import QueryError, forbidden
from service.api.types import Info

READER_ROLES = frozenset({Role.HR, Role.AUDITOR, Role.ADMIN})

TRIAL = "SELECT * FROM trials WHERE id = $1"
TAKES_PART = "SELECT 1 FROM trial_participants WHERE trial_id = $1 AND employee_id = $2"
PARTICIPANTS_AT = """
SELECT employee_id FROM trial_participants
WHERE trial_id = $1 AND ($2::bigint IS NULL OR since_position <= $2)
ORDER BY employee_id
"""
# A page of pilot KPI rows in employee-code order, each with the employee's department today.
PILOT_PAGE = """
SELECT k.*, e.code, e.department_id FROM pilot_kpi_scorecards k
JOIN employees e ON e.id = k.employee_id
WHERE k.trial_id = $1
  AND ($2::uuid IS NULL OR EXISTS (
      SELECT 1 FROM pilot_cycle_scorecards c
      WHERE c.trial_id = k.trial_id AND c.employee_id = k.employee_id AND c.cycle_id = $2))
  AND ($3::text IS NULL OR e.code > $3)
ORDER BY e.code LIMIT $4
"""
PILOT_COUNT = """
SELECT count(*) FROM pilot_kpi_scorecards k
WHERE k.trial_id = $1 AND ($2::uuid IS NULL OR EXISTS (
    SELECT 1 FROM pilot_cycle_scorecards c
    WHERE c.trial_id = k.trial_id AND c.employee_id = k.employee_id AND c.cycle_id = $2))
"""
PILOT_ROW = """
SELECT k.*, e.code, e.department_id FROM pilot_kpi_scorecards k
JOIN employees e ON e.id = k.employee_id
WHERE k.trial_id = $1 AND k.employee_id = $2
"""
PILOT_CYCLES = """
SELECT * FROM pilot_cycle_scorecards
WHERE trial_id = $1 AND employee_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR cycle_id = $3)
ORDER BY period, cycle_id
"""


def reads_everything(info: Info) -> bool:
    """hr, auditors and admins (never an external rater's token)."""
    return info.context.external is None and info.context.viewer.role in READER_ROLES


def require_reader(info: Info, what: str) -> None:
    if not reads_everything(info):
        raise forbidden(f"{what} (hr, auditors and admins only)")


async def trial_row(info: Info, trial_id: UUID) -> asyncpg.Record:
    async with info.context.pool.acquire() as conn:
        row: asyncpg.Record | None = await conn.fetchrow(TRIAL, trial_id)
    if row is None:
        raise QueryError("NOT_FOUND", f"trial {trial_id} does not exist")
    return row


async def takes_part(info: Info, trial_id: UUID) -> bool:
    """Whether the viewer is one of the trial's participants (an external rater never is)."""
    if info.context.external is not None:
        return False
    async with info.context.pool.acquire() as conn:
        found = await conn.fetchval(TAKES_PART, trial_id, info.context.viewer.employee_id)
    return found is not None


async def require_shown(info: Info, trial: asyncpg.Record, what: str) -> None:
    """hr, auditors, admins; or a participant of a trial that shows participants its results."""
    if reads_everything(info):
        return
    if trial["show_participants"] and await takes_part(info, trial["id"]):
        return
    raise forbidden(f"{what} (hr, auditors, admins, and its participants when it shows them)")


def version_at(trial: asyncpg.Record, position: int | None) -> int:
    """The version the trial piloted as the log stood at ``position`` (None: now, or last)."""
    version: int = trial["rule_set_version"]
    if position is None:
        return version
    if position < trial["started_position"]:
        raise QueryError(
            "AS_OF_OUT_OF_RANGE",
            f"trial {trial['id']} started at position {trial['started_position']}, after "
            f"position {position}",
        )
    for step in json.loads(trial["transitions"]):
        if step["position"] <= position and step["event"] in ("started", "revised"):
            version = step["ruleSetVersion"]
    return version


async def participants_at(info: Info, trial_id: UUID, position: int | None) -> list[UUID]:
    async with info.context.pool.acquire() as conn:
        rows = await conn.fetch(PARTICIPANTS_AT, trial_id, position)
    return [UUID(str(r["employee_id"])) for r in rows]


async def pilot_cycles(
    conn: Any, trial_id: UUID, employees: list[UUID], cycle_id: UUID | None
) -> dict[UUID, list[asyncpg.Record]]:
    """Each employee's pilot cycle rows (of one cycle, or all)."""
    found: dict[UUID, list[asyncpg.Record]] = {e: [] for e in employees}
    for r in await conn.fetch(PILOT_CYCLES, trial_id, employees, cycle_id):
        found[r["employee_id"]].append(r)
    return found
