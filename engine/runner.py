"""Provides engine assembly and the run loop: build from config, recover, tick, shut down.

``build_engine`` wires market, clock, journal, broker and agents; ``start`` rebuilds from
the journal (or opens the demo book on a new one) and reconciles with the broker; ``run``
paces ticks against the wall clock until asked to stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import time

import msgspec

from engine.agents.analyst import StrategyAnalyst
from engine.agents.orchestrator import Orchestrator
from engine.agents.position_manager import PositionManager
from engine.agents.scanner import TechnicalScanner
from engine.broker.paper import PaperBroker
from engine.clock import EXCHANGE_TZ, NS_PER_SECOND, Clock, ReplayClock, SimClock, to_datetime
from engine.config import EngineConfig
from engine.demo import open_demo_book
from engine.engine import Engine
from engine.journal import Journal
from engine.market import build_source
from engine.paths import journal_path, ledger_path
from engine.recovery import check_positions, rebuild, reconcile_broker
from engine.remote.config import RedisConfig

log = logging.getLogger(__name__)


class ConfigurationError(ValueError):
    """The configuration cannot run; the message names what to change."""


def build_engine(config: EngineConfig, *, mode: str = "headless") -> Engine:
    if config.broker.kind != "paper":
        raise ConfigurationError(
            "broker.kind = 'ibkr' is not available in this version: use 'paper'"
        )
    if config.market.source == "sim" and config.clock.speed <= 0:
        raise ConfigurationError("clock.speed must be > 0 for the sim market (0 is for replay)")
    journal = Journal(journal_path(config))
    config = _pin_start_date(config, journal)
    market = build_source(config.market)
    clock: Clock
    if config.market.source == "replay":
        clock = ReplayClock(market.start_time(), config.clock.speed)
    else:
        clock = SimClock(market.start_time(), config.clock.speed)
    # The market from the start: recovery may resend an unsent order before the first tick.
    broker = PaperBroker(ledger_path(config), config.broker.paper, market=market)
    engine = Engine(config, market=market, broker=broker, journal=journal, clock=clock, mode=mode)
    broker.set_listener(engine)
    agents = config.agents
    engine.agents = [
        TechnicalScanner(agents.scanner),
        Orchestrator(agents.orchestrator),
        StrategyAnalyst(agents.analyst),
        PositionManager(agents.position_manager),
    ]
    return engine


def _pin_start_date(config: EngineConfig, journal: Journal) -> EngineConfig:
    """An unset sim start date is the day the journal began, remembered in the journal,
    so that the market a restart rebuilds is the one the checkpoint was taken from."""
    if config.market.sim.start_date is not None:
        return config
    saved = journal.get_meta("sim_start_date")
    day = dt.date.fromisoformat(saved) if saved else dt.datetime.now(EXCHANGE_TZ).date()
    if not saved:
        journal.set_meta("sim_start_date", day.isoformat())
    sim = msgspec.structs.replace(config.market.sim, start_date=day)
    market = msgspec.structs.replace(config.market, sim=sim)
    return msgspec.structs.replace(config, market=market)


def start(engine: Engine) -> None:
    """Recover from the journal, resume the market, open the demo book if new, reconcile."""
    new = engine.journal.is_new
    records = rebuild(engine)
    saved_market = engine.journal.get_meta("market")
    saved_time = engine.journal.get_meta("engine_time")
    if saved_market is not None and saved_time is not None:
        engine.market.restore(saved_market)
        engine.clock.advance_to(int(saved_time))
    step_ns = engine_step_ns(engine)
    first = engine.market.next_time(engine.now(), step_ns) if saved_market is not None else None
    if first is not None:
        engine.clock.advance_to(first)
    update = engine.market.step(engine.now())
    if new and engine.config.demo.enabled:
        open_demo_book(engine)
    engine.process(update)
    reconcile_broker(engine, reason="start-up")
    check_positions(engine)
    engine.revalue()
    engine.checkpoint()
    log.info(
        "engine %s started: %s journal %s (%d records), %d open positions, kill switch %s",
        engine.config.name,
        "new" if new else "existing",
        engine.journal.path,
        records,
        len(engine.book.open_positions()),
        "ON" if engine.kill_switch else "off",
    )


def engine_step_ns(engine: Engine) -> int:
    """Engine time per tick: a tick's wall interval at the clock's speed."""
    interval = 1.0 / engine.config.clock.tick_rate
    return max(int(interval * max(engine.clock.speed, 1.0) * NS_PER_SECOND), 1)


def status_line(engine: Engine) -> str:
    local = to_datetime(engine.now()).astimezone(EXCHANGE_TZ)
    summary = engine.valuation.summary if engine.valuation else None
    working = sum(
        1
        for o in engine.orders.values()
        if o.state in ("new", "working", "partially_filled", "unknown")
    )
    parts = [f"{local:%Y-%m-%d %H:%M:%S} ET"]
    first = engine.market.symbols[0] if engine.market.symbols else None
    quote = engine.market.quote(first) if first else None
    if quote is not None and quote.last is not None:
        parts.append(f"{first} {quote.last:.2f}")
    if summary is not None:
        parts += [
            f"equity {summary.equity:,.2f}",
            f"day {summary.day_pnl:+,.2f}",
            f"positions {summary.open_positions}",
            f"delta {summary.greeks.delta:+,.0f}",
        ]
    parts += [
        f"orders {working}",
        f"ticks {engine.ticks}",
        f"kill switch {'ON' if engine.kill_switch else 'off'}",
    ]
    if engine.halt_reason:
        parts.append(f"HALTED: {engine.halt_reason}")
    return " | ".join(parts)


async def run(
    engine: Engine,
    *,
    duration: float | None = None,
    status_every: float = 5.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Tick until ``stop`` is set, ``duration`` wall seconds pass, or replay data ends."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    interval = 1.0 / engine.config.clock.tick_rate
    step_ns = engine_step_ns(engine)
    began = loop.time()
    next_status = began + status_every
    ticks = 0
    while not stop.is_set():
        now = engine.now()
        upcoming = engine.market.next_time(now, step_ns)
        if upcoming is None:
            log.info("replay finished: no more data")
            break
        engine.clock.advance_to(upcoming)
        engine.tick()
        ticks += 1
        wall = loop.time()
        if wall >= next_status:
            log.info("%s", status_line(engine))
            next_status = wall + status_every
        if duration is not None and wall - began >= duration:
            break
        if engine.clock.mode == "replay":
            wait = min(engine.clock.wall_seconds(max(upcoming - now, 0)), 1.0)
        else:
            wait = max(began + ticks * interval - wall, 0.0)
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait) if wait > 0 else await asyncio.sleep(
                0
            )
        except TimeoutError:
            pass


async def serve(
    engine: Engine,
    *,
    duration: float | None = None,
    status_every: float = 5.0,
    redis: RedisConfig | None = None,
) -> int:
    """Run headless until SIGINT/SIGTERM or the duration ends; shut down cleanly."""
    stop = asyncio.Event()
    bridge_task = None
    if redis is not None:
        from engine.remote.bridge import RedisBridge

        bridge = RedisBridge(engine, redis)
        bridge_task = asyncio.create_task(bridge.run(stop), name="redis")
        log.info(
            "publishing to %s as engine %r; traders: %s",
            redis.url,
            engine.config.name,
            ", ".join(redis.traders) or "none (read-only)",
        )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    try:
        log.info("%s", status_line(engine))
        await run(engine, duration=duration, status_every=status_every, stop=stop)
        stop.set()
        if bridge_task is not None:
            await asyncio.wait_for(bridge_task, timeout=5.0)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("%s", status_line(engine))
        engine.shutdown()
        log.info(
            "engine stopped after %.1f s, %d ticks; journal closed",
            time.monotonic() - started,
            engine.ticks,
        )
    return 0
