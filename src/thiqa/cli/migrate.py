"""``thiqa migrate --to postgresql://…``: move a node from SQLite to PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from thiqa.cli import emit, load_settings, main, setting_options
from thiqa.errors import ConfigError


@main.command("migrate")
@click.option("--to", "target_url", required=True, metavar="URL",
              help="The empty PostgreSQL database (or schema) to copy the node into.")
@setting_options(["data", "db"])
@click.option("--json", "as_json", is_flag=True, help="Print what was copied as JSON.")
def migrate_cmd(target_url: str, as_json: bool, **options: Any) -> None:
    """Copy this node's SQLite store (everything: orgs, keys, collections, communities,
    versions, entries with their seq and date_added, statuses, releases, audit log)
    into an empty PostgreSQL database, and verify every table by row count and
    checksum. The SQLite files are only read. Afterwards run the node with
    --db set to the target."""
    cfg, _ = load_settings(options)
    if cfg.db and not cfg.db.startswith("sqlite:"):
        raise ConfigError("thiqa migrate copies from the SQLite store: leave --db empty "
                          "(or sqlite:PATH) and name the PostgreSQL database with --to")
    if not target_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("--to must be a postgresql:// URL")
    source = (Path(cfg.db[len("sqlite:"):]) if cfg.db.startswith("sqlite:")
              else cfg.data_dir / "thiqa.db")
    from thiqa.store import open_store
    from thiqa.store.pg_import import migrate
    from thiqa.store.postgres import PostgresStore

    target = open_store(target_url, cfg.data)
    assert isinstance(target, PostgresStore)
    try:
        copied = migrate(source, target)
    finally:
        target.close()
    emit(as_json, {"source": str(source), "tables": [
        {"table": c.table, "rows": c.rows, "checksum": c.checksum} for c in copied]},
        "\n".join(f"{c.table:<18} {c.rows:>10,} rows  {c.checksum}" for c in copied)
        + "\nverified: every table's rows and checksum match the source")
