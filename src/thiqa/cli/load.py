"""``thiqa load FILE…``: bulk import with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from thiqa.bulk import Rejection, load_files
from thiqa.cli import emit, main, open_node, setting_options
from thiqa.cli.match import index_now
from thiqa.correlate.service import Correlation
from thiqa.errors import NotFound

# Exit status when the load finished but some objects were rejected (scripts can tell).
EXIT_REJECTED = 3
_SHOW_REJECTIONS = 20


@main.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--collection", "collection_ref", default="default", show_default=True,
              help="Collection id or alias to load into.")
@click.option("--org", "org_ref", default=None,
              help="Organisation publishing the objects (their originator); default: the "
                   "node's operating organisation.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--no-index", is_flag=True,
              help="Leave the observable index behind (`thiqa index` or `serve` catch up).")
@setting_options(["data", "db"])
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def load(files: tuple[Path, ...], collection_ref: str, org_ref: str | None, quiet: bool,
         no_index: bool,
         as_json: bool, **options: Any) -> None:
    """Import STIX 2.1 bundles, envelopes or JSON lines (.json, .jsonl, optionally .gz).

    Every object is validated; invalid ones are reported and skipped. Exits 0 when all
    were stored, 3 when some were rejected, 1 on an error that stopped the load.
    """
    node = open_node(options)
    try:
        target = node.store.get_collection(collection_ref)
        if target is None:
            raise NotFound(f"no collection {collection_ref!r}")
        origin = node.load_origin(target, org_ref)
        shown = 0

        def on_reject(r: Rejection) -> None:
            nonlocal shown
            if shown < _SHOW_REJECTIONS and not as_json:
                tqdm.write(f"rejected {r.where} {r.id}: {r.message}", file=sys.stderr)
            shown += 1

        total = sum(p.stat().st_size for p in files)
        with tqdm(total=total, unit="B", unit_scale=True, desc="loading", file=sys.stderr,
                  disable=quiet or None) as bar:

            def advance(n: int) -> None:
                bar.update(n)

            report = load_files(node.store, target, files, clock=node.clock,
                                on_progress=advance, on_reject=on_reject, origin=origin)
        node.record_load(target, origin, [str(f) for f in files], report.stored,
                         len(report.rejected))
        indexed = None
        if not no_index:
            correlation = Correlation(node.settings, node.store, node.clock)
            try:
                indexed = index_now(node, correlation, quiet=quiet)
            finally:
                correlation.close()
        data = {"collection": target.id, "read": report.read, "stored": report.stored,
                "rejected": len(report.rejected), "seconds": round(report.seconds, 3),
                "objects_per_second": round(report.rate),
                "rejections": [{"where": r.where, "id": r.id, "message": r.message}
                               for r in report.rejected]}
        if indexed is not None:
            data["index"] = {"entries": indexed.entries, "observables": indexed.observables,
                             "seconds": round(indexed.seconds, 3)}
        more = len(report.rejected) - _SHOW_REJECTIONS
        text = (f"{report.read} objects read, {report.stored} stored, "
                f"{len(report.rejected)} rejected in {report.seconds:.1f} s "
                f"({report.rate:,.0f} objects/s)"
                + (f"\n({more} more rejections not shown; use --json)" if more > 0 else "")
                + (f"\nindexed {indexed.observables} observables of {indexed.entries} "
                   f"entries in {indexed.seconds:.1f} s" if indexed is not None else ""))
        emit(as_json, data, text)
    finally:
        node.store.close()
    if report.rejected:
        sys.exit(EXIT_REJECTED)
