"""Load and latency of a serving replica: a queueing approximation, parametrised by the
decode batch.

Why an approximation and not a simulation: the solver prices every device x TP x precision x
replica count and a scenario sweeps millions of rows, so the steady state must be a closed-form
numpy expression; the discrete-event simulation in `simulate.py` (same step model, same
scheduler) is the reference this approximation is tested against (tests/test_serving_load.py).

The scheduler modelled is the one vLLM (V1), SGLang and TensorRT-LLM (in-flight batching) run:
every step advances all running sequences by one token and fills the rest of a token budget C
(max_num_batched_tokens / max_num_tokens) with prompt chunks, first come first served
(Agrawal et al. 2024, Sarathi-Serve, sec. 4; Yu et al. 2022, Orca, sec. 4).

The steady state is explicit in the mean decode batch d (so no fixed point is solved):

  prefill tokens per step   u = d P / (O - 1)        (each request: P prompt tokens per O - 1
                                                      decode steps; O - 1 because the first
                                                      token comes out of the prefill step)
  prefill-carrying step     u_c = min(C - d, max(P, u)),  a fraction pi = min(1, u / u_c)
  mean step                 t = (1 - pi) s(d, 0) + pi s(d, u_c)     (s: step.Replica.seconds)
  arrival rate              lambda = d / ((O - 1) t)                (Little's law, decode phase)

The decode context of the running sequences is length-biased: P + E[O^2] / (2 E[O]).

Latency, as the engines' own benchmarks define it (vLLM benchmarks/benchmark_serving.py;
trtllm-bench; MLPerf LoadGen):
  TTFT  arrival -> first token: the rest of the running step (t / 2), the wait for the prefill
        budget - an M/G/1 queue whose server is the budget (service S = P / (C - d) prefill
        steps), mean wait by Pollaczek-Khinchine, W = lambda E[S^2] / (2 (1 - rho)), tail
        exponential with an atom of 1 - rho at zero (exact for M/M/1, Kingman's approximation
        otherwise; Kleinrock 1975, Queueing Systems vol. 1, sec. 5.6) - and the prompt's own
        prefill steps.
  TPOT  (E2E - TTFT) / (output - 1) per request: its mean step; its spread from the steps
        that carry prefill (binomial, pi of its O - 1 steps) and from the decode batch
        fluctuating (Poisson, as in an M/G/infinity system, averaged over the request's
        lifetime: 2/3 of the variance for fixed lifetimes).
  ITL   the gaps between tokens, pooled: s(d, 0) with probability 1 - pi, s(d, u_c) with pi.
  E2E   TTFT + (output - 1) x TPOT.
Percentiles of the lengths: normal, clipped at 1 token (trtllm-bench's token-norm-dist).

A closed loop (N clients, each sending its next request when the last one ends: vLLM's
--max-concurrency, trtllm-bench --concurrency, an offline run at the batch limit) is the same
steady state with N = d + X x TTFT (Little's law over the time a request is not decoding),
solved for d by bisection; beyond the batch or KV limit the rest wait outside.

Units: seconds, tokens, requests/s.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Mix:
    """A request mix: mean and standard deviation of prompt and output lengths (tokens)."""
    prompt: Any
    output: Any
    prompt_sd: Any = 0.0
    output_sd: Any = 0.0

    @property
    def decode_steps(self):
        """Steps a request spends decoding: output - 1 (the first token ends its prefill)."""
        return np.maximum(np.asarray(self.output, dtype=float) - 1.0, 1e-3)

    @property
    def context(self):
        """Mean cached tokens of the running sequences (length-biased by output)."""
        o = np.asarray(self.output, dtype=float)
        o2 = o * o + np.asarray(self.output_sd, dtype=float) ** 2
        return np.asarray(self.prompt, dtype=float) + o2 / (2.0 * o)

    @property
    def prefill_keys(self):
        """Mean keys a prompt token attends (length-biased: E[P^2] / (2 E[P]))."""
        p = np.asarray(self.prompt, dtype=float)
        return (p * p + np.asarray(self.prompt_sd, dtype=float) ** 2) / (2.0 * p)

    def prompt_q(self, q: float):
        return _length_q(self.prompt, self.prompt_sd, q)

    def output_q(self, q: float):
        return _length_q(self.output, self.output_sd, q)


def _z(q: float) -> float:
    return NormalDist().inv_cdf(min(max(q, 1e-9), 1 - 1e-9))


def _length_q(mean, sd, q: float):
    return np.maximum(1.0, np.asarray(mean, dtype=float) + _z(q) * np.asarray(sd, dtype=float))


def budget_batch(mix: Mix, budget) -> Any:
    """The largest decode batch whose prompts the token budget can keep up with:
    d + d P / (O - 1) <= C."""
    o1 = mix.decode_steps
    return np.asarray(budget, dtype=float) * o1 / (np.asarray(mix.prompt, float) + o1)


def at_batch(rep, mix: Mix, d, budget, percentile: float = 99.0, residual: bool = True,
             percentiles=None) -> dict[str, Any]:
    """The open-loop steady state at mean decode batch `d` (arrays broadcast): arrival rate,
    step times, throughput and latency percentiles.  `budget`: tokens per step C.
    `residual`: an arrival waits for the running step to end (open loop; a closed-loop
    request is sent at a step boundary).  `percentiles`: the latency percentiles computed
    (default PERCENTILES and `percentile`; () for none: a bisection's predicate that reads
    only the rate and the means skips their step-time calls)."""
    res_f = 1.0 if residual else 0.0
    d = np.maximum(np.asarray(d, dtype=float), 1e-6)
    C = np.asarray(budget, dtype=float)
    P = np.asarray(mix.prompt, dtype=float)
    o1 = mix.decode_steps
    ctx, keys = mix.context, mix.prefill_keys
    ubar = d * P / o1
    room = np.maximum(C - d, 1.0)
    u_c = np.minimum(room, np.maximum(P, ubar))
    pi = np.minimum(1.0, ubar / u_c)
    st0 = rep.step(d, ctx)
    s0 = st0["seconds"]
    st1 = rep.step(d, ctx, u_c, keys)
    s1 = st1["seconds"]
    t = (1.0 - pi) * s0 + pi * s1
    lam = d / (o1 * t)
    # the prefill budget as an M/G/1 server: S = P / room prefill steps of s1
    p2 = P * P + np.asarray(mix.prompt_sd, dtype=float) ** 2
    es = P * s1 / room
    es2 = p2 * s1 * s1 / (room * room)
    rho = lam * es
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(rho < 1.0, lam * es2 / (2.0 * (1.0 - rho)), np.inf)

    def own(p):
        """A prompt's own prefill: ceil-free p / room chunks of a step carrying it."""
        chunk = np.minimum(room, np.maximum(p, ubar))
        return np.maximum(p / room, 1.0) * rep.seconds(d, ctx, chunk, p / 2.0)

    out: dict[str, Any] = {
        "batch": d, "rate": lam, "step_seconds": t, "decode_step_seconds": s0,
        "mixed_step_seconds": s1, "prefill_fraction": pi, "prefill_utilisation": rho,
        "stable": (rho < 1.0) & (ubar <= room),
        "output_tokens_per_s": lam * np.asarray(mix.output, dtype=float),
        "input_tokens_per_s": lam * P,
        "bound": np.where(st1["compute_s"] > st1["memory_s"], "compute", "bandwidth"),
        "decode_bound": np.where(st0["compute_s"] > st0["memory_s"], "compute", "bandwidth"),
        "ttft_mean": res_f * t / 2.0 + wait + own(P),
        "tpot_mean": t, "itl_mean": t,
    }
    qs = (sorted(set(PERCENTILES) | {float(percentile)}) if percentiles is None
          else sorted({float(q) for q in percentiles}))
    if not qs:
        return out
    # decode-batch fluctuation: dt/dd by a finite difference
    dd = np.maximum(1.0, 0.05 * d)
    slope = (rep.seconds(d + dd, ctx) - s0) / dd
    n = o1
    var_p = (s1 - s0) ** 2 * pi * (1.0 - pi) / n
    var_d = slope * slope * (2.0 / 3.0) * d
    sd_tpot = np.sqrt(var_p + var_d)
    for q in qs:
        f = q / 100.0
        key = _pkey(q)
        wq = np.where(f <= 1.0 - rho, 0.0,
                      np.where(rho > 0, wait / np.maximum(rho, 1e-12)
                               * np.log(np.maximum(rho, 1e-12) / (1.0 - f)), 0.0))
        wq = np.where(rho < 1.0, wq, np.inf)
        out[f"ttft_{key}"] = res_f * f * t + wq + own(mix.prompt_q(f))
        out[f"tpot_{key}"] = t + _z(f) * sd_tpot if f > 0.5 else t
        out[f"itl_{key}"] = np.where(f <= 1.0 - pi, s0, s1)
        out[f"e2e_{key}"] = out["ttft_mean"] + (mix.output_q(f) - 1.0) * t
    return out


