"""Who did something, in which role, why, and as part of which request."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from domain.errors import InvalidInput, ReasonRequired

MAX_REASON_LENGTH = 2000


class Role(Enum):
    EMPLOYEE = "employee"
    MANAGER = "manager"
    HR = "hr"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SYSTEM = "system"  # seeding and migrations; never issued in a token
    EXTERNAL = "external"  # a customer rater with a one-time review invitation; no account


@dataclass(frozen=True)
class Provenance:
    """Recorded on every event: the authenticated caller, an optional reason, the correlation id."""

    actor_id: str
    actor_role: Role
    correlation_id: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and len(self.reason) > MAX_REASON_LENGTH:
            raise InvalidInput(
                f"reason is longer than {MAX_REASON_LENGTH} characters", field="reason"
            )

    def because(self, reason: str | None) -> Provenance:
        return replace(self, reason=reason)

    def with_required_reason(self, what: str) -> Provenance:
        """This provenance, checked to carry a non-blank reason (the domain demands one)."""
        if self.reason is None or not self.reason.strip():
            raise ReasonRequired(f"a reason is required to {what}", field="reason")
        return replace(self, reason=self.reason.strip())
