"""DelayProxy adds the latency it is asked for, keeps order, passes EOF on, and can cut links.

Checked against a loopback echo server, in the test's loop and in the proxy's own thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from tests.delay_proxy import DelayProxy

pytestmark = pytest.mark.timeout(30)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_round_trip_is_the_two_delays_and_order_and_eof_survive():
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with DelayProxy(port, delay=0.1, down_delay=0.05) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            started = time.perf_counter()
            writer.write(b"ping")
            await writer.drain()
            assert await reader.readexactly(4) == b"ping"
            took = time.perf_counter() - started
            assert 0.15 <= took < 0.3, took

            for n in range(20):  # many small writes in flight at once arrive in order
                writer.write(b"%02d" % n)
            await writer.drain()
            assert await reader.readexactly(40) == b"".join(b"%02d" % n for n in range(20))

            writer.write_eof()  # half-close: the echo server closes, and so do we
            assert await asyncio.wait_for(reader.read(), 2.0) == b""
            writer.close()
            assert proxy.stats.bytes_up == proxy.stats.bytes_down == 44
    finally:
        server.close()
        await server.wait_closed()


async def test_tamper_drops_replies_and_sever_cuts_the_link():
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        dropping = {"on": True}

        def tamper(direction: str, chunk: bytes) -> bytes | None:
            return None if direction == "down" and dropping["on"] else chunk

        async with DelayProxy(port, delay=0.0, tamper=tamper) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"lost")
            await writer.drain()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(4), 0.3)
            assert proxy.stats.dropped_chunks == 1
            dropping["on"] = False

            proxy.sever()
            assert await asyncio.wait_for(reader.read(), 2.0) == b""
            writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_runs_in_its_own_thread_for_blocking_clients():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def echo_once() -> None:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=echo_once, daemon=True).start()
    try:
        with (
            DelayProxy(port, delay=0.05).running() as proxy,
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client,
        ):
            started = time.perf_counter()
            client.sendall(b"hi")
            assert client.recv(2) == b"hi"
            assert time.perf_counter() - started >= 0.1
    finally:
        listener.close()
