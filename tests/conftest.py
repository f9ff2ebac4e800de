"""Test fixtures: a real PostgreSQL (embedded by default, DATABASE_URL for another), and a fresh
database per test so tests never see each other's events."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from service.application import Perfledger
from service.bootstrap import Services, build, build_application
from service.database import Database
from service.settings import Settings, new_cipher_key
from tests.helpers import Org, small_org

os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="perfledger-run-"))  # 0700

TEST_SECRET = "test-secret-" + "x" * 40
# One key per test session: every store the tests build is encrypted, as in production.
TEST_CIPHER_KEY = new_cipher_key()


@pytest.fixture(scope="session")
def admin_database() -> Iterator[Database]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield Database.from_url(url)
        return
    import pgserver

    directory = Path(tempfile.mkdtemp(prefix="perfledger-pg-"))
    server = pgserver.get_server(directory, cleanup_mode="delete")  # type: ignore[attr-defined]
    yield Database.from_url(server.get_uri())
    server.cleanup()


@contextlib.contextmanager
def throwaway_database(admin_database: Database) -> Iterator[Database]:
    """A new, empty database on the server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_database.psycopg_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin_database.with_dbname(name)
    finally:
        with psycopg.connect(admin_database.psycopg_conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def database(admin_database: Database) -> Iterator[Database]:
    with throwaway_database(admin_database) as fresh:
        yield fresh


@pytest.fixture
def app(database: Database) -> Iterator[Perfledger]:
    """The write side alone, on this test's database (no read models, no runner), built as
    the service builds it: every stored event encrypted."""
    application = build_application(database, make_settings())
    yield application
    application.close()


@pytest.fixture
def org(app: Perfledger) -> Org:
    return small_org(app)


def make_settings(**overrides: Any) -> Settings:
    settings = Settings(
        database_url="postgresql://unused",  # tests pass the database explicitly
        data_dir=Path(tempfile.gettempdir()) / "perfledger-unused",
        jwt_secret=TEST_SECRET,
        cipher_key=TEST_CIPHER_KEY,
        run_projections=False,
        seed_demo=False,
        read_pool_size=4,
        write_pool_size=4,
    )
    return settings.with_(**overrides)


@pytest.fixture
async def services(database: Database) -> AsyncIterator[Services]:
    built = await build(make_settings(), database)
    await built.start()
    try:
        yield built
    finally:
        await built.stop()
