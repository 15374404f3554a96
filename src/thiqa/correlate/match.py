"""Bulk matching of observed values against the observable index.

``Matcher.match`` takes any iterable of values (``kind:value`` or bare, see
:mod:`thiqa.correlate.detect`) and yields, in input order, one :class:`Result` per
value that matched something the caller may see. It works in batches: memory stays
flat whatever the input size. Every lookup key is first tested in the key filter
(:mod:`thiqa.correlate.keyfilter`, in memory): a key no row has goes no further. Per
batch, the keys left go to SQLite in one statement (a ``json_each`` join on the
index's primary key); only the few candidates found are joined to their entries and
bodies.

What an observed value matches (docs/correlation.md):

- the same normalised value (an exact indicator or SCO);
- an IP address: every indexed range containing it (one lookup per prefix length
  present in the index);
- a domain: indicators on ``%.parent`` for each parent domain (subdomain tests);
- a URL: the URL itself, and its host as a domain or IP address (``via: host``);
- LIKE prefix, suffix and contains tests of its family.

Only the latest version of an object in a collection matches (a newer version, a
revocation or a deletion supersedes it), and an indicator past ``valid_until`` does
not. Every candidate goes through :func:`may_see`, the one decision of whether the
caller may see an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any
from zlib import crc32

import orjson

from thiqa import policy
from thiqa.access import Access
from thiqa.correlate import normalise as n
from thiqa.correlate.detect import CANONICAL_QUAD, PREFIXES, Observed, detect
from thiqa.correlate.extract import CONTAINS, PREFIX
from thiqa.correlate.index import KEY_SEED, SUB_MARK, IndexReader
from thiqa.correlate.keyfilter import FilterKeeper, KeyFilter, Source
from thiqa.correlate.score import Model
from thiqa.correlate.warninglists import Warninglists
from thiqa.handling import Handling, Pap, Tlp
from thiqa.timestamps import parse_us

BATCH = 20_000
OBSERVE_CHUNK = 100_000  # recognised values handed to ``observe`` at once


@dataclass(frozen=True, slots=True)
class Audience:
    """Whose match this is: the collections (by pk) it may read and who reads (for the
    handling policy); None for both means everything (the node operator, an admin key).
    ``clear_only``: public collections it may read only the TLP:CLEAR versions of."""

    readable: frozenset[int] | None
    viewer: policy.Viewer | None = None
    clear_only: frozenset[int] = frozenset()


EVERYONE = Audience(None)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored entry that mentions an observed value, before the visibility check."""

    seq: int
    collection_pk: int
    object: dict[str, Any]
    tlp: int = int(Tlp.RED)
    originator: str = ""
    recipients: tuple[str, ...] = ()


def may_see(audience: Audience, candidate: Candidate) -> bool:
    """May this caller see this entry? Every match candidate passes here, and only here:
    read access to the entry's collection (:mod:`thiqa.access`), then the one handling
    policy (:func:`thiqa.policy.visible`: TLP:RED only for its originator and named
    recipients), so a match never reveals a version its reader could not read."""
    clear_only = candidate.collection_pk in audience.clear_only
    if (audience.readable is not None and candidate.collection_pk not in audience.readable
            and not clear_only):
        return False
    if audience.viewer is None:
        return True
    version = policy.Version(candidate.collection_pk, candidate.originator,
                             Handling(Tlp(candidate.tlp), Pap.RED, False, candidate.recipients))
    return policy.visible(audience.viewer, version, Access(True, False, clear_only))


@dataclass(frozen=True, slots=True)
class Hit:
    object_id: str
    type: str
    version: str
    collection: str
    confidence: int | None
    name: str | None
    valid_until: str | None
    created_by_ref: str | None
    matched: str  # the indexed value (a range, a parent domain, ...)
    mode: str     # '=', 'cidr', 'sub', 'prefix', 'suffix', 'contains'
    via: str      # 'value', or 'host' for the host of an observed URL
    tlp: int = int(Tlp.RED)  # the entry's thiqa.handling.Tlp (audit: AMBER+ is recorded)
    score: float | None = None  # the current score (thiqa.correlate.score)
    seq: int = 0             # the entry (internal: retro-hunt, sightings)
    collection_pk: int = 0
    originator: str = ""     # the entry's originating organisation
    family: str = ""         # the family of the matched observable (score lifetime)
    start_us: int = 0        # when its score starts to decay (valid_from, modified, added)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.object_id, "type": self.type, "version": self.version,
                "collection": self.collection, "confidence": self.confidence,
                "name": self.name, "valid_until": self.valid_until,
                "created_by_ref": self.created_by_ref, "matched": self.matched,
                "mode": self.mode, "via": self.via, "score": self.score}


