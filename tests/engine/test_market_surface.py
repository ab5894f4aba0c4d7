"""The implied-vol surface and the chains quoted on it are free of static arbitrage."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market.calendar import NS_PER_YEAR, close_ns
from engine.market.config import REGIME_NAMES, SimConfig
from engine.market.sim import SimMarket
from engine.market.surface import ssvi_total_variance
from engine.records import OptionQuote

# The market tests replay fixed days: an unset start date would be today.
START = dt.date(2025, 3, 3)

MINUTE = 60 * 1_000_000_000
EPS = 1e-9


def _sim(regime: str, seed: int = 31) -> SimMarket:
    sim = SimMarket(
        SimConfig(start_date=START, seed=seed, pin_regime=regime, history_days=40, flow_rate=0.0)
    )
    now = sim.start_time()
    sim.step(now)
    for _ in range(5):
        now = sim.next_time(now, 30 * MINUTE)  # type: ignore[assignment]
        sim.step(now)
    return sim


@pytest.fixture(scope="module", params=REGIME_NAMES)
def regime_sim(request: pytest.FixtureRequest) -> SimMarket:
    return _sim(request.param)


def _pick_expiries(sim: SimMarket, symbol: str) -> list[dt.date]:
    expiries = sim.expiries(symbol)
    today = sim._day
    by_days = lambda days: min(expiries, key=lambda e: abs((e - today).days - days))  # noqa: E731
    return sorted({expiries[0], by_days(30), by_days(91), expiries[-1]})


def _sides(chain: tuple[OptionQuote, ...], right: str) -> dict[str, np.ndarray]:
    rows = [q for q in chain if q.instrument.right == right]
    return {
        "K": np.array([q.instrument.strike for q in rows]),
        "mid": np.array([q.mid for q in rows], dtype=float),
        "bid": np.array([q.bid for q in rows], dtype=float),
        "ask": np.array([q.ask for q in rows], dtype=float),
    }


def _years(sim: SimMarket, expiry: dt.date) -> float:
    return (close_ns(expiry) - sim._t) / NS_PER_YEAR


# --- the smile itself ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    rho=st.floats(-0.95, 0.95),
    eta_share=st.floats(0.05, 1.0),
    gamma=st.floats(0.05, 0.5),
    theta=st.floats(1e-4, 2.0),
)
def test_ssvi_slices_pass_durrleman_butterfly_condition(
    rho: float, eta_share: float, gamma: float, theta: float
) -> None:
    """g(k) = (1 - k w'/2w)^2 - w'^2/4 (1/w + 1/4) + w''/2 >= 0: a nonnegative density."""
    eta = eta_share * 2.0 / (1.0 + abs(rho))
    k = np.linspace(-1.5, 1.5, 3001)
    w = ssvi_total_variance(k, np.full_like(k, theta), rho, eta, gamma)
    h = k[1] - k[0]
    w1 = np.gradient(w, h)
    w2 = np.gradient(w1, h)
    g = (1 - k * w1 / (2 * w)) ** 2 - w1**2 / 4 * (1 / w + 0.25) + w2 / 2
    assert g[2:-2].min() > -1e-6
    assert w[len(k) // 2] == pytest.approx(theta)


@settings(max_examples=60, deadline=None)
@given(rho=st.floats(-0.95, 0.95), eta_share=st.floats(0.05, 1.0), gamma=st.floats(0.05, 0.5))
def test_ssvi_total_variance_grows_with_theta_at_every_moneyness(
    rho: float, eta_share: float, gamma: float
) -> None:
    eta = eta_share * 2.0 / (1.0 + abs(rho))
    theta = np.geomspace(1e-4, 3.0, 200)
    for k in (-1.0, -0.3, -0.05, 0.0, 0.05, 0.3, 1.0):
        w = ssvi_total_variance(np.full_like(theta, k), theta, rho, eta, gamma)
        assert np.all(np.diff(w) >= -1e-12)


# --- chains ----------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["SPY", "NVDA", "TSLA"])
def test_chain_mids_are_monotone_and_convex_in_strike(regime_sim: SimMarket, symbol: str) -> None:
    sim = regime_sim
    for expiry in _pick_expiries(sim, symbol):
        chain = sim.chain(symbol, expiry)
        discount = math.exp(-sim.rate * _years(sim, expiry))
        for right, sign in (("C", -1.0), ("P", 1.0)):
            side = _sides(chain, right)
            slope = np.diff(side["mid"]) / np.diff(side["K"])
            # Calls fall with strike, puts rise, never faster than the discounted strike.
            assert np.all(sign * slope >= -EPS), (right, expiry)
            assert np.all(np.abs(slope) <= discount + EPS), (right, expiry)
            assert np.all(np.diff(slope) >= -EPS), (right, expiry)  # convex


@pytest.mark.parametrize("symbol", ["SPY", "AAPL", "TSLA"])
def test_verticals_and_butterflies_never_pay_at_the_quotes(
    regime_sim: SimMarket, symbol: str
) -> None:
    sim = regime_sim
    for expiry in _pick_expiries(sim, symbol):
        chain = sim.chain(symbol, expiry)
        discount = math.exp(-sim.rate * _years(sim, expiry))
        for right in ("C", "P"):
            s = _sides(chain, right)
            K, bid, ask = s["K"], s["bid"], s["ask"]
            low, high = np.triu_indices(K.size, 1)
            width = (K[high] - K[low]) * discount
            if right == "C":  # bull call: buy low strike, sell high strike
                debit, credit = ask[low] - bid[high], bid[low] - ask[high]
            else:  # bear put: buy high strike, sell low strike
                debit, credit = ask[high] - bid[low], bid[high] - ask[low]
            assert np.all(debit >= -EPS), (right, expiry)  # costs something to buy
            assert np.all(credit <= width + EPS), (right, expiry)  # selling pays < max loss
            k1, k2, k3 = K[:-2], K[1:-1], K[2:]
            weight = (k3 - k2) / (k3 - k1)
            fly = weight * ask[:-2] + (1 - weight) * ask[2:] - bid[1:-1]
            assert np.all(fly >= -EPS), (right, expiry)


def test_put_call_parity_holds_within_the_spread(regime_sim: SimMarket) -> None:
    sim = regime_sim
    for symbol in ("SPY", "NVDA"):
        q = sim.dividend_yield(symbol)
        for expiry in _pick_expiries(sim, symbol):
            chain = sim.chain(symbol, expiry)
            T = _years(sim, expiry)
            calls, puts = _sides(chain, "C"), _sides(chain, "P")
            spot = chain[0].underlying_price
            assert spot is not None
            forward = spot * math.exp(-q * T) - calls["K"] * math.exp(-sim.rate * T)
            gap = np.abs(calls["mid"] - puts["mid"] - forward)
            allowed = ((calls["ask"] - calls["bid"]) + (puts["ask"] - puts["bid"])) / 2
            assert np.all(gap <= allowed + EPS)


def test_total_variance_never_falls_with_maturity(regime_sim: SimMarket) -> None:
    sim = regime_sim
    k = np.linspace(-0.4, 0.4, 33)
    for symbol in sim.symbols:
        w = np.array([sim.total_variance(symbol, e, k) for e in sim.expiries(symbol)])
        assert np.all(np.diff(w, axis=0) >= -1e-12), symbol


def test_term_structure_slopes_up_in_calm_and_inverts_in_crisis() -> None:
    for regime, sign in (("calm", 1), ("crisis", -1)):
        sim = _sim(regime)
        expiries = sim.expiries("SPY")
        month = min(expiries, key=lambda e: abs((e - sim._day).days - 30))
        year = min(expiries, key=lambda e: abs((e - sim._day).days - 365))
        assert sign * (sim.atm_vol("SPY", year) - sim.atm_vol("SPY", month)) > 0.005, regime


def test_equity_skew_puts_over_calls() -> None:
    sim = _sim("normal")
    expiry = min(sim.expiries("SPY"), key=lambda e: abs((e - sim._day).days - 30))
    w = sim.total_variance("SPY", expiry, [-0.1, 0.0, 0.1])
    assert w[0] > w[1] > w[2]


def test_spreads_widen_with_stress_and_away_from_the_money() -> None:
    calm, crisis = _sim("calm", seed=40), _sim("crisis", seed=40)

    def relative_spreads(sim: SimMarket) -> dict[float, float]:
        expiry = min(sim.expiries("SPY"), key=lambda e: abs((e - sim._day).days - 30))
        chain = sim.chain("SPY", expiry)
        spot = chain[0].underlying_price
        assert spot is not None
        out: dict[float, float] = {}
        for target in (1.0, 0.9, 0.8):  # ATM, 10% and 20% OTM puts
            q = min(
                (q for q in chain if q.instrument.right == "P"),
                key=lambda q: abs(q.instrument.strike - target * spot),
            )
            out[target] = (q.ask - q.bid) / q.mid  # type: ignore[operator]
        return out

    calm_spreads, crisis_spreads = relative_spreads(calm), relative_spreads(crisis)
    for spreads in (calm_spreads, crisis_spreads):
        assert spreads[1.0] < spreads[0.9] < spreads[0.8]

    def atm_spread(sim: SimMarket) -> float:
        expiry = min(sim.expiries("SPY"), key=lambda e: abs((e - sim._day).days - 30))
        chain = sim.chain("SPY", expiry)
        q = min(chain, key=lambda q: abs(q.delta - 0.5) if q.delta is not None else 9)
        return q.ask - q.bid  # type: ignore[operator]

    assert atm_spread(crisis) > 1.5 * atm_spread(calm)
    assert crisis_spreads[1.0] > calm_spreads[1.0]


def test_displayed_size_is_smaller_in_stress_and_far_from_the_money() -> None:
    calm, crisis = _sim("calm", seed=41), _sim("crisis", seed=41)

    def sizes(sim: SimMarket) -> tuple[float, float]:
        expiry = sim.expiries("SPY")[3]
        chain = sim.chain("SPY", expiry)
        spot = chain[0].underlying_price
        assert spot is not None
        near = [
            q.bid_size + q.ask_size for q in chain if abs(q.instrument.strike / spot - 1) < 0.02
        ]
        far = [q.bid_size + q.ask_size for q in chain if abs(q.instrument.strike / spot - 1) > 0.2]
        return float(np.mean(near)), float(np.mean(far))

    calm_near, calm_far = sizes(calm)
    crisis_near, _ = sizes(crisis)
    assert calm_far < calm_near and crisis_near < calm_near
