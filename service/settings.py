"""Settings, read once from the environment. Tests override settings, never internals."""

from __future__ import annotations

import base64
import binascii
import contextlib
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
    # Base64 AES key (16, 24 or 32 bytes) for the event store's cipher and read models' secrets.
    # No default: a hand-built Settings must choose a key, never fall back to plaintext.
    cipher_key: str
    host: str = "127.0.0.1"
    port: int = 8000
    run_projections: bool = True
    seed_demo: bool = True
    read_pool_size: int = 10
    as_of_pool_size: int = 4  # connections for as-of answers (each holds temporary tables)
    write_pool_size: int = 10
    wait_timeout_seconds: float = 5.0
    max_body_bytes: int = 64 * 1024
    token_ttl_hours: int = 12
    projection_batch: int = 5000
    live_queue_size: int = 256  # updates a subscriber may have queued before it is dropped

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


CIPHER_KEY_BYTES = 32  # AES-256; the library accepts 16, 24 or 32
KEYGEN_HINT = (
    "create one with `perfledger keygen` or "
    "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
)


def new_cipher_key() -> str:
    """A fresh key in the form the library's AESCipher reads from CIPHER_KEY."""
    return base64.b64encode(secrets.token_bytes(CIPHER_KEY_BYTES)).decode("ascii")


def check_cipher_key(key: str, source: str) -> str:
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{source} is not base64; {KEYGEN_HINT}") from None
    if len(raw) not in (16, 24, 32):
        raise SettingsError(
            f"{source} must decode to 16, 24 or 32 bytes, not {len(raw)}; {KEYGEN_HINT}"
        )
    return key


def _cipher_key(database_url: str | None, data_dir: Path) -> str:
    """The event store's key: PERFLEDGER_CIPHER_KEY, or on the embedded database a random key
    kept beside the data. Losing it loses the data, so it is never replaced once written."""
    key = os.environ.get("PERFLEDGER_CIPHER_KEY")
    if key:
        return check_cipher_key(key.strip(), "PERFLEDGER_CIPHER_KEY")
    if database_url is not None:
        raise SettingsError(
            "PERFLEDGER_CIPHER_KEY is not set; with DATABASE_URL set it is required (the event "
            f"store is encrypted with it, so keep it safe and keep it the same); {KEYGEN_HINT}"
        )
    path = data_dir.parent / f"{data_dir.name}.cipher-key"
    if not path.exists():
        _create_exclusively(path, new_cipher_key())
    return check_cipher_key(path.read_text().strip(), str(path))


def _create_exclusively(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` only if no file is there, atomically and private from the
    first byte: two first starts at once (serve and token) must end up with the same key, and a
    reader must never see an empty or half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(content)
        # link() fails if the name exists: whoever links first wins, the others read theirs.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()


def from_environment() -> Settings:
    database_url = os.environ.get("DATABASE_URL") or None
    data_dir = Path(os.environ.get("PERFLEDGER_DATA_DIR", DEFAULT_DATA_DIR)).resolve()
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret=_jwt_secret(database_url, data_dir),
        cipher_key=_cipher_key(database_url, data_dir),
        host=os.environ.get("PERFLEDGER_HOST", "127.0.0.1"),
        port=_int("PERFLEDGER_PORT", 8000),
        run_projections=_flag("PERFLEDGER_RUN_PROJECTIONS", True),
        seed_demo=_flag("PERFLEDGER_SEED_DEMO", True),
        read_pool_size=_int("PERFLEDGER_READ_POOL_SIZE", 10),
        as_of_pool_size=_int("PERFLEDGER_AS_OF_POOL_SIZE", 4),
        write_pool_size=_int("PERFLEDGER_WRITE_POOL_SIZE", 10),
        projection_batch=_int("PERFLEDGER_PROJECTION_BATCH", 5000),
        live_queue_size=_int("PERFLEDGER_LIVE_QUEUE_SIZE", 256),
    )