def _pkey(q: float) -> str:
    return f"p{q:g}".replace(".", "_")


def bisect_batch(pred, lo, hi, iterations: int = 40):
    """Per element, the largest d in [lo, hi] with pred(d) True, for pred True then False in d
    (vectorised bisection); lo where pred(lo) is False (the caller checks)."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    top = pred(hi)
    good, bad = lo.copy(), hi.copy()
    for _ in range(iterations):
        mid = 0.5 * (good + bad)
        ok = pred(mid)
        good = np.where(ok, mid, good)
        bad = np.where(ok, bad, mid)
    return np.where(top, hi, good)


def open_loop(rep, mix: Mix, rate, budget, limit, percentile: float = 99.0) -> dict[str, Any]:
    """Steady state at arrival `rate` (requests/s per replica): the decode batch d with
    lambda(d) = rate (lambda grows with d), d at most `limit` (batch/KV limit, and the budget
    limit).  Rows whose rate the replica cannot sustain get `stable` False."""
    rate = np.asarray(rate, dtype=float)
    hi = np.maximum(np.minimum(np.asarray(limit, float), budget_batch(mix, budget) * 0.999),
                    1e-6)
    d = bisect_batch(lambda x: at_batch(rep, mix, x, budget, percentile, percentiles=())[
        "rate"] <= rate, np.full(np.shape(hi), 1e-6), hi)
    res = at_batch(rep, mix, d, budget, percentile)
    res["stable"] = res["stable"] & (res["rate"] >= rate * (1 - 1e-6))
    res["rate"] = np.where(res["stable"], rate, res["rate"])
    return res


def closed_loop(rep, mix: Mix, clients, budget, limit, percentile: float = 99.0
                ) -> dict[str, Any]:
    """Steady state of `clients` closed-loop users (each sends its next request when the
    previous one ends), at most `limit` sequences in flight: N = d + X TTFT (Little)."""
    n = np.asarray(clients, dtype=float)
    lim = np.asarray(limit, dtype=float)
    running = np.minimum(n, lim)

    def in_flight(x):
        r = at_batch(rep, mix, x, budget, percentile, residual=False, percentiles=())
        return x + r["rate"] * r["ttft_mean"]

    hi = np.maximum(np.minimum(running, budget_batch(mix, budget) * 0.999), 1e-6)
    d = bisect_batch(lambda x: in_flight(x) <= running, np.full(np.shape(hi), 1e-6), hi)
    res = at_batch(rep, mix, d, budget, percentile, residual=False)
    # clients beyond the limit wait outside the engine: (N - running) / X more to the TTFT
    extra = np.where(n > running, (n - running) / np.maximum(res["rate"], 1e-30), 0.0)
    for k in list(res):
        if k.startswith("ttft_") or k.startswith("e2e_"):
            res[k] = res[k] + extra
    res["clients"] = n
    res["stable"] = np.ones(np.shape(d), dtype=bool)
    return res
