"""The node's leader lock: of two processes on one database (two PgLeaders here) one
leads; the other takes over when the leader stops or its connection is killed, and the
old leader stops its duties when it notices."""

from __future__ import annotations

import asyncio

from tests import pg
from thiqa.scale.leader import PgLeader, SoleLeader


class Duties:
    def __init__(self) -> None:
        self.running = False
        self.started = 0

    async def gain(self) -> None:
        self.running = True
        self.started += 1

    async def lose(self) -> None:
        self.running = False


def test_one_leads_and_the_other_takes_over() -> None:
    import psycopg

    db = pg.schema_or_skip()

    async def run() -> None:
        da, db_, dc = Duties(), Duties(), Duties()
        a = PgLeader(db, da.gain, da.lose, try_s=0.2)
        b = PgLeader(db, db_.gain, db_.lose, try_s=0.2)
        c = PgLeader(db, dc.gain, dc.lose, try_s=0.2)
        await a.start()
        await b.start()
        try:
            assert a.leading and da.running  # the first leads before it serves
            await asyncio.sleep(0.5)
            assert not b.leading and not db_.running
            await a.stop()  # a clean stop gives the lead up
            assert not da.running
            assert await pg.until(lambda: b.leading and db_.running)
            await c.start()
            assert not c.leading
            # The leader's connection dies: it stops its duties, another one leads.
            with psycopg.connect(db, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (b._cx.info.backend_pid,))
            assert await pg.until(lambda: not db_.running)
            assert await pg.until(lambda: (b.leading or c.leading)
                               and db_.running + dc.running == 1)
            await asyncio.sleep(0.6)
            assert db_.running + dc.running == 1  # never both
        finally:
            await b.stop()
            await c.stop()

    asyncio.run(run())


def test_the_sole_process_of_a_sqlite_node_leads() -> None:
    async def run() -> None:
        d = Duties()
        leader = SoleLeader(d.gain, d.lose)
        await leader.start()
        assert leader.leading and d.running
        await leader.stop()
        assert not d.running

    asyncio.run(run())
