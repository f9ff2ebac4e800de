#!/usr/bin/env python3
"""Verify a Perfledger audit export without the service or its database (standard library only).

    python3 tools/verify_export.py EXPORT_DIR [--checkpoint POSITION:HASH ...]

EXPORT_DIR holds trail.jsonl and manifest.json, as written by
``perfledger audit export --from P --to P --out EXPORT_DIR``. The script checks that

- trail.jsonl is the file the manifest describes (its SHA-256 and line count);
- every line links to the one before (its previous_hash is that line's hash; the first line's is
  the manifest's previous_hash), and its hash is SHA-256(previous_hash || entry) recomputed from
  the line's own fields, so no event was altered, removed or inserted inside the range;
- positions rise and stay within the manifest's range, and first/last hashes match it;
- each checkpoint in the manifest, and each one given with --checkpoint (for example from an
  earlier export or a published checkpoint), matches the hash at its position.

Exit status: 0 when everything checks out, 1 when something does not (each problem is printed,
with the position), 2 when the directory cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

FORMAT = "perfledger-audit-export/1"
MAX_PROBLEMS = 20


def entry_bytes(
    position: int, originator_id: str, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The same encoding as projections/audit_chain.py (kept apart: this file stands alone)."""
    oid, top = originator_id.encode(), topic.encode()
    return b"".join(
        (
            struct.pack(">QQ", position, originator_version),
            struct.pack(">I", len(oid)),
            oid,
            struct.pack(">I", len(top)),
            top,
            struct.pack(">I", len(state)),
            state,
        )
    )


def verify(directory: Path, checkpoints: dict[int, str]) -> list[str]:
    manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
    raw = (directory / "trail.jsonl").read_bytes()
    problems: list[str] = []
    if manifest.get("format") != FORMAT:
        problems.append(f"manifest format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if hashlib.sha256(raw).hexdigest() != manifest["trail_sha256"]:
        problems.append("trail.jsonl is not the file the manifest describes (its SHA-256 differs)")
    wanted = {c["position"]: c["hash"] for c in manifest["checkpoints"]}
    wanted.update(checkpoints)
    hashes: dict[int, str] = {}
    previous, last_position = manifest["previous_hash"], None
    first_hash: str | None = None
    lines = raw.decode("utf-8").splitlines()
    for number, text in enumerate(lines, start=1):
        try:
            line = json.loads(text)
            position = int(line["position"])
            state = base64.b64decode(line["state"], validate=True)
            entry = entry_bytes(
                position,
                str(line["originator_id"]),
                int(line["originator_version"]),
                str(line["topic"]),
                state,
            )
        except (ValueError, KeyError, TypeError) as error:
            problems.append(f"line {number}: unreadable ({error})")
            continue
        where = f"position {position} (line {number})"
        if last_position is not None and position <= last_position:
            problems.append(f"{where}: positions must rise (after {last_position})")
        if not manifest["from"] <= position <= manifest["to"]:
            problems.append(f"{where}: outside the manifest's range")
        if line["previous_hash"] != previous:
            problems.append(
                f"{where}: previous_hash {line['previous_hash']} does not link to the entry "
                f"before ({previous}): an entry before it is missing or was changed"
            )
        recomputed = hashlib.sha256(bytes.fromhex(line["previous_hash"]) + entry).hexdigest()
        if line["hash"] != recomputed:
            problems.append(
                f"{where}: the chain recorded hash {line['hash']}, but the event's bytes give "
                f"{recomputed}: the event differs from what was chained"
            )
        hashes[position] = line["hash"]
        previous, last_position = line["hash"], position
        first_hash = first_hash or line["hash"]
    if len(lines) != manifest["count"]:
        problems.append(
            f"trail.jsonl has {len(lines)} lines, the manifest says {manifest['count']}"
        )
    if lines and first_hash != manifest["first_hash"]:
        problems.append("the first line's hash is not the manifest's first_hash")
    if lines and previous != manifest["last_hash"]:
        problems.append(
            f"the last line's hash {previous} is not the manifest's last_hash "
            f"{manifest['last_hash']}: entries at the end are missing"
        )
    for position, expected in sorted(wanted.items()):
        if position not in hashes:
            if manifest["from"] <= position <= manifest["to"]:
                problems.append(f"checkpoint at position {position}: no such entry in the trail")
        elif hashes[position] != expected:
            problems.append(
                f"checkpoint at position {position}: expected hash {expected}, the trail has "
                f"{hashes[position]}"
            )
    return problems


def _checkpoint(text: str) -> tuple[int, str]:
    position, _, digest = text.partition(":")
    if not position.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected POSITION:HASH (hash as 64 hex digits)")
    return int(position), digest.lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--checkpoint", type=_checkpoint, action="append", default=[], metavar="POSITION:HASH"
    )
    args = parser.parse_args(argv)
    try:
        problems = verify(args.directory, dict(args.checkpoint))
    except (OSError, ValueError, KeyError) as error:
        print(f"verify_export: cannot read the export in {args.directory}: {error}")
        return 2
    if problems:
        for problem in problems[:MAX_PROBLEMS]:
            print(f"FAIL {problem}")
        if len(problems) > MAX_PROBLEMS:
            print(f"... and {len(problems) - MAX_PROBLEMS} more")
        return 1
    manifest = json.loads((args.directory / "manifest.json").read_text())
    print(
        f"OK {manifest['count']} entries, positions {manifest['from']} to {manifest['to']}, "
        f"last hash {manifest['last_hash']}, {len(manifest['checkpoints'])} checkpoints matched"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
