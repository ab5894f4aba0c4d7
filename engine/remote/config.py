"""Provides the [redis] configuration: where the bus is and where secrets come from.

Secrets never live in desk.toml: it names environment variables (or a directory of key
files) instead.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Positive = Annotated[float, Meta(gt=0)]
# A trader's name makes a stream key, a Redis user and an environment variable name.
TRADER_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"
Trader = Annotated[str, Meta(pattern=TRADER_NAME)]


class RedisConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str = "redis://127.0.0.1:6379/0"
    """redis:// or rediss:// (TLS). Put no password here: see password_env."""
    username: str = ""
    """Redis ACL user (engine, a trader's name, or viewer); empty uses the default user."""
    password_env: str = "DESK_REDIS_PASSWORD"
    """Environment variable holding the Redis password, if the server wants one."""
    ca_file: str = ""
    """CA certificate for rediss:// when the server's certificate is not publicly signed."""
    trader: Annotated[str, Meta(pattern=r"^$|" + TRADER_NAME)] = ""
    """This desk's trader name (its command stream); empty uses the login name."""
    signing_key_env: str = "DESK_SIGNING_KEY"
    """Environment variable with this trader's HMAC key (hex or text)."""
    signing_key_file: str = ""
    """…or a file holding it, readable only by the trader."""
    traders: tuple[Trader, ...] = ()
    """Engine: the traders whose command streams it reads."""
    keys_dir: str = ""
    """Engine: a directory of <trader>.key files; else env DESK_KEY_<TRADER> for each."""
    command_ttl_s: Positive = 30.0
    """A command older than this (by the engine's wall clock) is refused as expired."""
    clock_skew_s: Positive = 5.0
    """A command stamped further than this in the future is refused as clock skew."""
    heartbeat_ttl_s: Positive = 3.0
    """The engine's heartbeat key expires after this; clients call the engine DOWN."""
    stream_maxlen: Annotated[int, Meta(ge=100)] = 10_000
    """Events kept in the stream; a client further behind attaches again."""
    rate_limit_per_s: Positive = 100.0
    """Commands per second one trader may send; above it they are refused RATE_LIMITED."""
    reply_timeout_s: Positive = 10.0
    """Client: seconds to wait for the engine's answer before saying it is unconfirmed."""
