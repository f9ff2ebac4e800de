"""perfledger: serve, project, rebuild, replay, seed, token, keygen, schema, audit, fairness."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from uuid import UUID

from domain.errors import DomainError
from domain.provenance import Role
from service import auth
from service.settings import Settings, SettingsError, from_environment, new_cipher_key

log = logging.getLogger("perfledger")


def _settings() -> Settings:
    try:
        return from_environment()
    except SettingsError as error:
        raise SystemExit(f"perfledger: {error}") from None


def serve(_args: argparse.Namespace) -> int:
    import uvicorn

    from service.http import create_app

    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
    )
    return 0


async def _stop_on_signal() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def project(_args: argparse.Namespace) -> int:
    from service.bootstrap import build

    async def run() -> None:
        services = await build(_settings().with_(run_projections=False))
        stop = await _stop_on_signal()
        print("Projection runner started; waiting for the lock (Ctrl-C to stop).", file=sys.stderr)
        try:
            chain = services.audit_chain
            await asyncio.gather(
                services.runner.run(stop), *([chain.run(stop)] if chain is not None else [])
            )
        finally:
            await services.stop()

    asyncio.run(run())
    return 0


class ProgressBar:
    def __init__(self, total: int, stream: object = sys.stderr) -> None:
        self.total = max(total, 1)
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def __call__(self, applied: int, position: int) -> None:
        now = time.perf_counter()
        if now - self.last_draw < 0.2 and position < self.total:
            return
        self.last_draw = now
        done = min(position / self.total, 1.0)
        rate = applied / max(now - self.started, 1e-9)
        bar = "#" * int(done * 30)
        sys.stderr.write(
            f"\r[{bar:<30}] {done:6.1%}  position {position:,}/{self.total:,}  {rate:,.0f} events/s"
        )
        sys.stderr.flush()


def rebuild(args: argparse.Namespace) -> int:
    from service.bootstrap import build

    async def run() -> int:
        services = await build(_settings().with_(run_projections=False))
        try:
            lock = await services.connect()
            deadline = time.monotonic() + args.wait
            while not await services.runner.try_lock(lock):
                if time.monotonic() > deadline:
                    print(
                        "perfledger: another projection runner is active (a running "
                        "`perfledger serve` or `perfledger project`); stop it, or pass --wait "
                        "SECONDS to wait for it",
                        file=sys.stderr,
                    )
                    return 2
                await asyncio.sleep(1)
            work = await services.connect()
            total = await asyncio.to_thread(services.app.recorder.max_notification_id) or 0
            await services.projector.reset(work)
            result = await services.runner.catch_up(work, progress=ProgressBar(total))
            sys.stderr.write("\n")
            print(
                f"Rebuilt {', '.join(services.projector.tables)} from {result.events:,} events "
                f"up to position {result.position:,} in {result.seconds:.1f}s "
                f"({result.rate:,.0f} events/s)."
            )
            await work.close()
            await lock.close()
            return 0
        finally:
            await services.stop()

    return asyncio.run(run())


def seed(args: argparse.Namespace) -> int:
    from service.bootstrap import build_application
    from service.database import resolve
    from service.seed import seed_organisation

    settings = _settings()
    app = build_application(resolve(settings.database_url, settings.data_dir), settings)
    try:
        summary = seed_organisation(
            app,
            employees=args.employees,
            seed=args.seed,
            progress=_print_progress,
        )
    except DomainError as error:
        print(f"\nperfledger: {error.message}", file=sys.stderr)
        return 2
    finally:
        app.close()
    sys.stderr.write("\n")
    print(
        f"Seeded {summary.departments:,} departments, {summary.employees:,} employees and "
        f"{summary.goals:,} goals: {summary.events:,} events in {summary.seconds:.1f}s "
        f"({summary.rate:,.0f} events/s)."
    )
    return 0


def _print_progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r{done:,}/{total:,} events" + " " * 10)


def token(args: argparse.Namespace) -> int:
    from service.application import employee_id_for

    settings = _settings()
    try:
        role = Role(args.role)
        employee = (
            UUID(args.employee) if _is_uuid(args.employee) else employee_id_for(args.employee)
        )
        print(auth.mint(settings.jwt_secret, employee, role, ttl_hours=args.hours))
    except ValueError as error:
        print(f"perfledger: {error}", file=sys.stderr)
        return 2
    return 0


def keygen(_args: argparse.Namespace) -> int:
    # Reads no settings: a key is what a deployment needs before it has any.
    print(new_cipher_key())
    return 0


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def schema_command(args: argparse.Namespace) -> int:
    from service.api.schema import schema

    text = str(schema) + "\n"
    if args.check:
        current = Path(args.check).read_text() if Path(args.check).exists() else ""
        if current != text:
            print(f"perfledger: {args.check} differs from the code's schema", file=sys.stderr)
            return 1
        return 0
    if args.write:
        Path(args.write).write_text(text)
        return 0
    sys.stdout.write(text)
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    from service.audit import verify_main

    return verify_main(_settings(), args.from_position, args.to_position)


def audit_export(args: argparse.Namespace) -> int:
    from service.audit import export_main

    return export_main(_settings(), args.from_position, args.to_position, Path(args.out))


def replay_command(args: argparse.Namespace) -> int:
    from service.replay import main as replay_main

    return replay_main(_settings(), args.until, args.position, args.schema, args.drop)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (for example 2026-06-30T23:59:59Z)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (Z or +02:00)")
    return moment


def _add_replay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="rebuild every read model as of a past moment into a schema of its own (the live "
        "ones are untouched)",
    )
    when = replay.add_mutually_exclusive_group(required=True)
    when.add_argument("--until", type=_moment, metavar="TIME", help="ISO 8601, with time zone")
    when.add_argument("--position", type=int, metavar="P", help="a log position")
    when.add_argument("--drop", metavar="SCHEMA", help="drop a replay schema made earlier")
    replay.add_argument("--schema", help="schema name (default replay_<position>)")
    replay.set_defaults(run=replay_command)


def fairness_command(args: argparse.Namespace) -> int:
    from service.fairness_cli import main as fairness_main

    return fairness_main(_settings(), args)


def _add_fairness(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fair = commands.add_parser(
        "fairness",
        help="a review cycle's fairness audit (rater effects, reliability, group disparities) "
        "as JSON and HTML; recorded so it can be re-run to the same digest",
    )
    fair.add_argument("--cycle", help="the cycle's id, or its period (2026-Q2)")
    fair.add_argument(
        "--group-by", default="department", help="attributes, comma-separated (department)"
    )
    fair.add_argument(
        "--intersect",
        action="append",
        metavar="A:B",
        help="an intersection of attributes to compare too (repeatable)",
    )
    fair.add_argument("--seed", type=int, default=1, help="seeds the permutation tests")
    when = fair.add_mutually_exclusive_group()
    when.add_argument("--as-of", type=_moment, metavar="TIME")
    when.add_argument("--position", type=int, metavar="P")
    when.add_argument("--rerun", metavar="AUDIT_ID", help="run a recorded audit again")
    fair.add_argument("--out", default=".", metavar="DIR", help="where to write (.)")
    fair.add_argument("--no-record", action="store_true", help="compute only; record nothing")
    fair.set_defaults(run=fairness_command)


def _add_audit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="tamper evidence: verify or export the hash chain")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    verify = actions.add_parser(
        "verify",
        help="re-read the log and check it against the hash chain and its checkpoints "
        "(exit 1 at the first break)",
    )
    export = actions.add_parser(
        "export", help="write positions as trail.jsonl + manifest.json (tools/verify_export.py)"
    )
    for action in (verify, export):
        action.add_argument("--from", dest="from_position", type=int, metavar="P")
        action.add_argument(
            "--to",
            dest="to_position",
            type=int,
            metavar="P",
            help="inclusive; at most 1,000,000 positions from --from (verify without --to "
            "pages through the log)",
        )
    export.add_argument("--out", required=True, metavar="DIR")
    verify.set_defaults(run=audit_verify)
    export.set_defaults(run=audit_export)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="perfledger",
        description="Event-sourced performance management. With DATABASE_URL unset, an "
        "embedded PostgreSQL runs in ./.pgdata (PERFLEDGER_DATA_DIR).",
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve", help="run the service (GraphQL at /graphql), with the projection runner"
    ).set_defaults(run=serve)
    commands.add_parser("project", help="run the projection runner alone").set_defaults(run=project)
    rebuild_parser = commands.add_parser("rebuild", help="rebuild every read model from the log")
    rebuild_parser.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for an active runner to stop"
    )
    rebuild_parser.set_defaults(run=rebuild)
    seed_parser = commands.add_parser("seed", help="record a synthetic organisation")
    seed_parser.add_argument("--employees", type=int, default=1000)
    seed_parser.add_argument("--seed", type=int, default=1)
    seed_parser.set_defaults(run=seed)
    token_parser = commands.add_parser("token", help="mint a bearer token for local use")
    token_parser.add_argument(
        "--role", required=True, choices=sorted(r.value for r in auth.TOKEN_ROLES)
    )
    token_parser.add_argument("--employee", required=True, help="employee id or code")
    token_parser.add_argument("--hours", type=int, default=12)
    token_parser.set_defaults(run=token)
    commands.add_parser(
        "keygen",
        help="print a new PERFLEDGER_CIPHER_KEY (the event store's encryption key)",
    ).set_defaults(run=keygen)
    schema_parser = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    group = schema_parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE")
    group.add_argument("--check", metavar="FILE")
    schema_parser.set_defaults(run=schema_command)
    _add_audit(commands)
    _add_replay(commands)
    _add_fairness(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # initdb's chatter on first start
    # pgserver asks platformdirs for a runtime dir; on servers without a session that only warns.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    args = parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        try:
            code: int = args.run(args)
        except SettingsError as error:  # e.g. a cipher key the event store was not written with
            raise SystemExit(f"perfledger: {error}") from None
        return code
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
