"""Read throughput with the handling policy enforced, against the same read without it.

    python bench/bench_policy.py                 # 1,000,000 indicators, 100 member orgs
    python bench/bench_policy.py --count 100000  # smaller

One node, one community of ``--orgs`` member organisations (a forum of 100 states, as
the sovereign-sharing issue puts it). Generated indicators (bench/generate.py: TLP
CLEAR/GREEN/AMBER/AMBER+STRICT/RED mixed 30/35/25/5/5 among the ~90% that carry a
marking; the community sets no default, so the unmarked ~10% are TLP:RED with no
named recipients, as DESIGN.md's rule 5 wants) are loaded into the
community's collection with ``thiqa load --org`` as published by its first member.
Then ``thiqa serve`` answers full paginated reads (``limit=1000``, following ``next``):

- **admin**: an admin key, for which the policy admits everything, so the store query
  carries no visibility condition: the read without policy;
- **member**: an analyst of another member org: the policy's visibility condition is
  in every page query (TLP:RED versions it is not a recipient of are left out);
- **originator**: an analyst of the publishing org: the condition is there and admits
  every version.

Each read runs ``--repeats`` times, interleaved; the table shows medians. The target of
the issue: with policy, objects/s within 80% of the same read without it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import _procs
import _servers
import _taxii
from _loads import indicator_file
from _stats import Row, fmt_mb, rate, table, verdict
from thiqa.node import Node
from thiqa.settings import Settings
from thiqa.store import open_store


def _setup(data: Path, orgs: int) -> tuple[str, str, str, str]:
    """Orgs, the community and two analyst keys; returns (alias, org0, member key,
    originator key)."""
    store = open_store("", str(data))
    try:
        node = Node(Settings(data=str(data)), store)
        members = [node.create_org(f"State {i:03d}").id for i in range(orgs)]
        view = node.create_community("Forum", members=members)
        alias = view.collections[0].alias
        assert alias is not None
        member_key = node.create_key(members[orgs // 2], "analyst")[1]
        origin_key = node.create_key(members[0], "analyst")[1]
        return alias, members[0], member_key, origin_key
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--orgs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="thiqa-bench-policy-") as tmp:
        work = Path(tmp)
        data = work / "node"
        admin_key = _servers.init_thiqa(data)
        alias, org0, member_key, origin_key = _setup(data, args.orgs)
        path = work / "indicators.json"
        objects = indicator_file(path, args.count, args.seed)
        print(f"loading {objects:,} objects into {alias!r} ({args.orgs} members)",
              file=sys.stderr)
        done = _procs.run(_procs.python("-m", "thiqa", "load", "--data", str(data),
                                        "--collection", alias, "--org", org0, "--quiet",
                                        "--json", str(path)), timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
        path.unlink()
        keys = {"admin": admin_key, "member": member_key, "originator": origin_key}
        results: dict[str, list[_taxii.Read]] = {k: [] for k in keys}
        with _servers.thiqa(data, admin_key, work / "serve.log") as srv:
            for run in range(args.repeats):
                for who, key in keys.items():
                    as_who = _servers.Server(srv.name, srv.proc, srv.root,
                                             _servers._Bearer(key))
                    got = _taxii.read_all(as_who, alias)
                    results[who].append(got)
                    print(f"run {run + 1}: {who}: {got.objects:,} objects in "
                          f"{got.seconds:.1f} s ({rate(got.objects, got.seconds):,.0f}/s; "
                          f"server CPU {got.server_cpu:.1f} s)", file=sys.stderr)
            rss, heap, mapped = _procs.memory(srv.proc)

    def med(who: str) -> tuple[int, float, float]:
        reads = results[who]
        return (reads[0].objects,
                statistics.median(rate(r.objects, r.seconds) for r in reads),
                statistics.median(rate(r.objects, r.server_cpu) for r in reads))

    base_n, base_rate, _base_cpu = med("admin")
    rows = [Row(f"full read without policy (admin), {args.orgs}-member community", base_n,
                f"{base_rate:,.0f}", "", "1.00×",
                f"{fmt_mb(rss)} (after: heap {fmt_mb(heap)}, mapped {fmt_mb(mapped)})")]
    for who, label in (("member", "another member org (the ~15% RED for it left out)"),
                       ("originator", "the publishing org (policy admits all)")):
        n, r, _cpu = med(who)
        ratio = r / base_rate if base_rate else 0.0
        rows.append(Row(f"full read with policy, {label}", n, f"{r:,.0f}",
                        f"without policy {base_rate:,.0f}", f"{ratio:.2f}×", "",
                        "≥ 0.80× without", verdict(ratio >= 0.8)))
    print(f"thiqa read-policy benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};"
          f" {args.count:,} generated indicators, seed {args.seed}, {args.repeats} runs "
          f"(medians); took {(time.perf_counter() - started) / 60:.1f} min\n")
    print(table(rows))
    print("\nServer-side rate (objects per second of server CPU), medians: "
          + ", ".join(f"{w} {med(w)[2]:,.0f}" for w in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
