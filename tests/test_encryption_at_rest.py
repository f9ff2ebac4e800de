"""Encryption at rest: a dump of the event store shows no recorded text, the application still
reads it, read models can seal text with the same key, and a store the key cannot read refuses to
start instead of serving garbage."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from domain.organisation import Employee
from service.application import Perfledger, department_id_for, employee_id_for
from service.bootstrap import Services, build, build_application
from service.cipher import SecretBox, StoreKeyMismatch
from service.database import Database
from service.settings import SettingsError, from_environment, new_cipher_key
from tests.conftest import TEST_CIPHER_KEY, make_settings
from tests.helpers import HR, catch_up

SECRET_NAME = "Zebulon Quartzwhistle"
EVENT_STORE_TABLES = {"perfledger_events", "perfledger_snapshots"}


def hire_zebulon(app: Perfledger) -> None:
    """Events whose every text field carries the name, and a snapshot of the employee."""
    app.open_department(HR, code="VAULT", name=f"{SECRET_NAME}'s vault", parent_id=None)
    app.hire_employee(
        HR,
        code="ZQ1",
        name=SECRET_NAME,
        department_id=department_id_for("VAULT"),
        manager_id=None,
        job_title=f"Keeper of {SECRET_NAME}",
        hire_date=date(2024, 1, 2),
        attributes={"nickname": SECRET_NAME},
        idempotency_key=f"hire {SECRET_NAME}",
    )
    app.take_snapshot(employee_id_for("ZQ1"))


def tables_containing(database: Database, text: str) -> dict[str, int]:
    """Every table of every user schema, every column of every row, as a dump would read them
    (bytea as its raw bytes): how many rows of each table contain ``text``."""
    needle = text.encode()
    found: dict[str, int] = {}
    with psycopg.connect(database.psycopg_conninfo()) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            for row in conn.execute(query):
                if any(needle in _as_bytes(value) for value in row):
                    found[table] = found.get(table, 0) + 1
    return found


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def event_store_rows(database: Database) -> int:
    with psycopg.connect(database.psycopg_conninfo()) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM perfledger_events) "
            "+ (SELECT count(*) FROM perfledger_snapshots)"
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def plain_app(database: Database) -> Iterator[Perfledger]:
    """An application without a cipher, as every store was written before encryption."""
    application = Perfledger(env=database.eventsourcing_env())
    yield application
    application.close()


# -- the event store --------------------------------------------------------------------------


async def test_no_table_holds_the_recorded_text_in_the_clear(services: Services) -> None:
    await services.call(hire_zebulon, services.app)

    assert event_store_rows(services.database) >= 4  # department, employee, request, snapshot
    assert tables_containing(services.database, SECRET_NAME) == {}
    assert tables_containing(services.database, "Quartzwhistle") == {}


async def test_only_read_models_hold_text_once_projected(services: Services) -> None:
    """The scan does find text where it is stored in the clear: the read models keep names for
    queries. The event store still holds none of it."""
    await services.call(hire_zebulon, services.app)
    await catch_up(services)

    found = tables_containing(services.database, SECRET_NAME)
    assert found, "the organisation read model keeps employee names"
    assert set(found) <= set(services.projector.tables)
    assert not set(found) & EVENT_STORE_TABLES


def test_the_scan_finds_text_in_an_unencrypted_store(
    plain_app: Perfledger, database: Database
) -> None:
    hire_zebulon(plain_app)

    assert set(tables_containing(database, SECRET_NAME)) == EVENT_STORE_TABLES


def _pg_dump() -> str | None:
    """The embedded server's own pg_dump (same version as the server), if that is the server."""
    if os.environ.get("DATABASE_URL"):
        return None
    import pgserver

    candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    return str(candidate) if candidate.exists() else shutil.which("pg_dump")