@dataclass(slots=True)
class Result:
    value: str  # as submitted
    observed: Observed
    hits: list[Hit]
    known_benign: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "kind": self.observed.kind,
                "family": self.observed.family, "normalised": self.observed.value,
                "known_benign": self.known_benign,
                "matches": [h.as_json() for h in self.hits]}


@dataclass(slots=True)
class MatchStats:
    checked: int = 0
    recognised: int = 0
    matched: int = 0
    hits: int = 0


_Test = tuple[int, str, str, str, int | None]  # seq, kind, mode, value, valid_until


class _Tests:
    """LIKE tests of one family, by mode, grouped by length for prefix and suffix."""

    def __init__(self) -> None:
        self.prefix: dict[int, dict[str, list[_Test]]] = {}
        self.suffix: dict[int, dict[str, list[_Test]]] = {}
        self.contains: list[_Test] = []

    def add(self, t: _Test) -> None:
        if t[2] == CONTAINS:
            self.contains.append(t)
            return
        table = self.prefix if t[2] == PREFIX else self.suffix
        table.setdefault(len(t[3]), {}).setdefault(t[3], []).append(t)

    def find(self, v: str) -> Iterator[_Test]:
        for size, group in self.prefix.items():
            yield from group.get(v[:size], ())
        for size, group in self.suffix.items():
            if size <= len(v):
                yield from group.get(v[-size:], ())
        for t in self.contains:
            if t[3] in v:
                yield t


