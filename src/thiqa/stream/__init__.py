"""The event log and its real-time delivery: Server-Sent Events and webhooks.

Every change a consumer follows has one place in the node sequence (``seq``): a new
version (its entry's seq), a tombstone (a version deleted, retracted or withdrawn from a
collection) and an alert. Consumers read the log after a position, through the one read
policy (:mod:`thiqa.policy`), and are woken by an :class:`~thiqa.stream.bus.EventBus`.

    model     events, audiences, webhooks: the domain types
    sqlite    the log and the webhook table on the SQLite store
    bus       wake-ups: the bus interface, its in-process implementation, the head poller
    feed      one consumer's view of the log: policy filter, re-authentication, batches
    wire      events as JSON, SSE frames and signed webhook payloads
    http      GET /api/stream/ and /api/collections/{id}/stream/
    webhooks  registration and the delivery worker (durable cursor, backoff)

The wire format is documented in docs/stream.md.
"""
