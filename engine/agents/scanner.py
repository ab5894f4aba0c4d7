"""Provides the technical scanner: moving-average crosses, RSI extremes, volume breakouts.

Daily signals come from daily bars whose last bar is today's, still forming, and each kind
fires at most once per symbol per trading day. Where the market has intraday bars (the
sim) the same crosses and extremes are read on five-minute bars too, with the breakout of
the opening range, so a desk sees the session unfold from the bell rather than waiting
days for a daily cross. An intraday cross or extreme fires again for a symbol only after
a cooldown or the other way; the opening range once each way a day. What has fired, and
the ids used, are rebuilt from the journal's signals on the first cycle, so a restarted
engine neither repeats itself nor reuses an id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from engine.agents.base import Agent, Numbering
from engine.agents.rules import Finding, daily_findings, intraday_findings, resample
from engine.clock import EXCHANGE_TZ, NS_PER_SECOND, exchange_date, to_datetime
from engine.config import ScannerConfig
from engine.market.intraday import IntradaySource
from engine.records import Signal

if TYPE_CHECKING:
    from engine.engine import Engine

_SESSION_MINUTES = 390.0
INTRADAY_MINUTES = 5
INTRADAY_COOLDOWN_NS = 60 * 60 * NS_PER_SECOND
"""An intraday kind repeats for a symbol, the same way, at most once an hour."""
COOLDOWN_KINDS = frozenset(f"{k}_{INTRADAY_MINUTES}m" for k in ("ma_cross", "rsi"))
INTRADAY_KINDS = COOLDOWN_KINDS | {f"orb_{INTRADAY_MINUTES}m"}


class TechnicalScanner(Agent):
    kind = "scanner"

    def __init__(self, config: ScannerConfig, name: str = "technical") -> None:
        super().__init__(name, config.interval_s, enabled=config.enabled)
        self.config = config
        self._fired: dict[tuple[str, str, str], int] = {}
        self._ids = Numbering()
        self._restored = False

    def cycle(self, engine: Engine) -> bool:
        now = engine.now()
        if not self._restored:
            self.restore(engine.signals.values())
        if not engine.market.session_open(now):
            return False
        today = exchange_date(now)
        fraction = session_fraction(now)
        intraday = engine.market if isinstance(engine.market, IntradaySource) else None
        for symbol in engine.market.symbols:
            findings = daily_findings(engine.market.daily_bars(symbol), self.config, fraction)
            if intraday is not None:
                bars = resample(intraday.intraday_bars(symbol), INTRADAY_MINUTES)
                days = bars.date.astype("datetime64[D]")
                todays = int(np.count_nonzero(days == np.datetime64(today)))
                # Intraday rules speak only about today's bars, never about yesterday's.
                if todays:
                    findings += intraday_findings(bars, todays, self.config, INTRADAY_MINUTES)
            for finding in findings:
                if self.repeats(symbol, finding, now):
                    continue
                self.emit(engine, self._signal(symbol, finding, now))
        return True

    def repeats(self, symbol: str, finding: Finding, now: int) -> bool:
        """Whether this finding was already signalled: today (daily kinds; the opening
        range the same way), or within the cooldown the same way (intraday kinds)."""
        last = self._fired.get(_key(symbol, finding.kind, finding.direction))
        if last is None:
            return False
        if finding.kind in COOLDOWN_KINDS:
            return now - last < INTRADAY_COOLDOWN_NS
        return exchange_date(last) == exchange_date(now)

    def restore(self, signals: Iterable[Signal]) -> None:
        """Take what has fired, and the numbers used, from this agent's past signals."""
        self._restored = True
        for signal in signals:
            if signal.agent != self.name:
                continue
            self._remember(signal)
            self._ids.see(signal.signal_id)

    def _remember(self, signal: Signal) -> None:
        key = _key(signal.symbol, signal.kind, signal.direction)
        self._fired[key] = max(self._fired.get(key, signal.ts), signal.ts)

    def _signal(self, symbol: str, finding: Finding, now: int) -> Signal:
        signal = Signal(
            signal_id=self._ids.next(f"{self.name[:3].upper()}-{exchange_date(now):%y%m%d}"),
            ts=now,
            agent=self.name,
            symbol=symbol,
            kind=finding.kind,
            direction=finding.direction,
            # numpy scalars do not encode: the journal takes plain floats only.
            confidence=round(float(finding.confidence), 3),
            description=finding.description,
            inputs={k: float(v) for k, v in finding.inputs.items()},
        )
        self._remember(signal)
        return signal


def _key(symbol: str, kind: str, direction: str) -> tuple[str, str, str]:
    """Daily kinds fire once a day whichever way; intraday kinds once per direction."""
    return symbol, kind, direction if kind in INTRADAY_KINDS else ""


def session_fraction(now: int) -> float:
    """How much of today's 09:30-16:00 session has passed, in [0, 1]."""
    local = to_datetime(now).astimezone(EXCHANGE_TZ)
    minutes = (local.hour - 9) * 60 + local.minute - 30
    return min(max(minutes / _SESSION_MINUTES, 0.0), 1.0)
