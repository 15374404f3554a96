"""taxii2-client (OASIS) against a real ``thiqa serve`` process: every TAXII 2.1 endpoint
(§4, §5) as a real client calls it, with real ATT&CK objects read back JSON-equal.

taxii2-client's ``as_pages`` loops forever when a server answers ``more: true`` without
``next``; every paging test here is bounded and proves the server never does that.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from taxii2client.exceptions import AccessError, ValidationError
from taxii2client.v21 import ApiRoot, Collection, Server, Status, as_pages

from tests.conftest import TAXII
from tests.e2e.conftest import (
    CONTACT,
    MAX_CONTENT_LENGTH,
    PAGE_SIZE,
    STIX,
    TITLE,
    BearerAuth,
    Node,
    ics_objects,
    ics_raw,
    ics_sample,
    pick,
    version_of,
)

# A TAXII timestamp: UTC, "Z", exactly microsecond precision (TAXII 2.1 §2).
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
EVERY_COLLECTION = ("default", "attack", "scratch", "shared", "dropbox")
NOWHERE = "5a0b2c11-9d6e-4f3a-8b7c-0d1e2f3a4b5c"  # a collection id no node has


def collection(node: Node, alias: str, who: str = "admin") -> Collection:
    """A Collection as a user builds it: by URL, with the key as the Basic password."""
    return Collection(node.collection_url(alias), user=who, password=node.keys[who])


def unchecked(node: Node, alias: str, who: str) -> Collection:
    """A Collection that believes it may read and write, so the server, not taxii2-client's
    own can_read/can_write check, decides."""
    info = {"id": node.collections[alias], "title": alias, "can_read": True, "can_write": True}
    return Collection(node.collection_url(alias), user=who, password=node.keys[who],
                      collection_info=info)


def paged(func: Callable[..., Any], per_request: int, expected_pages: int,
          **filters: Any) -> list[dict[str, Any]]:
    """Every envelope ``as_pages`` yields, pulling at most one page more than expected so
    that a server which never ends paging fails the test instead of hanging it."""
    pages: list[dict[str, Any]] = list(itertools.islice(
        as_pages(func, per_request=per_request, **filters), expected_pages + 1))
    assert len(pages) == expected_pages, f"{len(pages)} pages, expected {expected_pages}"
    for page in pages[:-1]:
        # §3.4/§3.5: more=true; thiqa always sends next with it (taxii2-client needs it).
        assert page.get("more") is True, page.keys()
        assert isinstance(page.get("next"), str) and page["next"], "more=true without next"
    assert pages[-1].get("more", False) is False
    return pages


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {o["id"]: o for o in objects}
    assert len(out) == len(objects), "an object came back twice"
    return out


def assert_taxii_error(response: requests.Response, status: int) -> None:
    """A TAXII error message (§3.6.1) with the HTTP status, as TAXII JSON."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == TAXII
    body = response.json()
    assert body["http_status"] == str(status) and body["title"] and body["description"]


def http_error(call: Callable[[], Any]) -> requests.Response:
    """The response of a taxii2-client call that must fail with an HTTP error."""
    with pytest.raises(requests.HTTPError) as info:
        call()
    response: requests.Response = info.value.response
    return response


@pytest.fixture(scope="module")
def attack(node: Node) -> tuple[list[dict[str, Any]], Status]:
    """553 real ATT&CK objects, added once to ``attack`` in one envelope; the Status."""
    sample = ics_sample()
    status = collection(node, "attack").add_objects(
        {"objects": sample}, wait_for_completion=True, poll_interval=0.1, timeout=10)
    return sample, status


# -- server information (§4) ---------------------------------------------------------------
def test_discovery(node: Node) -> None:
    server = Server(node.discovery_url, user="anyone", password=node.keys["b_reader"])
    assert (server.title, server.contact) == (TITLE, CONTACT)  # --title, --contact (§4.1.1)
    assert server.description
    assert [root.url for root in server.api_roots] == [node.api_root_url]
    assert server.default is server.api_roots[0]  # default MUST be one of api_roots


