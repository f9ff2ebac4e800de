"""The reference for the read benchmark: a plain Starlette + asyncpg endpoint.

It runs the SQL the departmentScorecard resolver runs for its members and answers with the same
fields the benchmark's GraphQL query asks for (members with ownerId, score, tier, coverage and
employee code and name; distribution mean and count), in the same JSON shape, with no GraphQL,
no authentication and no projection runner. Run it like the service: one uvicorn process.

    DATABASE_URL=... uvicorn --app-dir bench plain_app:app
"""

from __future__ import annotations

import contextlib
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


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok" if _pool is not None else "starting"})


app = Starlette(
    routes=[Route("/scorecard", scorecard, methods=["POST"]), Route("/healthz", health)],
    lifespan=lifespan,
)
