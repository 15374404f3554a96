"""From parsed JSON to storable versions: validate, key and serialise each object.

Used by every write path (TAXII POST, ``thiqa load``) so that both accept and reject
exactly the same objects with the same messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from thiqa.errors import Unprocessable
from thiqa.federation.extension import PROVENANCE_ID
from thiqa.handling import HandlingError, marks
from thiqa.stix.validate import validate
from thiqa.store.model import NewVersion, Outcome
from thiqa.timestamps import version_key

# How many validation messages one failed object reports (the first ones matter most).
_MAX_MESSAGES = 5


def prepare(obj: Any) -> NewVersion | Outcome:
    """A storable version, or the failure that says why ``obj`` cannot be stored."""
    if not isinstance(obj, dict):
        return Outcome("", "", False, f"not a STIX object: a JSON {type(obj).__name__}")
    object_id = obj.get("id")
    object_id = object_id if isinstance(object_id, str) else ""
    version = obj.get("modified") or obj.get("created")
    label = version if isinstance(version, str) else ""
    if obj.get("type") == "bundle":
        # A bundle is a transport wrapper (STIX 2.1 §8), not an object a collection holds.
        return Outcome(object_id, label, False,
                       "a bundle is not a STIX object: send its objects instead")
    errors = validate(obj)
    if errors:
        more = f" (and {len(errors) - _MAX_MESSAGES} more)" if len(errors) > _MAX_MESSAGES else ""
        return Outcome(object_id, label, False,
                       "; ".join(errors[:_MAX_MESSAGES]) + more)
    spec = obj.get("spec_version", "2.1")
    if spec != "2.1":
        return Outcome(object_id, label, False,
                       f"spec_version {spec!r} is not supported: this node stores STIX 2.1")
    extensions = obj.get("extensions")
    if isinstance(extensions, dict) and PROVENANCE_ID in extensions:
        return Outcome(object_id, label, False,
                       f"extensions.{PROVENANCE_ID}: provenance is added by the node that "
                       "signs a version, not by its publisher; versions from a peer node "
                       "arrive through federation (docs/federation.md)")
    try:
        handling = marks(obj)
    except HandlingError as exc:
        return Outcome(object_id, label, False, str(exc))
    return NewVersion(
        id=object_id,
        type=obj["type"],
        spec_version=spec,
        version=label or None,
        vkey=version_key(label) if label else None,
        body=orjson.dumps(obj),
        marks=handling,
    )


def split(objects: Iterable[Any]) -> tuple[list[NewVersion], list[Outcome]]:
    """Storable versions and failures, in input order within each list."""
    good: list[NewVersion] = []
    bad: list[Outcome] = []
    for obj in objects:
        item = prepare(obj)
        if isinstance(item, NewVersion):
            good.append(item)
        else:
            bad.append(item)
    return good, bad


def envelope_objects(body: Any) -> list[Any]:
    """The objects of a TAXII envelope (§3.7) or of a STIX bundle (STIX 2.1 §8).

    stix2's TAXIICollectionSink posts a whole bundle as the envelope, so both are taken.
    """
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a TAXII envelope: a JSON object with an "
                            "'objects' list")
    if "objects" not in body:
        raise Unprocessable("the envelope has no 'objects' list")
    objects = body["objects"]
    if not isinstance(objects, list):
        raise Unprocessable("'objects' must be a list of STIX objects")
    if not objects:
        raise Unprocessable("'objects' is empty: an envelope to add must carry at least one "
                            "object (TAXII 2.1 §2 list type)")
    return objects
