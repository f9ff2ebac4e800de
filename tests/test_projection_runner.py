"""The projection runner: one active runner per projection, exactly-once batches, resumable."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import date
from decimal import Decimal

import pytest

from projections.projector import Projector, TrackingConflict
from service.bootstrap import Services, build_runner
from tests.conftest import TEST_CIPHER_KEY, TEST_SECRET
from tests.helpers import HR, set_goal, small_org
from tests.test_read_models import dump


async def test_a_stale_projector_cannot_commit_a_batch_twice(services: Services) -> None:
    await services.call(small_org, services.app)
    first, second = Projector(), Projector()
    conn_a, conn_b = await services.connect(), await services.connect()
    try:
        runner_a = build_runner(services.app, first, services.database)
        runner_b = build_runner(services.app, second, services.database)
        await first.load(conn_a)
        await second.load(conn_b)  # both believe they start at position 0
        await runner_a.catch_up(conn_a)
        with pytest.raises(TrackingConflict):
            await runner_b.catch_up(conn_b)
        assert second.position is None  # it dropped its memory and must reload
        result = await runner_b.catch_up(conn_b)  # reloads, finds nothing new
        assert result.events == 0
    finally:
        await conn_a.close()
        await conn_b.close()


async def test_only_one_runner_is_active_and_a_standby_takes_over(services: Services) -> None:
    org = await services.call(small_org, services.app)
    runners = [build_runner(services.app, Projector(), services.database) for _ in range(2)]
    stops = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(r.run(s)) for r, s in zip(runners, stops, strict=True)]
    try:
        for _ in range(100):
            if any(r.active for r in runners):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert [r.active for r in runners].count(True) == 1
        active = next(i for i, r in enumerate(runners) if r.active)
        stops[active].set()
        await tasks[active]
        standby = runners[1 - active]
        goal = await services.call(set_goal, services.app, org.alice)
        position = await services.call(
            services.app.record_progress, HR, goal, Decimal(4), date(2026, 2, 1), "crm"
        )
        for _ in range(200):
            if standby.active and standby.projector.position == position.position:
                break
            await asyncio.sleep(0.05)
        assert standby.active
        assert standby.projector.position == position.position
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)


async def test_a_runner_killed_mid_batch_resumes_without_loss_or_duplication(
    services: Services,
) -> None:
    from service.seed import seed_organisation

    await services.call(seed_organisation, services.app, employees=250, seed=3)
    last = await asyncio.to_thread(services.app.recorder.max_notification_id)
    assert last is not None
    assert last > 15_000
    env = {
        **os.environ,
        "DATABASE_URL": services.database.url(),
        "PERFLEDGER_JWT_SECRET": TEST_SECRET,
        "PERFLEDGER_CIPHER_KEY": TEST_CIPHER_KEY,
        "PERFLEDGER_PROJECTION_BATCH": "500",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        "project",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        position = 0
        async with services.read_pool.acquire() as reader:
            for _ in range(600):
                position = await reader.fetchval(
                    "SELECT position FROM projection_tracking WHERE name = 'read_models'"
                )
                if position > 0:
                    break
                await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)  # no chance to finish the batch it is writing
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), 30)
    assert 0 < position < last, "the runner should have been killed part-way through"

    conn = await services.connect()
    try:
        resumed = await services.runner.catch_up(conn)
        assert resumed.position == last
        incremental = await dump(services)
        await services.projector.reset(conn)
        await services.runner.catch_up(conn)
        rebuilt = await dump(services)
    finally:
        await conn.close()
    assert incremental == rebuilt
