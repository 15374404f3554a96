"""Who may see a version, and whether a version may be re-shared (DESIGN.md rules 1-5).

This is the one place that decides visibility. :func:`visible` is the rule as a
predicate over one version; :func:`read_filter` and :func:`seen_filter` are the same
rule as a :class:`~thiqa.store.model.Visibility`, which the store translates into its
query (tests prove the two agree), so that a read never loads what it may not return.
Every read path — objects, object, versions, manifest, a page reached with a ``next``
cursor, DELETE — goes through :func:`read_filter`; writes judge duplicates and
re-sharing only against what :func:`seen_filter` admits.

Rule 1, as enforced: a version held in a collection is visible to an organisation
when the organisation may read the collection (:mod:`thiqa.access`: a member of the
collection's community, or granted on a plain collection) and either

- its TLP is CLEAR, GREEN, AMBER or AMBER+STRICT — everyone in scope; or
- it is TLP:RED (which includes "no TLP and no default", rule 5) and the
  organisation originated it or is one of its named recipients;

and, to every organisation, when it is TLP:CLEAR in a public collection (published
openly: ``Access.clear_only`` for those not otherwise in scope).

Admin keys see every version (they operate the node). PAP does not restrict
visibility: it says what a recipient may do with what it sees.

Re-sharing (rules 2-4, :func:`reshare_gate`): writing a version the writer can see
that another organisation originated, into a collection outside the scope it was
received in, is allowed for CLEAR; for GREEN only into a community's or agreement's
collection (a closed community) and only without originator control; never for
AMBER, AMBER+STRICT or RED. Writing it within the scope (another collection of the
same community) is not re-sharing. A release grant signed by the originator will
lift the refusal (a later version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thiqa.access import Access
from thiqa.auth import Principal
from thiqa.handling import Handling, Tlp
from thiqa.store.model import (
    EVERYTHING,
    NOTHING_VISIBLE,
    Collection,
    Gate,
    Held,
    Stamp,
    Visibility,
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whoever reads: an organisation, and whether the key is an admin key."""

    org_id: str
    is_admin: bool = False


def viewer(who: Principal) -> Viewer:
    return Viewer(who.org.id, who.is_admin)


@dataclass(frozen=True, slots=True)
class Version:
    """What the policy needs to know of a version held in a collection."""

    collection_pk: int
    originator: str
    handling: Handling


def visible(who: Viewer, version: Version, access: Access) -> bool:
    """Whether ``who`` may see ``version``; ``access`` is its access to the collection
    holding it."""
    if not access.can_read:
        return False
    if who.is_admin:
        return True
    h = version.handling
    if access.clear_only:
        return h.tlp is Tlp.CLEAR
    return h.tlp < Tlp.RED or who.org_id == version.originator or who.org_id in h.recipients


def _filter(who: Viewer, collections: frozenset[int] | None,
            clear_in: frozenset[int] = frozenset()) -> Visibility:
    if who.is_admin:
        return EVERYTHING if collections is None else Visibility(True, collections=collections)
    if collections is not None and not collections and not clear_in:
        return NOTHING_VISIBLE
    return Visibility(tlp_below=Tlp.RED, originator=who.org_id, recipient=who.org_id,
                      collections=collections, clear_in=clear_in)


def read_filter(who: Viewer, collection: Collection, access: Access) -> Visibility:
    """:func:`visible` for every version of ``collection``, as a store filter."""
    if access.can_read and access.clear_only and not who.is_admin:
        return Visibility(tlp_below=Tlp.GREEN, collections=frozenset((collection.pk,)))
    return _filter(who, frozenset((collection.pk,)) if access.can_read else frozenset())


def seen_filter(who: Viewer, readable: frozenset[int] | None,
                clear_in: frozenset[int] = frozenset()) -> Visibility:
    """:func:`visible` over the node: ``readable`` are the pks of the collections
    ``who`` may read (None: all of them), ``clear_in`` those it may read only the
    openly published (CLEAR) versions of."""
    return _filter(who, readable, clear_in - (readable or frozenset()))


# -- re-sharing (rules 2-4) -----------------------------------------------------------
_GRANT = ("; that needs a release grant signed by the originator: ask for one with "
          "POST /api/releases/")


def reshare(target: Collection, held: Held) -> str | None:
    """None when a version received as ``held`` may be written into ``target``, else
    the refusal, naming the rule. It says nothing of where the version is held."""
    if held.collection_pk == target.pk or (
            held.community_pk is not None and held.community_pk == target.community_pk):
        return None  # rule 4: within the scope the originator chose
    h = held.handling
    received = f"this version was received from another organisation as TLP:{h.tlp.label.upper()}"
    if h.tlp is Tlp.CLEAR:
        return None  # rule 3: CLEAR may go anywhere
    if h.tlp is Tlp.GREEN:
        if target.community_pk is None:
            return (f"rule 3: {received}, which may be shared onward only into a closed "
                    "community (a community's or agreement's collection)" + _GRANT)
        if h.originator_control:
            return (f"rule 3: {received} under originator control: it may not be shared "
                    "onward without the originator's consent" + _GRANT)
        return None
    return (f"rule 2: {received}, which may not leave the communities and recipients its "
            "originator shared it with" + _GRANT)


def _stricter(mine: Handling, theirs: Handling) -> Handling:
    """The handling of a forwarded copy: never less restrictive than what was received."""
    tlp = max(mine.tlp, theirs.tlp)
    recipients = theirs.recipients if theirs.tlp is Tlp.RED else mine.recipients
    return Handling(tlp, max(mine.pap, theirs.pap),
                    mine.originator_control or theirs.originator_control,
                    recipients if tlp is Tlp.RED else ())


def reshare_gate(target: Collection,
                 released: frozenset[tuple[str, str]] = frozenset()) -> Gate:
    """The store's gate for writes into ``target`` (see :class:`~thiqa.store.model.Origin`).

    Allowed when any copy the writer received allows it, or when its originator granted
    the writer the release of that object into ``target`` (``released``: (object id,
    originator) pairs whose signed grants the node verified); the new entry keeps that
    copy's originator (provenance stays with the originator) and the stricter of the
    two handlings, so forwarding never relaxes a marking.
    """

    def gate(object_id: str, stamp: Stamp, held: Sequence[Held]) -> Stamp | str:
        refusal = ""
        # Least restrictive first; ties in a fixed order, so the outcome never depends
        # on the order the store found the copies in.
        for copy in sorted(held, key=lambda h: (h.handling.tlp, h.collection_pk, h.originator)):
            why = None if (object_id, copy.originator) in released else reshare(target, copy)
            if why is None:
                return Stamp(copy.originator, _stricter(stamp.handling, copy.handling))
            refusal = refusal or why
        return refusal

    return gate
