"""Cost of signing what the node originates and of verifying what peers deliver.

Prints one table: per-object costs of canonical JSON + Merkle leaf, of one Ed25519
signature and check (what per-object signing would cost), and ``thiqa.bulk.load_files``
of N generated indicators with and without the batch signer, in the same run (the
peer: the unsigned load). Then export of the loaded objects and their verification by
a second node.

    python bench/bench_signing.py --count 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import main as generate
from tests.federation.conftest import befriend, make_peer

from thiqa.bulk import load_files
from thiqa.clock import Clock
from thiqa.federation.sign import leaf_of
from thiqa.signing import NodeKey, canonical
from thiqa.store.model import ALL, ObjectQuery


def per_object(fn: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "in.json"
        generate(["--count", str(args.count), "--out", str(src)])
        sample = orjson.loads(src.read_bytes())["objects"][0]
        key = NodeKey.generate()
        body = canonical(sample)
        sig = key._private.sign(body)
        pub = key._private.public_key()
        rows = [("canonical JSON + leaf, per object", per_object(lambda: leaf_of(sample), 20000),
                 "µs"),
                ("Ed25519 sign, per signature", per_object(lambda: key._private.sign(body), 5000),
                 "µs"),
                ("Ed25519 verify, per signature", per_object(lambda: pub.verify(sig, body), 2000),
                 "µs")]
        clock = Clock()
        rates = {}
        for signed in (False, True):
            peer = make_peer(root, f"n{int(signed)}", clock)  # type: ignore[arg-type]
            target = peer.node.store.get_collection("outbox")
            assert target is not None
            origin = peer.node.load_origin(target)
            signer = peer.node.signer(origin.originator) if signed else None
            report = load_files(peer.node.store, target, [src], origin=origin, signer=signer,
                                parallel=True)
            rates[signed] = report.rate
            rows.append((f"load {report.read:,} indicators, {'signed' if signed else 'unsigned'}",
                         report.rate, "objects/s"))
            if signed:
                other = make_peer(root, "recv", clock)  # type: ignore[arg-type]
                into = befriend(other, peer)
                who = peer.node.operator_for(peer.org)
                start = time.perf_counter()
                exported, n = [], 0
                q = ObjectQuery(0, versions=ALL, limit=1000)
                got = peer.node.export(who, "outbox", q)
                t_export = time.perf_counter() - start
                exported = got.objects
                start = time.perf_counter()
                received = other.node.receive(peer.id, into, exported)
                t_recv = time.perf_counter() - start
                n = len(exported)
                assert len(received.stored) == n, received.rejected[:3]
                rows.append(("export a page of 1,000 with provenance, per object",
                             t_export / n * 1e6, "µs"))
                rows.append(("receive (verify + store) 1,000, per object", t_recv / n * 1e6, "µs"))
                other.node.store.close()
            peer.node.store.close()
        rows.append(("signed load ÷ unsigned load (rate)", rates[True] / rates[False], "×"))
    print("| measure | value | unit |\n|---|---|---|")
    for name, value, unit in rows:
        print(f"| {name} | {value:,.2f} | {unit} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
