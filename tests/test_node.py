"""The service layer's community and agreement verbs (thiqa.node), on every store."""

from __future__ import annotations

import pytest

from thiqa.errors import BadRequest, Conflict, NotFound
from thiqa.node import Node
from thiqa.store.model import Org


@pytest.fixture
def orgs(node: Node) -> list[Org]:
    return [node.create_org(name) for name in ("Agency A", "Agency B", "Agency C")]


def test_community_has_members_conveners_and_its_own_collection(node: Node,
                                                                orgs: list[Org]) -> None:
    a, b, c = orgs
    view = node.create_community("  Sahel Forum ", description="regional",
                                 members=[a.name, b.id, c.id], conveners=[c.name])
    community = view.community
    assert community.kind == "community" and community.name == "Sahel Forum"
    assert [(m.org_id, m.role) for m, _ in view.members] == [
        (c.id, "convener"), (a.id, "member"), (b.id, "member")]
    [collection] = view.collections
    assert (collection.title, collection.alias, collection.community_pk) == (
        "Sahel Forum", "sahel-forum", community.pk)
    assert node.community(community.id) == node.community("Sahel Forum") == view
    assert node.store.get_collection("sahel-forum") == collection


def test_aliases_are_derived_ascii_and_unique(node: Node, orgs: list[Org]) -> None:
    node.create_collection("Existing", alias="tf-forum")
    assert node.create_community("TF Forum").collections[0].alias == "tf-forum-2"
    assert node.create_community("TF  forum!").collections[0].alias == "tf-forum-3"
    assert node.create_community("Réseau Européen").collections[0].alias == "reseau-europeen"
    assert node.create_community("منتدى").collections[0].alias == "community"
    long = node.create_community("x" * 150).collections[0].alias
    assert long == "x" * 48


@pytest.mark.parametrize(("name", "error"), [
    ("", BadRequest), ("   ", BadRequest), ("n" * 201, BadRequest), ("Taken", Conflict),
])
def test_bad_community_names(node: Node, name: str, error: type[Exception]) -> None:
    node.create_community("Taken")
    with pytest.raises(error):
        node.create_community(name)


def test_unknown_member_writes_nothing(node: Node, orgs: list[Org]) -> None:
    with pytest.raises(NotFound, match="nobody"):
        node.create_community("Forum", members=[orgs[0].id, "nobody"])
    assert node.communities() == [] and node.store.get_collection("forum") is None


def test_add_and_remove_members(node: Node, orgs: list[Org]) -> None:
    a, b, _ = orgs
    forum = node.create_community("Forum").community
    member = node.add_member("Forum", a.name, "convener")
    assert (member.community_pk, member.org_id, member.role) == (forum.pk, a.id, "convener")
    node.add_member(forum.id, b.id)
    assert [o.name for _, o in node.community("Forum").members] == ["Agency A", "Agency B"]
    with pytest.raises(Conflict, match="already a member"):
        node.add_member("Forum", b.name)
    with pytest.raises(BadRequest, match="role"):
        node.add_member("Forum", "Agency C", "owner")
    node.remove_member("Forum", a.name)
    with pytest.raises(NotFound, match="not a member"):
        node.remove_member("Forum", a.name)
    with pytest.raises(NotFound, match="no community"):
        node.add_member("Nowhere", a.name)
    assert node.store.membership_counts() == {b.id: 1}


def test_agreement_invariants(node: Node, orgs: list[Org]) -> None:
    a, b, c = orgs
    view = node.create_agreement(a.name, b.id)
    assert view.community.kind == "agreement" and view.community.name == "Agency A & Agency B"
    assert {(m.org_id, m.role) for m, _ in view.members} == {(a.id, "convener"),
                                                            (b.id, "convener")}
    assert view.collections[0].alias == "agency-a-agency-b"
    with pytest.raises(Conflict, match="already have an agreement"):
        node.create_agreement(b.id, a.name, name="Another name")
    with pytest.raises(BadRequest, match="two different"):
        node.create_agreement(c.name, c.id)
    with pytest.raises(NotFound):
        node.create_agreement(a.name, "nobody")
    for change in (lambda: node.add_member(view.community.id, c.name),
                   lambda: node.remove_member(view.community.id, a.name)):
        with pytest.raises(Conflict, match="agreement"):
            change()
    named = node.create_agreement(a.id, c.id, name="A–C liaison", description="ops")
    assert named.community.name == "A–C liaison" and named.community.description == "ops"
    assert {v.community.name for v in node.communities("agreement")} == {
        "A–C liaison", "Agency A & Agency B"}
    assert node.communities("community") == []


def test_grants_do_not_apply_to_a_community_collection(node: Node, orgs: list[Org]) -> None:
    node.create_community("Forum")
    with pytest.raises(Conflict, match="membership"):
        node.grant("forum", orgs[0].name, read=True, write=True)


def test_a_hundred_and_twenty_member_community(node: Node) -> None:
    many = [node.create_org(f"State {i:03d}") for i in range(120)]
    view = node.create_community("Global Forum", members=[o.id for o in many],
                                 conveners=[many[0].id])
    assert len(view.members) == 120 and view.members[0][1] == many[0]
    _, secret = node.create_key(many[77].id, "reader")
    who = node.authenticate(f"Bearer {secret}")
    [seen] = node.collections(who)
    assert seen.collection.alias == "global-forum" and not seen.access.can_write
