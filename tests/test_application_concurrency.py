"""Concurrent writers on PostgreSQL: no event lost or doubled, the log in aggregate order, and
no reporting-line loop from two changes that each looked fine on their own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from functools import partial
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from domain.errors import DomainError, ManagerCycle
from domain.goals import Goal
from domain.organisation import Employee
from domain.provenance import Role
from service.application import Perfledger, Receipt, employee_id_for
from tests.helpers import HR, as_role, patiently, set_goal, small_org

THREADS = 8
COMMANDS_PER_THREAD = 25


def test_concurrent_progress_on_one_goal_stores_every_event_once_in_version_order(
    app: Perfledger,
) -> None:
    org = small_org(app)
    goal_id = set_goal(app, org.alice)
    start = threading.Barrier(THREADS)

    def writer(thread: int) -> list[Receipt]:
        # Alternate the actors a little: the owner, their manager and HR all may record progress.
        actors = [as_role(Role.EMPLOYEE, org.alice), as_role(Role.MANAGER, org.boss), HR]
        start.wait()
        receipts = []
        for number in range(COMMANDS_PER_THREAD):
            command = partial(
                app.record_progress,
                actors[number % 3],
                goal_id,
                Decimal(number),
                date(2026, 2, 1),
                f"writer-{thread}-{number}",
            )
            receipts.append(patiently(command))
        return receipts

    with ThreadPoolExecutor(THREADS) as pool:
        receipts = [r for batch in pool.map(writer, range(THREADS)) for r in batch]

    total = THREADS * COMMANDS_PER_THREAD
    expected_sources = {
        f"writer-{t}-{n}" for t in range(THREADS) for n in range(COMMANDS_PER_THREAD)
    }
    # Every command got its own version of the goal: 2 (after Set) to total + 1.
    assert sorted(r.version or 0 for r in receipts) == list(range(2, total + 2))

    notifications = app.recorder.select_notifications(start=1, limit=10 * total)
    ids = [n.id for n in notifications]
    assert ids == sorted(set(ids)), "notification ids must increase strictly"
    progress = [
        (n.id, app.mapper.to_domain_event(n))
        for n in notifications
        if n.originator_id == goal_id and n.topic.endswith("ProgressRecorded")
    ]
    sources = [vars(event)["source"] for _, event in progress]
    assert len(sources) == total
    assert set(sources) == expected_sources  # each command's event, and each only once
    # The log lists the goal's events in version order, without gaps.
    assert [event.originator_version for _, event in progress] == list(range(2, total + 2))
    # A receipt's position is where its event landed in the log.
    landed = {event.originator_version: nid for nid, event in progress}
    assert all(landed[r.version or 0] == r.position for r in receipts)

    goal: object = app.repository.get(goal_id)
    assert isinstance(goal, Goal)
    assert goal.measurements == total
    assert goal.version == total + 1


def manager_of(app: Perfledger, employee_id: UUID) -> UUID | None:
    employee: Aggregate = app.repository.get(employee_id)
    assert isinstance(employee, Employee)
    return employee.manager_id


def race(app: Perfledger, changes: list[tuple[UUID, UUID]]) -> list[bool]:
    """Send all the manager changes at once; which of them succeeded."""
    start = threading.Barrier(len(changes))

    def change(pair: tuple[UUID, UUID]) -> bool:
        start.wait()
        try:
            patiently(lambda: app.change_manager(HR, *pair))
        except ManagerCycle:
            return False
        return True

    with ThreadPoolExecutor(len(changes)) as pool:
        return list(pool.map(change, changes))


def hire_peers(app: Perfledger, codes: list[str]) -> list[UUID]:
    org = small_org(app)
    for code in codes:
        app.hire_employee(
            HR, code=code, name=code, department_id=org.sales, manager_id=None,
            job_title="Lead", hire_date=date(2022, 1, 1), attributes={},
        )  # fmt: skip
    return [employee_id_for(code) for code in codes]


def assert_no_loop(app: Perfledger, people: list[UUID]) -> None:
    for person in people:
        seen = [person]
        current = manager_of(app, person)
        while current is not None:
            assert current not in seen, f"reporting loop through {seen}"
            seen.append(current)
            current = manager_of(app, current)


def test_two_people_placed_under_each_other_at_once_never_both_succeed(app: Perfledger) -> None:
    a, b = hire_peers(app, ["A", "B"])
    for _ in range(8):
        a_under_b, b_under_a = race(app, [(a, b), (b, a)])
        assert a_under_b != b_under_a, "exactly one of the two changes may succeed"
        assert (manager_of(app, a), manager_of(app, b)) == ((b, None) if a_under_b else (None, a))
        assert_no_loop(app, [a, b])
        # Undo the change that won, for the next round.
        app.change_manager(HR, a if a_under_b else b, None)


def test_three_concurrent_changes_never_close_a_loop(app: Perfledger) -> None:
    a, b, c = people = hire_peers(app, ["A", "B", "C"])
    for _ in range(5):
        outcome = race(app, [(a, b), (b, c), (c, a)])
        assert outcome.count(True) == 2, outcome  # the third would close the loop
        assert_no_loop(app, people)
        for person in people:
            if manager_of(app, person) is not None:
                app.change_manager(HR, person, None)


def test_rejections_under_contention_record_nothing(app: Perfledger) -> None:
    # Every racer tries the same cycle-forming change: none of them may record anything.
    a, b = hire_peers(app, ["A", "B"])
    app.change_manager(HR, a, b)
    before = app.recorder.max_notification_id()
    assert race(app, [(b, a)] * 4) == [False] * 4
    assert app.recorder.max_notification_id() == before
    with pytest.raises(DomainError):
        app.change_manager(HR, b, a)
