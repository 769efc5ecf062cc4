"""Pareto front of plans that minimise two quantities at once (e.g. wall-clock and cost).

A point p is *dominated* when another point q is no worse in both and better in at least one:
q.x <= p.x, q.y <= p.y and (q.x < p.x or q.y < p.y).  The front is the set of points nothing
dominates (the textbook definition, e.g. Deb 2001, "Multi-Objective Optimization using
Evolutionary Algorithms", sec. 2.4).  Identical points do not dominate each other, so duplicates
of a front point are all on the front.  Points with a NaN or infinite coordinate are never on
the front and never dominate anything (an infeasible plan).
"""
from __future__ import annotations

import numpy as np


def pareto_front(x, y) -> np.ndarray:
    """Boolean mask of the points on the Pareto front of (x, y), both minimised.

    Vectorised, O(n log n): sort the points by x then y; a point is on the front when its y is
    strictly below the smallest y of every point sorted before it (before its run of
    identical copies, which do not dominate one another).
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({x.size} and {y.size})")
    mask = np.zeros(x.size, dtype=bool)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return mask
    idx = np.flatnonzero(finite)
    xs, ys = x[idx], y[idx]
    order = np.lexsort((ys, xs))                  # by x, then y
    xs, ys = xs[order], ys[order]
    # smallest y among the points sorted strictly before each one
    before = np.concatenate([[np.inf], np.minimum.accumulate(ys)[:-1]])
    # identical points form runs; compare each with what precedes its whole run
    start = np.ones(xs.size, dtype=bool)
    start[1:] = (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])
    run_start = np.maximum.accumulate(np.where(start, np.arange(xs.size), 0))
    mask[idx[order]] = ys < before[run_start]
    return mask
