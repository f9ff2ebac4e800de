"""Relay-style connections with opaque keyset cursors (stable under inserts, cheap to seek)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Generic, TypeVar

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
    total_count: int


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
