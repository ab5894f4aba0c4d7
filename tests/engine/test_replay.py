"""The replay source: CSV bars in, quotes equal to closes, a surface fitted to realized vol."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from engine.clock import EXCHANGE_TZ, exchange_date, from_datetime
from engine.market import build_source
from engine.market.base import CheckpointError, FaultSwitches, MarketSource, MarketUpdate
from engine.market.calendar import close_ns
from engine.market.config import MarketConfig, ReplayConfig
from engine.market.csvbars import ReplayDataError
from engine.market.replay import ReplayMarket
from engine.records import Option

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def walk(seed: int, n: int, vol: float, per_year: float, start: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = rng.normal(-0.5 * vol**2 / per_year, vol / math.sqrt(per_year), n)
    return start * np.exp(np.cumsum(returns))


def write_daily(
    path: Path,
    closes: np.ndarray,
    first: str = "2021-01-04",
    adj: float = 1.0,
    header: tuple[str, ...] = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"),
) -> list[dt.date]:
    days = np.busday_offset(first, np.arange(len(closes)), roll="forward")
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        for day, close in zip(days, closes, strict=True):
            opened = close * 0.998
            row = [str(day), opened, close * 1.01, close * 0.99, close, close * adj, 1_000_000]
            out.writerow(row[: len(header)])
    return [d.astype(dt.date) for d in days]


def replay_all(market: ReplayMarket) -> list[tuple[int, MarketUpdate]]:
    now = market.start_time()
    steps = [(now, market.step(now))]
    while (nxt := market.next_time(now, 60_000_000_000)) is not None:
        now = nxt
        steps.append((now, market.step(now)))
    return steps


# --- daily bars ----------------------------------------------------------------------------


def test_daily_replay_quotes_equal_closes_and_fits_the_vol(tmp_path: Path) -> None:
    closes = walk(seed=1, n=500, vol=0.30, per_year=252)
    days = write_daily(tmp_path / "ABC.csv", closes)
    market = build_source(
        MarketConfig(source="replay", replay=ReplayConfig(paths=(str(tmp_path),)))
    )
    assert isinstance(market, ReplayMarket)
    assert isinstance(market, MarketSource) and isinstance(market, FaultSwitches)
    assert market.name == "replay" and market.symbols == ("ABC",) and market.indices == ("VIX",)
    assert market.start_time() == close_ns(days[0])

    fitted = []
    steps = []
    now: int | None = market.start_time()
    while now is not None:
        steps.append((now, market.step(now)))
        fitted.append(market.fitted_vol("ABC"))
        now = market.next_time(now, 1)
    assert len(steps) == len(closes)
    for i, (now, update) in enumerate(steps):
        quote = next(q for q in update.quotes if q.symbol == "ABC")
        assert quote.last == pytest.approx(closes[i], rel=1e-12)
        assert quote.bid < quote.last < quote.ask and quote.ts == now  # type: ignore[operator]
        assert update.new_session == days[i]
        assert market.session_open(now)  # a daily bar stands at the close, in its session
    assert market.next_time(steps[-1][0], 1) is None
    assert market.step(steps[-1][0] + 10**12) == MarketUpdate()

    # EWMA with a 20-day half-life: ~60 effective returns, so averaging 300 steps is ~5%.
    assert np.mean(fitted[200:]) == pytest.approx(0.30, rel=0.12)
    expiry = min(market.expiries("ABC"), key=lambda e: abs((e - days[-1]).days - 30))
    atm = market.atm_vol("ABC", expiry)
    assert atm / market.fitted_vol("ABC") == pytest.approx(1.10, rel=0.15)  # the vol premium
    vix = market.quote("VIX")
    assert vix is not None and 10 < vix.last < 60  # type: ignore[operator]
    bars = market.daily_bars("ABC")
    assert len(bars) == len(closes) and bars.close[-1] == pytest.approx(closes[-1])


def test_replay_options_are_listed_priced_and_arbitrage_free(tmp_path: Path) -> None:
    write_daily(tmp_path / "XYZ.csv", walk(seed=2, n=300, vol=0.25, per_year=252, start=250.0))
    market = ReplayMarket(
        ReplayConfig(paths=(str(tmp_path / "XYZ.csv"),), dividend_yields={"XYZ": 0.01})
    )
    replay_all(market)
    assert market.dividend_yield("XYZ") == 0.01
    expiries = market.expiries("XYZ")
    assert expiries[0] >= exchange_date(market._t) and len(expiries) > 15
    expiry = expiries[4]
    chain = market.chain("XYZ", expiry)
    assert chain and all(q.mid is not None and q.bid <= q.mid <= q.ask for q in chain)  # type: ignore[operator]
    calls = np.array([q.mid for q in chain if q.instrument.right == "C"], dtype=float)
    strikes = np.array([q.instrument.strike for q in chain if q.instrument.right == "C"])
    slope = np.diff(calls) / np.diff(strikes)
    assert np.all(slope <= 1e-9) and np.all(np.diff(slope) >= -1e-9)
    option = chain[len(chain) // 2].instrument
    marks = market.option_marks(
        [option, Option(underlying="NOPE", expiry=expiry, strike=1.0, right="C")]
    )
    assert marks.state.tolist() == [0, 2] and marks.mid[0] == chain[len(chain) // 2].mid


def test_vix_file_is_quoted_as_the_index(tmp_path: Path) -> None:
    days = write_daily(tmp_path / "SPY.csv", walk(seed=3, n=60, vol=0.2, per_year=252, start=400))
    levels = 15 + 5 * np.abs(np.sin(np.arange(60) / 7))
    write_daily(tmp_path / "vix.csv", levels, header=("DATE", "OPEN", "HIGH", "LOW", "CLOSE"))
    market = ReplayMarket(
        ReplayConfig(paths=(str(tmp_path / "SPY.csv"),), index_path=str(tmp_path / "vix.csv"))
    )
    steps = replay_all(market)
    assert market.symbols == ("SPY",)
    for i, (_, update) in enumerate(steps):
        vix = next(q for q in update.quotes if q.symbol == "VIX")
        assert vix.last == pytest.approx(levels[i]) and vix.ts == close_ns(days[i])
    assert len(market.daily_bars("VIX")) == 60
    # A VIX.csv inside the data directory is taken as the index too, not as an underlying.
    (tmp_path / "vix.csv").rename(tmp_path / "VIX.csv")
    market = ReplayMarket(ReplayConfig(paths=(str(tmp_path),)))
    assert market.symbols == ("SPY",) and market.indices == ("VIX",)


def test_start_end_and_warmup_history(tmp_path: Path) -> None:
    days = write_daily(tmp_path / "ABC.csv", walk(seed=4, n=400, vol=0.2, per_year=252))
    start, end = days[300], days[350]
    market = ReplayMarket(
        ReplayConfig(paths=(str(tmp_path),), start=start, end=end, warmup_days=200)
    )
    assert market.start_time() == close_ns(start)
    assert market.quote("ABC") is not None  # the warm-up's last bar is already quoted
    history = len(market.daily_bars("ABC"))
    assert 130 < history < 300
    steps = replay_all(market)
    assert len(steps) == 51 and steps[0][1].new_session == start
    assert exchange_date(steps[-1][0]) == end
    assert len(market.daily_bars("ABC")) == history + 51


def test_adjusted_closes_and_case_insensitive_headers(tmp_path: Path) -> None:
    closes = walk(seed=5, n=30, vol=0.2, per_year=252)
    write_daily(
        tmp_path / "AB.csv",
        closes,
        adj=0.5,
        header=("timestamp", "OPEN", "high", "Low", "close", "adj_close", "VOLUME"),
    )
    adjusted = ReplayMarket(ReplayConfig(paths=(str(tmp_path),)))
    raw = ReplayMarket(ReplayConfig(paths=(str(tmp_path),), use_adjusted=False))
    for market, scale in ((adjusted, 0.5), (raw, 1.0)):
        steps = replay_all(market)
        assert steps[-1][1].quotes[0].last == pytest.approx(closes[-1] * scale)


# --- intraday bars ---------------------------------------------------------------------------


def test_minute_replay_steps_each_bar_in_new_york_time(tmp_path: Path) -> None:
    days = [dt.date(2024, 3, 6), dt.date(2024, 3, 7), dt.date(2024, 3, 8)]
    closes = walk(seed=6, n=390 * len(days), vol=0.25, per_year=252 * 390 / 0.8)
    stamps = [
        dt.datetime.combine(d, dt.time(9, 31)) + dt.timedelta(minutes=m)
        for d in days
        for m in range(390)
    ]
    with (tmp_path / "MIN.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["Datetime", "Open", "High", "Low", "Close", "Volume"])
        for stamp, close in zip(stamps, closes, strict=True):
            out.writerow(
                [stamp.isoformat(sep=" "), close, close * 1.0005, close * 0.9995, close, 100]
            )
    market = ReplayMarket(
        ReplayConfig(paths=(str(tmp_path),), ewma_halflife_days=0.5, initial_vol=0.6)
    )
    steps = replay_all(market)
    assert len(steps) == len(stamps)
    sessions = [u.new_session for _, u in steps if u.new_session]
    assert sessions == days
    for (now, update), stamp, close in zip(steps, stamps, closes, strict=True):
        assert now == from_datetime(stamp.replace(tzinfo=EXCHANGE_TZ))
        assert update.quotes[0].last == pytest.approx(close)
    assert market.session_open(steps[10][0])
    assert steps[389][1].quotes[0].volume == 390 * 100  # the day's cumulative volume
    assert steps[390][1].quotes[0].prev_close == pytest.approx(closes[389], rel=1e-4)
    # 1,170 minute returns, the prior (0.6) fades with a half-day half-life.
    assert market.fitted_vol("MIN") == pytest.approx(0.25, rel=0.2)
    bars = market.daily_bars("MIN")
    assert len(bars) == 3 and bars.close[-1] == pytest.approx(closes[-1])
    assert bars.volume.tolist() == [39_000.0] * 3


# --- bad data ----------------------------------------------------------------------------------


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = [
        "Date,Open,High,Low,Close,Volume",
        "2024-01-02,100,101,99,100.5,1000",
        "2024-01-03,NaN,101,99,100.5,1000",
        "2024-01-04,100,101,99,,1000",
        "2024-01-05,100,101,99,abc,1000",
        "2024-01-08,100,101,99,-1,1000",
        "2024-01-09,100,101,99,0,1000",
        "2024-01-10,100,101,99,1.7976931348623157e308,1000",
        "2024-01-11,100,101,99,inf,1000",
        "2024-01-12,100,98,99,100,1000",
        "2024-01-16,100,101,99,-5,1000",
        "2024-01-17,100,102,99,101,1000",
        "2024-01-17,100,102,99,101.5,1000",
        "2024-01-16,100,102,99,101.5,1000",
        "2024-01-18,100,102,99,102,nan",
        "",
    ]
    (tmp_path / "BAD.csv").write_text("\n".join(rows))
    market = ReplayMarket(ReplayConfig(paths=(str(tmp_path),)))
    counters = market.counters
    assert counters["rows_skipped_nan"] == 3
    assert counters["rows_skipped_sentinel"] == 2
    assert counters["rows_skipped_zero"] == 1 and counters["rows_skipped_inf"] == 1
    assert counters["rows_skipped_negative"] == 1 and counters["rows_skipped_high_low"] == 1
    assert counters["rows_skipped_order"] == 2 and counters["volume_invalid"] == 1
    steps = replay_all(market)
    assert [u.quotes[0].last for _, u in steps] == [100.5, 101.0, 102.0]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n2024-01-03,1,1,1\n", ":3:"),
        ("When,Open,High,Low,Price\n2024-01-02,1,1,1,1\n", ":1:"),
        ("Date,Close\nyesterday,1\n", ":2:"),
        ("", ":1:"),
        ("Date,Close\n2024-01-02,-1\n", "no usable bars"),
    ],
)
def test_malformed_files_raise_a_clear_error(tmp_path: Path, content: str, where: str) -> None:
    path = tmp_path / "MAL.csv"
    path.write_text(content)
    with pytest.raises(ReplayDataError, match=r"MAL\.csv") as error:
        ReplayMarket(ReplayConfig(paths=(str(path),)))
    assert where in str(error.value)


def test_binary_and_missing_files_raise_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "BIN.csv"
    path.write_bytes(b"Date,Close\n2024-01-02,1\n\xff\xfe\x00garbage\x81\n")
    with pytest.raises(ReplayDataError, match=r"BIN\.csv:\d+: not a UTF-8"):
        ReplayMarket(ReplayConfig(paths=(str(path),)))
    with pytest.raises(ReplayDataError, match="no such file"):
        ReplayMarket(ReplayConfig(paths=(str(tmp_path / "absent.csv"),)))


# --- faults and checkpoint -------------------------------------------------------------------


def test_replay_faults_freeze_and_inject(tmp_path: Path) -> None:
    closes = walk(seed=7, n=40, vol=0.2, per_year=252)
    write_daily(tmp_path / "ABC.csv", closes)
    market = ReplayMarket(ReplayConfig(paths=(str(tmp_path),)))
    now = market.start_time()
    market.step(now)
    option = Option(
        underlying="ABC",
        expiry=market.expiries("ABC")[2],
        strike=market.strikes("ABC", market.expiries("ABC")[2])[20],
        right="P",
    )
    market.inject_quote("ABC", float("nan"), 1.0, 1.0)
    now = market.next_time(now, 1)  # type: ignore[assignment]
    update = market.step(now)
    assert "ABC" not in {q.symbol for q in update.quotes}
    assert market.counters["quotes_rejected_nan"] == 1
    assert market.option_marks([option]).state[0] == 2
    now = market.next_time(now, 1)  # type: ignore[assignment]
    market.step(now)
    assert market.quote("ABC").ts == now and market.option_marks([option]).state[0] == 0  # type: ignore[union-attr]
    market.freeze(["ABC"])
    frozen = market.quote("ABC")
    for _ in range(3):
        now = market.next_time(now, 1)  # type: ignore[assignment]
        market.step(now)
    assert market.quote("ABC") == frozen and market.quote("VIX").ts == now  # type: ignore[union-attr]
    market.unfreeze()
    now = market.next_time(now, 1)  # type: ignore[assignment]
    market.step(now)
    assert market.quote("ABC").last == pytest.approx(closes[6])  # type: ignore[union-attr]


def test_replay_checkpoint_restore_continues_identically(tmp_path: Path) -> None:
    write_daily(tmp_path / "ABC.csv", walk(seed=8, n=120, vol=0.2, per_year=252))
    write_daily(
        tmp_path / "DEF.csv", walk(seed=9, n=100, vol=0.4, per_year=252), first="2021-02-01"
    )
    config = ReplayConfig(paths=(str(tmp_path),))
    original = ReplayMarket(config)
    now = original.start_time()
    original.step(now)
    for _ in range(50):
        now = original.next_time(now, 1)  # type: ignore[assignment]
        original.step(now)
    saved = original.checkpoint()
    restored = ReplayMarket(config)
    restored.restore(saved)
    expiry = original.expiries("DEF")[3]
    assert restored.chain("DEF", expiry) == original.chain("DEF", expiry)
    for _ in range(40):
        now = original.next_time(now, 1)  # type: ignore[assignment]
        assert restored.next_time(now - 1, 1) == now
        assert restored.step(now) == original.step(now)
    write_daily(tmp_path / "DEF.csv", walk(seed=10, n=100, vol=0.4, per_year=252))
    with pytest.raises(CheckpointError):
        ReplayMarket(config).restore(saved)


# --- real data (optional) -----------------------------------------------------------------------


@pytest.mark.shared_data
def test_replay_of_real_sp500_and_vix_history() -> None:
    gspc = SHARED / "qstrader_fork_gspc" / "GSPC.csv"
    vix = SHARED / "datahub_finance_vix" / "data" / "vix-daily.csv"
    if not gspc.exists() or not vix.exists():
        pytest.skip(f"shared data not found under {SHARED} (a fresh clone has no ../shared)")
    config = ReplayConfig(
        files={"SPX": str(gspc)},
        index_path=str(vix),
        start=dt.date(2018, 1, 2),
        end=dt.date(2018, 12, 31),
    )
    market = ReplayMarket(config)
    vols: dict[dt.date, float] = {}
    now: int | None = market.start_time()
    while now is not None:
        update = market.step(now)
        assert {q.symbol for q in update.quotes} == {"SPX", "VIX"}
        vols[exchange_date(now)] = market.fitted_vol("SPX")
        now = market.next_time(now, 1)
    assert len(vols) == 251
    assert market.quote("SPX").last == pytest.approx(2506.850098)  # type: ignore[union-attr]
    assert market.quote("VIX").last == pytest.approx(25.42)  # type: ignore[union-attr]
    # February 2018: realized vol more than doubled in a week ("Volmageddon").
    assert vols[dt.date(2018, 2, 9)] > 2 * vols[dt.date(2018, 1, 26)]
    assert min(vols.values()) > 0.05 and max(vols.values()) < 0.6
    chain = market.chain("SPX", market.expiries("SPX")[3])
    assert chain and all(q.mid is not None for q in chain)


@pytest.mark.shared_data
def test_replay_of_real_spy_with_adjusted_closes() -> None:
    spy = SHARED / "quantconnect_lean" / "normalized" / "daily" / "spy_daily.csv"
    if not spy.exists():
        pytest.skip(f"shared data not found: {spy} (a fresh clone has no ../shared)")
    config = ReplayConfig(
        files={"SPY": str(spy)}, start=dt.date(2020, 2, 3), end=dt.date(2020, 4, 30)
    )
    market = ReplayMarket(config)
    replay_all(market)
    assert market.counters.get("rows_skipped_nan", 0) == 0
    assert market.fitted_vol("SPY") > 0.4  # March 2020
    derived = market.quote("VIX")
    assert derived is not None and derived.last > 30  # type: ignore[operator]
