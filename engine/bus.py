"""Provides the event bus: numbered events fanned out to in-process subscribers.

Each event gets the next sequence number. A subscriber attaches with the sequence of the
snapshot it was given, in the same loop turn, so it sees every later event exactly once.
A subscriber that falls too far behind is not allowed to block the engine: its queue is
replaced by a single ``ResyncRequired`` and it must attach again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

from engine.records import AnyEvent, ResyncRequired


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[AnyEvent] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    def offer(self, event: AnyEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(
                ResyncRequired(seq=event.seq, ts=event.ts, reason="subscriber fell behind")
            )

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self, maxsize: int = 20_000) -> None:
        self.seq = 0
        self._maxsize = maxsize
        self._subscribers: list[Subscription] = []
        self.listeners: list[Callable[[AnyEvent], None]] = []

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._maxsize)
        self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event: AnyEvent) -> AnyEvent:
        self.seq += 1
        numbered: AnyEvent = msgspec.structs.replace(event, seq=self.seq)
        for sub in self._subscribers:
            sub.offer(numbered)
        for listener in self.listeners:
            listener(numbered)
        return numbered
