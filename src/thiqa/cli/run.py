"""``thiqa init``, ``thiqa serve`` and ``thiqa config check``."""

from __future__ import annotations

from typing import Any

import click

from thiqa import bootstrap, settings
from thiqa.bootstrap import FirstRun
from thiqa.cli import emit, load_settings, main, open_node, setting_options
from thiqa.errors import ConfigError


def _first_run_data(first: FirstRun) -> dict[str, Any]:
    return {"org": {"id": first.org.id, "name": first.org.name},
            "api_key": {"id": first.key.id, "role": first.key.role, "key": first.secret},
            "collection": {"id": first.collection.id, "alias": first.collection.alias}}


def _first_run_text(first: FirstRun) -> str:
    return (f"Initialised node for organisation {first.org.name!r} ({first.org.id}).\n"
            f"Admin API key (shown once, store it now): {first.secret}\n"
            f"Default collection: {first.collection.id} (alias 'default')")


@main.command()
@setting_options(["data", "db", "org_name"])
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def init(as_json: bool, **options: Any) -> None:
    """Create the data directory, the operating organisation and its admin API key."""
    node = open_node(options)
    try:
        if bootstrap.is_initialised(node.store):
            raise ConfigError(f"the node in {node.settings.data} is already initialised")
        first = bootstrap.initialise(node)
        emit(as_json, _first_run_data(first), _first_run_text(first))
    finally:
        node.store.close()


@main.command()
@setting_options()
def serve(**options: Any) -> None:
    """Run the node: TAXII 2.1 at /taxii2/ (initialises the data directory on first run)."""
    import uvicorn

    from thiqa.taxii import create_app

    node = open_node(options)
    cfg = node.settings
    if not cfg.is_loopback and not cfg.tls_cert:
        node.store.close()
        raise ConfigError(f"serving on {cfg.host} (beyond loopback) needs TLS: set tls_cert and "
                          "tls_key")
    if not bootstrap.is_initialised(node.store):
        click.echo(_first_run_text(bootstrap.initialise(node)))
    scheme = "https" if cfg.tls_cert else "http"
    click.echo(f"thiqa serving TAXII 2.1 at {scheme}://{cfg.host}:{cfg.port}/taxii2/ "
               f"(data: {cfg.data})", err=True)
    app = create_app(cfg, node.store, node.clock)
    try:
        uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level,
                    ssl_certfile=cfg.tls_cert or None, ssl_keyfile=cfg.tls_key or None,
                    access_log=cfg.log_level == "debug",
                    # Event streams never finish on their own: close them after the grace.
                    timeout_graceful_shutdown=cfg.shutdown_grace)
    finally:
        node.store.close()


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
