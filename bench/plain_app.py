"""The reference for the read benchmark: a plain Starlette + asyncpg endpoint.

It runs the SQL the departmentScorecard resolver runs for its members and answers with the same
fields the benchmark's GraphQL query asks for (members with ownerId, score, tier, coverage and
employee code and name; distribution mean and count), in the same JSON shape, with no GraphQL,
no authentication and no projection runner. Run it like the service: one uvicorn process.

    DATABASE_URL=... uvicorn --app-dir bench plain_app:app

``/cycle-scorecard`` is the same for departmentCycleScorecard (the reviews benchmark): the
resolver's SQL for the cycle and its members, the members' names as the employee loader reads
them, and the fields the benchmark asks for (score, tier, KPI and review scores, each source's
withheld flag, count and score, as hr sees them).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.api.reviews import _MEMBERS as _CYCLE_MEMBERS  # the cycle resolver's SQL
from service.api.scorecards import _MEMBERS  # the resolver's own SQL, so both read the same rows
from service.database import Database

CENT = Decimal("0.01")
POOL_SIZE = int(os.environ.get("PERFLEDGER_READ_POOL_SIZE", "10"))  # the service's default

_pool: asyncpg.Pool | None = None


@contextlib.asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global _pool
    database = Database.from_url(os.environ["DATABASE_URL"])
    _pool = await asyncpg.create_pool(**database.asyncpg_kwargs(), min_size=1, max_size=POOL_SIZE)
    try:
        yield
    finally:
        await _pool.close()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _arguments(team: UUID, period: str) -> tuple[Any, ...]:
    """The resolver's parameters: (department, departments, period) since the query fetches
    the department in the same round trip, (departments, period) before."""
    if "$3" in _MEMBERS:
        return team, [team], period
    return [team], period


async def scorecard(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    assert _pool is not None
    team = UUID(body["departmentId"])
    async with _pool.acquire() as conn:
        rows = await conn.fetch(_MEMBERS, *_arguments(team, body["period"]))
    rows = [r for r in rows if r["owner_id"] is not None]  # a department row without members
    members = [
        {
            "ownerId": str(r["owner_id"]),
            "score": _text(r["score"]),
            "tier": r["tier"],
            "coverage": str(r["coverage"]),
            "employee": {"code": r["code"], "name": r["name"]},
        }
        for r in rows
    ]
    scores = [r["score"] for r in rows if r["score"] is not None]
    mean = (
        (sum(scores, Decimal(0)) / len(scores)).quantize(CENT, rounding=ROUND_HALF_EVEN)
        if scores
        else None
    )
    return JSONResponse(
        {
            "data": {
                "departmentScorecard": {
                    "members": members,
                    "distribution": {"mean": _text(mean), "count": len(scores)},
                }
            }
        }
    )


_CYCLE = "SELECT * FROM review_cycles WHERE id = $1"
_NAMES = "SELECT id, code, name FROM employees WHERE id = ANY($1::uuid[])"
_ANONYMOUS = {"peer", "customer"}


async def cycle_scorecard(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    assert _pool is not None
    cycle_id, team = UUID(body["cycleId"]), UUID(body["departmentId"])
    async with _pool.acquire() as conn:
        cycle = await conn.fetchrow(_CYCLE, cycle_id)
        rows = await conn.fetch(_CYCLE_MEMBERS, cycle_id, [team])
        names = {r["id"]: r for r in await conn.fetch(_NAMES, [r["employee_id"] for r in rows])}
    if cycle is None:
        return JSONResponse({"errors": [{"message": "no such cycle"}]}, status_code=404)
    threshold = cycle["anonymity_threshold"]
    members = []
    for r in rows:
        employee = names[r["employee_id"]]
        sources = [
            {
                "source": s["source"].upper(),
                "withheld": s["source"] in _ANONYMOUS and int(s["submitted"]) < threshold,
                "submitted": int(s["submitted"]),
                "score": s["score"],
            }
            for s in json.loads(r["sources"])
        ]
        members.append(
            {
                "node": {
                    "score": _text(r["score"]),
                    "tier": r["tier"],
                    "kpiScore": _text(r["kpi_score"]),
                    "reviewScore": _text(r["review_score"]),
                    "employee": {"code": employee["code"], "name": employee["name"]},
                    "sources": sources,
                }
            }
        )
    scores = [r["score"] for r in rows if r["score"] is not None]
    mean = (
        (sum(scores, Decimal(0)) / len(scores)).quantize(CENT, rounding=ROUND_HALF_EVEN)
        if scores
        else None
    )
    return JSONResponse(
        {
            "data": {
                "departmentCycleScorecard": {
                    "count": len(scores),
                    "mean": _text(mean),
                    "members": {"totalCount": len(rows), "edges": members},
                }
            }
        }
    )


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok" if _pool is not None else "starting"})


app = Starlette(
    routes=[
        Route("/scorecard", scorecard, methods=["POST"]),
        Route("/cycle-scorecard", cycle_scorecard, methods=["POST"]),
        Route("/healthz", health),
    ],
    lifespan=lifespan,
)
