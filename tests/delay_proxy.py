"""Provides DelayProxy: a TCP proxy on 127.0.0.1 that adds latency (and optionally a
bandwidth cap) in each direction, for testing slow links without ``tc netem``.

Each chunk read from one side is held ``delay`` seconds after it arrived and then written
to the other side, in order; chunks do not wait for each other, so this is latency, not
a throughput limit (``bandwidth`` in bytes per second adds that, per direction). A
``tamper`` hook may rewrite or drop chunks (return ``None`` to drop), and ``sever()``
cuts every open connection at once, for "link dropped" faults.

Two ways to run it:

* in the test's own event loop: ``proxy = DelayProxy(port, delay=0.15); await
  proxy.start(); ...; await proxy.stop()`` (or ``async with``);
* in a thread of its own, for synchronous tests and subprocess clients:
  ``with DelayProxy(port, delay=0.15).running() as proxy: connect to proxy.port``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["up", "down"]  # up: client → target; down: target → client
Tamper = Callable[[Direction, bytes], bytes | None]
CHUNK = 65_536


@dataclass
class Stats:
    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    dropped_chunks: int = 0
    open: set[asyncio.Task[None]] = field(default_factory=set)


class DelayProxy:
    def __init__(
        self,
        target_port: int,
        *,
        delay: float = 0.15,
        down_delay: float | None = None,
        bandwidth: float | None = None,
        target_host: str = "127.0.0.1",
        listen_port: int = 0,
        tamper: Tamper | None = None,
    ) -> None:
        """``delay`` applies up (client → target) and, unless ``down_delay`` is given,
        down too; 0.15 each way makes a 300 ms round trip."""
        self.target = (target_host, target_port)
        self.delays: dict[Direction, float] = {
            "up": delay,
            "down": delay if down_delay is None else down_delay,
        }
        self.bandwidth = bandwidth
        self.tamper = tamper
        self.port = listen_port
        self.stats = Stats()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- in the caller's loop -----------------------------------------------------------------

    async def start(self) -> DelayProxy:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._sever()
        tasks = list(self.stats.open)
        if tasks:
            # Severed pipes end by themselves; cancel only what is still stuck.
            _, stuck = await asyncio.wait(tasks, timeout=2.0)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def __aenter__(self) -> DelayProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def sever(self) -> None:
        """Cut every open connection now (thread-safe); new ones are still accepted."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._sever)

    def _sever(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    # --- in a thread of its own ---------------------------------------------------------------

    @contextlib.contextmanager
    def running(self, timeout: float = 5.0) -> Iterator[DelayProxy]:
        """Run the proxy on its own event loop in a daemon thread; stop it on exit."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        thread = threading.Thread(target=serve, name="delay-proxy", daemon=True)
        thread.start()
        if not ready.wait(timeout) or failure:
            raise RuntimeError(f"delay proxy did not start: {failure or 'timeout'}")
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    # --- the pipes ----------------------------------------------------------------------------

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.stats.open.add(task)
        self.stats.connections += 1
        pair = [client_w]
        try:
            try:
                target_r, target_w = await asyncio.open_connection(*self.target)
            except OSError:
                return
            pair.append(target_w)
            for writer in pair:
                self._writers.add(writer)
                _no_delay(writer)
            await asyncio.gather(
                self._pipe("up", client_r, target_w, pair),
                self._pipe("down", target_r, client_w, pair),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            # Ending normally: asyncio's server callback logs an error for a cancelled
            # connection task (Python 3.11), and stop() is the only canceller.
            pass
        finally:
            for writer in pair:
                self._writers.discard(writer)
                with contextlib.suppress(Exception):
                    writer.close()
            self.stats.open.discard(task)

    async def _pipe(
        self,
        direction: Direction,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: list[asyncio.StreamWriter],
    ) -> None:
        """Copy one direction with its delay. EOF is passed on (half-close) once the data
        before it has been delivered; a reset on either side aborts both."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        def abort() -> None:
            for each in pair:
                each.transport.abort()

        async def read() -> None:
            try:
                while chunk := await reader.read(CHUNK):
                    queue.put_nowait((time.monotonic() + self.delays[direction], chunk))
            except (ConnectionError, OSError):
                abort()
            finally:
                queue.put_nowait(None)

        async def write() -> None:
            try:
                while (item := await queue.get()) is not None:
                    due, chunk = item
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if self.tamper is not None:
                        tampered = self.tamper(direction, chunk)
                        if tampered is None:
                            self.stats.dropped_chunks += 1
                            continue
                        chunk = tampered
                    writer.write(chunk)
                    await writer.drain()
                    if direction == "up":
                        self.stats.bytes_up += len(chunk)
                    else:
                        self.stats.bytes_down += len(chunk)
                    if self.bandwidth:
                        await asyncio.sleep(len(chunk) / self.bandwidth)
                if writer.can_write_eof() and not writer.transport.is_closing():
                    writer.write_eof()
            except (ConnectionError, OSError):
                abort()

        await asyncio.gather(read(), write())


def _no_delay(writer: asyncio.StreamWriter) -> None:
    """Nagle off: the proxy's own buffering must not add latency to small writes."""
    import socket

    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
