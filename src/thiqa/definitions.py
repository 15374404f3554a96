"""The STIX objects that define thiqa's own vocabulary: the extension-definitions of the
properties thiqa adds to objects (handling, and signed provenance for federation) and
the identity that created them.

They are the same on every node, are served to any authenticated caller at
``GET /api/definitions/`` (as a TAXII envelope) so that a recipient can look up what an
``extensions`` key it does not know means (STIX 2.1 §7.3), and are never stored.
"""

from __future__ import annotations

from typing import Any

import orjson

from thiqa import handling
from thiqa.federation.extension import PROVENANCE_DEFINITION

OBJECTS: tuple[dict[str, Any], ...] = (
    handling.THIQA_IDENTITY_OBJECT,
    handling.EXTENSION_DEFINITION,
    PROVENANCE_DEFINITION,
)


def envelope() -> bytes:
    return orjson.dumps({"more": False, "objects": list(OBJECTS)})
