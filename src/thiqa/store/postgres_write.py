"""The PostgreSQL store's write path: one ``add_versions`` (or bulk ``add``) batch.

The decisions are sqlite.py's ``_Writer``'s (dedupe, immutability, the re-sharing gate,
first/last flags, handling stamps); what differs is how rows reach the database (one
lookup by id array, binary ``COPY`` of versions, entries and RED recipients) and how
``seq`` and version ids are drawn (a block of a sequence, under the write lock).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from thiqa.handling import Handling, Marks, Pap, Tlp
from thiqa.store import heads
from thiqa.store.model import Held, NewVersion, Origin, Outcome, Provenance, Stamp
from thiqa.store.postgres_provenance import record_provenance
from thiqa.store.postgres_sql import Cursor, copy_rows, update_flags, visible
from thiqa.timestamps import format_us, version_key

# Every collection's entries of a batch's ids, with their versions. One index probe per
# id, whatever the planner knows: the lateral subquery (OFFSET 0 keeps it one) is run for
# each id. As a join on "object_id = ANY(ids)" it was planned, in a load into a young
# node whose statistics lag behind its rows, as sequential scans of all of entries and
# versions for every batch: 1 ms a batch at the start of a 200,000-object load, 50-100
# ms by its end. The ids travel as one newline-separated text that the server splits:
# psycopg dumps a list parameter element by element in Python (a tenth of a bulk load's
# writer time); a STIX id never holds a newline (validated before here).
_LOOKUP = ("SELECT e.seq, e.collection_pk, e.object_id, e.vkey, e.vid, e.is_first, "
           "e.is_last, e.version, e.digest, e.originator, e.tlp, e.pap, "
           "e.originator_control, c.community_pk, e.seen "
           "FROM unnest(string_to_array(%s, E'\\n')) AS k(id) CROSS JOIN LATERAL ("
           "SELECT e.seq, e.collection_pk, e.object_id, e.vkey, e.vid, e.is_first, e.is_last, "
           "v.version, v.digest, e.originator, e.tlp, e.pap, e.originator_control, "
           "{seen} AS seen FROM entries e JOIN versions v ON v.vid = e.vid "
           "WHERE e.object_id = k.id OFFSET 0) e JOIN collections c ON c.pk = e.collection_pk")
# Ids per lookup: few round trips, a bounded parameter.
_CHUNK = 10_000

_VERSION_COLS = ("vid", "object_id", "vkey", "digest", "version", "type", "spec_version",
                 "body")
_VERSION_TYPES = ("int8", "text", "text", "bytea", "text", "text", "text", "bytea")
_ENTRY_COLS = ("seq", "collection_pk", "vid", "object_id", "type", "vkey", "spec_version",
               "date_added", "is_first", "is_last", "originator", "tlp", "pap",
               "originator_control")
_ENTRY_TYPES = ("int8", "int8", "int8", "text", "text", "text", "text", "int8", "bool",
                "bool", "text", "int2", "int2", "bool")


def _same_json(a: bytes, b: bytes) -> bool:
    return a == b or bool(orjson.loads(a) == orjson.loads(b))


class Writer:
    """One add_versions transaction: dedupe, assign dates, keep first/last flags, stamp
    each entry with its originator and handling (see :class:`thiqa.store.sqlite._Writer`,
    whose decisions this repeats). Runs under the write lock (:class:`PostgresStore`).
    """

    def __init__(self, cx: Cursor, collection_pk: int, now_us: int, origin: Origin) -> None:
        self.cx = cx
        self.pk = collection_pk
        self.origin = origin
        row = cx.execute("SELECT last_added FROM clock").fetchone()
        assert row is not None
        self.next_added = max(now_us, int(row[0]) + 1)

    def add(self, items: Sequence[NewVersion],
            provenance: Provenance | None = None) -> list[Outcome]:
        ids = list({it.id for it in items})
        shared: dict[tuple[str, str, bytes], int] = {}  # (id, vkey, digest) -> vid, any collection
        here: dict[tuple[str, str], int] = {}           # (id, vkey) -> vid seen in this collection
        unversioned: dict[str, tuple[str, str]] = {}    # id -> (vkey, version) seen here
        held: dict[str, list[heads.Held]] = defaultdict(list)
        foreign: dict[tuple[str, str], list[tuple[int, Held]]] = defaultdict(list)
        seen_sql, seen_params = visible(self.origin.sees, "e")
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            # Every collection's entries of these ids: the versions they hold are the
            # versions of these ids on the node (see migration 0003).
            for (seq, cpk, oid, vkey, vid, first, last, version, digest, originator, tlp, pap,
                 control, community_pk, seen) in self.cx.execute(_LOOKUP.format(
                    seen=seen_sql or "TRUE"), ["\n".join(chunk), *seen_params]):
                shared[(oid, vkey, bytes(digest))] = vid
                if cpk == self.pk:
                    held[oid].append(heads.Held(seq, vkey, first, last))
                    if seen:
                        here[(oid, vkey)] = vid
                        unversioned.setdefault(oid, (vkey, version))
                if seen and originator != self.origin.originator:
                    foreign[(oid, vkey)].append((seq, Held(
                        cpk, community_pk, originator,
                        Handling(Tlp(tlp), Pap(pap), control))))
        recipients = self._recipients(foreign)

        created: dict[int, bytes] = {}  # bodies of the versions this batch creates, by vid
        version_rows: list[list[Any]] = []
        entry_rows: list[tuple[NewVersion, int, str, int, Stamp]] = []
        stamps: dict[Marks, Stamp] = {}
        outcomes: list[Outcome] = []
        vouched: list[tuple[int, int]] = []  # (vid, item index) of new bodies to vouch for
        # Version ids are drawn below, once their number is known; until then a new
        # version is known by a negative placeholder.
        placeholder = 0
        for index, it in enumerate(items):
            vkey, version = it.vkey, it.version
            if vkey is None or version is None:
                # No created/modified (most SCOs): the object has one version in a
                # collection, dated by its first arrival there (TAXII 2.1 §4.3.1
                # "consistent to the server").
                prior = unversioned.get(it.id)
                if prior is None:
                    version = format_us(self.next_added)
                    vkey = version_key(version)
                    unversioned[it.id] = (vkey, version)
                else:
                    vkey, version = prior
            key = (it.id, vkey)
            if key in here:
                vid = here[key]
                if _same_json(created[vid] if vid in created else self._body(vid), it.body):
                    # TAXII 2.1 §5.5: an exact duplicate is not an error.
                    outcomes.append(Outcome(it.id, version, True))
                else:
                    outcomes.append(Outcome(it.id, version, False,
                                            "a different object with this id and version is "
                                            "already in this collection; versions are "
                                            "immutable, so publish a new version with a later "
                                            "'modified'"))
                continue
            # Feeds repeat a handful of markings: resolve each distinct one once per batch.
            stamp = stamps.get(it.marks)
            if stamp is None:
                stamp = stamps[it.marks] = Stamp(self.origin.originator,
                                                 it.marks.resolve(self.origin.defaults))
            received = foreign.get(key)
            if received:
                decided = self.origin.gate(it.id, stamp, [_with_recipients(h, recipients.get(seq))
                                                   for seq, h in received])
                if isinstance(decided, str):
                    outcomes.append(Outcome(it.id, version, False, decided))
                    continue
                stamp = decided
            digest = hashlib.blake2b(it.body, digest_size=16).digest()
            vid = shared.get((it.id, vkey, digest), 0)
            if not vid:
                placeholder -= 1
                vid = placeholder
                version_rows.append([vid, it.id, vkey, digest, version, it.type,
                                     it.spec_version, it.body])
                shared[(it.id, vkey, digest)] = vid
                created[vid] = it.body
                if provenance is not None and stamp.originator == self.origin.originator:
                    vouched.append((vid, index))
            here[key] = vid
            entry_rows.append((it, vid, vkey, self.next_added, stamp))
            self.next_added += 1
            outcomes.append(Outcome(it.id, version, True))

        if not entry_rows:
            return outcomes
        flags, updates = heads.plan(held, [(row[0].id, row[2]) for row in entry_rows])
        first_vid = self._draw("versions_vid_seq", len(version_rows))
        for row in version_rows:
            row[0] = first_vid - 1 - row[0]  # placeholder -1, -2, ... -> first_vid, +1, ...
        copy_rows(self.cx, "versions", _VERSION_COLS, _VERSION_TYPES, version_rows)
        seq = self._draw("entries_seq_seq", len(entry_rows))
        rows: list[tuple[Any, ...]] = []
        red: list[tuple[int, str]] = []
        levels: dict[Handling, tuple[int, int, bool]] = {}
        for (it, vid, vkey, added, stamp), (first, last) in zip(entry_rows, flags, strict=True):
            h = stamp.handling
            level = levels.get(h)
            if level is None:
                level = levels[h] = (int(h.tlp), int(h.pap), bool(h.originator_control))
            rows.append((seq, self.pk, vid if vid > 0 else first_vid - 1 - vid, it.id, it.type,
                         vkey, it.spec_version, added, first, last, stamp.originator, *level))
            red.extend((seq, org) for org in h.recipients)
            seq += 1
        copy_rows(self.cx, "entries", _ENTRY_COLS, _ENTRY_TYPES, rows)
        copy_rows(self.cx, "red_recipients", ("seq", "org_id"), ("int8", "text"), red)
        update_flags(self.cx, updates)
        if provenance is not None and vouched:
            record_provenance(self.cx, provenance,
                              [(first_vid - 1 - vid, index) for vid, index in vouched])
        # The log's head moves with the entries, in their transaction (pg_migrations/0008).
        self.cx.execute("UPDATE clock SET last_added = %s, head = %s",
                        (self.next_added - 1, seq - 1))
        return outcomes

    def _draw(self, sequence: str, n: int) -> int:
        """The first of ``n`` consecutive values of ``sequence`` (consecutive because
        every writer draws under the write lock)."""
        if n == 0:
            return 0
        row = self.cx.execute("SELECT setval(%s, nextval(%s) + %s - 1)",
                              (sequence, sequence, n)).fetchone()
        assert row is not None
        return int(row[0]) - n + 1

    def _recipients(self, foreign: dict[tuple[str, str], list[tuple[int, Held]]]
                    ) -> dict[int, tuple[str, ...]]:
        """The named recipients of the RED versions among ``foreign``, by entry seq."""
        seqs = [seq for found in foreign.values() for seq, h in found
                if h.handling.tlp is Tlp.RED]
        out: dict[int, list[str]] = defaultdict(list)
        if seqs:
            for seq, org in self.cx.execute("SELECT seq, org_id FROM red_recipients WHERE "
                                            "seq = ANY(%s)", (seqs,)):
                out[seq].append(org)
        return {seq: tuple(orgs) for seq, orgs in out.items()}

    def _body(self, vid: int) -> bytes:
        row = self.cx.execute("SELECT body FROM versions WHERE vid = %s", (vid,)).fetchone()
        assert row is not None
        return bytes(row[0])


def _with_recipients(h: Held, recipients: tuple[str, ...] | None) -> Held:
    if not recipients:
        return h
    x = h.handling
    return Held(h.collection_pk, h.community_pk, h.originator,
                Handling(x.tlp, x.pap, x.originator_control, recipients))
