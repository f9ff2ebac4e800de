"""Relay-style connections with opaque keyset cursors (stable under inserts, cheap to seek)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg
import strawberry

from service.api.errors import QueryError
from service.api.types import PageInfo

T = TypeVar("T")
MAX_PAGE = 200


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    # The count, or how to count: counting every match of a filter over a long audit trail
    # costs more than the page itself, so it runs only when totalCount is asked for.
    total: strawberry.Private[int | Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many match, over all pages.")
    async def total_count(self) -> int:
        return self.total if isinstance(self.total, int) else await self.total()


def encode_cursor(key: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str | None) -> list[str] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise QueryError(
            "INVALID_CURSOR", "the 'after' cursor is not one this API issued"
        ) from None
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise QueryError("INVALID_CURSOR", "the 'after' cursor is not one this API issued")
    return key


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise QueryError("INVALID_PAGE_SIZE", f"'first' must be between 1 and {MAX_PAGE}")
    return first


async def page_by_code(
    pool: asyncpg.Pool,
    table: str,
    filters: Sequence[tuple[str, object]],
    first: int,
    after: str | None,
    build: Callable[[asyncpg.Record], T],
    code_of: Callable[[T], str],
) -> Connection[T]:
    """A page of ``table`` (departments, employees) in code order where each (column, value) of
    ``filters`` holds; the column names are the API's own, never a caller's."""
    limit = page_size(first)
    key = decode_cursor(after)
    args: list[object] = [value for _, value in filters]
    conditions = [f"{column} = ${i + 1}" for i, (column, _) in enumerate(filters)]
    where = " AND ".join(["TRUE", *conditions])
    async with pool.acquire() as conn:
        total: int = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *args)
        if key is not None:
            args.append(key[0])
            where += f" AND code > ${len(args)}"
        rows = await conn.fetch(
            f"SELECT * FROM {table} WHERE {where} ORDER BY code LIMIT {limit + 1}", *args
        )
    nodes = [build(r) for r in rows[:limit]]
    return Connection(
        edges=[Edge(cursor=encode_cursor([code_of(n)]), node=n) for n in nodes],
        page_info=PageInfo(
            has_next_page=len(rows) > limit,
            end_cursor=encode_cursor([code_of(nodes[-1])]) if nodes else None,
        ),
        total=total,
    )
