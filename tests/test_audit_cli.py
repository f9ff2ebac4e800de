"""perfledger audit verify / export, run as an auditor would, and the stand-alone export checker
run with nothing but the standard library (no site-packages, no service, no database)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import psycopg

from service.bootstrap import build_application
from service.database import Database
from tests.conftest import make_settings
from tests.helpers import set_goal, small_org
from tests.test_cli import perfledger

CHECKER = Path(__file__).resolve().parent.parent / "tools" / "verify_export.py"


def record_org(database: Database) -> int:
    app = build_application(database, make_settings())
    try:
        org = small_org(app)
        set_goal(app, org.alice)
        set_goal(app, org.bob)
        last = app.recorder.max_notification_id()
    finally:
        app.close()
    assert last is not None
    return last


def tamper(database: Database, statement: str) -> None:
    """As a superuser with triggers off: the one way past the append-only guard."""
    with psycopg.connect(database.psycopg_conninfo()) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(statement)


def check_export(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(CHECKER), str(directory), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=directory,
    )


def test_verify_reports_an_intact_log_then_the_position_of_altered_bytes(
    database: Database,
) -> None:
    last = record_org(database)
    intact = perfledger(database, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert f"Checked {last} entries" in intact.stdout
    assert "the chain is intact" in intact.stdout

    tamper(
        database,
        "UPDATE perfledger_events SET state = overlay(state PLACING '\\x00'::bytea FROM 30 FOR 1) "
        "WHERE notification_id = 7",
    )
    broken = perfledger(database, "audit", "verify")
    assert broken.returncode == 1, broken.stderr
    assert "The chain breaks at position 7 (state differs)" in broken.stdout
    assert "6 entries before it check out" in broken.stdout
    ranged = perfledger(database, "audit", "verify", "--from", "1", "--to", "6")
    assert ranged.returncode == 0, ranged.stdout


def test_an_export_checks_out_alone_and_fails_after_one_line_is_edited(
    database: Database, tmp_path: Path
) -> None:
    last = record_org(database)
    out = tmp_path / "export"
    exported = perfledger(
        database, "audit", "export", "--from", "2", "--to", str(last), "--out", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    lines = [json.loads(line) for line in (out / "trail.jsonl").read_text().splitlines()]
    assert [line["position"] for line in lines] == list(range(2, last + 1))
    assert manifest["count"] == last - 1
    assert manifest["last_hash"] == lines[-1]["hash"]
    assert manifest["previous_hash"] != "00" * 32  # anchored on the chain's entry 1
    assert manifest["checkpoints"][0]["position"] == last  # the first batch is checkpointed
    assert all(line["time"] for line in lines)  # decrypted from the stored state

    checked = check_export(out)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith(f"OK {last - 1} entries")
    held = f"{last}:{manifest['last_hash']}"  # a checkpoint an auditor kept from before
    assert check_export(out, "--checkpoint", held).returncode == 0
    assert check_export(out, "--checkpoint", f"{last}:{'ab' * 32}").returncode == 1

    # Change one event's bytes in the trail, keeping the line well-formed.
    edited = dict(lines[3])
    state = bytearray(base64.b64decode(edited["state"]))
    state[10] ^= 0xFF
    edited["state"] = base64.b64encode(bytes(state)).decode()
    text = (out / "trail.jsonl").read_text().splitlines()
    text[3] = json.dumps(edited, separators=(",", ":"))
    (out / "trail.jsonl").write_text("\n".join(text) + "\n")
    failed = check_export(out)
    assert failed.returncode == 1
    assert "SHA-256 differs" in failed.stdout
    assert f"position {lines[3]['position']} (line 4)" in failed.stdout
    assert "the event differs from what was chained" in failed.stdout


def test_an_export_of_a_log_with_a_deleted_event_fails_the_check(
    database: Database, tmp_path: Path
) -> None:
    last = record_org(database)
    assert perfledger(database, "audit", "verify").returncode == 0  # chains the log
    tamper(database, "DELETE FROM perfledger_events WHERE notification_id = 4")
    out = tmp_path / "export"
    exported = perfledger(database, "audit", "export", "--to", str(last), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    failed = check_export(out)
    assert failed.returncode == 1
    assert "position 5 (line 4)" in failed.stdout
    assert "does not link to the entry before" in failed.stdout


def test_ranges_too_wide_or_not_chained_are_refused_clearly(
    database: Database, tmp_path: Path
) -> None:
    empty = perfledger(database, "audit", "verify")
    assert empty.returncode == 0, empty.stderr
    assert "Checked 0 entries" in empty.stdout
    last = record_org(database)
    wide = perfledger(database, "audit", "verify", "--from", "1", "--to", "1000001")
    assert wide.returncode == 2
    assert "spans 1,000,001 positions; one page covers at most 1,000,000" in wide.stderr
    ahead = perfledger(database, "audit", "export", "--to", str(last + 5), "--out", str(tmp_path))
    assert ahead.returncode == 2
    assert f"past the chain's position ({last})" in ahead.stderr
