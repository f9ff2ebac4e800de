"""Repeated requests: a command sent again with the same idempotency key is answered, not re-run.

The record is saved in the same transaction as the command's events, so either both exist or
neither does; a second writer with the same key hits a conflict on the record and then finds it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError

_NAMESPACE = UUID("3b0f6a3e-2d0b-4b47-8f0c-0d64f3f1c2a7")
MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"


def record_id(actor_id: str, key: str) -> UUID:
    return uuid5(_NAMESPACE, f"{actor_id}/{key}")


def fingerprint(command: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps([command, arguments], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ProcessedRequest(Aggregate):
    @event("Processed")
    def __init__(
        self,
        id: UUID,
        actor_id: str,
        key: str,
        command: str,
        fingerprint: str,
        result_id: str | None,
        result_version: int | None,
    ) -> None:
        self.actor_id = actor_id
        self.key = key
        self.command = command
        self.fingerprint = fingerprint
        self.result_id = result_id
        self.result_version = result_version
