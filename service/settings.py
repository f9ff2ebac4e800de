"""Settings, read once from the environment. Tests override settings, never internals."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_DATA_DIR = ".pgdata"


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None  # None: run an embedded PostgreSQL (pgserver) in data_dir
    data_dir: Path
    jwt_secret: str
    host: str = "127.0.0.1"
    port: int = 8000
    run_projections: bool = True
    seed_demo: bool = True
    read_pool_size: int = 10
    write_pool_size: int = 10
    wait_timeout_seconds: float = 5.0
    max_body_bytes: int = 64 * 1024
    token_ttl_hours: int = 12
    projection_batch: int = 5000

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _jwt_secret(database_url: str | None, data_dir: Path) -> str:
    """The token signing secret: PERFLEDGER_JWT_SECRET, or on the embedded database a random
    secret kept beside the data (so `perfledger token` and `perfledger serve` agree)."""
    secret = os.environ.get("PERFLEDGER_JWT_SECRET")
    if secret:
        if len(secret) < 32:
            raise SettingsError("PERFLEDGER_JWT_SECRET must be at least 32 characters long")
        return secret
    if database_url is not None:
        raise SettingsError(
            "PERFLEDGER_JWT_SECRET is not set; with DATABASE_URL set it is required "
            "(32 or more random characters)"
        )
    path = data_dir.parent / f"{data_dir.name}.jwt-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def from_environment() -> Settings:
    database_url = os.environ.get("DATABASE_URL") or None
    data_dir = Path(os.environ.get("PERFLEDGER_DATA_DIR", DEFAULT_DATA_DIR)).resolve()
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret=_jwt_secret(database_url, data_dir),
        host=os.environ.get("PERFLEDGER_HOST", "127.0.0.1"),
        port=_int("PERFLEDGER_PORT", 8000),
        run_projections=_flag("PERFLEDGER_RUN_PROJECTIONS", True),
        seed_demo=_flag("PERFLEDGER_SEED_DEMO", True),
        read_pool_size=_int("PERFLEDGER_READ_POOL_SIZE", 10),
        write_pool_size=_int("PERFLEDGER_WRITE_POOL_SIZE", 10),
        projection_batch=_int("PERFLEDGER_PROJECTION_BATCH", 5000),
    )
