"""The LISTEN/NOTIFY bus between processes of one PostgreSQL database (two buses here
stand for two workers): a publish on one wakes the other's subscribers, a node in
another schema is not woken, and a listener whose connection is killed reconnects."""

from __future__ import annotations

import asyncio

from tests import pg
from thiqa.stream.pg_bus import PgBus


def test_a_publish_in_one_process_wakes_the_other_and_no_other_node() -> None:
    a_url, other_url = pg.schema_or_skip(), pg.schema_or_skip("x")

    async def run() -> None:
        a, b, other = PgBus(a_url), PgBus(a_url), PgBus(other_url)
        for bus in (a, b, other):
            await bus.start()
        try:
            assert await pg.until(lambda: a.listening and b.listening and other.listening)
            wb, wo = b.subscribe(), other.subscribe()
            for _ in range(3):
                wb.clear()
                wo.clear()
                a.publish()
                assert await wb.wait(5.0)  # woken through PostgreSQL
            assert not await wo.wait(0.5)  # another schema, another node
            assert b.notified >= 1 and a.notified == 0  # a ignores its own notifications
        finally:
            for bus in (a, b, other):
                await bus.stop()

    asyncio.run(run())


def test_a_killed_listener_reconnects_and_wakes_again() -> None:
    import psycopg

    db = pg.schema_or_skip()

    async def run() -> None:
        a, b = PgBus(db), PgBus(db)
        await a.start()
        await b.start()
        try:
            assert await pg.until(lambda: b.listening)
            cx = b._listener_cx
            assert cx is not None
            backend = cx.info.backend_pid
            with psycopg.connect(db, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            # It notices, reconnects (waking its subscribers once: whatever was missed).
            assert await pg.until(lambda: b.listening and b._listener_cx is not None
                               and b._listener_cx.info.backend_pid != backend)
            w = b.subscribe()
            w.clear()
            a.publish()
            assert await w.wait(5.0)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(run())
