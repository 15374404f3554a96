"""Domain types of the event log (no SQL, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from thiqa.handling import Tlp
from thiqa.store.model import Visibility

Kind = Literal["version", "delete", "retract", "alert"]
KINDS: tuple[Kind, ...] = ("version", "delete", "retract", "alert")


@dataclass(frozen=True, slots=True)
class Event:
    """One place in the node sequence.

    ``version``: a version entered ``collection_pk`` (``body`` is the object).
    ``delete`` / ``retract``: a version left it (no body: it is gone).
    ``alert``: ``body`` is the alert; ``collection_pk`` may be None (node-wide).
    ``time_us`` is date_added for a version, the time of the change otherwise.
    """

    seq: int
    kind: Kind
    collection_pk: int | None
    object_id: str
    type: str
    version: str
    spec_version: str
    time_us: int
    tlp: int
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may see an alert, in the terms of the read policy: the consumers that may
    read ``collection_pk`` (None: any consumer of the node-wide stream) and that the
    handling admits — below RED everyone in scope; RED only ``originator`` and
    ``recipients``."""

    originator: str
    tlp: Tlp = Tlp.RED
    recipients: tuple[str, ...] = ()
    collection_pk: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """What one consumer may read of the log: the policy's :class:`Visibility` and
    whether node-wide alerts (no collection) belong to its stream."""

    visibility: Visibility
    node_wide: bool


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    org_id: str
    collection_pk: int | None
    url: str
    secret: str
    created_us: int
    cursor: int
    delivered: int = 0
    last_success_us: int | None = None
    last_error: str | None = None
    last_error_us: int | None = None
    failures: int = 0
    next_attempt_us: int = 0


class EventLog(Protocol):
    def head(self) -> int:
        """The last seq handed out (0 on an empty node); every event at or below it is
        committed."""
    def after(self, seq: int, window: Window, limit: int) -> list[Event]:
        """Up to ``limit`` events after ``seq`` that ``window`` admits, in seq order."""
    def count_after(self, seq: int, window: Window, most: int) -> int:
        """How many events after ``seq`` ``window`` admits, counting at most ``most``."""
    def append_alert(self, body: bytes, audience: Audience, now_us: int) -> int:
        """Record an alert durably; its seq."""

    # -- webhooks ----------------------------------------------------------------------
    def add_webhook(self, hook: Webhook) -> None: ...
    def webhooks(self, org_id: str | None = None) -> list[Webhook]: ...
    def get_webhook(self, hook_id: str) -> Webhook | None: ...
    def remove_webhook(self, hook_id: str) -> bool: ...
    def webhook_delivered(self, hook_id: str, cursor: int, count: int, now_us: int) -> None:
        """Advance the cursor after a successful delivery of ``count`` events."""
    def webhook_failed(self, hook_id: str, error: str, now_us: int,
                       next_attempt_us: int) -> None: ...

