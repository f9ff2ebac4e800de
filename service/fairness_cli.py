"""``perfledger fairness``: a review cycle's fairness audit as JSON and as a readable HTML page.

The same audit as the API's ``runFairnessAudit``: recorded (unless ``--no-record``) so that it can
be run again (``--rerun AUDIT_ID``) to the same digest. Writes ``<out>/fairness-<cycle period>-
<position>.json`` (the canonical report, whose sha256 is the digest, with the run's facts beside
it) and the matching ``.html`` (charts inline, no scripts, prints on A4).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.errors import DomainError, InvalidInput, NotFound
from domain.fairness.audit import AuditParameters
from domain.fairness.report import flags, report_json
from domain.provenance import Provenance, Role
from service import fairness
from service.as_of import resolve_point
from service.bootstrap import Services, build
from service.fairness_html import rating_distributions, render_html
from service.settings import Settings


async def _cycle(services: Services, given: str) -> tuple[UUID, str]:
    """A cycle by id, or by its period when exactly one cycle has it."""
    async with services.read_pool.acquire() as conn:
        try:
            row = await conn.fetchrow(
                "SELECT id, period FROM review_cycles WHERE id = $1", UUID(given)
            )
            rows = [] if row is None else [row]
        except ValueError:
            rows = await conn.fetch(
                "SELECT id, period FROM review_cycles WHERE period = $1 ORDER BY name", given
            )
    if not rows:
        raise NotFound(f"no review cycle {given!r} (give its id or its period)", field="cycle")
    if len(rows) > 1:
        raise InvalidInput(
            f"{len(rows)} cycles cover {given}; give one's id: "
            + ", ".join(str(r["id"]) for r in rows),
            field="cycle",
        )
    return UUID(str(rows[0]["id"])), rows[0]["period"]


async def _position(services: Services, at: datetime | None, position: int | None) -> int | None:
    if at is None and position is None:
        return None
    async with services.read_pool.acquire() as conn:
        head = await services.projector.tracked_position(conn)
        return (await resolve_point(conn, at, position, head)).position


def _write(out: Path, run: fairness.AuditRun, period: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"fairness-{period}-{run.position}"
    canonical = report_json(run.report)
    facts: dict[str, Any] = {
        "audit_id": None if run.audit_id is None else str(run.audit_id),
        "cycle_id": str(run.cycle_id),
        "position": run.position,
        "digest": run.digest,
        "reproduced": run.reproduced,
        "report": canonical,
    }
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(facts, indent=2, ensure_ascii=False) + "\n")
    assert run.inputs is not None
    meta = {
        "Cycle": f"{period} ({run.cycle_id})",
        "As of position": str(run.position),
        "Report sha256": run.digest,
        "Recorded as": "not recorded" if run.audit_id is None else str(run.audit_id),
    }
    html = render_html(
        run.report,
        title=f"Fairness audit, review cycle {period}",
        distributions=rating_distributions(run.inputs.calibrated, run.inputs.subjects, run.report),
        meta=meta,
    )
    html_path = stem.with_suffix(".html")
    html_path.write_text(html)
    return json_path, html_path


async def run(settings: Settings, args: Any) -> int:
    services = await build(settings.with_(run_projections=False))
    try:
        if args.rerun:
            audit = await fairness.rerun(services, UUID(args.rerun))
            async with services.read_pool.acquire() as conn:
                period = await conn.fetchval(
                    "SELECT period FROM review_cycles WHERE id = $1", audit.cycle_id
                )
        else:
            cycle, period = await _cycle(services, args.cycle)
            parameters = AuditParameters(
                group_by=tuple(a.strip() for a in args.group_by.split(",") if a.strip()),
                intersections=tuple(
                    tuple(a.strip() for a in i.split(":")) for i in args.intersect or ()
                ),
                seed=args.seed,
            )
            position = await _position(services, args.as_of, args.position)
            if args.no_record:
                audit = await fairness.compute(services, cycle, parameters, position)
            else:
                who = Provenance(
                    f"cli:{getpass.getuser()}",
                    Role.ADMIN,
                    f"cli-{UUID(int=0).hex[:8]}",
                    "fairness audit from the command line",
                )
                audit = await fairness.run_and_record(services, who, cycle, parameters, position)
        json_path, html_path = _write(Path(args.out), audit, period)
    finally:
        await services.stop()
    found = flags(audit.report)
    print(
        f"Fairness audit of {period} as of position {audit.position:,}: {len(found)} flags, "
        f"report sha256 {audit.digest}."
    )
    if audit.reproduced is not None:
        print(
            "Reproduced: the same report as recorded."
            if audit.reproduced
            else f"NOT reproduced: recorded {audit.recorded_digest}."
        )
    for flag in found:
        print(f"  {flag.kind}: {flag.subject} ({flag.attribute}), n {flag.n}, p {flag.p}")
    print(f"Wrote {json_path} and {html_path}.")
    return 0 if audit.reproduced in (None, True) else 1


def main(settings: Settings, args: Any) -> int:
    if not args.rerun and not args.cycle:
        print(
            "perfledger fairness: give --cycle (and --group-by), or --rerun AUDIT_ID",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(run(settings, args))
    except DomainError as error:
        print(f"perfledger fairness: {error.message}", file=sys.stderr)
        return 2
