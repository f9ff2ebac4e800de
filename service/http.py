"""The web application: GraphQL at /graphql (GraphiQL in a browser), health at /healthz."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from service import auth
from service.api.context import Context
from service.api.schema import schema
from service.bootstrap import Services, build
from service.database import Database
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
    """GraphQL over HTTP. Every request but the GraphiQL page needs a bearer token."""

    def __init__(self, holder: ServicesHolder) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self.holder = holder

    @property
    def services(self) -> Services:
        return self.holder.get()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            wants_page = request.method == "GET" and "text/html" in request.headers.get(
                "accept", ""
            )
            if wants_page:
                page = await self.render_graphql_ide(request)
                await page(scope, receive, send)
                return
            try:
                viewer = auth.from_header(
                    self.services.settings.jwt_secret, request.headers.get("authorization")
                )
            except auth.AuthenticationFailed as error:
                response = error_response(
                    401, "UNAUTHENTICATED", str(error), **{"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["viewer"] = viewer
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> Context:
        viewer = request.state.viewer if hasattr(request.state, "viewer") else None
        if viewer is None:  # __call__ lets no request through without one
            raise RuntimeError("request reached GraphQL without an authenticated viewer")
        request_id = request.headers.get("x-request-id") or ""
        idempotency_key = request.headers.get("idempotency-key")
        return Context(
            services=self.services,
            viewer=viewer,
            correlation_id=request_id if _REQUEST_ID.match(request_id) else uuid.uuid4().hex,
            idempotency_key=idempotency_key,
        )


LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>Perfledger</title></head>
<body style="font-family: system-ui; max-width: 46rem; margin: 3rem auto">
<h1>Perfledger</h1>
<p>The GraphQL API and its explorer are at <a href="/graphql">/graphql</a>. Every request needs
a bearer token: run <code>perfledger token --role hr --employee &lt;employee id or code&gt;</code>
and put <code>{"Authorization": "Bearer &lt;token&gt;"}</code> in GraphiQL's Headers pane.</p>
</body></html>"""


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

    async def landing(_request: Request) -> Response:
        return HTMLResponse(LANDING)

    app = Starlette(
        routes=[
            Route("/", landing),
            Route("/healthz", health),
            Route("/graphql", PerfledgerGraphQL(holder), methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
