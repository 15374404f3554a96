"""The worker processes of ``thiqa serve --workers N``.

uvicorn's supervisor binds the address once and starts N processes (``spawn``) that
accept on it, restarts one that dies, and on SIGINT or SIGTERM stops them all (each
finishes its requests for ``shutdown_grace`` seconds, as a single ``serve`` does). A
spawned process imports the app by name, so ``serve`` hands it its effective settings
(defaults, TOML file, environment and flags, already resolved and checked) in the
environment variable :data:`SETTINGS_ENV`; :func:`worker_app` and :func:`ssl_context`
build the node from them in the worker.

Every response of a worker names it: ``X-Thiqa-Worker: <pid>`` (which process
answered, for operators behind a proxy and for the tests).
"""

from __future__ import annotations

import dataclasses
import os
import ssl
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thiqa.errors import ConfigError
from thiqa.settings import Settings, check
from thiqa.store import Store

SETTINGS_ENV = "THIQA_WORKER_SETTINGS"
APP = "thiqa.scale.process:worker_app"  # the import string uvicorn's workers load
WORKER_HEADER = "x-thiqa-worker"


def handoff(settings: Settings) -> dict[str, str]:
    """The environment entry that hands ``settings`` to the workers."""
    return {SETTINGS_ENV: orjson.dumps(dataclasses.asdict(settings)).decode()}


def settings_from_env() -> Settings:
    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise ConfigError(f"{APP} is started by `thiqa serve --workers N`, which sets "
                          f"{SETTINGS_ENV}")
    settings = Settings(**orjson.loads(raw))
    check(settings)
    return settings


class _Worker:
    """What one worker process opens once: its settings and its store (the TLS context
    and the app both need the store; uvicorn calls them one after the other)."""

    settings: Settings | None = None
    store: Store | None = None

    @classmethod
    def open(cls) -> tuple[Settings, Store]:
        if cls.settings is None or cls.store is None:
            from thiqa import memory
            from thiqa.store import open_store

            memory.limit()  # a spawned process: before its threads start
            cls.settings = settings_from_env()
            cls.store = open_store(cls.settings.db, cls.settings.data)
        return cls.settings, cls.store


def worker_app() -> ASGIApp:
    """The app of one worker (uvicorn's ``factory``): the node on the handed-over
    settings, its responses marked with the worker's pid."""
    from thiqa.taxii import create_app

    settings, store = _Worker.open()
    return NameWorker(create_app(settings, store))


def ssl_context(config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """The worker's TLS context (uvicorn's ``ssl_context_factory``; module-level, since
    uvicorn pickles it into each spawned worker)."""
    from thiqa.federation.tls import ServerTLS

    settings, store = _Worker.open()
    return ServerTLS(settings, store).context()


class NameWorker:
    """ASGI middleware: ``X-Thiqa-Worker: <pid>`` on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (WORKER_HEADER.encode(), str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, named)
