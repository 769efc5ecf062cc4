"""Serving step time: the shared decode/prefill step model (planner/estimate/decode.py) for a
TP x PP replica under a continuous-batching engine.

A step advances every running sequence by one token (`d` decode sequences at a mean context
`ctx`) and carries `u` prompt tokens of chunked prefill, each attending `keys` keys on average
(decode.step_time's `prefill_tokens`/`prefill_keys`).  With pipeline parallelism the batch is
split into PP micro-batches that flow through PP stages, each holding 1/PP of the layers: a
round in which every sequence gains a token takes PP stage-times of a micro-batch
(Huang et al. 2019, GPipe, sec. 2.2; TensorRT-LLM and vLLM schedule PP micro-batches this way).

Everything broadcasts: one `Replica` may hold arrays (one element per configuration), so a
solver prices every device x TP x precision at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from planner.estimate import decode


@dataclass(frozen=True)
class Replica:
    """Step-time inputs of one replica shape (floats, or arrays one element per config)."""
    w: Any            # decode.Workload of one pipeline stage
    hw: Any           # decode.HardwareTerms
    be: Any           # decode.Backend
    tp: Any
    pp: Any
    p2p_s: Any = 0.0  # pipeline hand-off per stage boundary (s)

    def step(self, d, ctx, u=0.0, keys=0.0) -> dict[str, Any]:
        """One round: `d` decode sequences at `ctx` cached tokens plus `u` prefill tokens
        attending `keys` keys each.  Returns decode.step_time's terms for one stage and
        `seconds` for the whole round."""
        pp = np.asarray(self.pp, dtype=float)
        d = np.asarray(d, dtype=float)
        u = np.asarray(u, dtype=float)
        s = decode.step_time(self.w, self.hw, self.be, new_tokens=1.0, batch=d / pp,
                             context=ctx, tp=self.tp, flash_attention=True,
                             prefill_tokens=u / pp, prefill_keys=keys)
        total = pp * s["seconds"] + (pp - 1.0) * self.p2p_s
        return {**s, "seconds": total}

    def seconds(self, d, ctx, u=0.0, keys=0.0):
        return self.step(d, ctx, u, keys)["seconds"]


def stack_replicas(items: Sequence[Replica]) -> Replica:
    """Replicas side by side: every field becomes an array, one element per item."""
    return Replica(w=decode.stack_workloads([r.w for r in items]),
                   hw=decode.stack_hardware([r.hw for r in items]),
                   be=decode.stack_backends([r.be for r in items]),
                   tp=np.array([float(r.tp) for r in items]),
                   pp=np.array([float(r.pp) for r in items]),
                   p2p_s=np.array([float(r.p2p_s) for r in items]))


def take(rep: Replica, index) -> Replica:
    """Rows `index` of a stacked replica (every array field gathered)."""
    return Replica(w=decode.take_rows(rep.w, index), hw=decode.take_rows(rep.hw, index),
                   be=decode.take_rows(rep.be, index),
                   tp=np.asarray(rep.tp)[index], pp=np.asarray(rep.pp)[index],
                   p2p_s=np.asarray(rep.p2p_s)[index] if np.ndim(rep.p2p_s) else rep.p2p_s)


def replica(spec, fmt: str, kv_type: str, device, engine_name: str, tp: int, pp: int,
            overrides: dict | None = None) -> Replica:
    """The `Replica` of one configuration."""
    from planner.estimate.serving.engine import engine, serving_workload, stage_workload
    eng = engine(engine_name)
    be = decode.backend(eng.backend, fmt if fmt in decode.QUANT_FAMILY else "fp16", overrides)
    hw = decode.hardware_terms(device, be)
    w = stage_workload(serving_workload(spec, fmt, kv_type), float(pp))
    # Pipeline hand-off: one micro-batch's activations over the scale-up link, or a latency
    # floor of 10 us (ASSUMPTION: NCCL send/recv on NVLink).
    return Replica(w=w, hw=hw, be=be, tp=float(tp), pp=float(pp), p2p_s=1.0e-5)
