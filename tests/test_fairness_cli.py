"""``perfledger fairness``: the audit as JSON and HTML from the command line, recorded, and
re-run from the record to the same digest."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from service.application import Perfledger
from service.bootstrap import build
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import DEMO
from tests.conftest import make_settings
from tests.helpers import catch_up
from tests.test_cli import perfledger


def test_fairness_writes_json_and_html_and_reruns_to_the_same_digest(
    app: Perfledger, database: Database, tmp_path: Path
) -> None:
    seed_organisation(app, employees=60, seed=4, through=date(2026, 7, 31), reviews=DEMO)

    async def project() -> None:
        services = await build(make_settings(), database)
        try:
            await catch_up(services)
        finally:
            await services.stop()

    asyncio.run(project())
    out = tmp_path / "reports"
    ran = perfledger(
        database,
        "fairness",
        "--cycle",
        "2026-Q2",
        "--group-by",
        "division,gender",
        "--seed",
        "5",
        "--out",
        str(out),
    )
    assert ran.returncode == 0, ran.stderr
    (json_path,) = out.glob("fairness-2026-Q2-*.json")
    (html_path,) = out.glob("fairness-2026-Q2-*.html")
    written = json.loads(json_path.read_text())
    assert written["digest"] in ran.stdout
    assert written["report"]["parameters"]["seed"] == 5
    assert written["audit_id"]
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    assert "<svg" in page
    assert written["digest"] in page

    again = perfledger(database, "fairness", "--rerun", written["audit_id"], "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "Reproduced: the same report as recorded." in again.stdout

    unknown = perfledger(database, "fairness", "--cycle", "2026-Q2", "--group-by", "shoe_size")
    assert unknown.returncode == 2
    assert "shoe_size" in unknown.stderr
    missing = perfledger(database, "fairness", "--cycle", "2031-Q1")
    assert missing.returncode == 2
    assert "no review cycle" in missing.stderr
