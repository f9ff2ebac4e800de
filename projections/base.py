"""What every read model offers the projector, and helpers for writing rows in bulk."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import asyncpg

Handler = Callable[[Any, int], None]


class Sealer(Protocol):
    """Encrypts sensitive text (review comments, feedback bodies) for a ``bytea`` column.

    The service passes its SecretBox; read models depend on this much of it and no more.
    """

    def seal(self, text: str) -> bytes: ...


class ReadModel(Protocol):
    """A read model keeps its rows in memory while its runner holds the projection lock.

    ``load`` reads the committed rows; handlers apply one event (with its log position) in
    memory and remember what changed; ``flush`` writes the changed rows inside the caller's
    transaction, which also moves the tracking position. If that transaction fails, the
    projector drops the memory and loads again, so the database stays the truth.
    """

    tables: Sequence[str]
    ddl: str

    def handlers(self) -> dict[type, Handler]: ...

    async def load(self, conn: asyncpg.Connection) -> None: ...

    async def flush(self, conn: asyncpg.Connection) -> None: ...

    def committed(self) -> None:
        """The flushed rows are committed: forget what changed."""

    def clear(self) -> None: ...


async def upsert(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    key: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert or update many rows in one statement: each column travels as one array.

    A ``text`` column named ``<column>_json`` carries JSON text for the jsonb column ``<column>``.
    """
    if rows:
        arrays = [list(column) for column in zip(*rows, strict=True)]
        await upsert_columns(conn, table, columns, key, arrays)


async def upsert_columns(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    key: Sequence[str],
    arrays: Sequence[Sequence[Any]],
) -> None:
    """``upsert`` of rows given column by column (one list per column, all of one length)."""
    if not arrays or not arrays[0]:
        return
    names = [name for name, _ in columns]
    params = ", ".join(f"${i + 1}::{sql_type}[]" for i, (_, sql_type) in enumerate(columns))
    json_text = {name for name, kind in columns if kind == "text" and name.endswith("_json")}
    casts = ", ".join(f"t.{name}::jsonb" if name in json_text else f"t.{name}" for name in names)
    targets = [name.removesuffix("_json") if name in json_text else name for name in names]
    target = ", ".join(targets)
    updates = ", ".join(
        f"{column} = excluded.{column}"
        for name, column in zip(names, targets, strict=True)
        if name not in key
    )
    statement = (
        f"INSERT INTO {table} ({target}) SELECT {casts} FROM unnest({params}) "
        f"AS t({', '.join(names)}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )
    await conn.execute(statement, *arrays)


def event_type(aggregate: type, name: str) -> type:
    """The event class ``aggregate.<name>`` that the ``@event`` decorator declared.

    The decorator creates these classes at import time, where type checkers cannot see them.
    """
    cls = getattr(aggregate, name)
    assert isinstance(cls, type)
    return cls
