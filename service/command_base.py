"""What every command shares: load, decide, save with retries, idempotency, and who may act.

Feature modules define their commands on subclasses of `CommandsBase`; `service.application`
composes them into the one `Perfledger` application.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.errors import (
    AlreadyExists,
    ConcurrentModification,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from domain.organisation import Department, Employee
from domain.provenance import Provenance, Role
from service import idempotency

_ID_NAMESPACE = UUID("9d1c1a52-5b8e-4f43-a2a8-3a5f8b7e4c11")
MAX_ATTEMPTS = 25
MAX_CHAIN = 100

HR_ROLES = frozenset({Role.HR, Role.ADMIN, Role.SYSTEM})


def department_id_for(code: str) -> UUID:
    """Department ids derive from their codes, so a code can only ever be used once."""
    return uuid5(_ID_NAMESPACE, f"department/{code}")


def employee_id_for(code: str) -> UUID:
    return uuid5(_ID_NAMESPACE, f"employee/{code}")


@dataclass(frozen=True)
class Receipt:
    """What a command wrote: the log position of its last event and the aggregate it is about."""

    position: int
    id: UUID | None = None
    version: int | None = None


T = TypeVar("T", bound=Aggregate)
Decision = tuple[Sequence[Aggregate], UUID | None, int | None]


class CommandsBase(Application[UUID]):
    # -- plumbing -------------------------------------------------------------------------------

    def _load(self, cls: type[T], aggregate_id: UUID, what: str, field: str) -> T:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} {aggregate_id} does not exist", field=field) from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} {aggregate_id} does not exist", field=field)
        return aggregate

    def _load_optional(self, cls: type[T], aggregate_id: UUID) -> T | None:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _require_new(self, aggregate_id: UUID, what: str) -> None:
        """No aggregate of any kind has this id yet: otherwise the save would conflict on every
        retry, so the command is refused up front."""
        if self._load_optional(Aggregate, aggregate_id) is not None:
            raise AlreadyExists(f"{what} {aggregate_id} already exists", field="id")

    def _execute(
        self,
        provenance: Provenance,
        command: str,
        arguments: dict[str, Any],
        decide: Callable[[], Decision],
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Decide and save, retrying the whole decision when a concurrent writer got there first."""
        request_id: UUID | None = None
        request_fingerprint = ""
        if idempotency_key is not None:
            if not 0 < len(idempotency_key) <= idempotency.MAX_KEY_LENGTH:
                raise InvalidInput(
                    f"an idempotency key has 1 to {idempotency.MAX_KEY_LENGTH} characters",
                    field="idempotencyKey",
                )
            request_id = idempotency.record_id(provenance.actor_id, idempotency_key)
            request_fingerprint = idempotency.fingerprint(command, arguments)
        for attempt in range(MAX_ATTEMPTS):
            if request_id is not None:
                earlier = self._earlier_request(request_id, request_fingerprint)
                if earlier is not None:
                    return earlier
            try:
                aggregates, result_id, result_version = decide()
            except DomainError:
                # A resend of a request that committed while this one was deciding fails the
                # domain's checks (already submitted, ...): the earlier receipt is the answer.
                if request_id is not None:
                    earlier = self._earlier_request(request_id, request_fingerprint)
                    if earlier is not None:
                        return earlier
                raise
            to_save = list(aggregates)
            if request_id is not None:
                assert idempotency_key is not None
                to_save.append(
                    idempotency.ProcessedRequest(
                        id=request_id,
                        actor_id=provenance.actor_id,
                        key=idempotency_key,
                        command=command,
                        fingerprint=request_fingerprint,
                        result_id=str(result_id) if result_id else None,
                        result_version=result_version,
                    )
                )
            try:
                recordings = self.save(*to_save)
            except IntegrityError:
                # Someone else changed one of these aggregates since we loaded it. The cache
                # holds unmodified copies and fast-forwards them on the next load, so deciding
                # again sees the other writer's events.
                time.sleep(_backoff(attempt))
                continue
            return Receipt(_position(recordings), result_id, result_version)
        raise ConcurrentModification(
            f"{command} kept conflicting with concurrent changes; try again"
        )

    def _earlier_request(self, request_id: UUID, request_fingerprint: str) -> Receipt | None:
        earlier = self._load_optional(idempotency.ProcessedRequest, request_id)
        if earlier is None:
            return None
        if earlier.fingerprint != request_fingerprint:
            raise idempotency.IdempotencyKeyReused(
                f"idempotency key {earlier.key!r} was already used for a different request",
                field="idempotencyKey",
            )
        position = self.recorder.max_notification_id() or 0
        result_id = UUID(earlier.result_id) if earlier.result_id else None
        return Receipt(position, result_id, earlier.result_version)

    # -- who may do what ------------------------------------------------------------------------

    def manager_chain(self, employee_id: UUID) -> list[UUID]:
        """The employee's manager, that manager's manager, and so on up to the top."""
        chain: list[UUID] = []
        current = self._load(Employee, employee_id, "employee", "employeeId").manager_id
        while current is not None and len(chain) < MAX_CHAIN:
            if current in chain:
                break  # cannot happen while OrgStructure serialises changes; never loop forever
            chain.append(current)
            current = self._load(Employee, current, "employee", "managerId").manager_id
        return chain

    def department_ancestry(self, department_id: UUID) -> list[UUID]:
        """The department followed by its parent, grandparent, and so on."""
        chain: list[UUID] = []
        current: UUID | None = department_id
        while current is not None and len(chain) < MAX_CHAIN:
            if current in chain:
                break
            chain.append(current)
            current = self._load(Department, current, "department", "parentId").parent_id
        return chain

    def _require_hr(self, provenance: Provenance, doing: str) -> None:
        if provenance.actor_role not in HR_ROLES:
            raise PermissionDenied(f"only hr or admin may {doing}")

    def _require_may_manage(self, provenance: Provenance, employee_id: UUID, doing: str) -> None:
        """HR and admin manage everyone; a manager manages the people below them."""
        if provenance.actor_role in HR_ROLES:
            return
        if provenance.actor_role is Role.MANAGER and self._is_above(provenance, employee_id):
            return
        raise PermissionDenied(f"only the employee's managers, hr or admin may {doing}")

    def _rewardable(self, provenance: Provenance, employee_id: UUID, doing: str) -> Employee:
        """The employee, checked to be one the caller may reward now (a grant, an approved
        proposal, or a trial's provisional reward)."""
        employee = self._load(Employee, employee_id, "employee", "employeeId")
        if provenance.actor_id == str(employee_id):
            raise PermissionDenied("nobody can reward themselves", field="employeeId")
        self._require_may_manage(provenance, employee_id, doing)
        employee.require_active("be rewarded", field="employeeId")
        return employee

    def _is_above(self, provenance: Provenance, employee_id: UUID) -> bool:
        try:
            actor = UUID(provenance.actor_id)
        except ValueError:
            return False
        return actor in self.manager_chain(employee_id)

    def _require_may_run_department(
        self, provenance: Provenance, department_id: UUID, doing: str
    ) -> None:
        if provenance.actor_role in HR_ROLES:
            return
        if provenance.actor_role is Role.MANAGER:
            actor = self._load_optional(Employee, _uuid_or_nil(provenance.actor_id))
            if actor is not None and actor.department_id in self.department_ancestry(department_id):
                return
        raise PermissionDenied(f"only hr, admin or a manager of the department may {doing}")


def _backoff(attempt: int) -> float:
    """Seconds to wait before deciding again: growing, capped, and jittered so that writers
    that collided once do not collide again in lock-step."""
    return random.uniform(0, min(0.002 * 2**attempt, 0.1))  # noqa: S311 - not for secrecy


def _position(recordings: list[Recording[UUID]]) -> int:
    return max(recording.notification.id for recording in recordings)


def _uuid_or_nil(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        return UUID(int=0)
