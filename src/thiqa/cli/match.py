"""``thiqa match FILE…`` (match observed values) and ``thiqa index`` (build the index)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
from tqdm import tqdm

from thiqa.auth import Principal
from thiqa.cli import emit, main, open_node, setting_options
from thiqa.correlate.hunt import HuntReport
from thiqa.correlate.index import IndexReport
from thiqa.correlate.inputs import FORMATS, read_values
from thiqa.correlate.match import MatchStats, Result
from thiqa.correlate.service import Correlation, audience
from thiqa.correlate.sightings import publish
from thiqa.node import Node
from thiqa.store.model import ApiKey


def index_now(node: Node, correlation: Correlation, *, quiet: bool) -> IndexReport:
    """Catch the observable index up, with a progress bar of entries, then hunt."""
    return index_and_hunt(node, correlation, quiet=quiet)[0]


def index_and_hunt(node: Node, correlation: Correlation, *,
                   quiet: bool) -> tuple[IndexReport, HuntReport]:
    mark, top = correlation.indexer.state()
    with tqdm(total=max(0, top - mark), unit=" entries", unit_scale=True, desc="indexing",
              file=sys.stderr, disable=quiet or None) as bar:

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return correlation.catch_up(advance)


@main.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="How to read the files (see docs/correlation.md).")
@click.option("--org", "org_ref", default=None,
              help="Match as this organisation: only collections it may read count "
                   "[default: the operator, every collection].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--keep/--no-keep", default=True, show_default=True,
              help="With --org: keep the values for retro-hunt and raise alerts.")
@click.option("--sightings", is_flag=True,
              help="With --org: publish a STIX sighting of every matched indicator into "
                   "the collection it was matched in.")
@setting_options(["data", "db", "warninglists_dir"])
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per matched value (JSON lines), then a summary line.")
def match(files: tuple[Path, ...], fmt: str, org_ref: str | None, quiet: bool, keep: bool,
          sightings: bool, as_json: bool, **options: Any) -> None:
    """Match observed values (plain lists, CSV, JSON lines, Suricata eve.json, Zeek logs)
    against the indicators and observables stored on this node.

    Prints one line per match: value, kind, object id, version, collection, confidence,
    name, the warninglists that flag the value as known benign and the score. With
    ``--org`` the values are kept for retro-hunt and matches raise that organisation's
    alerts (``thiqa alerts list``). Exits 0 when nothing matched, 4 when something did
    (scripts can tell), 1 on an error.
    """
    if sightings and org_ref is None:
        raise click.UsageError("--sightings needs --org (who saw it)")
    node = open_node(options)
    correlation = Correlation(node.settings, node.store, node.clock)
    stats = MatchStats()
    alerts = 0
    published: list[dict[str, Any]] = []
    try:
        index_now(node, correlation, quiet=quiet)
        who = None
        if org_ref is not None:
            org = node.org(org_ref)
            # An analyst's reach: it reads what its organisation reads, and a sighting
            # goes through the ordinary write path (membership and handling apply).
            who = Principal(ApiKey("cli", org.id, "analyst", "thiqa match", 0), org)
        observe = correlation.observer(who) if keep else None
        matched: list[Result] = []
        total = sum(p.stat().st_size for p in files)
        with tqdm(total=total, unit="B", unit_scale=True, desc="matching", file=sys.stderr,
                  disable=quiet or None) as bar:

            def values() -> Iterator[str]:
                for path in files:
                    yield from read_values(path, fmt)
                    bar.update(path.stat().st_size)

            out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
            for result in correlation.matcher.match(values(), audience(node, who),
                                                    stats=stats, observe=observe):
                if keep:
                    alerts += len(correlation.alert_matches(who, [result]))
                if sightings:
                    matched.append(result)
                if as_json:
                    sys.stdout.write(orjson.dumps(result.as_json()).decode() + "\n")
                    continue
                for h in result.hits:
                    out.writerow([result.value, result.observed.kind, h.object_id, h.version,
                                  h.collection, "" if h.confidence is None else h.confidence,
                                  h.name or "", ",".join(result.known_benign),
                                  "" if h.score is None else f"{h.score:g}"])
        if who is not None and matched:
            published = publish(node, who, matched, correlation.observations if observe
                                else None)
            correlation.catch_up()
        summary = {"checked": stats.checked, "recognised": stats.recognised,
                   "matched": stats.matched, "hits": stats.hits, "alerts": alerts,
                   "sightings": published}
        if as_json:
            sys.stdout.write(orjson.dumps({"summary": summary}).decode() + "\n")
        else:
            click.echo(f"{stats.checked} values checked, {stats.recognised} recognised, "
                       f"{stats.matched} matched ({stats.hits} matches), {alerts} alerts "
                       f"raised", err=True)
            for s in published:
                click.echo(f"sighting {s['id']} of {s['sighting_of_ref']} published to "
                           f"{s['collection']}" if "error" not in s else
                           f"sighting refused in {s['collection']}: {s['error']}", err=True)
    finally:
        correlation.close()
        node.store.close()
    if stats.matched:
        sys.exit(EXIT_MATCHED)


EXIT_MATCHED = 4


@main.command()
@click.option("--rebuild", is_flag=True, help="Forget the index and build it again.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@setting_options(["data", "db"])
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def index(rebuild: bool, quiet: bool, as_json: bool, **options: Any) -> None:
    """Bring the observable index up to date with every stored version (``serve`` and
    ``load`` do this by themselves)."""
    node = open_node(options)
    correlation = Correlation(node.settings, node.store, node.clock)
    try:
        if rebuild:
            correlation.indexer.rebuild()
        report, hunted = index_and_hunt(node, correlation, quiet=quiet)
        size = correlation.reader.size()
        data = {"entries": report.entries, "observables": report.observables,
                "seconds": round(report.seconds, 3), "rows": size,
                "hunted": {"entries": hunted.entries, "sightings": hunted.sightings,
                           "alerts": hunted.alerts}}
        emit(as_json, data, f"{report.entries} entries indexed ({report.observables} "
                            f"observables) in {report.seconds:.1f} s; the index holds "
                            f"{size['observables'] + size['observable_tests']} observables; "
                            f"{hunted.alerts} alerts raised")
    finally:
        correlation.close()
        node.store.close()
