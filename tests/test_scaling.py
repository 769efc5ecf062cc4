"""Compute-optimal scaling (planner.scaling) against Hoffmann et al. 2022."""
from __future__ import annotations

import numpy as np
import pytest

from planner.estimate.scaling import (approach1_fit, compute_optimal, loss, parametric_constants,
                             parametric_optimum, rule20_optimum, table3)

ROWS = [tuple(r) for r in table3()]


def test_table3_stored():
    """Hoffmann et al. 2022 Table 3 has nine rows, 400M ... 10T parameters."""
    assert len(ROWS) == 9
    assert ROWS[3] == (67e9, 5.76e23, 1.5e12)


@pytest.mark.parametrize("params,flops,tokens", ROWS)
def test_approach1_reproduces_table3(params, flops, tokens):
    """Hoffmann et al. 2022 Table 3 (Approach 1), every row within 10% (measured: params
    within 1.3%, tokens within 5.7% - the 67B row's 1.5T is rounded; 6 x 67B x 1.5T = 6.0e23,
    not the row's 5.76e23)."""
    r = compute_optimal(flops, "approach1")
    assert r["params"] == pytest.approx(params, rel=0.10)
    assert r["tokens"] == pytest.approx(tokens, rel=0.10)


def test_table3_examples():
    """5.76e23 -> 67B and 1.5T; 1.27e26 -> 1T and 21.2T (Hoffmann et al. 2022 Table 3)."""
    r = compute_optimal(np.array([5.76e23, 1.27e26]))
    assert r["params"] == pytest.approx([67e9, 1e12], rel=0.02)
    assert r["tokens"] == pytest.approx([1.5e12, 21.2e12], rel=0.06)


def test_approach1_exponent():
    """Hoffmann et al. 2022 Table 2: Approach 1 gives N_opt ∝ C^0.50; the Table 3 fit agrees
    to 0.01."""
    k, a = approach1_fit()
    assert a == pytest.approx(0.50, abs=0.01)


@pytest.mark.parametrize("method", ["approach3", "besiroglu"])
@pytest.mark.parametrize("flops", [1e20, 5.76e23, 1e26])
def test_closed_form_matches_numeric_minimum(method, flops):
    """The closed form G = (αA/(βB))^(1/(α+β)), N = G (C/6)^(β/(α+β)) agrees with a numeric
    minimisation of L(N, C/(6N)) over log N (scipy.optimize.minimize_scalar) to 0.1%."""
    from scipy.optimize import minimize_scalar

    n, d = parametric_optimum(flops, method)
    res = minimize_scalar(lambda x: float(loss(np.exp(x), flops / (6 * np.exp(x)), method)),
                          bounds=(np.log(1e6), np.log(1e15)), method="bounded",
                          options={"xatol": 1e-10})
    assert np.exp(res.x) == pytest.approx(n, rel=1e-3)
    assert 6 * n * d == pytest.approx(flops)


def test_approach3_exponents():
    """Hoffmann et al. 2022 Table 2: Approach 3 a = β/(α+β) = 0.46 (0.452 from the rounded
    eq. 10 constants), b = α/(α+β) = 0.54."""
    c = parametric_constants("approach3")
    assert c["beta"] / (c["alpha"] + c["beta"]) == pytest.approx(0.46, abs=0.01)
    n1, _ = parametric_optimum(1e22)
    n2, _ = parametric_optimum(1e24)
    assert np.log(n2 / n1) / np.log(100) == pytest.approx(0.452, abs=0.002)


def test_besiroglu_tokens_per_param():
    """Besiroglu et al. 2024: the corrected fit implies ~20 tokens per parameter at Chinchilla
    scale (their sec. 4: 'consistent with ... 20 tokens per parameter'); we accept 15-30."""
    r = compute_optimal(5.76e23, "besiroglu")
    assert 15 < r["tokens_per_param"] < 30


def test_loss_values():
    """L(N, D) = E + A/N^α + B/D^β: Chinchilla 70B / 1.4T -> about 1.94 with eq. 10."""
    assert loss(70e9, 1.4e12) == pytest.approx(1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28)
    assert 1.9 < float(loss(70e9, 1.4e12)) < 2.0


def test_rule20():
    """Chinchilla itself: 70B parameters on 1.4T tokens (Hoffmann et al. 2022 sec. 4), i.e.
    C = 6 x 70e9 x 1.4e12 = 5.88e23 at 20 tokens per parameter."""
    n, d = rule20_optimum(5.88e23)
    assert n == pytest.approx(70e9, rel=0.01) and d == pytest.approx(1.4e12, rel=0.01)


def test_bad_budget():
    from planner.errors import PlannerError
    with pytest.raises(PlannerError):
        compute_optimal(-1.0)
