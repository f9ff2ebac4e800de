"""A graphql-transport-ws client over a real websocket (the ``websockets`` package
uvicorn[standard] brings), for the service that tests.e2e runs."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from domain.provenance import Role
from service import auth
from tests.e2e import Server

PROTOCOL = "graphql-transport-ws"
WAIT = 10.0  # seconds a message may take before a test fails (never a timing assertion)


class Socket:
    """One graphql-transport-ws connection."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = itertools.count(1)
        self._held: dict[str, list[dict[str, Any]]] = {}  # other operations' messages, kept

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            message: dict[str, Any] = json.loads(await self.connection.recv())
        return message

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        operation = str(next(self._ids))
        await self.send(
            {
                "id": operation,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return operation

    async def message(self, operation: str) -> dict[str, Any]:
        """The next message of ``operation`` (those of others are kept for them)."""
        held = self._held.get(operation)
        if held:
            return held.pop(0)
        while True:
            message = await self.receive()
            if message.get("id") == operation:
                return message
            self._held.setdefault(str(message.get("id")), []).append(message)

    async def next(self, operation: str) -> dict[str, Any]:
        """The next `next` payload of ``operation``; fails on anything else."""
        message = await self.message(operation)
        assert message["type"] == "next", message
        payload: dict[str, Any] = message["payload"]
        return payload

    async def closed(self) -> tuple[int, str]:
        """Read on until the server closes (what arrives meanwhile is kept in ``drained``);
        its close code and reason."""
        self.drained: list[dict[str, Any]] = []
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(WAIT * 3):
                while True:
                    self.drained.append(json.loads(await self.connection.recv()))
        close = self.connection.protocol.close_rcvd
        assert close is not None, "the connection ended without a close frame"
        return close.code, close.reason


@contextlib.asynccontextmanager
async def opened(
    server: Server,
    role: Role | None,
    employee: UUID,
    *,
    receive_buffer: int | None = None,
) -> AsyncIterator[Socket]:
    """A signed-in connection (``role`` None: not signed in, the caller inits). With
    ``receive_buffer`` the client's kernel buffer is that small and its library queues one
    message only, so a client that stops reading holds back almost nothing."""
    url = server.url.replace("http://", "ws://") + "/graphql"
    sock = None
    options: dict[str, Any] = {}
    if receive_buffer is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        options = {"sock": sock, "max_queue": 1}
    protocols = [Subprotocol(PROTOCOL)]
    async with connect(url, subprotocols=protocols, compression=None, **options) as connection:
        client = Socket(connection)
        if role is not None:
            token = auth.mint(server.settings.jwt_secret, employee, role)
            ack = await client.init({"authorization": f"Bearer {token}"})
            assert ack["type"] == "connection_ack", ack
        yield client
