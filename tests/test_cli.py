"""The perfledger command line, run as a user would."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from domain.provenance import Role
from service import auth
from service.application import employee_id_for
from service.bootstrap import build_application
from service.database import Database
from service.settings import new_cipher_key
from tests.conftest import TEST_CIPHER_KEY, TEST_SECRET, make_settings
from tests.helpers import HR


def perfledger(
    database: Database, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env={
            **os.environ,
            "DATABASE_URL": database.url(),
            "PERFLEDGER_JWT_SECRET": TEST_SECRET,
            "PERFLEDGER_CIPHER_KEY": TEST_CIPHER_KEY,
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_seed_then_rebuild_reports_counts_and_rate(database: Database) -> None:
    seeded = perfledger(database, "seed", "--employees", "40", "--seed", "5")
    assert seeded.returncode == 0, seeded.stderr
    assert "40 employees" in seeded.stdout
    rebuilt = perfledger(database, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "events/s" in rebuilt.stdout
    assert "position" in rebuilt.stderr  # the progress bar
    again = perfledger(database, "seed", "--employees", "40", "--seed", "5")
    assert again.returncode == 2
    assert "empty" in again.stderr


def test_token_command_mints_a_token_for_an_employee_code(database: Database) -> None:
    minted = perfledger(database, "token", "--role", "manager", "--employee", "E000001")
    assert minted.returncode == 0, minted.stderr
    viewer = auth.verify(TEST_SECRET, minted.stdout.strip())
    assert viewer.role is Role.MANAGER
    assert viewer.employee_id == employee_id_for("E000001")


def test_system_role_cannot_be_minted(database: Database) -> None:
    refused = perfledger(database, "token", "--role", "system", "--employee", "E1")
    assert refused.returncode == 2
    assert "invalid choice" in refused.stderr


def test_missing_secret_with_an_external_database_is_a_clear_error(database: Database) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PERFLEDGER_JWT_SECRET"}
    env["DATABASE_URL"] = database.url()
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "token", "--role", "hr", "--employee", "E1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "PERFLEDGER_JWT_SECRET" in result.stderr


def test_schema_check_detects_drift(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { nothing: Int }\n")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "schema", "--check", str(stale)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "differs" in result.stderr


def test_keygen_prints_a_new_aes_key_each_time() -> None:
    def keygen() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "service.cli", "keygen"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.strip()

    first, second = keygen(), keygen()
    assert len(base64.b64decode(first, validate=True)) == 32
    assert first != second


def test_missing_cipher_key_with_an_external_database_is_a_clear_error(
    database: Database,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PERFLEDGER_CIPHER_KEY"}
    env["DATABASE_URL"] = database.url()
    env["PERFLEDGER_JWT_SECRET"] = TEST_SECRET
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "PERFLEDGER_CIPHER_KEY is not set" in result.stderr
    assert "perfledger keygen" in result.stderr
    assert "Traceback" not in result.stderr


def test_rebuild_with_another_key_refuses_the_store_in_one_line(database: Database) -> None:
    app = build_application(database, make_settings())
    app.open_department(HR, code="SALES", name="Sales", parent_id=None)
    app.close()

    result = perfledger(database, "rebuild", env={"PERFLEDGER_CIPHER_KEY": new_cipher_key()})

    assert result.returncode != 0
    assert "cannot decrypt the event store" in result.stderr
    assert "Traceback" not in result.stderr
