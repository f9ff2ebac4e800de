"""The composition root: builds the application, pools, projector and runner from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import asyncpg

from projections.audit_chain import AuditChain
from projections.projector import Projector
from projections.runner import ProjectionRunner
from service import database as db
from service.application import Perfledger
from service.as_of import Replays, prepare_connection
from service.audit import build_audit_chain, events_table
from service.cipher import SecretBox, check_store_key, cipher_env
from service.live.feed import LiveFeed
from service.positions import PositionWatcher
from service.settings import Settings

log = logging.getLogger("perfledger")

P = ParamSpec("P")
R = TypeVar("R")


def build_application(database: db.Database, settings: Settings) -> Perfledger:
    """The application, encrypting every stored event; refuses a store its key cannot read."""
    env = database.eventsourcing_env()
    # One psycopg connection per writer thread, so no writer ever waits for a connection.
    env["POSTGRES_POOL_SIZE"] = str(settings.write_pool_size)
    env["POSTGRES_MAX_OVERFLOW"] = "2"
    env.update(cipher_env(settings.cipher_key, Perfledger.name))
    app = Perfledger(env=env)
    try:
        check_store_key(app.recorder, app.mapper.cipher)
    except BaseException:
        app.close()
        raise
    return app


@dataclass
class Services:
    settings: Settings
    database: db.Database
    app: Perfledger
    secrets: SecretBox  # the event store's key, for read models' sealed text and the API
    read_pool: asyncpg.Pool
    projector: Projector
    runner: ProjectionRunner
    watcher: PositionWatcher
    live: LiveFeed  # subscriptions: each commit of the read models, to whom it concerns
    executor: ThreadPoolExecutor
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _runner_task: asyncio.Task[None] | None = None
    audit_chain: AuditChain | None = None  # tamper evidence: runs beside the projection runner
    # Time travel: connections with temporary read-model tables, and the replays' checkpoints.
    as_of_pool: asyncpg.Pool | None = None
    replays: Replays | None = None
    events_table: str = "stored_events"
    _chain_task: asyncio.Task[None] | None = None

    async def connect(self) -> asyncpg.Connection:
        return await connect(self.database)

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a synchronous application method on a writer thread, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    async def start(self) -> None:
        if self.settings.run_projections:
            self._runner_task = asyncio.create_task(
                self.runner.run(self._stop), name="projection-runner"
            )
            if self.audit_chain is not None:
                self._chain_task = asyncio.create_task(
                    self.audit_chain.run(self._stop), name="audit-chain"
                )
        await self.watcher.start()
        async with self.read_pool.acquire() as conn:
            await self.live.start(await self.projector.tracked_position(conn))

    async def stop(self) -> None:
        self._stop.set()
        if self._runner_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner_task
        if self._chain_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._chain_task
        await self.live.stop()
        await self.watcher.stop()
        await self.read_pool.close()
        if self.as_of_pool is not None:
            await self.as_of_pool.close()
        self.executor.shutdown(wait=True)
        self.app.close()


async def connect(database: db.Database) -> asyncpg.Connection:
    return await asyncpg.connect(**database.asyncpg_kwargs())


def build_runner(
    app: Perfledger, projector: Projector, database: db.Database, batch_size: int = 5000
) -> ProjectionRunner:
    recorder = app.recorder

    def read(after: int, limit: int) -> list[object]:
        return list(recorder.select_notifications(after, limit, inclusive_of_start=False))

    return ProjectionRunner(
        projector,
        read,
        app.mapper.to_domain_event,
        lambda: connect(database),
        events_channel=f"{app.name.lower()}_events",
        batch_size=batch_size,
    )


async def build(settings: Settings, database: db.Database | None = None) -> Services:
    if database is None:
        database = await asyncio.to_thread(db.resolve, settings.database_url, settings.data_dir)
    app = await asyncio.to_thread(build_application, database, settings)
    secrets = SecretBox(settings.cipher_key)
    projector = Projector(secrets=secrets)
    audit_chain = build_audit_chain(app, database)
    conn = await connect(database)
    try:
        if await projector.create_schema(conn):
            log.warning(
                "the read models' table layout changed since they were built: "
                "rebuilding them from the event log"
            )
        await audit_chain.create_schema(conn)  # also makes the events table append-only
    finally:
        await conn.close()
    read_pool = await asyncpg.create_pool(
        **database.asyncpg_kwargs(),
        min_size=1,
        max_size=settings.read_pool_size,
    )
    assert read_pool is not None
    as_of_pool = await asyncpg.create_pool(
        **database.asyncpg_kwargs(),
        min_size=0,
        max_size=settings.as_of_pool_size,
        init=prepare_connection,
    )
    assert as_of_pool is not None
    watcher = PositionWatcher(lambda: connect(database), projector.name)
    return Services(
        settings=settings,
        database=database,
        app=app,
        secrets=secrets,
        read_pool=read_pool,
        projector=projector,
        runner=build_runner(app, projector, database, settings.projection_batch),
        watcher=watcher,
        live=LiveFeed(read_pool, watcher, capacity=settings.live_queue_size),
        executor=ThreadPoolExecutor(settings.write_pool_size, thread_name_prefix="writer"),
        audit_chain=audit_chain,
        as_of_pool=as_of_pool,
        replays=Replays(app.mapper.to_domain_event, events_table(app), secrets),
        events_table=events_table(app),
    )
