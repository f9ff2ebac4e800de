"""The demo loaded on first start: an organisation with its history, and a running trial to
explore, so every role's dashboard has something to show from the README's first command."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.trials import Trial, TrialStatus
from service.bootstrap import Services, build
from service.database import Database
from service.demo import DEMO_TRIAL_ID, ensure_demo
from tests.conftest import make_settings
from tests.helpers import fetch, load


@pytest.fixture
async def running(database: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Services]:
    monkeypatch.setenv("PERFLEDGER_DEMO_EMPLOYEES", "40")
    services = await build(make_settings(run_projections=True), database)
    await services.start()
    try:
        yield services
    finally:
        await services.stop()


async def test_the_demo_runs_a_trial_on_sales_over_the_latest_closed_cycle(
    running: Services,
) -> None:
    await ensure_demo(running)
    trial = load(running.app, Trial, DEMO_TRIAL_ID)
    assert trial.status is TrialStatus.RUNNING
    sales = await fetch(
        running,
        "SELECT e.id FROM employees e JOIN departments d ON d.id = e.department_id "
        "WHERE d.code LIKE 'SALES%' AND e.leave_date IS NULL",
    )
    assert {r["id"] for r in sales} <= set(trial.participants)
    latest = await fetch(
        running, "SELECT max(period) AS period FROM review_cycles WHERE status = 'closed'"
    )
    assert trial.period == latest[0]["period"]
    rows = await fetch(running, "SELECT status FROM trials WHERE id = $1", DEMO_TRIAL_ID)
    assert [r["status"] for r in rows] == ["running"]
    # A second start finds the store filled and records nothing more.
    before = running.app.recorder.max_notification_id()
    await ensure_demo(running)
    assert running.app.recorder.max_notification_id() == before
