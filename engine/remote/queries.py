"""Provides the engine's answers to read-only queries from remote desks (dialog previews).

Queries change nothing, so they are neither signed nor journaled; an unanswerable one
gets an error string back instead of silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from engine import codec
from engine.orders import Refusal
from engine.previews import close_preview, proposal_preview, roll_candidates
from engine.records import ClosePreview, ProposalPreview, RollCandidate

if TYPE_CHECKING:
    from engine.engine import Engine


class Query(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    kind: str
    position_id: str = ""
    proposal_id: str = ""
    quantity: int | None = None
    limit: float | None = None


class QueryReply(msgspec.Struct, frozen=True, kw_only=True):
    preview: ClosePreview | None = None
    candidates: tuple[RollCandidate, ...] | None = None
    proposal: ProposalPreview | None = None
    error: str = ""


def query_entry(query: Query) -> dict[str, bytes]:
    return {"q": codec.encode(query)}


def answer_query(engine: Engine, fields: dict[bytes, bytes]) -> tuple[str, bytes]:
    """(request id to reply to, encoded QueryReply); an empty id means nobody to answer."""
    try:
        query: Query = codec.decode(fields.get(b"q", b""), Query, label="query")
    except codec.DecodeError:
        engine.counters["queries_malformed"] += 1
        return "", b""
    try:
        if query.kind == "close_preview":
            reply = QueryReply(
                preview=close_preview(engine, query.position_id, query.quantity, query.limit)
            )
        elif query.kind == "roll_candidates":
            reply = QueryReply(candidates=roll_candidates(engine, query.position_id))
        elif query.kind == "proposal_preview":
            reply = QueryReply(proposal=proposal_preview(engine, query.proposal_id))
        else:
            reply = QueryReply(error=f"unknown query {query.kind!r}")
    except Refusal as refusal:
        reply = QueryReply(error=refusal.message)
    except Exception as exc:  # a query must never take the engine down
        engine.counters["query_errors"] += 1
        reply = QueryReply(error=f"the engine could not answer: {exc}")
    return query.request_id, codec.encode(reply)
