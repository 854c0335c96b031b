"""The auditor's HTTP service (Starlette under uvicorn): Pub/Sub pushes on `/` and `/pubsub`, registry notifications
on `/registry`, health on `/healthz`. 400 malformed, 401 unauthenticated, 413 too big, 500 redeliver."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from releng.errors import UsageError
from releng.promo.audit.auth import HeaderCheck, OidcCheck, SenderError
from releng.promo.audit.events import Event, EventError, parse_pubsub_push, parse_registry_envelope
from releng.promo.audit.report import record
from releng.promo.audit.service import Auditor

log = logging.getLogger(__name__)

# GCR payloads are a few hundred bytes and registry envelopes a few KiB; nothing legitimate comes near this.
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class ServeOptions:
    """What the service checks: body cap, the registry the notifications come from, the sender checks."""

    registry_host: str = ""
    max_body: int = MAX_BODY
    oidc: OidcCheck | None = None
    registry_header: HeaderCheck | None = None
    tick: float = 0.5


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused past limit without reading the rest (Content-Length or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, problem: str) -> JSONResponse:
    return JSONResponse({"error": problem}, status_code=status)


async def _judge(request: Request, auditor: Auditor, options: ServeOptions,
                 check: Callable[[Request], None], parse: Callable[[bytes], Sequence[Event]]) -> JSONResponse:
    try:
        check(request)
        events = parse(await _body(request, options.max_body))
    except SenderError as exc:
        log.warning("401 from %s: %s", request.client.host if request.client else "?", exc)
        return _answer(401, str(exc))
    except _TooLarge:
        log.warning("413: body over %d bytes", options.max_body)
        return _answer(413, f"body over {options.max_body} bytes")
    except EventError as exc:
        log.warning("400: %s", exc)
        return _answer(400, str(exc))
    try:
        verdicts = await run_in_threadpool(auditor.handle, events)
    except Exception as exc:  # the sender redelivers: nothing was remembered as judged
        log.exception("500: events not judged: %s", exc)
        return _answer(500, f"not judged: {exc.__class__.__name__}: {exc}")
    return JSONResponse({"verdicts": [record(v) for v in verdicts]})


def create_app(auditor: Auditor, options: ServeOptions) -> Starlette:
    """The ASGI app; its lifespan runs the manifests refresh and the held-event expiry in the background."""

    def check_push(request: Request) -> None:
        if options.oidc is not None:
            options.oidc.verify(request.headers)

    def check_registry(request: Request) -> None:
        if options.registry_header is not None:
            options.registry_header.verify(request.headers)

    def registry_events(body: bytes) -> Sequence[Event]:
        return parse_registry_envelope(body, options.registry_host)

    def push_events(body: bytes) -> Sequence[Event]:
        return [parse_pubsub_push(body)]

    async def pubsub(request: Request) -> JSONResponse:
        return await _judge(request, auditor, options, check_push, push_events)

    async def registry(request: Request) -> JSONResponse:
        if not options.registry_host:
            return _answer(404, "registry notifications are off: serve with --registry-host")
        return await _judge(request, auditor, options, check_registry, registry_events)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(auditor.status())

    async def background() -> None:
        while True:
            await asyncio.sleep(options.tick)
            try:
                await run_in_threadpool(auditor.refresh)
                await run_in_threadpool(auditor.expire_held)
            except Exception:  # keep serving; the next tick tries again
                log.exception("background refresh failed")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(background())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    routes = [Route("/", pubsub, methods=["POST"]), Route("/pubsub", pubsub, methods=["POST"]),
              Route("/registry", registry, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`, all interfaces) for --listen."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve(auditor: Auditor, options: ServeOptions, listen: str) -> None:
    """Run the service under uvicorn until interrupted."""
    import uvicorn

    host, port = parse_listen(listen)
    config = uvicorn.Config(create_app(auditor, options), host=host, port=port, log_level="warning",
                            access_log=False, lifespan="on")
    uvicorn.Server(config).run()
