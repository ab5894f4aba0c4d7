"""Provides the feeds the app binds to: the embedded engine, or a remote one over Redis."""

from engine.feed import Feed, FeedError, FeedFatal

__all__ = ["Feed", "FeedError", "FeedFatal"]
