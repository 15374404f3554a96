"""thiqa's reader against its peer, ijson (yajl2_c backend), on the same files.

    python bench/reader_compare.py FILE [FILE…]

Both produce what ``thiqa load`` consumes: batches of 1,000 ``Item(obj, raw, where)``.
ijson has no raw text, so its row includes the ``orjson.dumps`` that would make one
(``--no-raw`` leaves it out). Each (reader, file) runs in a fresh process so that its
peak RSS is its own; objects/s is over CPU time, which other load on the machine
disturbs less than wall time (both are shown).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ijson
import orjson

# Runs from a checkout whether or not thiqa is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from thiqa.reader import Item, read_objects

READERS = ("thiqa", "ijson")


def ijson_batches(path: Path, raw: bool = True, batch: int = 1000) -> Iterator[list[Item]]:
    with path.open("rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        out: list[Item] = []
        for i, obj in enumerate(ijson.items(f, "objects.item", use_float=True)):
            out.append(Item(obj, orjson.dumps(obj) if raw else b"", f"{path}: objects[{i}]"))
            if len(out) >= batch:
                yield out
                out = []
        if out:
            yield out


def _one(reader: str, path: Path, raw: bool) -> dict[str, float]:
    batches = read_objects(path) if reader == "thiqa" else ijson_batches(path, raw)
    wall, cpu, n = time.perf_counter(), time.process_time(), 0
    for batch in batches:
        n += len(batch)
    return {"objects": n, "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--no-raw", action="store_true", help="ijson without orjson.dumps")
    ap.add_argument("--one", choices=READERS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.files[0], not args.no_raw)))
        return 0
    header = (f"{'file':<40} {'reader':<16} {'objects':>10} {'cpu s':>7} {'wall s':>7} "
              f"{'objects/s':>10} {'peak RSS MB':>11}")
    print(header)
    print("-" * len(header))
    for path in args.files:
        for reader in READERS:
            cmd = [sys.executable, __file__, "--one", reader, str(path)]
            if args.no_raw:
                cmd.append("--no-raw")
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                          text=True).stdout)
            label = reader if reader == "thiqa" or args.no_raw else "ijson + dumps"
            print(f"{path.name:<40} {label:<16} {r['objects']:>10,.0f} {r['cpu']:>7.2f} "
                  f"{r['wall']:>7.2f} {r['objects'] / r['cpu']:>10,.0f} {r['rss_mb']:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
