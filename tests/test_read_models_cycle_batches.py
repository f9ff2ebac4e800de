"""Cycle scorecards are the same however the log is cut into batches.

A row is recomputed only when something it is computed from changed; entering calibration only
moves its status; a closing appraisal keeps its last written result only when nothing it is
computed from changed since. Each shortcut depends on where a batch ends, so every split of the
log must give the rows that one batch gives.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from service.bootstrap import Services
from tests.helpers import HR, catch_up, rebuild
from tests.test_read_models_reviews import (
    calibrate,
    dump,
    open_and_assign,
    prepare,
    scorecard,
    submit_reviews,
)


async def test_every_batch_size_gives_the_rows_of_one_batch(services: Services) -> None:
    app = services.app
    c = await services.call(prepare, app)
    await services.call(open_and_assign, app, c)
    await services.call(submit_reviews, app, c)
    await services.call(app.record_progress, HR, c.goal, Decimal(9), date(2026, 3, 31), "fix")
    await services.call(calibrate, app, c)
    await services.call(app.close_review_cycle, HR, c.cycle_id)
    await services.call(app.record_progress, HR, c.goal, Decimal(2), date(2026, 3, 31), "late")
    services.runner.batch_size = 100_000
    await rebuild(services)
    whole = await dump(services)
    (alice,) = [r for r in whole["cycle_scorecards"] if r["employee_id"] == c.org.alice]
    assert (alice["kpi_score"], alice["kpi_frozen"]) == (Decimal("90.00"), True)
    for size in (1, 2, 3, 5, 8, 13):
        services.runner.batch_size = size
        await rebuild(services)
        assert await dump(services) == whole, f"batches of {size} events"


async def test_a_measurement_in_the_closing_batch_counts_in_the_frozen_kpi(
    services: Services,
) -> None:
    app = services.app
    c = await services.call(prepare, app)
    await services.call(open_and_assign, app, c)
    await services.call(submit_reviews, app, c)
    await services.call(calibrate, app, c)
    await catch_up(services)
    in_calibration = await scorecard(services, c, c.org.alice)
    assert (in_calibration["status"], in_calibration["kpi_score"]) == (
        "calibration",
        Decimal("100.00"),
    )

    # March corrected, then the cycle closed: one batch, the correction before the closing.
    await services.call(app.record_progress, HR, c.goal, Decimal(4), date(2026, 3, 31), "fix")
    await services.call(app.close_review_cycle, HR, c.cycle_id)
    await catch_up(services)
    closed = await scorecard(services, c, c.org.alice)
    assert (closed["status"], closed["kpi_score"], closed["kpi_frozen"]) == (
        "closed",
        Decimal("40.00"),
        True,
    )


async def test_entering_calibration_moves_the_status_and_keeps_the_scores(
    services: Services,
) -> None:
    app = services.app
    c = await services.call(prepare, app)
    await services.call(open_and_assign, app, c)
    await services.call(submit_reviews, app, c)
    await catch_up(services)
    live = dict(await scorecard(services, c, c.org.bob))
    await services.call(app.start_calibration, HR, c.cycle_id)
    await catch_up(services)
    moved = dict(await scorecard(services, c, c.org.bob))
    assert moved["status"] == "calibration"
    assert moved["position"] > live["position"]
    unchanged = {k: v for k, v in live.items() if k not in ("status", "position")}
    assert {k: moved[k] for k in unchanged} == unchanged
