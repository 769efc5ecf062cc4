"""Compute-optimal model size and tokens for a FLOPs budget ("Chinchilla" scaling laws).

Sources (constants and table rows live in ``planner/data/scaling_laws.toml``):

- Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (arXiv:2203.15556):
  Approach 1 (sec. 3.1, Table 2: N_opt ∝ C^0.50, D_opt ∝ C^0.50) - we fit the power law's
  coefficient and exponent to the rows of Table 3 by least squares in log space; Approach 3
  (sec. 3.3, eq. 10): L(N, D) = E + A/N^α + B/D^β with E=1.69, A=406.4, B=410.7, α=0.34,
  β=0.28, minimised under C = 6ND (eq. 4) in closed form:
  G = (αA/(βB))^(1/(α+β)),  N_opt = G (C/6)^(β/(α+β)),  D_opt = G^-1 (C/6)^(α/(α+β)).
- Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt" (arXiv:2404.10102): the
  corrected Approach 3 fit E=1.82, A=482.01, B=2085.43, α=0.3478, β=0.3658.
- The 20-tokens-per-parameter rule of thumb read off Table 3: D = 20 N, C = 6ND = 120 N^2.

All functions are vectorised: `flops` may be a scalar or an array.
"""
from __future__ import annotations

import functools

import numpy as np

from planner.errors import PlannerError, unknown
from planner.resources import data_toml

METHODS = ("approach1", "approach3", "besiroglu")


def laws() -> dict:
    """The parsed ``scaling_laws.toml``."""
    return data_toml("scaling_laws.toml")


def table3() -> np.ndarray:
    """Hoffmann et al. 2022 Table 3 rows as an (n, 3) array: parameters, FLOPs, tokens."""
    return np.asarray(laws()["approach1"]["table3"], dtype=float)


@functools.cache
def approach1_fit() -> tuple[float, float]:
    """(k, a) of N_opt = k C^a, least squares of log N on log C over Table 3's rows
    (Hoffmann et al. 2022 Table 3; the paper's exponent is 0.50, the fit gives 0.498)."""
    rows = table3()
    a, log_k = np.polyfit(np.log(rows[:, 1]), np.log(rows[:, 0]), 1)
    return float(np.exp(log_k)), float(a)


def parametric_constants(method: str) -> dict:
    """E, A, B, alpha, beta and source of an Approach-3-style fit ('approach3'|'besiroglu')."""
    if method not in ("approach3", "besiroglu"):
        raise unknown("parametric fit", method, ("approach3", "besiroglu"))
    return dict(laws()[method])


def loss(params, tokens, method: str = "approach3"):
    """Predicted final loss L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022 eq. 10), nats
    per token on their data (MassiveText); `params` N, `tokens` D broadcast."""
    c = parametric_constants(method)
    n, d = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
    return c["E"] + c["A"] / n ** c["alpha"] + c["B"] / d ** c["beta"]


def parametric_optimum(flops, method: str = "approach3"):
    """(N_opt, D_opt) minimising L(N, D) under C = 6ND, closed form (Hoffmann et al. 2022
    sec. 3.3 / App. D.2): G = (αA/(βB))^(1/(α+β)), N = G (C/6)^(β/(α+β)), D = (C/6)^(α/(α+β))/G."""
    c = parametric_constants(method)
    al, be = c["alpha"], c["beta"]
    g = (al * c["A"] / (be * c["B"])) ** (1.0 / (al + be))
    x = np.asarray(flops, dtype=float) / 6.0
    return g * x ** (be / (al + be)), x ** (al / (al + be)) / g


def approach1_optimum(flops):
    """(N_opt, D_opt) from the power law fitted to Table 3 (Approach 1); D = C/(6N) so the
    pair spends exactly C."""
    k, a = approach1_fit()
    c = np.asarray(flops, dtype=float)
    n = k * c ** a
    return n, c / (6.0 * n)


def rule20_optimum(flops):
    """(N, D) with D = 20 N and C = 6ND: N = sqrt(C/120)."""
    tpp = laws()["rule20"]["tokens_per_param"]
    n = np.sqrt(np.asarray(flops, dtype=float) / (6.0 * tpp))
    return n, tpp * n


def compute_optimal(flops, method: str = "approach1") -> dict:
    """Compute-optimal parameters and tokens for `flops` (FLOP, scalar or array) by `method`,
    with the predicted loss (Approach 1 and 3 use the Approach 3 constants; 'besiroglu' its
    own) and the 20-tokens-per-parameter rule beside it.  Keys: params, tokens, flops, loss,
    tokens_per_param, rule20_params, rule20_tokens, loss_constants."""
    c = np.asarray(flops, dtype=float)
    if np.any(~np.isfinite(c)) or np.any(c <= 0):
        raise PlannerError(f"FLOPs budget must be a positive finite number, got {flops!r}")
    if method == "approach1":
        n, d = approach1_optimum(c)
        loss_method = "approach3"
    elif method in ("approach3", "besiroglu"):
        n, d = parametric_optimum(c, method)
        loss_method = method
    else:
        raise unknown("method", method, METHODS)
    rn, rd = rule20_optimum(c)
    return {"params": n, "tokens": d, "flops": c, "loss": loss(n, d, loss_method),
            "tokens_per_param": d / n, "rule20_params": rn, "rule20_tokens": rd,
            "rule20_loss": loss(rn, rd, loss_method), "loss_constants": loss_method}


def method_source(method: str) -> str:
    return laws()[method]["source"]
