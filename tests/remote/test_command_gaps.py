"""The engine counts commands trimmed from Redis unread, once each, across restarts."""

from __future__ import annotations

import redis.asyncio as aioredis

from engine.remote.gaps import CommandIntake
from engine.remote.protocol import GROUP, Keys

KEYS = Keys("gaps")
STREAM = KEYS.commands("alice")


async def fresh(url: str) -> aioredis.Redis:
    client = aioredis.Redis.from_url(url)
    await client.xgroup_create(STREAM, GROUP, id="0", mkstream=True, entries_read=0)
    return client


def intake() -> CommandIntake:
    """A new one is what a restarted engine has: nothing in memory."""
    return CommandIntake(GROUP, "engine", [STREAM], KEYS.trimmed_unread, batch=10)


async def add(client: aioredis.Redis, n: int) -> None:
    for i in range(n):
        await client.xadd(STREAM, {"c": str(i).encode()})


async def take_all(client: aioredis.Redis, reader: CommandIntake) -> tuple[int, list[int]]:
    entries, lost = 0, []
    while True:
        replies, gaps = await reader.take(client)
        lost += [g.lost for g in gaps]
        got = sum(len(e) for _, e in replies)
        entries += got
        if not got:
            return entries, lost


async def test_entries_trimmed_unread_are_counted_once_even_after_a_restart(redis_server):
    client = await fresh(redis_server.url)
    await add(client, 30)
    await client.xtrim(STREAM, maxlen=4, approximate=False)
    assert await take_all(client, intake()) == (4, [26])
    assert await take_all(client, intake()) == (0, [])  # a restart: no second alarm

    await add(client, 25)  # more than one batch waits: counted once it is all taken
    await client.xtrim(STREAM, maxlen=22, approximate=False)
    assert await take_all(client, intake()) == (22, [3])
    await client.aclose()


async def test_trimming_what_was_read_or_deleting_nothing_is_no_gap(redis_server):
    client = await fresh(redis_server.url)
    reader = intake()
    await add(client, 12)
    assert await take_all(client, reader) == (12, [])
    await client.xtrim(STREAM, maxlen=0, approximate=False)  # all read: nothing lost
    await add(client, 3)
    assert await take_all(client, reader) == (3, [])
    await client.aclose()
