"""The websocket side: graphql-transport-ws on /graphql.

A connection signs in once, with the ``connection_init`` payload's ``authorization`` (or
``Authorization``) entry, ``Bearer <token>`` as over HTTP; without a valid token it is closed
with 4403 Forbidden before any operation runs. Its context lives as long as the connection, so
what a request would cache (loaders, the viewer's view of the organisation) is made fresh for
every operation and every message (``SocketContext.refresh``): a long-lived subscription never
answers from a stale cache, nor from a view of the organisation that has since changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLSyntaxError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message, SubscribeMessage

from domain.provenance import Role
from service import auth
from service.api.context import Context, Loaders
from service.api.visibility import Visibility
from service.bootstrap import Services

NOT_SIGNED_IN = auth.Viewer(auth.NOBODY, Role.EXTERNAL)  # sees nothing, until connection_init
BAD_REQUEST = 4400  # graphql-transport-ws: a malformed message or document
TOKEN_EXPIRED = 4401  # the connection's token expired: sign in again (and resume)
MAX_REASON = 120  # a close reason must fit in 123 bytes


class Refused(Exception):
    """The connection may not be opened; the message says why (logged, never sent: the
    protocol's close reason for a refused connection is "Forbidden")."""


@dataclass
class SocketContext(Context):
    """A websocket connection's context, shared by its operations."""

    connection_params: dict[str, object] | None = None
    closing: bool = field(init=False, default=False)
    _hang_up: Any = field(init=False, default=None)
    _expiry: asyncio.TimerHandle | None = field(init=False, default=None)

    @classmethod
    def unsigned(cls, services: Services) -> SocketContext:
        return cls(services=services, viewer=NOT_SIGNED_IN, correlation_id=uuid.uuid4().hex)

    def sign_in(self, secret: str) -> None:
        """Take the viewer from the ``connection_init`` payload, or refuse the connection."""
        params = self.connection_params or {}
        header = params.get("authorization", params.get("Authorization"))
        if not isinstance(header, str | None):
            raise Refused("connection_init's authorization must be 'Bearer <token>'")
        try:
            viewer = auth.from_header(secret, header)
        except auth.AuthenticationFailed as error:
            raise Refused(str(error)) from None
        if isinstance(viewer, auth.ExternalRater):
            raise Refused("a review invitation opens its review over HTTP only")
        self.viewer = viewer
        self.refresh()
        expires = auth.expires_at(secret, str(header))
        if expires is not None:
            # A token is good until it expires, over a socket as over HTTP: then the connection
            # closes, and the client signs in with a fresh token and resumes from its position.
            self._expiry = asyncio.get_running_loop().call_later(
                max(0.0, expires - time.time()),
                self.hang_up,
                TOKEN_EXPIRED,
                "the bearer token has expired; sign in again",
            )

    def forget(self) -> None:
        """The connection ended: nothing more to close at the token's expiry."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def refresh(self) -> None:
        """Fresh loaders and a fresh view of the organisation, for the next answer."""
        self.visibility = Visibility(self.viewer, self.services.read_pool)
        self.loaders = Loaders(self.pool, self.visibility)

    def hang_up(self, code: int, reason: str) -> None:
        """Close the connection (a subscriber too slow to keep up); nothing is sent after."""
        if not self.closing:
            self.closing = True
            if self._hang_up is not None:
                self._hang_up(code, reason)


class LiveTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with a fresh context per operation and hanging up on request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing: asyncio.Task[None] | None = None
        if isinstance(self.context, SocketContext):
            self.context._hang_up = self._close

    def _close(self, code: int, reason: str) -> None:
        self._closing = asyncio.create_task(self._close_now(code, reason))

    async def _close_now(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # already gone: nothing left to close
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        if isinstance(self.context, SocketContext):
            self.context.forget()
        await super().shutdown()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if isinstance(self.context, SocketContext) and self.connection_acknowledged:
            self.context.refresh()
        await super().handle_subscribe(message)

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, GraphQLSyntaxError) and isinstance(self.context, SocketContext):
            # Raised by the schema's parser cache, past strawberry's own syntax-error handling:
            # answered as the protocol answers a syntax error, by closing with 4400.
            self.context.hang_up(BAD_REQUEST, error.message[:MAX_REASON])
            return
        await super().handle_task_exception(error)

    async def send_message(self, message: Message) -> None:
        if isinstance(self.context, SocketContext) and self.context.closing:
            return  # the connection is being closed: the client resumes from its position
        await super().send_message(message)
