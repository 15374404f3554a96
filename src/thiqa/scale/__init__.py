"""Scale-out: several ``thiqa serve`` processes (workers, or hosts) on one PostgreSQL
database behind one address.

    leader   which process runs the node's background duties (one per node)
    process  the worker processes of ``thiqa serve --workers N`` (the app factory)

Every worker serves every endpoint: reads, writes (serialised by the store's write
lock), SSE streams (woken across processes by :mod:`thiqa.stream.pg_bus`) and ``next``
cursors (stateless, :mod:`thiqa.taxii.cursor`). What must run once per node, not once
per process, runs in the leader only. docs/postgresql.md#several-workers tells the
operator's side.
"""
