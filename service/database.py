"""Where the database is: DATABASE_URL, or an embedded PostgreSQL (pgserver) in the data dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

DATABASE_NAME = "perfledger"
# The recorder with safe large saves (service/recorder.py); named by topic, as the library wants.
RECORDER_TOPIC = "service.recorder:PerfledgerRecorder"


@dataclass(frozen=True)
class Database:
    """Connection parameters, in the forms each driver wants them."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> Database:
        params = conninfo_to_dict(url)
        return cls(
            host=str(params.get("host") or "localhost"),
            port=int(params.get("port") or 5432),
            user=str(params.get("user") or "postgres"),
            password=str(params.get("password") or ""),
            dbname=str(params.get("dbname") or "postgres"),
        )

    def url(self) -> str:
        """The inverse of ``from_url`` (a socket directory travels as the ``host`` parameter)."""
        return (
            f"postgresql://{quote(self.user)}:{quote(self.password)}@/{quote(self.dbname)}"
            f"?host={quote(self.host)}&port={self.port}"
        )

    def with_dbname(self, dbname: str) -> Database:
        return Database(self.host, self.port, self.user, self.password, dbname)

    def eventsourcing_env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }

    def asyncpg_kwargs(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or None,
            "database": self.dbname,
        }

    def psycopg_conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
        )


def start_embedded(data_dir: Path) -> Database:
    """Start (or join) the embedded PostgreSQL in ``data_dir`` and make sure our database exists.

    pgserver keeps the server running while any process uses it and stops it after the last.
    """
    import pgserver  # imported here: only the embedded mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir)  # type: ignore[attr-defined]
    _EMBEDDED.append(server)  # keep a reference: the server stops when it is collected
    admin = Database.from_url(server.get_uri())
    create_database_if_missing(admin, DATABASE_NAME)
    return admin.with_dbname(DATABASE_NAME)


_EMBEDDED: list[Any] = []


def create_database_if_missing(admin: Database, dbname: str) -> None:
    with psycopg.connect(admin.psycopg_conninfo(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname))
            )


def resolve(database_url: str | None, data_dir: Path) -> Database:
    if database_url is None:
        return start_embedded(data_dir)
    return Database.from_url(database_url)
