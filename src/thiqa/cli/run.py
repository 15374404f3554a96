"""``thiqa init``, ``thiqa serve`` and ``thiqa config check``."""

from __future__ import annotations

import ipaddress
import ssl
from typing import Any

import click

from thiqa import bootstrap, memory, settings
from thiqa.bootstrap import FirstRun
from thiqa.cli import emit, load_settings, main, open_node, setting_options
from thiqa.cli.tls import make_certificate
from thiqa.errors import ConfigError
from thiqa.federation import tls as node_tls
from thiqa.node import Node
from thiqa.settings import Settings


def _first_run_data(first: FirstRun, cert: dict[str, Any] | None) -> dict[str, Any]:
    return {"org": {"id": first.org.id, "name": first.org.name},
            "api_key": {"id": first.key.id, "role": first.key.role, "key": first.secret},
            "collection": {"id": first.collection.id, "alias": first.collection.alias},
            "tls": cert}


def _first_run_text(first: FirstRun, cert: dict[str, Any] | None) -> str:
    tls_line = (f"\nTLS certificate: {cert['fingerprint']} ({cert['certificate']})"
                if cert else "")
    return (f"Initialised node for organisation {first.org.name!r} ({first.org.id}).\n"
            f"Admin API key (shown once, store it now): {first.secret}\n"
            f"Default collection: {first.collection.id} (alias 'default')" + tls_line)


def _first_run(node: Node) -> tuple[FirstRun, dict[str, Any] | None]:
    """Initialise the node and, unless it has one, make its self-signed TLS certificate
    (for the loopback names and the configured host)."""
    first = bootstrap.initialise(node)
    cfg = node.settings
    if node_tls.own_paths(cfg.data)[0].exists():
        return first, None
    hosts, ips = list(node_tls.DEFAULT_HOSTS), list(node_tls.DEFAULT_IPS)
    if cfg.host not in ("0.0.0.0", "::", "") and not cfg.is_loopback:
        try:
            ips.append(str(ipaddress.ip_address(cfg.host)))
        except ValueError:
            hosts.append(cfg.host)
    return first, make_certificate(node, tuple(hosts), tuple(ips))


@main.command()
@setting_options(["data", "db", "org_name"])
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def init(as_json: bool, **options: Any) -> None:
    """Create the data directory, the operating organisation and its admin API key."""
    node = open_node(options)
    try:
        if bootstrap.is_initialised(node.store):
            raise ConfigError(f"the node in {node.settings.data} is already initialised")
        first, cert = _first_run(node)
        emit(as_json, _first_run_data(first, cert), _first_run_text(first, cert))
    finally:
        node.store.close()


@main.command()
@setting_options()
def serve(**options: Any) -> None:
    """Run the node: TAXII 2.1 at /taxii2/ (initialises the data directory on first run)."""
    memory.limit()  # before any thread allocates
    import uvicorn

    from thiqa.taxii import create_app

    node = open_node(options)
    cfg = node.settings
    try:
        if cfg.workers > 1 and not isinstance(node.store, _postgres_store()):
            raise ConfigError(
                f"workers = {cfg.workers} needs the PostgreSQL store (--db postgresql://"
                "…): SQLite has one writer and wakes streams within one process only. "
                "Serve SQLite with one worker (docs/postgresql.md#several-workers)")
        tls_on = node_tls.serves_tls(cfg)  # refuses plain HTTP beyond loopback
        if not bootstrap.is_initialised(node.store):
            click.echo(_first_run_text(*_first_run(node)))
        server_tls = node_tls.ServerTLS(cfg, node.store) if tls_on else None
    except BaseException:
        node.store.close()
        raise
    scheme = "https" if server_tls else "http"
    tls_note = (f"; TLS {server_tls.fingerprint}, client certificates {cfg.tls_client_auth}"
                if server_tls else "")
    click.echo(f"thiqa serving TAXII 2.1 at {scheme}://{cfg.host}:{cfg.port}/taxii2/ "
               f"(data: {cfg.data}{tls_note})", err=True)
    if cfg.workers > 1:
        node.store.close()  # each worker opens its own
        _serve_workers(cfg, tls_on=server_tls is not None)
        return
    app = create_app(cfg, node.store, node.clock)

    def ssl_context(config: Any, default: Any) -> ssl.SSLContext:
        assert server_tls is not None
        return server_tls.context()

    try:
        uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level,
                    ssl_context_factory=ssl_context if server_tls else None,
                    access_log=cfg.log_level == "debug",
                    # Event streams never finish on their own: close them after the grace.
                    timeout_graceful_shutdown=cfg.shutdown_grace)
    finally:
        node.store.close()


def _postgres_store() -> type:
    try:
        from thiqa.store.postgres import PostgresStore
    except ModuleNotFoundError:  # no driver: no PostgreSQL store either
        return type(None)
    return PostgresStore


def _serve_workers(cfg: Settings, *, tls_on: bool) -> None:
    """``serve --workers N``: uvicorn's supervisor and N worker processes (see
    thiqa.scale.process). Returns when SIGINT or SIGTERM has stopped every worker."""
    import os

    import uvicorn

    from thiqa.scale import process

    click.echo(f"thiqa starting {cfg.workers} worker processes on one PostgreSQL "
               "database", err=True)
    os.environ.update(process.handoff(cfg))
    uvicorn.run(process.APP, factory=True, workers=cfg.workers, host=cfg.host,
                port=cfg.port, log_level=cfg.log_level,
                ssl_context_factory=process.ssl_context if tls_on else None,
                access_log=cfg.log_level == "debug",
                timeout_graceful_shutdown=cfg.shutdown_grace)


@main.group()
def config() -> None:
    """Inspect the effective configuration."""


@config.command("check")
@setting_options()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def config_check(as_json: bool, **options: Any) -> None:
    """Validate settings and print the effective values (secrets masked) and their source."""
    cfg, sources = load_settings(options)
    values = settings.masked(cfg)
    data = {name: {"value": value, "source": sources[name]} for name, value in values.items()}
    width = max(len(n) for n in values)
    text = "\n".join(f"{n:<{width}}  {v!r:<40}  ({sources[n]})" for n, v in values.items())
    emit(as_json, data, text + "\nconfiguration OK")