def test_discovery_api_roots_are_https_or_relative_urls(node: Node) -> None:
    """§4.1.1: "API Root URLs MUST be HTTPS absolute URLs or relative URLs" (beginning with
    a single "/"). On plain-HTTP loopback only a relative URL complies; it also keeps the
    request's Host header out of the answer."""
    d = httpx.get(node.discovery_url, headers=node.headers("b_reader")).json()
    for url in [*d["api_roots"], d["default"]]:
        assert url.startswith("https://") or (url.startswith("/") and not
                                              url.startswith("//")), url


def test_api_root_information(node: Node) -> None:
    root = ApiRoot(node.api_root_url, user="anyone", password=node.keys["b_reader"])
    assert root.title == TITLE
    assert root.versions == [TAXII]  # §4.2.1
    assert root.max_content_length == MAX_CONTENT_LENGTH  # the --max-content-length flag


EXPECTED_ACCESS = {
    "admin": dict.fromkeys(EVERY_COLLECTION, (True, True)),
    "a_analyst": dict.fromkeys(EVERY_COLLECTION, (True, True)),
    "b_analyst": {"shared": (True, False), "dropbox": (False, True)},
    "b_reader": {"shared": (True, False)},  # a reader never writes: dropbox is not there
}


@pytest.mark.parametrize("who", sorted(EXPECTED_ACCESS))
def test_collections_with_can_read_and_can_write_per_key(node: Node, who: str) -> None:
    listed = ApiRoot(node.api_root_url, user=who, password=node.keys[who]).collections
    assert {c.alias: (c.can_read, c.can_write) for c in listed} == EXPECTED_ACCESS[who]
    for c in listed:
        assert c.id == node.collections[c.alias] and c.media_types == [STIX]
        one = Collection(c.url, user=who, password=node.keys[who])  # Get a Collection (§5.2)
        assert (one.id, one.title, one.alias, one.can_read, one.can_write) == (
            c.id, c.title, c.alias, c.can_read, c.can_write)


# -- adding objects and their status (§5.5, §4.3) ------------------------------------------
def test_add_objects_returns_a_complete_status_listing_every_object(
        attack: tuple[list[dict[str, Any]], Status]) -> None:
    sample, status = attack
    assert status.status == "complete"  # processed before the 202 was sent
    assert uuid.UUID(status.id).version == 4  # an identifier (§2)
    assert TIMESTAMP.match(status.request_timestamp)
    assert (status.total_count, status.success_count, status.failure_count,
            status.pending_count) == (len(sample), len(sample), 0, 0)
    assert sorted((d["id"], d["version"]) for d in status.successes) == sorted(
        (o["id"], version_of(o)) for o in sample)
    assert status.failures == [] and status.pendings == []  # empty lists are omitted


def test_status_is_polled_by_its_organisation_only(
        node: Node, attack: tuple[list[dict[str, Any]], Status]) -> None:
    _, status = attack
    before = dict(status._raw)
    status.refresh()  # GET {api-root}/status/{id}/ at the URL taxii2-client derives
    assert status._raw == before
    same_org = ApiRoot(node.api_root_url, user="x", password=node.keys["a_analyst"])
    assert same_org.get_status(status.id)._raw == before
    other_org = ApiRoot(node.api_root_url, user="x", password=node.keys["b_analyst"])
    assert_taxii_error(http_error(lambda: other_org.get_status(status.id)), 404)


# -- reading and paging (§3.3-§3.5, §5.3, §5.4) ----------------------------------------------
@pytest.mark.parametrize("per_request", [37, PAGE_SIZE, 1000])
def test_as_pages_ends_and_returns_every_object_as_posted(
        node: Node, attack: tuple[list[dict[str, Any]], Status], per_request: int) -> None:
    sample, _ = attack
    size = min(per_request, PAGE_SIZE)  # the server's page size caps a larger limit (§3.4)
    pages = paged(collection(node, "attack", "a_analyst").get_objects, per_request,
                  math.ceil(len(sample) / size))
    assert all(len(p["objects"]) <= size for p in pages)
    assert by_id([o for p in pages for o in p["objects"]]) == by_id(sample)


