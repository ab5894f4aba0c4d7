"""Provides the Redis ACL file for one engine: an engine user, one user per trader, a viewer.

The viewer reads state and events and can write nothing (Redis answers NOPERM). A trader
reads the same and writes only their own command and query streams (and pops their own
query replies). Nobody but the engine reads a trader's command stream. The engine may do
what it needs under ``desk:NAME:*`` and nothing else.
Passwords appear only as SHA-256 hashes (``#<hex>``), which Redis accepts in ACL files.
"""

from __future__ import annotations

import hashlib
import os
import secrets

READ = "+@read +@connection +multi +exec +discard +xread"
TRADER_WRITE = "+xadd +blpop +lpop"
ENGINE = (
    "+@read +@write +@stream +@hash +@list +@string +@keyspace +@transaction "
    "+@connection +@scripting +time -@dangerous"
)


def password_for(user: str, generated: dict[str, str]) -> str:
    """DESK_ACL_PASSWORD_<USER> from the environment, else a fresh random one (reported)."""
    env = f"DESK_ACL_PASSWORD_{user.upper().replace('-', '_')}"
    value = os.environ.get(env)
    if not value:
        value = secrets.token_urlsafe(24)
        generated[user] = value
    return value


def _hash(password: str) -> str:
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def public_keys(prefix: str) -> str:
    """Read access to what every desk may see: state, events, heartbeat, results, outcomes.

    Listed one by one rather than ``desk:NAME:*``, which would also let anyone read every
    trader's command stream (and so learn the ids of commands still in flight).
    """
    from engine.remote.state_keys import HASHES, LISTS, SCALARS

    names = (*SCALARS, *HASHES, *LISTS, "events", "cursor", "heartbeat", "traders", "results",
             "outcome:*")  # fmt: skip
    return " ".join(f"%R~{prefix}{name}" for name in names)


def acl_file(name: str, traders: tuple[str, ...], generated: dict[str, str] | None = None) -> str:
    generated = {} if generated is None else generated
    prefix = f"desk:{name}:"
    public = public_keys(prefix)
    lines = [
        "user default off",
        f"user engine on {_hash(password_for('engine', generated))} resetkeys ~{prefix}* "
        f"resetchannels -@all {ENGINE}",
        f"user viewer on {_hash(password_for('viewer', generated))} resetkeys {public} "
        f"resetchannels -@all {READ}",
    ]
    for trader in traders:
        lines.append(
            f"user {trader} on {_hash(password_for(trader, generated))} resetkeys "
            f"{public} %RW~{prefix}commands:{trader} %RW~{prefix}queries:{trader} "
            f"%RW~{prefix}reply:* resetchannels -@all {READ} {TRADER_WRITE}"
        )
    return "\n".join(lines) + "\n"
