"""Commands for fairness audits: record one that was run (service/fairness.py runs it)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.fairness_audits import FairnessAudit, Fingerprints
from domain.provenance import Provenance
from domain.reviews import ReviewCycle
from service.command_base import CommandsBase, Decision, Receipt


class FairnessCommands(CommandsBase):
    def record_fairness_audit(
        self,
        provenance: Provenance,
        *,
        audit_id: UUID,
        cycle_id: UUID,
        position: int,
        method_version: str,
        parameters: dict[str, Any],
        digest: str,
        fingerprints: Fingerprints,
        flags: int,
        earlier: list[UUID],
    ) -> Receipt:
        def decide() -> Decision:
            self._load(ReviewCycle, cycle_id, "review cycle", "cycleId")
            self._require_new(audit_id, "fairness audit")
            audit = FairnessAudit.record(
                id=audit_id,
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
            return [audit], audit.id, audit.version

        return self._execute(provenance, "recordFairnessAudit", {}, decide)