def test_manifest_pages_in_strictly_increasing_date_added_order(
        node: Node, attack: tuple[list[dict[str, Any]], Status]) -> None:
    sample, _ = attack
    pages = paged(collection(node, "attack").get_manifest, 50, math.ceil(len(sample) / 50))
    records = [r for p in pages for r in p["objects"]]
    assert sorted((r["id"], r["version"]) for r in records) == sorted(
        (o["id"], version_of(o)) for o in sample)
    assert {r["media_type"] for r in records} == {STIX}
    added = [r["date_added"] for r in records]
    assert all(TIMESTAMP.match(a) for a in added)
    assert added == sorted(added) and len(set(added)) == len(added)  # §3.3, never a tie


@pytest.mark.parametrize(("types", "per_request"), [
    (("relationship",), 30),
    (("malware", "intrusion-set"), 7),
    (("x-mitre-tactic",), 5),
])
def test_as_pages_with_a_type_filter(node: Node, attack: tuple[list[dict[str, Any]], Status],
                                     types: tuple[str, ...], per_request: int) -> None:
    want = [o for o in attack[0] if o["type"] in types]
    pages = paged(collection(node, "attack").get_objects, per_request,
                  math.ceil(len(want) / per_request), type=list(types))
    assert by_id([o for p in pages for o in p["objects"]]) == by_id(want)


