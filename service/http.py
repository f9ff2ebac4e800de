"""The web application: GraphQL at /graphql (GraphiQL in a browser; subscriptions over a
websocket, graphql-transport-ws, on the same path), health at /healthz."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from service import auth
from service.api.context import Context
from service.api.reviews import external_rater_refusal
from service.api.schema import schema
from service.bootstrap import Services, build
from service.database import Database
from service.live.socket import LiveTransportWS, Refused, SocketContext
from service.settings import Settings

log = logging.getLogger("perfledger.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


class BodyLimit:
    """Refuse request bodies over the limit before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(
            413, "PAYLOAD_TOO_LARGE", f"the request body exceeds {self.max_bytes} bytes"
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await too_large(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class ServicesHolder:
    """Services exist only between the application's start-up and shutdown."""

    def __init__(self) -> None:
        self.services: Services | None = None

    def get(self) -> Services:
        if self.services is None:
            raise RuntimeError("the service is not running (start-up has not finished)")
        return self.services


class PerfledgerGraphQL(GraphQL[Context, None]):
    """GraphQL over HTTP and over a websocket (graphql-transport-ws). Every HTTP request but the
    GraphiQL page needs a bearer token; a websocket signs in with its ``connection_init``."""

    graphql_transport_ws_handler_class = LiveTransportWS

    def __init__(self, holder: ServicesHolder) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.holder = holder

    @property
    def services(self) -> Services:
        return self.holder.get()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            page = await self.render_graphql_ide(request)
            await page(scope, receive, send)
            return
        try:
            viewer = auth.from_header(
                self.services.settings.jwt_secret, request.headers.get("authorization")
            )
        except auth.AuthenticationFailed as error:
            response: Response = error_response(
                401, "UNAUTHENTICATED", str(error), **{"WWW-Authenticate": "Bearer"}
            )
        else:
            if request.method == "POST":
                response = await self.execute(request, viewer)
            else:
                response = error_response(
                    405, "METHOD_NOT_ALLOWED", "send GraphQL operations with POST", Allow="POST"
                )
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        """A websocket's context, before its connection_init signs it in (HTTP requests make
        theirs in ``context_for``)."""
        return SocketContext.unsigned(self.services)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if not isinstance(context, SocketContext):
            raise ConnectionRejectionError()
        try:
            context.sign_in(self.services.settings.jwt_secret)
        except Refused as error:
            log.info("websocket refused: %s", error)
            raise ConnectionRejectionError({"message": str(error)}) from None
        unset: UnsetType = UNSET  # "no payload": strawberry sends a bare connection_ack
        return unset

    async def execute(self, request: Request, viewer: auth.Viewer | auth.ExternalRater) -> Response:
        """POST /graphql: a JSON body with `query`, optional `variables` and `operationName`.

        Executed straight on the schema: the generic HTTP view does content negotiation and
        multipart handling this API does not offer, at a cost larger than a small query's.
        """
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return error_response(400, "BAD_REQUEST", "the request body is not valid JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return error_response(
                400, "BAD_REQUEST", "the body must be a JSON object with a 'query' string"
            )
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName")
        if not isinstance(variables, dict) or not isinstance(operation_name, str | None):
            return error_response(
                400,
                "BAD_REQUEST",
                "'variables' must be an object and 'operationName' a string",
            )
        if isinstance(viewer, auth.ExternalRater):
            refusal = external_rater_refusal(payload["query"])
            if refusal is not None:
                return error_response(200, "FORBIDDEN", refusal)
        result = await schema.execute(
            payload["query"],
            variable_values=variables,
            context_value=self.context_for(request, viewer),
            operation_name=operation_name,
        )
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    def context_for(self, request: Request, viewer: auth.Viewer | auth.ExternalRater) -> Context:
        request_id = request.headers.get("x-request-id") or ""
        external = viewer if isinstance(viewer, auth.ExternalRater) else None
        return Context(
            services=self.services,
            viewer=viewer.viewer if isinstance(viewer, auth.ExternalRater) else viewer,
            external=external,
            correlation_id=request_id if _REQUEST_ID.match(request_id) else uuid.uuid4().hex,
            idempotency_key=request.headers.get("idempotency-key"),
        )


DASHBOARD = Path(__file__).parent / "dashboard"


class Revalidated:
    """Static files that browsers revalidate before each use (cheap: a 304 on an unchanged
    file's ETag), so an upgraded service never runs yesterday's dashboard scripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-cache")]}
            await send(message)

        await self.app(scope, receive, with_header)


def create_app(settings: Settings, database: Database | None = None) -> Starlette:
    holder = ServicesHolder()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        services = await build(settings, database)
        holder.services = services
        await services.start()
        try:
            if settings.seed_demo:
                from service.demo import ensure_demo

                await ensure_demo(services)
            yield
        finally:
            holder.services = None
            await services.stop()

    async def health(_request: Request) -> Response:
        services = holder.services
        if services is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        try:
            async with services.read_pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        except Exception as error:  # report, don't crash: this is what health checks are for
            return JSONResponse({"status": "database unavailable", "error": str(error)}, 503)
        return JSONResponse(
            {
                "status": "ok",
                "readModelPosition": services.watcher.position,
                "projectionRunnerActive": services.runner.active,
            }
        )

    async def dashboard(_request: Request) -> Response:
        return FileResponse(DASHBOARD / "index.html", headers={"Cache-Control": "no-cache"})

    graphql = PerfledgerGraphQL(holder)
    app = Starlette(
        routes=[
            Route("/", dashboard),
            Mount("/dashboard", Revalidated(StaticFiles(directory=DASHBOARD)), name="dashboard"),
            Route("/healthz", health),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
