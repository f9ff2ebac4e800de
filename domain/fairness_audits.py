"""A fairness audit that was run, recorded so that anyone can run it again and get its numbers.

An audit is a pure function of (the log up to a position, the audit method's version, its
parameters, including the seed of its permutation tests). Running one records those inputs with
a digest of the report it produced, and the fingerprints of the group cells it published (their
sizes and a hash of who was in them), so that a later report on the same cycle cannot publish a
cell that differs from a published one by fewer people than the minimum group size
(differencing). The report itself is not stored: it is recomputed on demand, and the digest says
whether the recomputation is the same report.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput, PermissionDenied
from domain.provenance import Provenance, Role

# Who may run (and so record) a fairness audit.
AUDIT_ROLES = frozenset({Role.HR, Role.AUDITOR, Role.ADMIN})

Fingerprints = dict[str, dict[str, list[Any]]]  # grouping -> cell label -> [count, digest]


class FairnessAudit(Aggregate):
    @event("Recorded")
    def __init__(
        self,
        id: UUID,
        cycle_id: UUID,
        position: int,
        method_version: str,
        parameters: dict[str, Any],
        digest: str,
        fingerprints: Fingerprints,
        flags: int,
        earlier: list[UUID],
        provenance: Provenance,
    ) -> None:
        self.cycle_id = cycle_id
        self.position = position
        self.method_version = method_version
        self.parameters = parameters
        self.digest = digest
        self.fingerprints = fingerprints
        self.flags = flags
        self.earlier = earlier  # the audits whose published cells this one was compared with
        self.provenance = provenance

    @classmethod
    def record(
        cls,
        *,
        id: UUID,
        cycle_id: UUID,
        position: int,
        method_version: str,
        parameters: dict[str, Any],
        digest: str,
        fingerprints: Fingerprints,
        flags: int,
        earlier: list[UUID],
        provenance: Provenance,
    ) -> FairnessAudit:
        if provenance.actor_role not in AUDIT_ROLES:
            raise PermissionDenied("only hr, auditors and admins run fairness audits")
        if position < 1:
            raise InvalidInput(f"position {position} is not in the log", field="position")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InvalidInput("digest must be a sha256 in lower-case hex", field="digest")
        return cls(
            id=id,
            cycle_id=cycle_id,
            position=position,
            method_version=method_version,
            parameters=parameters,
            digest=digest,
            fingerprints=fingerprints,
            flags=flags,
            earlier=earlier,
            provenance=provenance,
        )
