"""rediss:// works end to end: the engine and a desk both over a redis-server's TLS port."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest

from desk.state import DeskState
from engine.records import ClosePosition
from tests.engine.conftest import advance
from tests.redis_server import RedisServer, free_port
from tests.remote.conftest import remote_engine

needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed"
)


def make_certificates(directory) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1, signed by it."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "redis.key", directory / "redis.csr", directory / "redis.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = lambda *args: subprocess.run(args, check=True, capture_output=True, timeout=60)  # noqa: E731
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=desk test CA",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    return str(ca_crt), str(crt), str(key)


class TlsRedis(RedisServer):
    """The test server with a TLS port as well (its plain port only answers the start-up
    check); everything under test connects through ``url``, the TLS port."""

    def __init__(self, directory, ca: str, crt: str, key: str) -> None:
        tls_port = free_port()
        super().__init__(
            directory,
            extra=(
                "--tls-port",
                str(tls_port),
                "--tls-cert-file",
                crt,
                "--tls-key-file",
                key,
                "--tls-ca-cert-file",
                ca,
                "--tls-auth-clients",
                "no",
            ),
        )
        self.tls_port = tls_port

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.tls_port}/0"


@needs_openssl
async def test_engine_and_desk_over_tls(tmp_path):
    ca, crt, key = make_certificates(tmp_path)
    server = TlsRedis(tmp_path / "redis", ca, crt, key).start()
    try:
        async with remote_engine(server, tmp_path, url=server.url, ca_file=ca) as remote:
            feed = remote.feed()
            state = DeskState()
            state.load(await feed.attach())
            advance(remote.engine, 3)
            events = feed.events()

            async def catch_up() -> None:
                while state.seq < remote.engine.bus.seq:
                    state.apply(await anext(events))

            await asyncio.wait_for(catch_up(), 10)
            position = next(iter(remote.engine.book.open_positions()))
            result = await feed.send(
                ClosePosition(
                    command_id="tls-1",
                    actor="alice",
                    issued_at=time.time_ns(),
                    position_id=position.position_id,
                )
            )

            assert result.accepted, result.message
            assert state.positions.keys() == {v.position_id for v in remote.engine.position_views()}
            await feed.close()
    finally:
        server.kill()


@needs_openssl
async def test_a_desk_that_does_not_trust_the_certificate_is_refused(tmp_path):
    ca, crt, key = make_certificates(tmp_path)
    server = TlsRedis(tmp_path / "redis", ca, crt, key).start()
    try:
        async with remote_engine(server, tmp_path, url=server.url, ca_file=ca) as remote:
            stranger = remote.feed(ca_file="")  # the system's CAs: ours is not among them
            from engine.feed import FeedError

            with pytest.raises(FeedError, match="certificate"):
                await stranger.attach()
            await stranger.close()
    finally:
        server.kill()
