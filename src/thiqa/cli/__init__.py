"""The ``thiqa`` command line (operator contract in DESIGN.md).

Every verb that prints ids or keys takes ``--json``; errors print ``error: ...`` on
stderr and exit 1. Settings flags come from the declared table in
:mod:`thiqa.settings`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from thiqa import __version__, settings
from thiqa.errors import ThiqaError
from thiqa.node import Node
from thiqa.store import Store, open_store

F = TypeVar("F", bound=Callable[..., Any])


def setting_options(names: Iterable[str] | None = None) -> Callable[[F], F]:
    """Click options for the named settings (all when None), plus --config."""
    wanted = list(names) if names is not None else [s.name for s in settings.SETTINGS]

    def decorate(f: F) -> F:
        for s in reversed(settings.SETTINGS):
            if s.name in wanted:
                f = click.option(s.flag, s.name, type=int if s.kind is int else str,
                                 default=None, metavar=s.kind.__name__.upper(),
                                 help=f"{s.help} [env {s.env}; default {s.default!r}]")(f)
        return click.option("--config", "config_file", default=None,
                            type=click.Path(dir_okay=False, path_type=Path),
                            help="TOML settings file [default: <data>/thiqa.toml if present]")(f)
    return decorate


def load_settings(options: dict[str, Any]) -> tuple[settings.Settings, dict[str, str]]:
    config_file = options.pop("config_file", None)
    return settings.load(flags=options, config_file=config_file)


def open_node(options: dict[str, Any]) -> Node:
    cfg, _ = load_settings(options)
    store: Store = open_store(cfg.db, cfg.data)
    return Node(cfg, store)


def emit(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(text)


class _Group(click.Group):
    """Turns ThiqaError into 'error: …' and exit status 1 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ThiqaError as exc:
            click.echo(f"error: {exc.description}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="thiqa")
def main() -> None:
    """thiqa: a federated, real-time threat-intelligence exchange node (STIX 2.1, TAXII 2.1)."""


from thiqa.cli import (  # noqa: E402  (sub-commands register)
    admin,
    alerts,
    audit,
    demo,
    export,
    load,
    match,
    migrate,
    peer,
    run,
    tls,
    trust,
    webhook,
)

__all__ = ["admin", "alerts", "audit", "demo", "emit", "export", "load", "load_settings",
           "main", "match", "migrate", "open_node", "peer", "run", "setting_options", "tls",
           "trust", "webhook"]
