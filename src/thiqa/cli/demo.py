"""``thiqa demo``: a three-node federation on loopback, real objects published, and
their arrival shown with its latency (docs/federation.md, "Peering").

Nodes A, B and C run as separate ``thiqa serve`` processes in temporary data
directories, each pulling from the other two (a mesh). A and B have an agreement
("A & B", default TLP:AMBER); all three form the community "Trio" (default TLP:GREEN).
A publishes real indicators (abuse.ch SSL blacklist) into Trio and one TLP:AMBER
indicator into the agreement; B publishes MITRE ATT&CK for ICS techniques into Trio.
The demo waits for every object to reach every node that may hold it, checks that the
AMBER one reached B and never C, and exits 0 when all of it holds (1 otherwise).
"""

from __future__ import annotations

import copy
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import click

from thiqa.cli import main
from thiqa.federation.lab import Group, Lab, Watcher, aliases, wait_for

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"


def _indicators(data: Path, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((data / "ioc-feeds" / "abusech-sslbl-stix21-feeds2stix").glob("*/*.json")):
        out.extend(o for o in json.loads(path.read_text())["objects"] if o["type"] == "indicator")
        if len(out) >= n:
            break
    return out[:n]


def _techniques(data: Path, n: int) -> list[dict[str, Any]]:
    bundle = json.loads((data / "attack" / "ics-attack-18.1.stix21.json").read_text())
    return [o for o in bundle["objects"] if o["type"] == "attack-pattern"
            and not o.get("revoked")][:n]


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1000:7.1f} {p99 * 1000:7.1f} {ordered[-1] * 1000:7.1f}"


@main.command()
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where the three nodes live [default: a temporary "
                                 "directory, removed at the end].")
@click.option("--shared-data", type=click.Path(file_okay=False, path_type=Path),
              default=DATA, show_default=True, help="The real data to publish.")
@click.option("--count", default=200, show_default=True, help="Indicators A publishes.")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True,
              help="Seconds to wait for everything to arrive.")
def demo(data_dir: Path | None, shared_data: Path, count: int, timeout_s: float) -> None:
    """Run a three-node federation on loopback and show objects arriving."""
    with tempfile.TemporaryDirectory(prefix="thiqa-demo-") as tmp:
        ok = _run(Path(data_dir or tmp), shared_data, count, timeout_s)
    raise SystemExit(0 if ok else 1)


def _run(root: Path, data: Path, count: int, timeout_s: float) -> bool:
    lab = Lab(root)
    mesh = [(x, y, "pull") for x in "abc" for y in "abc" if x != y]
    lab.provision([Group("A & B", ("a", "b"), "amber"),
                   Group("Trio", ("a", "b", "c"), "green")], mesh)
    click.echo("three nodes, each pulling from the other two:")
    for ln in lab.nodes.values():
        click.echo(f"  {ln.name.upper()}  {ln.url}  {ln.node_id}  (data {ln.data})")
    lab.start()
    try:
        if not lab.wait_linked():
            click.echo("FAILED: the nodes did not link up (see thiqa peer status)")
            return False
        watchers = {n: Watcher(lab[n], aliases(lab[n])).start() for n in "abc"}
        indicators = _indicators(data, count)
        techniques = _techniques(data, 50)
        secret = copy.deepcopy(indicators[0])
        secret["id"] = f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, secret['id'] + '/amber')}"
        secret["object_marking_refs"] = [AMBER]
        sent: dict[tuple[str, str], float] = {}
        for i in range(0, len(indicators), 50):
            batch = indicators[i : i + 50]
            lab["a"].publish("trio", batch)
            t = time.monotonic()
            sent.update({("trio", o["id"]): t for o in batch})
        lab["b"].publish("trio", techniques)
        t = time.monotonic()
        sent.update({("trio", o["id"]): t for o in techniques})
        lab["a"].publish("a-b", [secret])
        t = time.monotonic()
        sent[("a-b", secret["id"])] = t
        click.echo(f"published: A {len(indicators)} indicators into Trio and 1 TLP:AMBER "
                   f"indicator into A & B; B {len(techniques)} ATT&CK for ICS techniques "
                   "into Trio")
        origin = {**{("trio", o["id"]): "a" for o in indicators},
                  **{("trio", o["id"]): "b" for o in techniques}, ("a-b", secret["id"]): "a"}
        # What each node should receive: Trio everywhere, the agreement on B only.
        expected = {n: [k for k in sent if origin[k] != n and (k[0] == "trio" or n == "b")]
                    for n in "abc"}

        def complete() -> bool:
            return all(watchers[n].arrived(*k) is not None for n in "abc" for k in expected[n])

        done = wait_for(complete, timeout_s)
        # One more round of the mesh before looking for the AMBER indicator on C.
        marker = _indicators(data, count + 1)[-1:]
        lab["b"].publish("trio", marker)
        wait_for(lambda: watchers["c"].arrived("trio", marker[0]["id"]) is not None, timeout_s)
        leaked = any(i == secret["id"] for alias in ("trio", "a-b", "default")
                     for i, _ in lab["c"].held(alias))
        click.echo("\nlatency: from the publisher's acknowledgement (TAXII 202) to the event on "
                   "the receiving node's own stream")
        click.echo("node  collection  arrived / expected   latency ms: p50     p99     max")
        for n in "abc":
            for alias in ("trio", "a-b"):
                keys = [k for k in expected[n] if k[0] == alias]
                if not keys:
                    continue
                lat = [got - sent[k] for k in keys
                       if (got := watchers[n].arrived(*k)) is not None]
                click.echo(f"{n.upper():<5} {alias:<11} {len(lat):>7} / {len(keys):<10} "
                           f"{'':>10}{_ms(lat)}")
        click.echo(f"\nTLP:AMBER indicator of A & B on C: {'LEAKED' if leaked else 'never'}")
        for w in watchers.values():
            w.stop()
        ok = done and not leaked
        click.echo("everything arrived where it may, and nowhere else" if ok
                   else "FAILED: not everything arrived within the time allowed" if not done
                   else "FAILED: the AMBER indicator reached C")
        return ok
    finally:
        lab.stop()
