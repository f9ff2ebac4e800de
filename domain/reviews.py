"""360-degree review cycles: who rates whom, on which competencies, on which scale."""

from __future__ import annotations

from enum import Enum


class RaterSource(Enum):
    """Where a rating comes from. Peers and customers (which includes any other external rater,
    told apart by their external reference) are anonymous to the person they rate; self and
    manager are not."""

    SELF = "self"
    MANAGER = "manager"
    PEER = "peer"
    CUSTOMER = "customer"

    @property
    def anonymous(self) -> bool:
        return self in ANONYMOUS_SOURCES

    @property
    def external(self) -> bool:
        """Rates without an account, through a one-time invitation token."""
        return self is RaterSource.CUSTOMER


ANONYMOUS_SOURCES = frozenset({RaterSource.PEER, RaterSource.CUSTOMER})
