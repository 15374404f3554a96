"""First run of a node: the operating organisation, its admin key, a default collection."""

from __future__ import annotations

from dataclasses import dataclass

from thiqa.node import OPERATING_ORG, Node
from thiqa.store import Store
from thiqa.store.model import ApiKey, Collection, Org

_MARK = "initialised_us"


@dataclass(frozen=True, slots=True)
class FirstRun:
    org: Org
    key: ApiKey
    secret: str
    collection: Collection


def is_initialised(store: Store) -> bool:
    return store.get_meta(_MARK) is not None


def initialise(node: Node) -> FirstRun:
    """Create what a node needs to be usable; the admin key is returned once, never again."""
    org = node.create_org(node.settings.org_name)
    node.store.set_meta(OPERATING_ORG, org.id)
    key, secret = node.create_key(org.id, "admin", "created by thiqa init")
    collection = node.create_collection(
        "Default", alias="default",
        description=f"Objects published by {org.name}",
        readers=[org.id], writers=[org.id])
    node.store.set_meta(_MARK, str(node.clock.now_us()))
    return FirstRun(org, key, secret, collection)
