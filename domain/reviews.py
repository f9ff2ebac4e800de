"""360-degree review cycles: who rates whom, on which competencies, on which scale."""

from __future__ import annotations

from enum import Enum


class RaterSource(Enum):
    """Where a rating comes from. Peers, customers and other external raters are anonymous to
    the person they rate; self and manager are not."""

    SELF = "self"
    MANAGER = "manager"
    PEER = "peer"
    CUSTOMER = "customer"
    EXTERNAL = "external"

    @property
    def anonymous(self) -> bool:
        return self in ANONYMOUS_SOURCES

    @property
    def external(self) -> bool:
        return self in (RaterSource.CUSTOMER, RaterSource.EXTERNAL)


ANONYMOUS_SOURCES = frozenset({RaterSource.PEER, RaterSource.CUSTOMER, RaterSource.EXTERNAL})
