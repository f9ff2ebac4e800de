"""The reference for the mutation benchmark: the raw eventsourcing append rate.

Threads on the Perfledger application itself, no HTTP, no GraphQL: each loads a goal from the
repository, records progress on it and saves it, over and over, on goals of its own (so no two
threads ever conflict). Prints one JSON line: operations, seconds, rate.

    raw_append.py DATABASE_CONNINFO GOALS_JSON THREADS WARMUP_SECONDS MEASURE_SECONDS
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

from domain.provenance import Provenance, Role
from service.bootstrap import build_application
from service.database import Database
from service.settings import Settings


def main() -> int:
    conninfo, goals_path, threads_text, warmup_text, measure_text = sys.argv[1:6]
    threads, warmup, measure = int(threads_text), float(warmup_text), float(measure_text)
    goals = [
        (uuid.UUID(g["id"]), date.fromisoformat(g["asOf"]), Decimal(g["value"]))
        for g in json.loads(Path(goals_path).read_text())
    ]
    settings = Settings(
        database_url=conninfo,
        data_dir=Path("/nonexistent"),
        jwt_secret="unused-" + "x" * 40,
        write_pool_size=threads,  # one connection per thread, as the service has per writer
    )
    app = build_application(Database.from_url(conninfo), settings)
    provenance = Provenance(
        actor_id=str(uuid.UUID(int=1)), actor_role=Role.HR, correlation_id=uuid.uuid4().hex
    )
    started = time.perf_counter()
    measure_from, measure_until = started + warmup, started + warmup + measure
    counts = [0] * threads
    failures: list[BaseException] = []

    def work(number: int) -> None:
        mine = goals[number::threads]
        done = 0
        try:
            while True:
                for goal_id, as_of, value in mine:
                    goal = app.repository.get(goal_id)
                    goal.record_progress(value, as_of, "bench", provenance)
                    app.save(goal)
                    now = time.perf_counter()
                    if now >= measure_until:
                        counts[number] = done
                        return
                    if now >= measure_from:
                        done += 1
        except BaseException as error:
            failures.append(error)
            raise

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    app.close()
    if failures:
        print(f"raw_append: {failures[0]!r}", file=sys.stderr)
        return 1
    total = sum(counts)
    print(json.dumps({"operations": total, "seconds": measure, "rate": total / measure}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
