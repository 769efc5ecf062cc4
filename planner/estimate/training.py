"""Training compute, time, money and energy: pure, vectorised estimators.

Every function takes scalars or numpy arrays that broadcast together (one call prices one plan
or a million) and returns plain base units: FLOP, seconds, device-hours, USD, kWh, kg CO2.

Sources:
- Kaplan et al. 2020, "Scaling Laws for Neural Language Models", sec. 2.1 / Table 1: training
  compute C ≈ 6 N D (2N forward + 4N backward per token), N = non-embedding parameters.
- Brown et al. 2020 (GPT-3), Table D.1: the same 6ND with N the *total* parameter count
  (175B x 300B tokens = 3.14e23 FLOP = 3,640 PF-days); 1 PF-day = 1e15 FLOP/s x 86,400 s.
- Hoffmann et al. 2022 (Chinchilla), App. F: the exact count with attention and embeddings,
  backward = 2 x forward (`planner.model.flops_per_token_exact`).
- Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters Using
  Megatron-LM", eq. 4 / sec. 3.5: full activation recomputation adds one forward pass, so the
  hardware does 8ND (4/3 of 6ND); end-to-end time = 8 T P / (n X).
- Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
  sec. 5: selective recomputation re-runs only the attention-score part (QK^T, softmax, dropout,
  attention over V); its hardware FLOPs are 72BsLh^2 (1 + s/3h + V/12hL) against model FLOPs
  72BsLh^2 (1 + s/6h + V/12hL), i.e. + 72BsLh^2 s/(6h) = 12 s h L per token (2.7% for GPT-3).
- Chowdhery et al. 2022 (PaLM), App. B: MFU counts model FLOPs only; HFU counts the FLOPs the
  hardware executes, recomputation included.
"""
from __future__ import annotations

import numpy as np

from planner.errors import PlannerError, unknown
from planner.model.flops import attention_span_sum
from planner.model.spec import ModelSpec, active_params, flops_per_token_exact, non_embedding_params
from planner.units import DAY, HOUR, MONTH

FLOPS_METHODS = ("6nd", "exact")


def model_flops_per_token(spec: ModelSpec, seq_len: int, method: str = "6nd") -> float:
    """Model FLOPs per training token (forward + backward) by `method`."""
    if method == "6nd":
        return 6.0 * active_params(spec)  # Kaplan et al. 2020 sec. 2.1
    if method == "exact":
        return float(flops_per_token_exact(spec, seq_len))  # Hoffmann et al. 2022 App. F
    raise unknown("FLOPs method", method, FLOPS_METHODS)

PF_DAY = 1e15 * DAY  # FLOP in one petaflop/s-day (Brown et al. 2020, Table D.1)
RECOMPUTE = ("none", "selective", "full")
FULL_RECOMPUTE_FACTOR = 8.0 / 6.0  # Narayanan et al. 2021 eq. 4: 8ND hardware vs 6ND model


def _check_recompute(recompute) -> np.ndarray:
    r = np.asarray(recompute)
    bad = set(np.unique(r).tolist()) - set(RECOMPUTE)
    if bad:
        raise unknown("recompute mode", str(sorted(bad)[0]), RECOMPUTE)
    return r


def model_flops_6nd(params, tokens):
    """Training FLOP = 6 N D (Kaplan et al. 2020 sec. 2.1; Brown et al. 2020 Table D.1).
    `params` N (parameters, active ones for MoE), `tokens` D."""
    return 6.0 * np.asarray(params, dtype=float) * np.asarray(tokens, dtype=float)


def attention_score_flops_per_token(spec: ModelSpec, seq_len=None) -> float:
    """Training (forward + backward) FLOPs per token of the attention-score block - QK^T and
    attention over V, 2·s·q_dim each in the forward - which selective recomputation re-runs.
    Korthikanti et al. 2022 sec. 5 count it as 72BsLh^2·s/(6h) per batch = 12·s·h·L per token.
    Local (sliding-window) layers span min(s, window), global ones s; an encoder-decoder
    counts both stacks and the cross-attention (`planner.model.flops.attention_span_sum`)."""
    spans = attention_span_sum(spec, seq_len)  # sum over layers of each layer's real span
    out = 3.0 * 4.0 * spans * spec.q_dim
    return float(out) if np.ndim(out) == 0 else out


def hardware_flops(model_flops, recompute="none", selective_extra=0.0):
    """FLOPs the hardware executes: model FLOPs plus recomputation.

    none -> model; full -> model x 8/6 (one extra forward pass, Narayanan et al. 2021 eq. 4);
    selective -> model + `selective_extra` (the attention-score FLOPs, Korthikanti et al. 2022
    sec. 5; see `attention_score_flops_per_token`).  All arguments broadcast."""
    r = _check_recompute(recompute)
    m = np.asarray(model_flops, dtype=float)
    return np.where(r == "full", m * FULL_RECOMPUTE_FACTOR,
                    np.where(r == "selective", m + np.asarray(selective_extra, dtype=float), m))


