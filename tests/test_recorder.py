"""Large saves: no stall in pipeline mode, positions in order, bulk commits durable in the end."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.goals import Goal
from domain.provenance import Provenance, Role
from service.application import Perfledger
from service.database import Database
from service.recorder import PerfledgerRecorder
from tests.helpers import set_goal, small_org

SYSTEM = Provenance("test", Role.SYSTEM, "test")


def test_a_save_of_thousands_of_events_completes_in_order(database: Database) -> None:
    app = Perfledger(env=database.eventsourcing_env())
    try:
        assert isinstance(app.recorder, PerfledgerRecorder)
        org = small_org(app)
        goal_id = set_goal(app, org.alice)
        goal: Goal = app.repository.get(goal_id)
        for day in range(1, 4001):
            goal.record_progress(
                Decimal(day) / 100, date(2026, 1 + day % 3, 1 + day % 28), "x" * 90, SYSTEM
            )
        before = app.recorder.max_notification_id() or 0
        recordings = app.save(goal)  # ~600 KB: more than a socket buffer holds
        ids = [r.notification.id for r in recordings]
        assert len(ids) == 4000
        assert ids == sorted(ids)
        assert ids[0] > before
        stored = app.recorder.select_notifications(before, 5000, inclusive_of_start=False)
        assert [n.originator_version for n in stored] == list(range(2, 4002))
    finally:
        app.close()


def test_bulk_saves_record_the_same_events(database: Database) -> None:
    app = Perfledger(env=database.eventsourcing_env())
    try:
        org = small_org(app)
        goal_id = set_goal(app, org.bob)
        goal: Goal = app.repository.get(goal_id)
        goal.record_progress(Decimal(3), date(2026, 2, 1), "crm", SYSTEM)
        recordings = app.save(goal, bulk=True)
        assert len(recordings) == 1
        reloaded: Goal = app.repository.get(goal_id)
        assert reloaded.version == goal.version
    finally:
        app.close()
