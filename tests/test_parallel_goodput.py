"""Goodput (planner.estimate.parallel.goodput): failure rate, Young/Daly interval, fraction."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.estimate.parallel.goodput import (failure_rate_per_device_hour, goodput,
                                               optimal_interval, useful_fraction)


def test_llama3_failure_rate():
    """Dubey et al. 2024 sec. 3.3.4: 466 interruptions in 54 days on 16,384 H100s
    = 466 / (54 x 24 x 16,384) = 2.1946e-5 per GPU-hour; job MTBF on 16,384 GPUs 2.78 h."""
    assert failure_rate_per_device_hour() == pytest.approx(2.1946e-5, rel=1e-4)
    g = goodput(16384, 405e9)
    assert float(g["mtbf_seconds"]) / 3600 == pytest.approx(54 * 24 / 466, rel=1e-9)


def test_young_limit():
    """For a checkpoint much shorter than the MTBF Daly's optimum tends to Young's
    sqrt(2 delta M) (Young 1974): delta = 10 s, M = 1e6 s -> 4,472 s, within 1%."""
    assert float(optimal_interval(10.0, 1e6)) == pytest.approx(math.sqrt(2 * 10 * 1e6), rel=0.01)


@settings(max_examples=50, deadline=None)
@given(delta=st.floats(1, 3600), mtbf=st.floats(3600, 1e7), restart=st.floats(0, 3600))
def test_daly_interval_is_near_optimal(delta, mtbf, restart):
    """The interval maximises the useful fraction to first order: neither 0.7x nor 1.4x it
    does better by more than 0.1 percentage point; the fraction lies in (0, 1]."""
    tau = float(optimal_interval(delta, mtbf))
    best = float(useful_fraction(tau, delta, restart, mtbf))
    assert 0 < best <= 1
    for k in (0.7, 1.4):
        assert float(useful_fraction(k * tau, delta, restart, mtbf)) <= best + 1e-3


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 100_000), params=st.floats(1e8, 2e12))
def test_more_failures_less_goodput(n, params):
    a = goodput(n, params, failure_rate=1e-5)["useful_fraction"]
    b = goodput(n, params, failure_rate=4e-5)["useful_fraction"]
    assert float(b) <= float(a) <= 1.0


def test_no_failures_full_goodput_and_vectorised():
    assert float(goodput(1024, 7e9, failure_rate=0.0)["useful_fraction"]) == 1.0
    g = goodput(np.array([8, 1024, 16384]), 70e9)
    assert g["useful_fraction"].shape == (3,)
    assert np.all(np.diff(g["useful_fraction"]) < 0)  # bigger jobs fail more often
