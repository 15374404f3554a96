"""The matcher's key filter (thiqa.correlate.keyfilter): it may say "maybe" for a value
that is not indexed, never "no" for one that is; it follows writes, deletions,
revocations and rebuilds, and a restarted matcher builds it again. On both stores."""

from __future__ import annotations

import random
from zlib import crc32

import pytest

from tests.correlate.conftest import Corr, ind
from thiqa.correlate.index import KEY_SEED, key
from thiqa.correlate.keyfilter import (
    BITS_PER_KEY,
    MAX_BITS_LOG2,
    MIN_BITS_LOG2,
    FilterKeeper,
    KeyFilter,
    Source,
    size_for,
)
from thiqa.correlate.service import Correlation
from thiqa.store.model import ALL


def _holds_every_key(c: Correlation) -> None:
    flt = c.matcher.keys.current()
    mark, generation = c.reader.state()
    assert (flt.mark, flt.generation) == (mark, generation)
    indexed = c.reader.keys_between(0, mark)
    assert indexed and all(k in flt for k in indexed)


def test_the_filter_tests_the_low_bits_of_the_key() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        family = rng.choice(["ipv4", "domain", "hash", "domain.sub", "url"])
        text = "".join(rng.choice("abc.019:/é") for _ in range(rng.randrange(1, 30)))
        k = key(family, text)
        assert 0 <= k < 2**63
        # What the matcher computes first: the seeded CRC, the key's low 31 bits.
        assert k & (2**31 - 1) == crc32(f"{family}\0{text}".encode(), KEY_SEED) & (2**31 - 1)
    f = KeyFilter(MIN_BITS_LOG2)
    keys = [rng.getrandbits(63) for _ in range(500)]
    f.add(keys)
    assert all(k in f for k in keys)
    assert f.added == 500 and not f.crowded()
    f.add(range(f.mask // 16))
    assert f.crowded()


def test_sizes_are_bounded() -> None:
    assert size_for(0) == MIN_BITS_LOG2
    assert 2**size_for(10_199_827) == 2**29  # 10M indicators' rows: 64 MiB
    assert 2**size_for(10_199_827) >= 10_199_827 * BITS_PER_KEY
    assert size_for(10**12) == MAX_BITS_LOG2  # 256 MiB at most
    with pytest.raises(ValueError):
        KeyFilter(MAX_BITS_LOG2 + 1)


def test_false_positives_never_match(corr: Corr) -> None:
    corr.add("shared", ind(1, "[ipv4-addr:value = '5.6.7.8']"))
    flt = corr.correlation.matcher.keys.current()
    assert flt.mask == 2**MIN_BITS_LOG2 - 1  # one row: the smallest filter
    target = key("ipv4", "5.6.7.8") & flt.mask
    # Addresses that are not indexed but whose key has the indexed one's bit.
    twins = [v for i in range(400_000) if (key("ipv4", v := f"11.{i >> 16}.{(i >> 8) & 255}."
                                                            f"{i & 255}") & flt.mask) == target]
    assert len(twins) >= 2
    assert all(key("ipv4", v) in flt for v in twins)
    got = corr.match("5.6.7.8", *twins)
    assert list(got) == ["5.6.7.8"]


def test_the_filter_changes_no_answer(corr: Corr) -> None:
    """The same values with the filter and with one that holds every bit (every value
    looked up, as before the filter): the same results."""
    rng = random.Random(11)
    objs, hashes = [], []
    for i in range(1, 120):
        r = i % 4
        if r == 0:
            objs.append(ind(i, f"[ipv4-addr:value = '10.{i}.{rng.randrange(256)}.1']"))
        elif r == 1:
            objs.append(ind(i, f"[domain-name:value LIKE '%.d{i}.example']"))
        elif r == 2:
            objs.append(ind(i, f"[ipv4-addr:value ISSUBSET '172.{i}.0.0/16']"))
        else:
            hashes.append(f"{rng.getrandbits(256):064x}")
            objs.append(ind(i, f"[file:hashes.'SHA-256' = '{hashes[-1]}']"))
    corr.add("shared", *objs)
    values = [f"10.{i}.{j}.1" for i in range(120) for j in range(0, 256, 16)]
    values += [f"h.d{i}.example" for i in range(150)] + [f"172.{i}.3.4" for i in range(150)]
    values += [f"http://x.d{i}.example/p" for i in range(150)]
    values += [f"{rng.getrandbits(256):064x}" for _ in range(200)] + hashes
    matcher = corr.correlation.matcher
    with_filter = [(r.value, [h.object_id for h in r.hits]) for r in matcher.match(values)]
    assert len(with_filter) > 120
    full = KeyFilter(MIN_BITS_LOG2, *reversed(corr.correlation.reader.state()))
    full.bits[:] = b"\xff" * len(full.bits)
    matcher.keys._filter = full
    assert matcher.keys.current() is full
    without = [(r.value, [h.object_id for h in r.hits]) for r in matcher.match(values)]
    assert with_filter == without


def test_writes_deletions_and_revocations_keep_it_in_step(corr: Corr) -> None:
    c = corr.correlation
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    assert corr.ids("1.1.1.1") == ["01"]
    builds = c.matcher.keys.builds
    corr.add("shared", ind(2, "[domain-name:value = 'new.example']"),
             ind(3, "[ipv4-addr:value = '3.3.3.3']"))
    assert corr.ids("new.example") == ["02"] and corr.ids("3.3.3.3") == ["03"]
    assert c.matcher.keys.builds == builds  # grown from the index, not built again
    _holds_every_key(c)
    corr.add("shared", ind(2, "[domain-name:value = 'new.example']", revoked=True,
                           modified="2024-02-01T00:00:00.000Z"))
    assert corr.ids("new.example") == []
    corr.node.delete(corr.a, "shared", ind(3, "")["id"], ALL, ())  # type: ignore[arg-type]
    assert corr.ids("3.3.3.3") == []  # its bit stays: a lookup, no match
    corr.add("shared", ind(3, "[ipv4-addr:value = '3.3.3.3']",
                           modified="2024-03-01T00:00:00.000Z"))
    assert corr.ids("3.3.3.3") == ["03"]
    _holds_every_key(c)


def test_a_rebuild_builds_it_again(corr: Corr) -> None:
    c = corr.correlation
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    assert corr.ids("1.1.1.1") == ["01"]
    generation = c.reader.state()[1]
    builds = c.matcher.keys.builds
    c.indexer.rebuild()
    assert c.reader.state() == (0, generation + 1)
    assert corr.ids("1.1.1.1") == []
    c.indexer.catch_up()
    assert corr.ids("1.1.1.1") == ["01"]
    assert c.matcher.keys.builds == builds + 1  # at the new generation; then grown
    _holds_every_key(c)


def test_a_restarted_matcher_builds_it_from_the_index(corr: Corr) -> None:
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"),
             ind(2, "[ipv4-addr:value ISSUBSET '10.0.0.0/8']"))
    assert corr.ids("10.1.2.3") == ["02"]
    corr.correlation.close()
    # Written while the matcher was down (another process's indexer, say).
    corr.node.add_objects(corr.a, "shared", [ind(3, "[domain-name:value = 'late.example']")])
    from thiqa.correlate.service import open_index

    indexer, reader = open_index(corr.node.store)
    indexer.catch_up()
    indexer.close()
    reader.close()
    again = Correlation(corr.node.settings, corr.node.store, corr.clock)
    try:
        assert again.matcher.keys.builds == 0
        got = {r.value: sorted(h.object_id[-2:] for h in r.hits) for r in
               again.matcher.match(["1.1.1.1", "10.1.2.3", "2.2.2.2", "late.example"])}
        assert got == {"1.1.1.1": ["01"], "10.1.2.3": ["02"], "late.example": ["03"]}
        kept = again.reader.filter_path() is not None  # SQLite: beside the database
        assert again.matcher.keys.loaded is kept
        assert again.matcher.keys.builds == (0 if kept else 1)
        _holds_every_key(again)
    finally:
        again.close()
        corr.correlation = Correlation(corr.node.settings, corr.node.store, corr.clock)


def test_a_kept_filter_is_used_only_when_it_fits(corr: Corr) -> None:
    """The file of another generation, one whose mark is above the index's, or a
    damaged one, is built again; never trusted."""
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    path = corr.correlation.reader.filter_path()
    if path is None:
        pytest.skip("PostgreSQL keeps no filter file")
    assert corr.ids("1.1.1.1") == ["01"]
    good = KeyFilter.load(path)
    assert good is not None and good.mark == corr.correlation.reader.state()[0]

    def restarted() -> FilterKeeper:
        c = Correlation(corr.node.settings, corr.node.store, corr.clock)
        try:
            assert sorted(h.object_id[-2:] for r in c.matcher.match(["1.1.1.1"])
                          for h in r.hits) == ["01"]
            return c.matcher.keys
        finally:
            c.close()

    for bad in (KeyFilter(MIN_BITS_LOG2, good.generation + 1, good.mark),
                KeyFilter(MIN_BITS_LOG2, good.generation, good.mark + 10)):
        bad.save(path)  # empty: it would hide 1.1.1.1
        keeper = restarted()
        assert not keeper.loaded and keeper.builds == 1
    path.write_bytes(path.read_bytes()[:-1])  # cut short
    assert KeyFilter.load(path) is None
    keeper = restarted()
    assert not keeper.loaded and keeper.builds == 1
    assert restarted().loaded  # the one built just now was kept


def test_a_crowded_filter_is_built_again_larger(corr: Corr) -> None:
    corr.add("shared", ind(1, "[ipv4-addr:value = '1.1.1.1']"))
    keeper = corr.correlation.matcher.keys
    first = keeper.current()
    assert first.mask + 1 == 2**MIN_BITS_LOG2
    # 2**16 bits take 4,096 rows before they are crowded: add more in a few writes.
    n = 4_200
    for start in range(2, n + 2, 1_400):
        corr.add("shared", *(ind(i, f"[ipv4-addr:value = '10.{i >> 16}.{(i >> 8) & 255}."
                                    f"{i & 255}']") for i in range(start, start + 1_400)))
    got = keeper.current()
    assert got is not first and got.mask + 1 > 2**MIN_BITS_LOG2
    assert not got.crowded()
    assert corr.ids("10.0.16.100") == ["96"]  # indicator 4,196, of the last write
    _holds_every_key(corr.correlation)


def test_the_keeper_fills_by_ranges() -> None:
    """A build reads the keys range by range of seq, never the whole index at once."""
    rows = {seq: seq * 7919 for seq in range(1, 1001)}
    asked: list[tuple[int, int]] = []

    def keys(lo: int, hi: int) -> list[int]:
        asked.append((lo, hi))
        return [k for s, k in rows.items() if lo < s <= hi]

    keeper = FilterKeeper(Source(lambda: (1000, 3), lambda: len(rows), keys), chunk=300)
    f = keeper.current()
    assert asked == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert all(k in f for k in rows.values()) and f.generation == 3 and f.mark == 1000