def test_paging_by_added_after_and_the_date_added_last_header(
        node: Node, attack: tuple[list[dict[str, Any]], Status]) -> None:
    """§3.5's other way to page: added_after = the previous X-TAXII-Date-Added-Last."""
    sample, _ = attack
    seen: list[dict[str, Any]] = []
    params = {"limit": "60"}
    with httpx.Client(headers=node.headers("admin")) as http:
        for _ in range(math.ceil(len(sample) / 60)):
            r = http.get(node.collection_url("attack") + "objects/", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            seen += body["objects"]
            if not body.get("more"):
                break
            params = {"limit": "60", "added_after": r.headers["X-TAXII-Date-Added-Last"]}
        else:
            pytest.fail("paging by added_after did not end")
    assert by_id(seen) == by_id(sample)


def test_get_object_and_object_versions(node: Node,
                                        attack: tuple[list[dict[str, Any]], Status]) -> None:
    sample, _ = attack
    one_per_type = list({o["type"]: o for o in sample}.values())
    non_ascii = [o for o in sample if not json.dumps(o, ensure_ascii=False).isascii()][:5]
    coll = collection(node, "attack", "a_analyst")
    for obj in one_per_type + non_ascii:
        envelope = coll.get_object(obj["id"])  # §5.6
        assert envelope["objects"] == [obj] and envelope.get("more", False) is False
        # §5.8; the marking-definition has no modified, so its version is created (§3.4.1)
        assert coll.object_versions(obj["id"])["versions"] == [version_of(obj)]


def test_manifest_filters_by_id_type_and_added_after(
        node: Node, attack: tuple[list[dict[str, Any]], Status]) -> None:
    sample, _ = attack
    coll = collection(node, "attack")
    records = [r for p in paged(coll.get_manifest, PAGE_SIZE, math.ceil(len(sample) / PAGE_SIZE))
               for r in p["objects"]]
    picked = [records[3], records[200], records[552]]
    assert coll.get_manifest(id=[r["id"] for r in picked])["objects"] == picked
    campaigns = {o["id"] for o in sample if o["type"] == "campaign"}
    assert {r["id"] for r in coll.get_manifest(type="campaign")["objects"]} == campaigns
    after = paged(coll.get_manifest, PAGE_SIZE, 1, added_after=records[500]["date_added"])
    assert after[0]["objects"] == records[501:]
    assert coll.get_manifest(added_after=records[-1]["date_added"]) == {}  # nothing newer


# -- versions and deletion (§3.4.1, §5.7, §5.8) ---------------------------------------------
def revised(obj: dict[str, Any], modified: str) -> dict[str, Any]:
    """A later version of a real object, as its producer would publish it."""
    return {**obj, "modified": modified, "description": f"{obj['description']} ({modified})"}


def test_version_filters_first_last_all_and_exact(node: Node) -> None:
    v1 = pick("attack-pattern")
    v2 = revised(v1, "2030-01-01T00:00:00.000Z")
    v3 = revised(v1, "2031-01-01T00:00:00.000Z")
    coll = collection(node, "scratch")
    assert coll.add_objects({"objects": [v1, v3]}).success_count == 2
    assert coll.add_objects({"objects": [v2]}).success_count == 1  # added last, not latest
    oid, order = v1["id"], [v1["modified"], v2["modified"], v3["modified"]]

    def modified(envelope: dict[str, Any]) -> list[str]:
        return sorted(o["modified"] for o in envelope.get("objects", []))

    assert coll.get_object(oid)["objects"] == [v3]  # default: last (§3.4.1)
    assert coll.get_object(oid, version="first")["objects"] == [v1]
    assert coll.get_object(oid, version="last")["objects"] == [v3]
    assert modified(coll.get_object(oid, version="all")) == order
    assert coll.get_object(oid, version=v2["modified"])["objects"] == [v2]
    assert coll.get_object(oid, version="2030-01-01T00:00:00Z")["objects"] == [v2]  # an instant
    assert modified(coll.get_object(oid, version=["first", "last"])) == [order[0], order[2]]
    assert sorted(coll.object_versions(oid)["versions"]) == order
    manifest = coll.get_manifest(id=oid, version="all")["objects"]
    assert [r["version"] for r in manifest] == [order[0], order[2], order[1]]  # date_added
    assert coll.get_objects(id=oid)["objects"] == [v3]
    assert coll.get_objects(id=oid, version="first")["objects"] == [v1]
    # The versions resource pages too (§5.8.1); taxii2-client has no pager for it.
    url, params = node.collection_url("scratch") + f"objects/{oid}/versions/", {"limit": "1"}
    paged_versions: list[str] = []
    with httpx.Client(headers=node.headers("admin")) as http:
        for _ in order:
            body = http.get(url, params=params).json()
            paged_versions += body["versions"]
            if not body["more"]:
                break
            params = {"limit": "1", "next": body["next"]}
    assert sorted(paged_versions) == order and body["more"] is False


def test_delete_object_then_get_object_is_404(
        node: Node, attack: tuple[list[dict[str, Any]], Status]) -> None:
    obj = pick("malware")
    coll = collection(node, "scratch", "a_analyst")
    assert coll.add_objects({"objects": [obj]}).success_count == 1
    assert coll.get_object(obj["id"])["objects"] == [obj]
    coll.delete_object(obj["id"])  # 200 (§5.7)
    assert_taxii_error(http_error(lambda: coll.get_object(obj["id"])), 404)
    assert_taxii_error(http_error(lambda: coll.object_versions(obj["id"])), 404)
    assert coll.get_manifest(id=obj["id"]) == {}  # MUST NOT be in the manifest
    assert coll.get_objects(id=obj["id"]) == {}
    assert_taxii_error(http_error(lambda: coll.delete_object(obj["id"])), 404)
    # Another collection's copy of the same version stays.
    assert collection(node, "attack").get_object(obj["id"])["objects"] == [obj]


def test_delete_one_version_keeps_the_others(node: Node) -> None:
    v1 = pick("intrusion-set")
    v2 = revised(v1, "2030-01-01T00:00:00.000Z")
    coll = collection(node, "scratch", "a_analyst")
    assert coll.add_objects({"objects": [v1, v2]}).success_count == 2
    coll.delete_object(v1["id"], version=v1["modified"])
    assert coll.object_versions(v1["id"])["versions"] == [v2["modified"]]
    assert coll.get_object(v1["id"], version="first")["objects"] == [v2]
    assert [r["version"] for r in coll.get_manifest(id=v1["id"], version="all")["objects"]] \
        == [v2["modified"]]


def test_get_object_of_a_deleted_version_is_404(node: Node) -> None:
    """§5.7: once a DELETE got 200, "any subsequent attempts to fetch that object/version
    ... MUST return an HTTP 404" — also when other versions of the object remain."""
    v1 = pick("course-of-action")
    v2 = revised(v1, "2030-01-01T00:00:00.000Z")
    coll = collection(node, "scratch", "a_analyst")
    assert coll.add_objects({"objects": [v1, v2]}).success_count == 2
    coll.delete_object(v1["id"], version=v1["modified"])
    assert_taxii_error(http_error(lambda: coll.get_object(v1["id"], version=v1["modified"])),
                       404)


def test_exact_duplicate_is_a_success_and_a_changed_version_a_failure(node: Node) -> None:
    obj = pick("campaign")
    coll = collection(node, "scratch")
    assert coll.add_objects({"objects": [obj]}).success_count == 1
    again = coll.add_objects({"objects": [obj]}, wait_for_completion=False)
    assert again.status == "complete"  # nothing to poll for
    assert (again.success_count, again.failure_count) == (1, 0)  # §5.5: not an error
    assert len(coll.get_manifest(id=obj["id"], version="all")["objects"]) == 1  # stored once
    changed = coll.add_objects({"objects": [{**obj, "description": "rewritten"}]})
    assert (changed.success_count, changed.failure_count) == (0, 1)  # versions are immutable
    failure = changed.failures[0]
    assert (failure["id"], failure["version"]) == (obj["id"], obj["modified"])
    assert failure["message"]
    assert coll.get_object(obj["id"])["objects"] == [obj]


def test_invalid_objects_fail_and_valid_ones_beside_them_are_stored(node: Node) -> None:
    good = pick("x-mitre-tactic")
    undated = pick("malware", 1)
    del undated["created"]
    broken = {"type": "indicator", "spec_version": "2.1",
              "id": "indicator--1b0c5b8e-3f4d-4a2b-9c1d-2e3f4a5b6c7d",
              "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
              "pattern": "[ipv4-addr:value = ", "pattern_type": "stix",
              "valid_from": "2024-01-01T00:00:00Z"}
    coll = collection(node, "scratch")
    status = coll.add_objects({"objects": [undated, good, broken]})
    assert (status.total_count, status.success_count, status.failure_count) == (3, 1, 2)
    assert sorted((f["id"], f["version"]) for f in status.failures) == sorted(
        [(undated["id"], undated["modified"]), (broken["id"], broken["modified"])])
    assert all(f["message"] for f in status.failures)
    assert coll.get_object(good["id"])["objects"] == [good]
    assert coll.get_manifest(id=[undated["id"], broken["id"]]) == {}


def test_a_stix_bundle_is_accepted_as_the_envelope(node: Node) -> None:
    assets = ics_objects("x-mitre-asset")[:2]
    bundle = {"type": "bundle", "id": "bundle--0f3c1e2d-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
              "objects": assets}
    coll = collection(node, "scratch")
    assert coll.add_objects(bundle).success_count == 2
    for obj in assets:
        assert coll.get_object(obj["id"])["objects"] == [obj]
    assert_taxii_error(http_error(lambda: coll.get_object(bundle["id"])), 404)


def test_a_body_over_max_content_length_is_413_and_stores_nothing(
        node: Node, attack: tuple[list[dict[str, Any]], Status]) -> None:
    raw = ics_raw()  # the whole ICS bundle as published
    assert len(raw) > MAX_CONTENT_LENGTH
    coll = collection(node, "attack")
    assert_taxii_error(http_error(lambda: coll.add_objects(raw)), 413)
    beyond_sample = ics_objects("relationship")[100:110]
    assert coll.get_manifest(id=[o["id"] for o in beyond_sample]) == {}


# -- permissions and authentication (§1.6.9, §5) -------------------------------------------
@pytest.mark.parametrize("who", ["b_reader", "b_analyst"])
def test_posting_without_can_write_is_refused(node: Node, who: str) -> None:
    obj = pick("x-mitre-analytic")
    listed = collection(node, "shared", who)
    assert (listed.can_read, listed.can_write) == (True, False)
    with pytest.raises(AccessError):  # taxii2-client checks can_write itself first
        listed.add_objects({"objects": [obj]})
    # Past the client's check, the server refuses: 403 (§5.5), nothing stored.
    response = http_error(lambda: unchecked(node, "shared", who).add_objects({"objects": [obj]}))
    assert_taxii_error(response, 403)
    assert collection(node, "shared").get_manifest(id=obj["id"]) == {}


def test_write_only_collection(node: Node) -> None:
    obj = pick("x-mitre-data-source")
    coll = collection(node, "dropbox", "b_analyst")
    assert (coll.can_read, coll.can_write) == (False, True)
    status = coll.add_objects({"objects": [obj]})
    assert status.success_count == 1
    status.refresh()  # the posting organisation may poll its status
    assert status.success_count == 1
    with pytest.raises(AccessError):
        coll.get_objects()
    forced = unchecked(node, "dropbox", "b_analyst")
    for read in (forced.get_objects, forced.get_manifest, lambda: forced.get_object(obj["id"]),
                 lambda: forced.object_versions(obj["id"])):
        assert_taxii_error(http_error(read), 403)  # §5.3, §5.4, §5.6, §5.8
    assert_taxii_error(http_error(lambda: forced.delete_object(obj["id"])), 403)  # §5.7 table
    assert collection(node, "dropbox").get_object(obj["id"])["objects"] == [obj]


@pytest.mark.parametrize(("who", "alias"), [
    ("b_analyst", "scratch"), ("b_reader", "scratch"), ("b_reader", "dropbox")])
def test_a_collection_the_key_may_not_use_is_404_like_a_missing_one(
        node: Node, who: str, alias: str) -> None:
    hidden = http_error(lambda: collection(node, alias, who).refresh())
    assert_taxii_error(hidden, 404)
    missing = http_error(lambda: Collection(f"{node.base}/api/collections/{NOWHERE}/",
                                            user=who, password=node.keys[who]).refresh())
    assert_taxii_error(missing, 404)
    assert hidden.json()["title"] == missing.json()["title"]
    forced = unchecked(node, alias, who)
    obj = pick("x-mitre-detection-strategy")
    for call in (forced.get_objects, forced.get_manifest,
                 lambda: forced.add_objects({"objects": [obj]}),
                 lambda: forced.delete_object(obj["id"])):
        assert_taxii_error(http_error(call), 404)


def test_wrong_or_missing_credentials_are_401(node: Node) -> None:
    known_id_wrong_secret = f"thiqa_{node.key_ids['b_reader']}_{'A' * 43}"
    for password in (known_id_wrong_secret, "not-a-key"):
        server = Server(node.discovery_url, user="me", password=password)
        response = http_error(lambda s=server: s.title)
        assert_taxii_error(response, 401)
        assert "Basic" in response.headers["WWW-Authenticate"]
        coll = Collection(node.collection_url("shared"), user="me", password=password)
        assert_taxii_error(http_error(coll.get_objects), 401)
    assert_taxii_error(http_error(lambda: Server(node.discovery_url).title), 401)


def test_bearer_auth_through_an_auth_class(
        node: Node, attack: tuple[list[dict[str, Any]], Status]) -> None:
    server = Server(node.discovery_url, auth=BearerAuth(node.keys["b_reader"]))
    assert server.title == TITLE
    shared = next(c for c in server.default.collections if c.alias == "shared")
    assert (shared.can_read, shared.can_write) == (True, False)
    coll = Collection(node.collection_url("attack"), auth=BearerAuth(node.keys["admin"]))
    assert coll.get_objects(type="identity")["objects"] == ics_objects("identity")


def test_alias_serves_the_collection_over_http_but_taxii2_client_needs_the_id(
        node: Node) -> None:
    r = httpx.get(f"{node.base}/api/collections/attack/", headers=node.headers("admin"))
    assert r.status_code == 200 and r.json()["id"] == node.collections["attack"]
    # taxii2-client checks that the id it reads is part of the URL it was given.
    with pytest.raises(ValidationError):
        Collection(f"{node.base}/api/collections/attack/", user="me",
                   password=node.keys["admin"]).refresh()
