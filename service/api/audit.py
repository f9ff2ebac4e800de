"""Tamper evidence over GraphQL: verify the event log against its hash chain.

Only auditors, hr and admins may ask: the answer names events (originators, topics) that the
other roles' visibility rules would hide.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import psycopg
import strawberry

from domain.provenance import Role
from service.api.errors import QueryError, forbidden
from service.api.types import Info
from service.audit import AuditRangeError, Checkpoint, Verification, chained_position, check_range
from service.audit import verify as verify_chain
from service.bootstrap import Services

MAY_VERIFY = frozenset({Role.AUDITOR, Role.HR, Role.ADMIN})


@strawberry.type(description="A recorded checkpoint of the hash chain.")
class AuditCheckpoint:
    position: int
    entries: int = strawberry.field(description="Entries chained up to and including position.")
    hash: str = strawberry.field(description="The chain hash at position, hex.")
    recorded_at: datetime

    @classmethod
    def of(cls, checkpoint: Checkpoint | None) -> AuditCheckpoint | None:
        if checkpoint is None:
            return None
        return cls(
            position=checkpoint.position,
            entries=checkpoint.entries,
            hash=checkpoint.hash.hex(),
            recorded_at=checkpoint.recorded_at,
        )


@strawberry.type(description="The event log re-read and checked against its hash chain.")
class AuditChainStatus:
    from_position: int
    to_position: int = strawberry.field(
        description="The last position checked: the requested one, or the chain's position "
        "if events after it are not chained yet."
    )
    chained_position: int = strawberry.field(description="How far the chain has been built.")
    checked: int = strawberry.field(description="Entries that matched the chain.")
    intact: bool
    first_broken_position: int | None
    differing_fields: list[str] = strawberry.field(
        description="What differs at the first broken position: state, originator_id, "
        "originator_version, topic, event (missing or extra), hash or checkpoint."
    )
    difference: str | None
    last_checkpoint: AuditCheckpoint | None

    @classmethod
    def of(cls, result: Verification) -> AuditChainStatus:
        broken = result.broken
        return cls(
            from_position=result.first,
            to_position=result.last,
            chained_position=result.chained_position,
            checked=result.checked,
            intact=result.intact,
            first_broken_position=broken.position if broken else None,
            differing_fields=list(broken.fields) if broken else [],
            difference=broken.difference if broken else None,
            last_checkpoint=AuditCheckpoint.of(result.last_checkpoint),
        )


def _verify(services: Services, first: int | None, last: int | None) -> Verification:
    conninfo = services.database.psycopg_conninfo()
    conn: psycopg.Connection[Any]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        start, end = check_range(first, last, chained_position(conn))
        return verify_chain(services.app, conn, start, end)


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="Re-read the event log from fromPosition to toPosition (default: the whole "
        "chain; at most 1,000,000 positions per call) and check it against the hash chain and "
        "its checkpoints. Auditors, hr and admins only."
    )
    async def audit_chain_status(
        self, info: Info, from_position: int | None = None, to_position: int | None = None
    ) -> AuditChainStatus:
        if info.context.viewer.role not in MAY_VERIFY:
            raise forbidden("the audit chain")
        try:
            # Hashing a page takes seconds: off the event loop.
            result = await asyncio.to_thread(
                _verify, info.context.services, from_position, to_position
            )
        except AuditRangeError as error:
            field = "fromPosition" if error.field == "from" else "toPosition"
            raise QueryError(error.code, f"{field}: {error.message}") from None
        return AuditChainStatus.of(result)