class Matcher:
    def __init__(self, reader: IndexReader, collection_ids: Callable[[], dict[int, str]],
                 warninglists: Warninglists | None = None,
                 now_us: Callable[[], int] | None = None,
                 model: Model | None = None) -> None:
        from thiqa.clock import system_now_us

        self.reader = reader
        self.collection_ids = collection_ids
        self.warninglists = warninglists or Warninglists()
        self.now_us = now_us or system_now_us
        self.model = model or Model()
        self._cache_mark = (-1, -1)
        self._prefixes: dict[str, list[int]] = {}
        self._subdomains = False
        self._tests: dict[str, _Tests] = {}
        self.keys = FilterKeeper(Source(reader.state, reader.rows, reader.keys_between),
                                 path=reader.filter_path())

    def _refresh(self) -> KeyFilter:
        """Bring the key filter up to date; reload the range lengths and LIKE tests when
        the index has moved."""
        flt = self.keys.current()
        mark = (flt.mark, flt.generation)
        if mark == self._cache_mark:
            return flt
        prefixes = self.reader.prefixes()
        self._subdomains = prefixes.pop(SUB_MARK, None) is not None
        self._prefixes = prefixes
        tests: dict[str, _Tests] = {}
        for seq, family, kind, mode, value, until in self.reader.tests():
            tests.setdefault(family, _Tests()).add((seq, kind, mode, value, until))
        self._tests = tests
        self._cache_mark = mark
        return flt

    def match(self, values: Iterable[str], audience: Audience = EVERYONE, *,
              stats: MatchStats | None = None, batch: int = BATCH,
              observe: Callable[[list[Observed]], None] | None = None) -> Iterator[Result]:
        """Results in input order, batch by batch; ``observe`` receives each batch's
        recognised values (retro-hunt keeps them)."""
        stats = stats if stats is not None else MatchStats()
        flt = self._refresh()
        collections = self.collection_ids()
        it = iter(values)
        kept: list[Observed] = []

        def keep(observed: list[Observed]) -> None:
            # Handed on in large chunks: fewer, larger transactions of kept values.
            kept.extend(observed)
            if observe is not None and len(kept) >= OBSERVE_CHUNK:
                observe(kept[:])
                kept.clear()

        while chunk := list(islice(it, batch)):
            yield from self._batch(chunk, audience, collections, stats, flt,
                                   None if observe is None else keep)
        if observe is not None and kept:
            observe(kept)

    # -- one batch -----------------------------------------------------------------------
    def _batch(self, chunk: list[str], audience: Audience, collections: dict[int, str],
               stats: MatchStats, flt: KeyFilter,
               observe: Callable[[list[Observed]], None] | None = None) -> Iterator[Result]:
        now = self.now_us()
        keys: list[int] = []
        owners: list[tuple[int, str, str]] = []  # per key: value position, via, lookup text
        found: dict[int, list[tuple[int, str, str, str, str]]] = {}  # pos -> seq,kind,mode,…
        # Families that need more than the one exact lookup (ranges, subdomains, LIKE
        # tests, a URL's host): every other value is one key, inlined here.
        more = {*self._prefixes, *self._tests, "url"}
        if self._subdomains:
            more.add("domain")
        observed = [detect(t) if isinstance(t, str) else None for t in chunk]
        bits, mask = flt.bits, flt.mask
        recognised = 0
        for pos, o in enumerate(observed):
            if o is None:
                continue
            recognised += 1
            family, _, value = o
            # The key filter first (keyfilter.py): most values are in no row, and a
            # clear bit says so without the second CRC or the database.
            b = f"{family}\0{value}".encode()
            low = crc32(b, KEY_SEED)
            p = low & mask
            if bits[p >> 3] >> (p & 7) & 1:
                keys.append((crc32(b) << 31) ^ low)
                owners.append((pos, "value", value))
            if family not in more:
                continue
            self._more(family, value, pos, "value", keys, owners, found, now, flt)
            if family == "url":
                # The host of a normalised URL is already a canonical address or name.
                host = n.url_host(o.value)
                if ":" in host or (host[:1].isdigit() and CANONICAL_QUAD.match(host)):
                    self._lookups("ipv6" if ":" in host else "ipv4", host, pos, "host", keys,
                                  owners, found, now, flt)
                elif host:
                    self._lookups("domain", host, pos, "host", keys, owners, found, now, flt)
        stats.checked += len(chunk)
        stats.recognised += recognised
        if observe is not None:
            observe([o for o in observed if o is not None])
        if keys:
            # Probing in key order walks the index's b-tree pages in order (fewer misses).
            order = sorted(range(len(keys)), key=keys.__getitem__)
            for qi, seq, kind, mode, value in self.reader.lookup([keys[i] for i in order], now):
                pos, via, text = owners[order[qi]]
                if value == text:  # a key collision never makes a match
                    found.setdefault(pos, []).append((seq, kind, mode, value, via))
        if not found:
            return
        entries = {r[0]: r for r in self.reader.entries(
            sorted({c[0] for cands in found.values() for c in cands}))}
        parsed: dict[int, Candidate | None] = {}
        results: list[Result] = []
        for pos in sorted(found):
            hits = self._hits(found[pos], entries, parsed, audience, collections)
            if not hits:
                continue
            o = observed[pos]
            assert o is not None
            stats.matched += 1
            stats.hits += len(hits)
            results.append(Result(chunk[pos], o, hits, self.warninglists.check(o)))
        self._score(results, entries, audience, now)
        yield from results

    def results_for(self, wanted: list[tuple[Observed, list[int]]],
                    audience: Audience) -> list[Result]:
        """Results for given entries (by seq) instead of a lookup: cross-organisation
        correlation asks what ``audience`` may see of the entries holding a value. Each
        entry passes :func:`may_see` and is scored as a match would be."""
        now = self.now_us()
        collections = self.collection_ids()
        entries = {r[0]: r for r in self.reader.entries(
            sorted({seq for _, seqs in wanted for seq in seqs}))}
        parsed: dict[int, Candidate | None] = {}
        results = []
        for o, seqs in wanted:
            hits = self._hits([(seq, o.kind, "=", o.value, "value") for seq in seqs], entries,
                              parsed, audience, collections)
            if hits:
                results.append(Result(o.value, o, hits, self.warninglists.check(o)))
        self._score(results, entries, audience, now)
        return results

    def _score(self, results: list[Result], entries: dict[int, tuple[Any, ...]],
               audience: Audience, now: int) -> None:
        """Give every hit its current score: one query for the sightings of the batch's
        hits, counted only where the caller may see them (a score must not reveal an
        invisible sighting)."""
        if not results:
            return
        seen: dict[str, tuple[int, int]] = {}  # object id -> (count, last seen)
        ids = sorted({h.object_id for r in results for h in r.hits})
        for oid, count, last, pk, tlp, originator, recipients in self.reader.sightings(ids):
            if may_see(audience, Candidate(0, pk, {}, tlp, originator,
                                           tuple(recipients.split()) if recipients else ())):
                n, latest = seen.get(oid, (0, 0))
                seen[oid] = (n + count, max(latest, last))
        for r in results:
            for i, h in enumerate(r.hits):
                n, latest = seen.get(h.object_id, (0, 0))
                r.hits[i] = replace(h, score=self.model.score(
                    confidence=h.confidence, originator=h.originator, family=h.family,
                    start_us=h.start_us, valid_until_us=_us(h.valid_until), sightings=n,
                    last_sighting_us=latest or None, now_us=now))

    def _lookups(self, family: str, value: str, pos: int, via: str, keys: list[int],
                 owners: list[tuple[int, str, str]],
                 found: dict[int, list[tuple[int, str, str, str, str]]], now: int,
                 flt: KeyFilter) -> None:
        _probe(flt, family, value, pos, via, keys, owners)
        self._more(family, value, pos, via, keys, owners, found, now, flt)

    def _more(self, family: str, value: str, pos: int, via: str, keys: list[int],
              owners: list[tuple[int, str, str]],
              found: dict[int, list[tuple[int, str, str, str, str]]], now: int,
              flt: KeyFilter) -> None:
        """The lookups of a value beyond its exact key: ranges containing an address,
        parent domains, LIKE tests."""
        if family == "domain":
            if self._subdomains:
                for parent in n.parents(value):
                    _probe(flt, SUB_MARK, parent, pos, via, keys, owners)
        elif family in self._prefixes and "/" not in value:
            got = n.ip(value)
            assert got is not None
            for plen in self._prefixes[family]:
                text = n.ip_text(family, n.network_of(family, got[1], plen), plen)
                _probe(flt, family, text, pos, via, keys, owners)
        tests = self._tests.get(family)
        if tests is not None:
            for seq, kind, mode, text, until in tests.find(value):
                if until is None or until > now:
                    found.setdefault(pos, []).append((seq, kind, mode, text, via))

    def _hits(self, cands: list[tuple[int, str, str, str, str]],
              entries: dict[int, tuple[Any, ...]], parsed: dict[int, Candidate | None],
              audience: Audience, collections: dict[int, str]) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[int] = set()
        for seq, kind, mode, matched, via in cands:
            if seq in seen:
                continue
            seen.add(seq)
            row = entries.get(seq)
            if row is None or not row[2]:  # deleted, or superseded by a later version
                continue
            if seq not in parsed:
                obj = orjson.loads(row[4])
                parsed[seq] = (Candidate(seq, row[1], obj, row[5], row[6],
                                         tuple(row[7].split()) if row[7] else ())
                               if isinstance(obj, dict) else None)
            cand = parsed[seq]
            if cand is None or not may_see(audience, cand):
                continue
            obj = cand.object
            confidence = obj.get("confidence")
            hits.append(Hit(str(obj.get("id")), str(obj.get("type")), str(row[3]),
                            collections.get(cand.collection_pk, ""),
                            confidence if isinstance(confidence, int) else None,
                            _text(obj.get("name")), _text(obj.get("valid_until")),
                            _text(obj.get("created_by_ref")), matched, mode, via, cand.tlp,
                            None, seq, cand.collection_pk, cand.originator,
                            KIND_FAMILY.get(kind, ""), _start_us(obj, int(row[8]))))
        return hits


def _probe(flt: KeyFilter, family: str, text: str, pos: int, via: str, keys: list[int],
           owners: list[tuple[int, str, str]]) -> None:
    """Queue the lookup of ``text`` in ``family`` unless the key filter rules it out
    (the key is :func:`thiqa.correlate.index.key`'s, computed in two steps)."""
    b = f"{family}\0{text}".encode()
    low = crc32(b, KEY_SEED)
    if low in flt:
        keys.append((crc32(b) << 31) ^ low)
        owners.append((pos, via, text))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _us(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_us(text)
    except ValueError:
        return None


def _start_us(obj: dict[str, Any], added_us: int) -> int:
    """When a version's score starts to decay: the later of ``valid_from`` and
    ``modified`` (what the producer last asserted), else when it was added here."""
    times = [t for t in (_us(_text(obj.get("valid_from"))), _us(_text(obj.get("modified"))))
             if t is not None]
    return max(times) if times else added_us


#: The score family of each observable kind (thiqa.correlate.score lifetimes).
KIND_FAMILY: dict[str, str] = {kind: family for family, kind in PREFIXES.values()}
