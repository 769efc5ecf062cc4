"""Alpha-beta collective costs (vectorised; every argument broadcasts).

A collective over n ranks moving a tensor of S bytes costs a latency term (alpha per step) plus
a bandwidth term (Hockney 1994; Thakur, Rabenseifner & Gropp 2005, "Optimization of Collective
Communication Operations in MPICH", sec. 2):
    all-reduce (ring)           2 (n-1)/n * S / B      + 2 (n-1) alpha
    reduce-scatter, all-gather    (n-1)/n * S / B      +   (n-1) alpha
    all-to-all                    (n-1)/n * S / B      +   (n-1) alpha
    point-to-point                        S / B      +         alpha
B is the *bus* bandwidth a rank achieves: the per-GPU one-direction link rate times the measured
bus-bandwidth efficiency of the network kind (nccl-tests' busbw convention, data in
planner/data/parallel_efficiency.toml).  NCCL switches to trees for latency-bound sizes, so the
latency term takes min(ring steps, tree steps = 2 ceil(log2 n)).

Placement follows Megatron-LM's rank order (tensor fastest, then context, then data, pipeline
outermost; Narayanan et al. 2021 sec. 3.3 keeps TP inside a node): a group of n ranks whose
members are `inner` ranks apart lies inside one scale-up domain when inner * n <= domain;
otherwise each domain holds k = max(1, domain / inner) members and the k members' NICs carry the
group's traffic in parallel, so its bus bandwidth is min(scale-up, k x scale-out).
"""
from __future__ import annotations

import numpy as np


def _a(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def group_links(n, inner, domain, up_bw, out_bw, up_eff, out_eff, up_alpha, out_alpha):
    """(bus bandwidth in bytes/s, alpha in s) of a group of n ranks spaced `inner` apart.
    Bandwidths are per GPU, one direction; efficiencies are fractions."""
    n, inner, domain = _a(n), _a(inner), _a(domain)
    inside = inner * n <= domain
    k = np.clip(np.floor(domain / inner), 1.0, n)
    up = _a(up_bw) * up_eff
    bw = np.where(inside, up, np.minimum(up, k * _a(out_bw) * out_eff))
    alpha = np.where(inside, up_alpha, out_alpha)
    return bw, alpha


def _steps(n, ring):
    """Latency steps: the ring's `ring` or a tree's 2 ceil(log2 n), whichever is fewer."""
    tree = 2.0 * np.ceil(np.log2(np.maximum(n, 1.0)))
    return np.minimum(ring, tree)


def all_reduce(size_bytes, n, bw, alpha):
    """Ring/tree all-reduce of `size_bytes` over n ranks (0 when n = 1)."""
    n = _a(n)
    t = 2.0 * (n - 1.0) / n * _a(size_bytes) / bw + alpha * _steps(n, 2.0 * (n - 1.0))
    return np.where(n > 1, t, 0.0)


def reduce_scatter(size_bytes, n, bw, alpha):
    """Reduce-scatter (or all-gather: the same cost) of a `size_bytes` tensor over n ranks."""
    n = _a(n)
    t = (n - 1.0) / n * _a(size_bytes) / bw + alpha * _steps(n, n - 1.0)
    return np.where(n > 1, t, 0.0)


all_gather = reduce_scatter


def all_to_all(size_bytes, n, k_local, up_bw, out_bw, alpha):
    """All-to-all where each rank sends `size_bytes` spread evenly over n ranks, `k_local` of
    them in its own scale-up domain: the off-domain share (n-k)/n leaves over the rank's NIC
    (`out_bw`), the rest over the scale-up links (`up_bw`), in parallel."""
    n, k = _a(n), np.minimum(_a(k_local), _a(n))
    s = _a(size_bytes)
    local = (k - 1.0) / n * s / up_bw
    remote = np.where(n > k, (n - k) / n * s / out_bw, 0.0)
    t = np.maximum(local, remote) + alpha * (n - 1.0)
    return np.where(n > 1, t, 0.0)


def p2p(size_bytes, bw, alpha):
    """One point-to-point send of `size_bytes`."""
    return _a(size_bytes) / bw + alpha
