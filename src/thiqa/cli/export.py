"""``thiqa export``: a collection as one STIX bundle or as JSON lines (thiqa.exports)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from thiqa import exports
from thiqa.cli import main, open_node, setting_options
from thiqa.store.model import ALL, LAST
from thiqa.timestamps import parse_us


@main.command("export")
@click.argument("collection_ref")
@click.option("--as", "org_ref", default=None,
              help="Export what this organisation may see (its access and the handling "
                   "policy apply); without it, everything in the collection.")
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="bundle",
              show_default=True)
@click.option("--type", "types", multiple=True, help="Only objects of this STIX type (repeat).")
@click.option("--all-versions", is_flag=True, help="Every version, not only the latest.")
@click.option("--added-after", default=None, help="Only versions added after this time.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: standard output).")
@setting_options(["data", "db"])
def export_cmd(collection_ref: str, org_ref: str | None, fmt: exports.Format,
               types: tuple[str, ...], all_versions: bool, added_after: str | None,
               output: Path | None, **options: Any) -> None:
    """Write a collection's objects as one STIX 2.1 bundle or as JSON lines."""
    try:
        after = parse_us(added_after) if added_after else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--added-after") from None
    node = open_node(options)
    try:
        who = (node.reader_for(org_ref) if org_ref is not None
               else node.operator_for(node.operating_org().id))
        selection = exports.Selection(
            types=types, versions=ALL if all_versions else LAST,
            added_after=after)
        chunks = exports.export(node, who, collection_ref, selection, fmt)
        if output is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        part = output.with_name(output.name + ".part")
        with part.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        part.replace(output)  # a failed export leaves no half-written file behind
    finally:
        node.store.close()
