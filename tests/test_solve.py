"""Deadline -> devices and budget -> tokens (planner.solve)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import PlannerError
from planner.estimate.solve import (check_budget, check_deadline, devices_for_deadline, round_to_nodes,
                           tokens_for_budget)
from planner.estimate.training import plan_training
from planner.units import MONTH


def test_seed_deadline():
    """3.14e23 FLOP, 10 TFLOPS, MFU 1, 3 months (730 h each): 3.14e23/(1e13 x 3 x 730 x 3600)
    = 3,982.75 -> 3,983 devices -> 3,984 on whole 8-device nodes."""
    assert devices_for_deadline(3.14e23, 3 * MONTH, 1e13, 1.0, node_size=1) == 3983
    assert devices_for_deadline(3.14e23, 3 * MONTH, 1e13, 1.0, node_size=8) == 3984


def test_memory_minimum_binds():
    """A generous deadline still needs the memory minimum, rounded to nodes."""
    assert devices_for_deadline(1e18, 1e9, 1e14, 0.5, 8, min_devices=20) == 24
    assert devices_for_deadline(1e18, 1e9, 1e14, 0.5, 8, min_devices=np.inf) == np.inf


def test_round_to_nodes():
    assert list(round_to_nodes(np.array([1, 8, 9, 16]), 8)) == [8, 8, 16, 16]


def test_vectorised_deadline():
    f = np.logspace(18, 26, 1_000_000)
    n = devices_for_deadline(f, 30 * 86400, 312e12, 0.4, 8)
    assert n.shape == f.shape and np.all(n % 8 == 0) and np.all(np.diff(n) >= 0)


@settings(max_examples=80, deadline=None)
@given(flops=st.floats(1e17, 1e26), days=st.floats(0.5, 1000), mfu=st.floats(0.05, 1.0),
       node=st.sampled_from([1, 4, 8]), min_dev=st.integers(1, 500))
def test_deadline_solver_is_minimal(flops, days, mfu, node, min_dev):
    """Property: the answer meets the deadline and holds the memory minimum; one node fewer
    either misses the deadline or falls below the memory minimum."""
    peak, deadline = 312e12, days * 86400
    n = float(devices_for_deadline(flops, deadline, peak, mfu, node, min_dev))
    assert n % node == 0 and n >= min_dev
    assert plan_training(flops, n, peak, mfu)["seconds"] <= deadline * (1 + 1e-9)
    fewer = n - node
    if fewer >= 1:
        slower = plan_training(flops, fewer, peak, mfu)["seconds"] > deadline * (1 - 1e-9)
        assert slower or fewer < min_dev


def test_budget_tokens():
    """$1M at $2/h buys 500,000 device-hours; at 312 TFLOPS x 0.5 that is 2.808e23 FLOP, i.e.
    2.808e23 / (6 x 7e9) tokens for a 7B model."""
    tokens, flops, hours = tokens_for_budget(1e6, 2.0, 312e12, 0.5, 6 * 7e9)
    assert hours == pytest.approx(5e5)
    assert flops == pytest.approx(2.808e23)
    assert tokens == pytest.approx(6.6857e12, rel=1e-4)


def test_budget_below_one_node_hour():
    with pytest.raises(PlannerError, match="less than one node-hour"):
        check_budget(10.0, 2.0, 8)
    check_budget(16.0, 2.0, 8)


def test_budget_needs_price():
    with pytest.raises(PlannerError, match="--price"):
        check_budget(1e6, float("nan"), 8)


@pytest.mark.parametrize("bad", [0, -5, float("inf")])
def test_bad_deadline(bad):
    with pytest.raises(PlannerError, match="--deadline"):
        check_deadline(bad)
