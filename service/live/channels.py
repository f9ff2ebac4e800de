"""What each kind of subscription listens to.

A channel keeps its subscribers indexed by subject (an owner: employee or department; or a
department), so a committed range costs work only for the subscribers it concerns. Per range it
fetches the changed rows of its kind once (``fetch``: one query, shared by every subscriber),
then offers each row to the subscribers indexed under the row's subjects that may see it
(``dispatch``; visibility is checked for every row, against the subscriber's current view of
the organisation). ``replay`` gives a resuming subscriber what it missed, from the read models.

Replays are state where the read model is state: a scorecard or goal that changed after the
resume position is given once, as it stands, at the position of its last change; several
changes in between are not repeated one by one. The audit tail replays every entry.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

import asyncpg

from domain.goals import OwnerKind
from domain.provenance import Role
from service.live.at_risk import GOALS_WITH_RULES, Connection, Standing, Thresholds, at_risk
from service.live.batch import Batch
from service.live.subscriber import Subscriber

I = TypeVar("I", bound=Hashable)  # noqa: E741  (an interest: what one subscriber asked for)
Subject = tuple[str, UUID]  # ("owner", id) or ("department", id)

PROGRESS_EVENTS = ("ProgressRecorded",)
# A goal's standing changes when a measurement arrives or its target moves.
STANDING_EVENTS = ("ProgressRecorded", "TargetRevised")


class Channel(Protocol):
    def wanted(self) -> bool: ...

    async def fetch(self, conn: Connection, batch: Batch) -> Any: ...

    def dispatch(self, batch: Batch, fetched: Any) -> None: ...


class Indexed(Generic[I]):
    """Subscribers with their interests, indexed by the subjects each interest names."""

    def __init__(self) -> None:
        self.interests: dict[Subscriber[Any], I] = {}
        self._by_subject: dict[Subject, set[Subscriber[Any]]] = {}

    def subjects(self, interest: I) -> Iterable[Subject]:
        return ()

    @contextmanager
    def joined(self, subscriber: Subscriber[Any], interest: I) -> Iterator[None]:
        self.interests[subscriber] = interest
        for subject in self.subjects(interest):
            self._by_subject.setdefault(subject, set()).add(subscriber)
        try:
            yield
        finally:
            del self.interests[subscriber]
            for subject in self.subjects(interest):
                found = self._by_subject.get(subject)
                if found is not None:
                    found.discard(subscriber)
                    if not found:
                        del self._by_subject[subject]

    def wanted(self) -> bool:
        return bool(self.interests)

    def under(self, *subjects: Subject) -> Iterator[tuple[Subscriber[Any], I]]:
        for subject in subjects:
            for subscriber in self._by_subject.get(subject, ()):
                yield subscriber, self.interests[subscriber]


@dataclass(frozen=True)
class SubjectInterest:
    """Exactly one of ``owner`` (an employee, or a department for its own goals) and
    ``department`` (its members' and its own)."""

    owner: UUID | None = None
    department: UUID | None = None
    period: str | None = None  # scorecards only: one period, or all

    @property
    def subject(self) -> Subject:
        if self.owner is not None:
            return ("owner", self.owner)
        assert self.department is not None
        return ("department", self.department)


def owner_visible(subscriber: Subscriber[Any], row: asyncpg.Record) -> bool:
    """A department's own goals and scorecard are shared with everyone (as the queries have
    them); an employee's follow the viewer's visibility."""
    return row["owner_kind"] == OwnerKind.DEPARTMENT.value or subscriber.sees(row["owner_id"])


def row_subjects(row: asyncpg.Record) -> tuple[Subject, Subject]:
    return ("owner", row["owner_id"]), ("department", row["department_id"])


class BySubject(Indexed[SubjectInterest]):
    def subjects(self, interest: SubjectInterest) -> Iterable[Subject]:
        return (interest.subject,)

    def offer(self, batch: Batch, position: int, row: asyncpg.Record, payload: object) -> None:
        for subscriber, interest in self.under(*row_subjects(row)):
            if interest.period in (None, row["period"]) and owner_visible(subscriber, row):
                subscriber.offer(position, payload, batch.upto)


# Owners whose scorecards a range may have changed: the employees its events touch, and the
# owners of its goals (a department's goal touches no employee).
_SCORECARDS_OF = """
SELECT * FROM scorecards
WHERE position > $1 AND position <= $2
  AND owner_id IN (
      SELECT unnest($3::uuid[]) UNION SELECT owner_id FROM goals WHERE id = ANY($4::uuid[])
  )
ORDER BY position, owner_id, period
"""
_SCORECARDS_ALL = """
SELECT * FROM scorecards WHERE position > $1 AND position <= $2 ORDER BY position, owner_id, period
"""


class ScorecardChannel(BySubject):
    """``scorecardUpdated``: the payload is the ``scorecards`` row; its position is the row's
    (the last change it reflects). A rule adoption re-scores many scorecards at one position."""

    async def fetch(self, conn: Connection, batch: Batch) -> list[asyncpg.Record]:
        if batch.rescores_everyone:
            return await conn.fetch(_SCORECARDS_ALL, batch.after, batch.upto)
        goals = list(batch.goals(batch.goal_events))
        if not batch.touched and not goals:
            return []
        return await conn.fetch(_SCORECARDS_OF, batch.after, batch.upto, list(batch.touched), goals)

    def dispatch(self, batch: Batch, fetched: list[asyncpg.Record]) -> None:
        for row in fetched:
            self.offer(batch, row["position"], row, row)

    async def replay(
        self, conn: Connection, subscriber: Subscriber[Any], interest: SubjectInterest, after: int
    ) -> list[asyncpg.Record]:
        column, subject = interest.subject
        rows = await conn.fetch(
            f"SELECT * FROM scorecards WHERE {'owner_id' if column == 'owner' else 'department_id'}"
            " = $1 AND position > $2 AND position <= $3 AND ($4::text IS NULL OR period = $4) "
            "ORDER BY position, owner_id, period",
            subject,
            after,
            subscriber.since,
            interest.period,
        )
        return [r for r in rows if owner_visible(subscriber, r)]


def _goals_changed_since(column: str) -> str:
    """Goals of one owner or department with events of the given types in a range of positions,
    each with the position of its last such event (``at``), in that order."""
    return (
        GOALS_WITH_RULES.replace("AS rule_set_version", "AS rule_set_version, t.at")
        + """
CROSS JOIN LATERAL (
    SELECT max(a.position) AS at FROM audit_trail a
    WHERE a.aggregate_id = g.id AND a.aggregate_type = 'Goal'
      AND a.event_type = ANY($1::text[]) AND a.position > $2 AND a.position <= $3
) t
"""
        + f"WHERE t.at IS NOT NULL AND g.{column} = $4 ORDER BY t.at, g.id"
    )


_GOALS_CHANGED_SINCE = {
    "owner": _goals_changed_since("owner_id"),
    "department": _goals_changed_since("department_id"),
}
_GOALS_BY_ID = GOALS_WITH_RULES + "WHERE g.id = ANY($1::uuid[])"


async def changed_goals(
    conn: Connection, batch: Batch, event_types: tuple[str, ...]
) -> list[tuple[int, asyncpg.Record]]:
    """The goals with such events in the batch, as they stand, each with its last such event's
    position, in log order."""
    positions = batch.goals(event_types)
    if not positions:
        return []
    rows = await conn.fetch(_GOALS_BY_ID, list(positions))
    return sorted(((positions[r["id"]], r) for r in rows), key=lambda pair: pair[0])


async def goals_since(
    conn: Connection,
    subscriber: Subscriber[Any],
    interest: SubjectInterest,
    after: int,
    event_types: tuple[str, ...],
) -> list[asyncpg.Record]:
    column, subject = interest.subject
    rows = await conn.fetch(
        _GOALS_CHANGED_SINCE[column], list(event_types), after, subscriber.since, subject
    )
    return [r for r in rows if owner_visible(subscriber, r)]


class GoalProgressChannel(BySubject):
    """``goalProgressRecorded``: the payload is the ``goals`` row as it stands; the position is
    the goal's last measurement in the range."""

    async def fetch(self, conn: Connection, batch: Batch) -> list[tuple[int, asyncpg.Record]]:
        return await changed_goals(conn, batch, PROGRESS_EVENTS)

    def dispatch(self, batch: Batch, fetched: list[tuple[int, asyncpg.Record]]) -> None:
        for position, row in fetched:
            self.offer(batch, position, row, row)

    async def replay(
        self, conn: Connection, subscriber: Subscriber[Any], interest: SubjectInterest, after: int
    ) -> list[asyncpg.Record]:
        return await goals_since(conn, subscriber, interest, after, PROGRESS_EVENTS)


class AtRiskChannel(BySubject):
    """``goalAtRisk``: after a measurement or a target revision, the goals it leaves at risk;
    the payload is their ``Standing``."""

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__()
        self.thresholds = thresholds

    async def fetch(self, conn: Connection, batch: Batch) -> list[tuple[int, Standing]]:
        changed = await changed_goals(conn, batch, STANDING_EVENTS)
        positions = {row["id"]: position for position, row in changed}
        found = await at_risk(conn, self.thresholds, [row for _, row in changed])
        return [(positions[s.goal["id"]], s) for s in found]

    def dispatch(self, batch: Batch, fetched: list[tuple[int, Standing]]) -> None:
        for position, standing in fetched:
            self.offer(batch, position, standing.goal, standing)

    async def replay(
        self, conn: Connection, subscriber: Subscriber[Any], interest: SubjectInterest, after: int
    ) -> list[tuple[int, Standing]]:
        """The goals changed since ``after`` that are at risk now (state, as a dashboard shows
        it; a goal that fell behind and caught up again in between is not replayed)."""
        rows = await goals_since(conn, subscriber, interest, after, STANDING_EVENTS)
        return [(s.goal["at"], s) for s in await at_risk(conn, self.thresholds, rows)]


@dataclass(frozen=True)
class AuditInterest:
    employee: UUID | None = None
    event_type: str | None = None
    aggregate_type: str | None = None


class AuditTailChannel(Indexed[AuditInterest]):
    """``auditTail``: every new entry its subscriber may see, as the ``audit_trail`` row (the
    resolver turns it into an entry as the audit-trail query does, redactions included).

    Only auditors, hr and admins subscribe, so the audience here is theirs: auditors see every
    entry; hr and admins every entry but those about the anonymous raters of their own
    appraisals (service.api.audit_trail's rules, applied to rows already in memory)."""

    async def fetch(self, conn: Connection, batch: Batch) -> None:
        return None  # the batch's rows are the entries

    def dispatch(self, batch: Batch, fetched: None) -> None:
        for row in batch.rows:
            for subscriber, interest in self.interests.items():
                if admits(subscriber, interest, row):
                    subscriber.offer(row["position"], row, batch.upto)


FULL_VIEW = frozenset({Role.AUDITOR, Role.HR})


def admits(subscriber: Subscriber[Any], interest: AuditInterest, row: asyncpg.Record) -> bool:
    me = subscriber.viewer.employee_id
    role = subscriber.viewer.role
    if (
        role is not Role.AUDITOR
        and row["rater_key"] is not None
        and row["reviewee_id"] == me
        and row["private_party_id"] != me
    ):
        return False  # anonymity follows the person: not one's own raters, whatever the role
    wanted = interest.employee
    if wanted is not None and wanted not in row["employee_ids"]:
        # Reviews written as an anonymous rater count as the rater's only for those who may
        # know the rater.
        knows_rater = role in FULL_VIEW or wanted == me
        if not (knows_rater and row["private_party_id"] == wanted):
            return False
    if interest.event_type is not None and row["event_type"] != interest.event_type:
        return False
    return interest.aggregate_type is None or row["aggregate_type"] == interest.aggregate_type