def training_flops(spec: ModelSpec, tokens, method: str = "6nd", recompute="none",
                   non_embedding: bool = False, seq_len=None) -> dict:
    """Model and hardware training FLOPs of `spec` on `tokens` (scalar or array).

    method '6nd': 6·N·D with N the total parameter count (GPT-3 Table D.1), Kaplan's
    non-embedding N with `non_embedding=True`, active parameters for MoE; method 'exact':
    Hoffmann et al. 2022 App. F per token at sequence length `seq_len` (default: context).
    Returns model_flops, hardware_flops (FLOP), flops_per_token, params (N used)."""
    if method not in FLOPS_METHODS:
        raise unknown("FLOPs method", method, FLOPS_METHODS)
    d = np.asarray(tokens, dtype=float)
    n = non_embedding_params(spec, active=True) if non_embedding else active_params(spec)
    per_token = 6.0 * n if method == "6nd" else flops_per_token_exact(spec, seq_len)
    model = per_token * d
    extra = attention_score_flops_per_token(spec, seq_len) * d
    return {"model_flops": model, "hardware_flops": hardware_flops(model, recompute, extra),
            "flops_per_token": per_token, "params": n}


def selective_overhead(spec: ModelSpec, seq_len=None, method: str = "6nd") -> float:
    """Fractional extra hardware FLOPs of selective recomputation (Korthikanti et al. 2022
    sec. 5: 2.7% for GPT-3 175B at s = 2048)."""
    f = training_flops(spec, 1.0, method, "selective", seq_len=seq_len)
    return float(f["hardware_flops"] / f["model_flops"] - 1.0)


def check_utilisation(u, what: str = "--mfu") -> np.ndarray:
    """Utilisation must lie in (0, 1]."""
    arr = np.asarray(u, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr > 1):
        raise PlannerError(f"{what} must be in (0, 1] (a fraction of peak, e.g. 0.4), got {u!r}")
    return arr


def seconds_for(flops, n_devices, peak_flops_per_device, utilisation):
    """Wall-clock seconds = FLOP / (devices x peak FLOP/s x utilisation) (Narayanan et al. 2021
    sec. 5.1: t = 8TP/(nX) with X = peak x utilisation)."""
    return (np.asarray(flops, dtype=float)
            / (np.asarray(n_devices, dtype=float) * np.asarray(peak_flops_per_device, dtype=float)
               * np.asarray(utilisation, dtype=float)))


def plan_training(flops, n_devices, peak_flops_per_device, mfu, price_per_hour=np.nan,
                  tdp_w=0.0, pue=1.2, grid_kg_per_kwh=0.0) -> dict:
    """Time, device-time, money and energy of training.

    Arguments broadcast: `flops` (FLOP counted by `mfu`: model FLOPs with MFU, hardware FLOPs
    with HFU), `n_devices`, `peak_flops_per_device` (dense FLOP/s at the training precision),
    `mfu` (fraction in (0, 1]), `price_per_hour` (USD per device-hour), `tdp_w` (W per device),
    `pue` (power usage effectiveness, >= 1), `grid_kg_per_kwh` (kg CO2 per kWh).

    Returns arrays: seconds, days, device_hours, device_days, device_months (730 h),
    pf_days (of `flops`, 1 PF-day = 8.64e19 FLOP), cost_usd, energy_kwh (TDP x device-hours
    x PUE), co2_kg."""
    mfu = check_utilisation(mfu)
    flops = np.asarray(flops, dtype=float)
    n = np.asarray(n_devices, dtype=float)
    seconds = seconds_for(flops, n, peak_flops_per_device, mfu)
    device_hours = seconds * n / HOUR
    energy = np.asarray(tdp_w, dtype=float) * device_hours * np.asarray(pue, dtype=float) / 1e3
    return {"seconds": seconds, "days": seconds / DAY, "device_hours": device_hours,
            "device_days": device_hours / 24.0, "device_months": device_hours * HOUR / MONTH,
            "pf_days": flops / PF_DAY,
            "cost_usd": device_hours * np.asarray(price_per_hour, dtype=float),
            "energy_kwh": energy, "co2_kg": energy * np.asarray(grid_kg_per_kwh, dtype=float)}


def implied_mfu(flops, device_hours, peak_flops_per_device):
    """The utilisation a published device-hour figure implies: FLOP / (device-seconds x peak)."""
    return (np.asarray(flops, dtype=float)
            / (np.asarray(device_hours, dtype=float) * HOUR
               * np.asarray(peak_flops_per_device, dtype=float)))
