"""Provides a one-shot report timing engine.pricing against a per-option vollib loop.

Run: .venv/bin/python benchmarks/bench_pricing.py  (a few seconds; always exits 0).
vollib is timed on a subsample and scaled per option, since looping it over 100,000
options would take minutes and its cost per option does not depend on the batch size.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy
from vollib.black_scholes_merton import black_scholes_merton as vollib_price
from vollib.black_scholes_merton.greeks import analytical as vollib_greeks
from vollib.black_scholes_merton.implied_volatility import implied_volatility as vollib_iv

from engine.pricing import MIN_TIME_VALUE, greeks, implied_vol

N = 100_000
VOLLIB_SAMPLE = 2_000
BOOK = 1_000
GREEKS_GOAL = 150.0
IV_GOAL = 40.0
BOOK_GOAL_MS = 1.0
ROUND_TRIP_GOAL = 1e-9


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm caches and lazy imports outside the measurement
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_book(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Options over the tested ranges: K/S 0.3-3, one day to five years, 5%-150% vol."""
    S = rng.uniform(20.0, 500.0, n)
    return {
        "flag": np.where(rng.random(n) < 0.5, "c", "p"),
        "S": S,
        "K": S * np.exp(rng.uniform(np.log(0.3), np.log(3.0), n)),
        "T": np.exp(rng.uniform(np.log(1.0 / 365.0), np.log(5.0), n)),
        "r": rng.uniform(0.0, 0.08, n),
        "sigma": rng.uniform(0.05, 1.5, n),
        "q": rng.uniform(0.0, 0.04, n),
    }


def solvable_book(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """A random book kept to options with a volatility to find, with their prices."""
    book = random_book(rng, 3 * n)
    g = greeks(book["flag"], book["S"], book["K"], book["T"], book["r"], book["sigma"], book["q"])
    spot_disc = book["S"] * np.exp(-book["q"] * book["T"])
    strike_disc = book["K"] * np.exp(-book["r"] * book["T"])
    call = book["flag"] == "c"
    intrinsic = np.maximum(np.where(call, spot_disc - strike_disc, strike_disc - spot_disc), 0)
    upper = np.where(call, spot_disc, strike_disc)
    floor = MIN_TIME_VALUE * book["S"]
    keep = np.flatnonzero(
        (g.price - intrinsic >= floor)
        & (upper - g.price >= floor)
        & (100.0 * g.vega >= 1e-6 * np.maximum(book["S"], book["K"]))
    )[:n]
    return {name: column[keep] for name, column in book.items()} | {"price": g.price[keep]}


def vollib_greeks_loop(book: dict[str, np.ndarray]) -> None:
    for flag, S, K, T, r, sigma, q in zip(
        book["flag"],
        book["S"],
        book["K"],
        book["T"],
        book["r"],
        book["sigma"],
        book["q"],
        strict=True,
    ):
        args = (str(flag), float(S), float(K), float(T), float(r), float(sigma), float(q))
        vollib_price(*args)
        vollib_greeks.delta(*args)
        vollib_greeks.gamma(*args)
        vollib_greeks.vega(*args)
        vollib_greeks.theta(*args)
        vollib_greeks.rho(*args)


def vollib_iv_loop(book: dict[str, np.ndarray]) -> None:
    for price, flag, S, K, T, r, q in zip(
        book["price"],
        book["flag"],
        book["S"],
        book["K"],
        book["T"],
        book["r"],
        book["q"],
        strict=True,
    ):
        try:
            vollib_iv(float(price), float(S), float(K), float(T), float(r), float(q), str(flag))
        except Exception:  # vollib raises near the bounds; that costs it time as well
            pass


def sample(book: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    return {name: column[:n] for name, column in book.items()}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    rng = np.random.default_rng(20240601)
    book = random_book(rng, N)
    args = (book["flag"], book["S"], book["K"], book["T"], book["r"], book["sigma"], book["q"])
    small_args = tuple(column[:BOOK] for column in args)
    priced = solvable_book(rng, N)
    iv_args = (priced["price"], priced["flag"], priced["S"], priced["K"], priced["T"])
    iv_args += (priced["r"], priced["q"])

    ours_greeks = median_seconds(lambda: greeks(*args), repeats=20) / N
    theirs_greeks = (
        median_seconds(lambda: vollib_greeks_loop(sample(book, VOLLIB_SAMPLE)), repeats=3)
        / VOLLIB_SAMPLE
    )
    book_seconds = median_seconds(lambda: greeks(*small_args), repeats=500)
    ours_iv = median_seconds(lambda: implied_vol(*iv_args), repeats=10) / len(priced["price"])
    theirs_iv = (
        median_seconds(lambda: vollib_iv_loop(sample(priced, VOLLIB_SAMPLE)), repeats=3)
        / VOLLIB_SAMPLE
    )
    round_trip = float(np.max(np.abs(implied_vol(*iv_args) - priced["sigma"])))

    greeks_ratio = theirs_greeks / ours_greeks
    iv_ratio = theirs_iv / ours_iv
    book_ms = book_seconds * 1e3
    print(
        f"engine.pricing vs vollib — Python {platform.python_version()}, numpy "
        f"{np.__version__}, scipy {scipy.__version__}, {os.cpu_count()} CPUs"
    )
    print(f"vollib timed on {VOLLIB_SAMPLE:,} options per loop, scaled per option\n")
    header = f"{'benchmark':<38}{'ours':>12}{'vollib':>12}{'ratio':>10}{'goal':>12}  result"
    print(header)
    print("-" * len(header))
    rows = [
        (
            f"greeks: price+5 Greeks, N={N:,}",
            f"{ours_greeks * 1e6:.3f} µs",
            f"{theirs_greeks * 1e6:.2f} µs",
            f"{greeks_ratio:.0f}×",
            f"≥{GREEKS_GOAL:.0f}×",
            verdict(greeks_ratio >= GREEKS_GOAL),
        ),
        (
            f"greeks: book revalue, {BOOK:,} options",
            f"{book_ms:.3f} ms",
            "",
            "",
            f"<{BOOK_GOAL_MS:g} ms",
            verdict(book_ms < BOOK_GOAL_MS),
        ),
        (
            f"implied_vol, N={len(priced['price']):,}",
            f"{ours_iv * 1e6:.3f} µs",
            f"{theirs_iv * 1e6:.2f} µs",
            f"{iv_ratio:.0f}×",
            f"≥{IV_GOAL:.0f}×",
            verdict(iv_ratio >= IV_GOAL),
        ),
        (
            "implied_vol: max round-trip |Δσ|",
            f"{round_trip:.1e}",
            "",
            "",
            f"≤{ROUND_TRIP_GOAL:g}",
            verdict(round_trip <= ROUND_TRIP_GOAL),
        ),
    ]
    for name, ours, theirs, ratio, goal, result in rows:
        print(f"{name:<38}{ours:>12}{theirs:>12}{ratio:>10}{goal:>12}  {result}")


if __name__ == "__main__":
    main()
