"""Running the real service on a loopback port for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import uvicorn

from domain.provenance import Role
from service import auth
from service.database import Database
from service.http import create_app
from service.settings import Settings

HR_PERSON = UUID(int=1)


@dataclass
class Server:
    url: str
    settings: Settings
    client: httpx.AsyncClient

    def token(self, role: Role, employee: UUID) -> str:
        return auth.mint(self.settings.jwt_secret, employee, role)

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: Role = Role.HR,
        employee: UUID = HR_PERSON,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token(role, employee)}", **(headers or {})},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def running(
    settings: Settings, database: Database, *, send_buffer: int | None = None
) -> AsyncIterator[Server]:
    """``send_buffer``: the kernel's send buffer for every connection (accepted sockets inherit
    the listener's), small enough that a client which stops reading makes the server's writes
    wait after a few kilobytes, not megabytes."""
    config = uvicorn.Config(
        create_app(settings, database), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    listeners = None
    if send_buffer is not None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        listener.bind(("127.0.0.1", 0))
        listeners = [listener]
    task = asyncio.create_task(server.serve(sockets=listeners))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        try:
            yield Server(url, settings, client)
        finally:
            server.should_exit = True
            await task
