"""Goodput: the share of wall-clock time that trains, given failures and checkpoints.

A job on n devices is interrupted at rate n x lambda (lambda per device-hour; default from the
Llama 3 paper's 466 interruptions in 54 days on 16,384 H100s, Dubey et al. 2024 sec. 3.3.4),
i.e. a mean time between interruptions M = 1 / (n lambda).  It writes a checkpoint of delta
seconds every tau seconds of work and, after an interruption, loses the work since the last
checkpoint and spends R seconds restarting (rescheduling plus reading the checkpoint back).

  Optimal interval (Daly 2006, "A higher order estimate of the optimum checkpoint interval for
  restart dumps", FGCS 22(3), eq. 37 - Young 1974's sqrt(2 delta M) plus higher-order terms):
      tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta / 2M) + delta / 18M] - delta,  delta < 2M
      tau = M,                                                                  delta >= 2M
  Expected wall time for T of work (Daly 2006 eq. 13, exponential failures):
      T_w = M e^(R/M) (e^((tau + delta)/M) - 1) T / tau
  so the useful fraction is  T / T_w = tau / (M e^(R/M) (e^((tau + delta)/M) - 1)).

Checkpoint size: the model states (weights, gradients' fp32 copy excluded: weights + optimizer
states, Rajbhandari et al. 2020 sec. 3.1: 2 + 12 = 14 bytes per parameter for mixed-precision
Adam), written at the cluster's storage bandwidth.  All functions are vectorised.
"""
from __future__ import annotations


import numpy as np

from planner.errors import PlannerError
from planner.resources import data_toml
from planner.units import HOUR

CHECKPOINT_BYTES_PER_PARAM = 14.0  # 2 (16-bit weights) + 12 (fp32 master, m, v): ZeRO sec. 3.1


def defaults() -> dict:
    return data_toml("goodput.toml")


def failure_rate_per_device_hour() -> float:
    """Interruptions per device-hour from the Llama 3 paper (2.19e-5)."""
    f = defaults()["failure"]
    return f["interruptions"] / (f["days"] * 24.0 * f["gpus"])


def checkpoint_bytes(params, bytes_per_param=CHECKPOINT_BYTES_PER_PARAM):
    """Bytes of one training checkpoint: weights + optimizer states."""
    return np.asarray(params, dtype=float) * bytes_per_param


def checkpoint_seconds(size_bytes, n_devices, write_bytes_per_s=None, per_device=None):
    """Seconds to write a checkpoint: size / min(storage bandwidth, devices x per-device cap)."""
    c = defaults()["checkpoint"]
    bw = c["write_bytes_per_s"] if write_bytes_per_s is None else write_bytes_per_s
    cap = c["write_bytes_per_s_per_gpu"] if per_device is None else per_device
    return (np.asarray(size_bytes, dtype=float)
            / np.minimum(bw, np.asarray(n_devices, dtype=float) * cap))


def optimal_interval(delta, mtbf):
    """Daly 2006's optimum compute time between checkpoints (s), `delta` the checkpoint time
    and `mtbf` the job's mean time between interruptions (s)."""
    d, M = np.asarray(delta, dtype=float), np.asarray(mtbf, dtype=float)
    x = np.sqrt(d / (2.0 * M))
    tau = np.sqrt(2.0 * d * M) * (1.0 + x / 3.0 + x * x / 9.0) - d
    return np.where(d < 2.0 * M, tau, M)


def useful_fraction(tau, delta, restart, mtbf):
    """Share of wall-clock spent on useful work (Daly 2006 eq. 13) for interval `tau`,
    checkpoint time `delta`, restart time `restart` and job MTBF `mtbf` (all seconds)."""
    tau, d, R, M = (np.asarray(x, dtype=float) for x in (tau, delta, restart, mtbf))
    with np.errstate(over="ignore"):
        return tau / (M * np.exp(R / M) * np.expm1((tau + d) / M))


def goodput(n_devices, params, failure_rate=None, write_bytes_per_s=None, restart_seconds=None,
            checkpoint_size=None, read_bytes_per_s=None) -> dict:
    """The goodput of a job on `n_devices` training a model of `params` parameters.

    `failure_rate`: interruptions per device-hour (default Llama 3's 2.19e-5);
    `write_bytes_per_s`: storage bandwidth for checkpoints (default 2 TB/s, capped at 1 GB/s per
    device); `restart_seconds`: time to resume besides reading the checkpoint (default 600 s);
    `checkpoint_size`: bytes (default 14 per parameter).  Arrays broadcast.

    Returns: mtbf_seconds (of the job), checkpoint_bytes, checkpoint_seconds,
    interval_seconds (Daly optimum), restart_seconds (incl. reading the checkpoint back at the
    same bandwidth), useful_fraction (0-1).  Divide wall-clock and cost by useful_fraction."""
    lam = failure_rate_per_device_hour() if failure_rate is None else failure_rate
    n = np.asarray(n_devices, dtype=float)
    if np.any(n <= 0) or np.any(~np.isfinite(n)):
        raise PlannerError(f"device count must be > 0, got {n_devices!r}")
    lam = np.asarray(lam, dtype=float)
    if np.any(lam < 0) or np.any(~np.isfinite(lam)):
        raise PlannerError(f"failure rate must be a finite number >= 0, got {failure_rate!r}")
    size = checkpoint_bytes(params) if checkpoint_size is None else np.asarray(
        checkpoint_size, dtype=float)
    delta = checkpoint_seconds(size, n, write_bytes_per_s)
    read = checkpoint_seconds(size, n, read_bytes_per_s or write_bytes_per_s)
    R = (defaults()["restart"]["seconds"] if restart_seconds is None else restart_seconds) + read
    with np.errstate(divide="ignore"):
        M = np.where(lam > 0, HOUR / (n * lam), np.inf)
    tau = optimal_interval(delta, np.where(np.isfinite(M), M, 1e300))
    frac = np.where(np.isfinite(M), useful_fraction(tau, delta, R, np.where(np.isfinite(M), M,
                                                                                1.0)), 1.0)
    return {"mtbf_seconds": M, "checkpoint_bytes": size, "checkpoint_seconds": delta,
            "interval_seconds": np.where(np.isfinite(M), tau, np.inf),
            "restart_seconds": R, "useful_fraction": frac}