async def test_pg_dump_shows_the_text_only_in_read_models(services: Services) -> None:
    pg_dump = _pg_dump()
    if pg_dump is None:
        pytest.skip("no pg_dump matching the test server")
    await services.call(hire_zebulon, services.app)
    await catch_up(services)

    def dump(*tables: str) -> str:
        selected = [argument for table in tables for argument in ("--table", table)]
        return subprocess.run(
            [pg_dump, "--dbname", services.database.psycopg_conninfo(), *selected],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    store = dump(*EVENT_STORE_TABLES)
    assert "COPY public.perfledger_events" in store
    # pg_dump writes bytea as hex: look for the text in both forms.
    assert SECRET_NAME not in store
    assert SECRET_NAME.encode().hex() not in store
    assert SECRET_NAME in dump()  # the read models, in the clear, show the dump is complete


async def test_the_application_reads_its_encrypted_events_back(services: Services) -> None:
    await services.call(hire_zebulon, services.app)

    # A second application: no shared cache, so everything is decrypted from the store.
    other = build_application(services.database, services.settings)
    try:
        employee: object = other.repository.get(employee_id_for("ZQ1"))
        assert isinstance(employee, Employee)
        assert employee.name == SECRET_NAME
        assert employee.attributes == {"nickname": SECRET_NAME}
        first = other.recorder.select_notifications(1, 1)[0]
        assert other.mapper.to_domain_event(first).originator_id == department_id_for("VAULT")
    finally:
        other.close()


# -- starting on a store the key cannot read ---------------------------------------------------


def test_starting_with_another_key_on_a_store_with_events_fails_clearly(
    database: Database,
) -> None:
    app = build_application(database, make_settings())
    hire_zebulon(app)
    app.close()

    with pytest.raises(StoreKeyMismatch) as refused:
        build_application(database, make_settings(cipher_key=new_cipher_key()))
    message = str(refused.value)
    assert "PERFLEDGER_CIPHER_KEY" in message
    assert "different key" in message
    assert SECRET_NAME not in message


def test_starting_with_a_key_on_an_unencrypted_store_fails_clearly(
    plain_app: Perfledger, database: Database
) -> None:
    hire_zebulon(plain_app)

    with pytest.raises(StoreKeyMismatch) as refused:
        build_application(database, make_settings())
    assert "written without encryption" in str(refused.value)


async def test_services_refuse_to_start_on_a_store_written_with_another_key(
    database: Database,
) -> None:
    app = build_application(database, make_settings())
    hire_zebulon(app)
    app.close()

    with pytest.raises(StoreKeyMismatch):
        await build(make_settings(cipher_key=new_cipher_key()), database)


def test_an_empty_store_starts_with_any_key(database: Database) -> None:
    for key in (TEST_CIPHER_KEY, new_cipher_key()):
        build_application(database, make_settings(cipher_key=key)).close()


# -- sealed text for read models --------------------------------------------------------------


def test_a_secret_box_round_trips_text_without_showing_it() -> None:
    box = SecretBox(TEST_CIPHER_KEY)
    comment = f"{SECRET_NAME} missed the target, but ✓ for effort"

    sealed = box.seal(comment)

    assert box.open(sealed) == comment
    assert SECRET_NAME.encode() not in sealed
    assert box.seal(comment) != sealed  # a fresh nonce each time: equal texts look different


def test_a_secret_box_refuses_text_sealed_with_another_key_or_tampered_with() -> None:
    sealed = SecretBox(TEST_CIPHER_KEY).seal("feedback")

    with pytest.raises(ValueError, match="cipher"):
        SecretBox(new_cipher_key()).open(sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ValueError, match="cipher"):
        SecretBox(TEST_CIPHER_KEY).open(tampered)


async def test_services_offer_the_secret_box_to_the_api_and_the_projector(
    services: Services,
) -> None:
    sealed = services.secrets.seal("a review comment")

    assert services.projector.secrets is services.secrets
    assert SecretBox(services.settings.cipher_key).open(sealed) == "a review comment"


# -- where the key comes from -----------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "PERFLEDGER_CIPHER_KEY", "PERFLEDGER_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERFLEDGER_DATA_DIR", str(tmp_path / "pgdata"))
    return monkeypatch


def test_the_embedded_database_gets_a_private_key_once(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = from_environment().cipher_key

    path = tmp_path / "pgdata.cipher-key"
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(first)) == 32
    assert from_environment().cipher_key == first  # kept, never replaced
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_external_database_requires_a_key(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_URL", "postgresql://db/perfledger")
    environment.setenv("PERFLEDGER_JWT_SECRET", "s" * 40)

    with pytest.raises(SettingsError, match=r"PERFLEDGER_CIPHER_KEY is not set.*keygen"):
        from_environment()

    environment.setenv("PERFLEDGER_CIPHER_KEY", TEST_CIPHER_KEY)
    assert from_environment().cipher_key == TEST_CIPHER_KEY


@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        ("not base64!", "not base64"),
        (base64.b64encode(b"short").decode(), "16, 24 or 32 bytes, not 5"),
    ],
)
def test_a_malformed_key_is_a_clear_error(
    environment: pytest.MonkeyPatch, key: str, complaint: str
) -> None:
    environment.setenv("PERFLEDGER_CIPHER_KEY", key)

    with pytest.raises(SettingsError, match=complaint):
        from_environment()
