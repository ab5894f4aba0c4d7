"""Provides OHLCV bars read from CSV: daily or intraday, one file per symbol.

Headers are matched case-insensitively: a time column (Date, Datetime, Timestamp, Time),
Close, and optionally Open, High, Low, Volume and Adj Close. Dates are ISO or a few common
layouts; intraday times without a zone are New York time. A bad row (NaN, infinite,
sentinel, zero or negative price, high below low, time out of order) is skipped and
counted under ``rows_skipped_<reason>``; a file that cannot be read as bars raises
:class:`ReplayDataError` naming the file and line.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.clock import EXCHANGE_TZ, exchange_date, from_datetime
from engine.market import calendar
from engine.market.base import FloatArray, IntArray
from engine.market.validate import price_code

TIME_NAMES = ("date", "datetime", "timestamp", "time")
_LAYOUTS = (
    "%Y%m%d %H:%M",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%Y/%m/%d",
    "%d-%b-%Y",
    "%Y-%m-%d %H:%M:%S%z",
)


class ReplayDataError(ValueError):
    """A replay file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class BarSeries:
    symbol: str
    path: str
    ts: IntArray
    """Engine time of each bar: 16:00 ET for daily bars, the bar's own time otherwise."""
    date: npt.NDArray[np.datetime64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    intraday: bool

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.strip().lower())


def parse_time(text: str) -> tuple[dt.datetime, bool] | None:
    """The moment and whether the text carried a time of day; None if unreadable."""
    text = text.strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment, len(text) > 10
    except ValueError:
        pass
    for layout in _LAYOUTS:
        try:
            moment = dt.datetime.strptime(text, layout)
        except ValueError:
            continue
        return moment, "%H" in layout
    return None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def discover(paths: Iterable[str], files: dict[str, str]) -> dict[str, Path]:
    """Symbol -> file: each CSV in the given directories or files, named by its stem."""
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
            if not candidates:
                raise ReplayDataError(f"{path}: no .csv files in this directory")
        elif path.is_file():
            candidates = [path]
        else:
            raise ReplayDataError(f"{path}: no such file or directory")
        for candidate in candidates:
            found[candidate.stem.upper()] = candidate
    for symbol, raw in files.items():
        found[symbol.upper()] = Path(raw).expanduser()
    return found


def load_csv(
    path: Path, symbol: str, counters: dict[str, int], *, use_adjusted: bool = True
) -> BarSeries:
    rows: list[tuple[dt.datetime, bool, float, float, float, float, float]] = []
    line = 1
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ReplayDataError(f"{path}:1: empty file, expected a header row")
            columns = _columns(path, header)
            width = len(header)
            for row in reader:
                line = reader.line_num
                if not row or not "".join(row).strip():
                    continue
                if len(row) != width:
                    raise ReplayDataError(
                        f"{path}:{line}: expected {width} fields like the header, got {len(row)}"
                    )
                parsed = _row(path, line, row, columns, use_adjusted)
                if isinstance(parsed, str):
                    _bump(counters, parsed)
                else:
                    rows.append(parsed)
    except UnicodeDecodeError as exc:
        raise ReplayDataError(
            f"{path}:{line + 1}: not a UTF-8 text CSV file ({exc.reason})"
        ) from None
    except OSError as exc:
        raise ReplayDataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except csv.Error as exc:
        raise ReplayDataError(f"{path}:{line + 1}: malformed CSV: {exc}") from None
    return _series(path, symbol, rows, counters)


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [_normal(h) for h in header]
    columns: dict[str, int] = {}
    for i, name in enumerate(names):
        if "time" not in columns and (name in TIME_NAMES or name.startswith("datetime")):
            columns["time"] = i
        for field in ("open", "high", "low", "close", "volume", "adjclose"):
            if name == field and field not in columns:
                columns[field] = i
    if "time" not in columns or "close" not in columns:
        raise ReplayDataError(
            f"{path}:1: header {header!r} needs a Date/Datetime/Timestamp column and a Close "
            "column (Open, High, Low, Volume and Adj Close are optional)"
        )
    return columns


def _row(
    path: Path, line: int, row: list[str], columns: dict[str, int], use_adjusted: bool
) -> tuple[dt.datetime, bool, float, float, float, float, float] | str:
    """A clean bar, or the counter name of why the row is skipped."""
    when = parse_time(row[columns["time"]])
    if when is None:
        raise ReplayDataError(f"{path}:{line}: cannot read the time {row[columns['time']]!r}")
    close = _number(row[columns["close"]])
    prices = [_number(row[columns[f]]) if f in columns else close for f in ("open", "high", "low")]
    for value in (*prices, close):
        code = price_code(value)
        if code is not None:
            return f"rows_skipped_{code}"
    o, h, lo = prices
    if h < lo:
        return "rows_skipped_high_low"
    if use_adjusted and "adjclose" in columns:
        adjusted = _number(row[columns["adjclose"]])
        if price_code(adjusted) is not None:
            return "rows_skipped_adj_close"
        factor = adjusted / close
        o, h, lo, close = o * factor, h * factor, lo * factor, adjusted
    volume = _number(row[columns["volume"]]) if "volume" in columns else 0.0
    if not volume >= 0 or volume == float("inf"):
        volume = float("nan")
    return when[0], when[1], o, h, lo, close, volume


def _bump(counters: dict[str, int], key: str) -> None:
    counters[key] = counters.get(key, 0) + 1


def _series(
    path: Path,
    symbol: str,
    rows: list[tuple[dt.datetime, bool, float, float, float, float, float]],
    counters: dict[str, int],
) -> BarSeries:
    if not rows:
        raise ReplayDataError(f"{path}: no usable bars (every row was skipped, or none given)")
    intraday = any(has_time and moment.time() != dt.time(0) for moment, has_time, *_ in rows)
    stamps: list[int] = []
    days: list[dt.date] = []
    for moment, *_ in rows:
        if not intraday:
            stamps.append(calendar.close_ns(moment.date()))
            days.append(moment.date())
            continue
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=EXCHANGE_TZ)
        stamps.append(from_datetime(aware))
        days.append(exchange_date(stamps[-1]))
    ts = np.array(stamps, dtype=np.int64)
    # Keep bars strictly increasing in time: duplicates and stragglers are bad rows.
    keep = ts > np.concatenate([[np.iinfo(np.int64).min], np.maximum.accumulate(ts)[:-1]])
    dropped = int((~keep).sum())
    if dropped:
        counters["rows_skipped_order"] = counters.get("rows_skipped_order", 0) + dropped
    values = np.array([r[2:] for r in rows], dtype=np.float64)[keep]
    o, h, lo, c, v = values.T
    bad_volume = ~np.isfinite(v)
    if bad_volume.any():
        counters["volume_invalid"] = counters.get("volume_invalid", 0) + int(bad_volume.sum())
    # Some vendors print an open or close outside the day's range: widen the range.
    outside = (np.maximum(o, c) > h) | (np.minimum(o, c) < lo)
    if outside.any():
        counters["rows_range_widened"] = counters.get("rows_range_widened", 0) + int(outside.sum())
    ts = ts[keep]
    dates = np.array(days, dtype="datetime64[D]")[keep]
    return BarSeries(
        symbol=symbol,
        path=str(path),
        ts=ts,
        date=dates,
        open=o.copy(),
        high=np.maximum(h, np.maximum(o, c)),
        low=np.minimum(lo, np.minimum(o, c)),
        close=c.copy(),
        volume=np.where(bad_volume, 0.0, v),
        intraday=intraday,
    )
