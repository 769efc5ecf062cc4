"""A serving replica's static side: engine settings, weight format, and memory.

A replica is TP x PP GPUs running one copy of the model under a continuous-batching engine
with a paged KV cache (vLLM: Kwon et al. 2023, "Efficient Memory Management for Large Language
Model Serving with PagedAttention", sec. 4; SGLang; TensorRT-LLM).  Per GPU the engine holds
its shard of the weights, an activation workspace sized by the largest step it profiles, the
runtime (CUDA context, NCCL, CUDA graphs) and, in what is left at the memory fraction, the KV
cache.  The KV cache bounds the sequences in flight.

Units: bytes, tokens, sequences.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import PlannerError, unknown
from planner.resources import data_toml

SERVING_FILE = "serving.toml"


def serving_data() -> dict:
    """planner/data/serving.toml as a dict."""
    return data_toml(SERVING_FILE)


@dataclass(frozen=True)
class Engine:
    """One engine's scheduler and memory settings (serving.toml)."""
    name: str
    backend: str
    memory_basis: str
    max_batch: float
    max_num_tokens: float
    block_tokens: float
    kv_cache_for_fp8: str
    kv_policy: str
    runtime_bytes: float
    graph_bytes: float


def engine(name: str) -> Engine:
    table = serving_data()["engine"]
    if name not in table:
        raise unknown("serving engine", name, table)
    row = table[name]
    return Engine(name=name, backend=row["backend"], memory_basis=row["memory_basis"],
                  max_batch=float(row["max_batch"]), max_num_tokens=float(row["max_num_tokens"]),
                  block_tokens=float(row["block_tokens"]),
                  kv_cache_for_fp8=row["kv_cache_for_fp8"], kv_policy=row["kv_policy"],
                  runtime_bytes=float(row["runtime_bytes"]),
                  graph_bytes=float(row["graph_bytes"]))


def weight_format(precision: str) -> str:
    """A serving precision (bf16, fp8, fp4, int4, ...) -> the weight format it stores."""
    table = serving_data()["precision_format"]
    key = str(precision).strip().lower()
    if key not in table:
        raise unknown("serving precision", str(precision), table)
    return table[key]


def default_kv(eng: Engine, fmt: str) -> str:
    """The KV-cache type an engine uses when none is given: fp8 checkpoints of TensorRT-LLM
    quantise the cache too; vLLM/SGLang keep the model dtype ('auto')."""
    return eng.kv_cache_for_fp8 if fmt in ("fp8", "nvfp4", "mxfp4") else "bf16"


def matmul_precision(fmt: str) -> str:
    """The tensor-core precision a weight format's GEMMs run at (W8A8 fp8, NVFP4 fp4, int8
    SmoothQuant W8A8; bf16 and W4A16 int4 at 16 bits)."""
    return {"fp8": "fp8", "int8": "int8", "nvfp4": "fp4", "mxfp4": "fp4"}.get(fmt, "bf16")


@functools.lru_cache(maxsize=4096)
def serving_workload(spec, fmt: str, kv_type: str):
    """`decode.Workload` of `spec` in weight format `fmt` with a `kv_type` cache.  A format
    the weight-byte table does not know yet (nvfp4, mxfp4) is priced from the fp8 layout with
    its linear layers at the format's bits per weight (serving.toml [formats])."""
    from planner.estimate import decode
    from planner.estimate.quant import canonical_quant
    try:
        canonical_quant(fmt)
        return decode.workload(spec, fmt, kv_type)
    except PlannerError:
        bits = serving_data()["formats"].get(fmt, {}).get("bits")
        if bits is None:
            raise
    w8 = decode.workload(spec, "fp8", kv_type)
    w16 = decode.workload(spec, "bf16", kv_type)
    # fp8 bytes = linear x (8 bits + row scales) + the rest at 16 bits; the rest is what bf16
    # and fp8 agree on: rest = 2 x fp8 - bf16 (to first order, ignoring the row scales).
    linear16 = w16.weight_bytes - (2.0 * w8.weight_bytes - w16.weight_bytes)
    rest = w16.weight_bytes - linear16
    total = rest + linear16 * bits / 16.0
    scale = total / w8.weight_bytes
    experts = w16.expert_bytes * bits / 16.0
    return dataclasses.replace(w8, weight_bytes=total, expert_bytes=experts,
                               embedding_bytes=w8.embedding_bytes,
                               params_per_byte=w8.params_per_byte / scale)


def weight_bytes(spec, fmt: str) -> float:
    return float(serving_workload(spec, fmt, "bf16").weight_bytes)


def kv_per_token_per_gpu(spec, kv_type: str, tp, pp) -> Any:
    """KV-cache bytes one token of one sequence takes on each GPU of a TP x PP replica: the
    layers split over PP stages, the KV heads over TP ranks - but a rank holds at least one
    KV head (TP beyond n_kv_heads replicates heads: vLLM's `get_num_kv_heads` =
    max(1, n_kv_heads // tp))."""
    from planner.estimate.quant import kv_bytes_per_element
    from planner.model.spec import kv_bytes_per_token
    total = float(kv_bytes_per_token(spec, kv_bytes_per_element(kv_type)))
    kvh = float(spec.kv_heads)
    tp = np.asarray(tp, dtype=float)
    heads_per_rank = np.maximum(1.0, np.ceil(kvh / tp))
    return total * heads_per_rank / kvh / np.asarray(pp, dtype=float)


def activation_bytes(spec, tp, max_num_tokens, max_batch) -> Any:
    """Per-GPU activation workspace of the largest step the engine profiles (vLLM's
    `profile_run` with max_num_batched_tokens tokens): per token the hidden state, residual,
    QKV and attention output (~6 d_model) and the MLP's gate/up/down intermediates (~4 d_ff /
    TP) in 16 bits, plus fp32 logits of `max_batch` sequences (the sampler)."""
    tp = np.asarray(tp, dtype=float)
    per_token = 2.0 * (6.0 * spec.d_model + 4.0 * float(spec.d_ff) / tp)
    return np.asarray(max_num_tokens, float) * per_token \
        + np.asarray(max_batch, float) * spec.vocab_size * 4.0 / tp


def replica_memory(spec, fmt: str, kv_type: str, eng: Engine, device_memory, tp, pp,
                   utilization, prompt, output, held=None) -> dict[str, Any]:
    """Per-GPU memory of one replica shape and the sequences its KV cache holds (see
    `replica_memory_arrays`; `held`: mean tokens a running sequence holds)."""
    from planner.estimate.serving.load import Mix
    mix = Mix(prompt, output)
    return replica_memory_arrays(spec, eng, device_memory, tp, pp, utilization,
                                 weight_bytes(spec, fmt), kv_per_token_per_gpu(spec, kv_type,
                                                                             tp, pp),
                                 mix, held)


def replica_memory_arrays(spec, eng: Engine, device_memory, tp, pp, utilization, weights,
                          kv_per_token, mix, held=None) -> dict[str, Any]:
    """Per-GPU memory of replicas (arrays: one element per shape) and the sequences the KV
    cache holds.

    Per GPU: weights / (TP x PP), the activation workspace, runtime (context, NCCL, graphs);
    the KV cache gets `utilization` of the GPU minus those ("total" basis, vLLM) or of what
    they leave ("free" basis, TensorRT-LLM).  `max_sequences`, capped at the engine's batch
    limit: under the "reserve" policy sequences of prompt + output tokens rounded up to whole
    KV blocks (none is ever preempted); under "on_demand" sequences holding their prompt and
    what they have generated so far (`held`, default `mix.context`), plus half a block."""
    tp = np.asarray(tp, dtype=float)
    pp = np.asarray(pp, dtype=float)
    mem = np.asarray(device_memory, dtype=float)
    w = np.asarray(weights, dtype=float) / (tp * pp)
    act = activation_bytes(spec, tp, eng.max_num_tokens, eng.max_batch)
    runtime = eng.runtime_bytes + eng.graph_bytes
    u = np.asarray(utilization, dtype=float)
    if eng.memory_basis == "free":
        kv = u * (mem - w - act - runtime)
    else:
        kv = u * mem - w - act - runtime
    tokens = np.maximum(kv, 0.0) / np.asarray(kv_per_token, dtype=float)
    blk = eng.block_tokens
    if eng.kv_policy == "on_demand":
        seq = np.asarray(mix.context if held is None else held, float) + blk / 2.0
    else:
        seq = np.ceil((np.asarray(mix.prompt, float) + np.asarray(mix.output, float)) / blk) \
            * blk
    fit = np.floor(tokens / seq)
    return {"weights_bytes_per_gpu": w, "activation_bytes_per_gpu": act,
            "runtime_bytes_per_gpu": np.full(np.shape(w), runtime),
            "kv_cache_bytes_per_gpu": kv, "kv_bytes_per_token_per_gpu": kv_per_token,
            "kv_tokens": tokens, "max_sequences": np.minimum(fit, eng.max_batch),
            "kv_sequences": fit, "fits": kv > 0}


def head_divisible(spec, tp) -> Any:
    """TP must divide the attention heads (vLLM: 'Total number of attention heads must be
    divisible by tensor parallel size')."""
    tp = np.asarray(tp, dtype=int)
    return (spec.n_heads % tp) == 0


def stage_workload(w, pp: float):
    """The workload of one pipeline stage: layers, weights, KV and FLOPs split over `pp`
    stages (Huang et al. 2019, GPipe; even split, the embedding/LM-head imbalance ignored)."""
    if pp == 1:
        return w
    f = 1.0 / pp
    return dataclasses.replace(
        w, n_layers=w.n_layers * f, weight_bytes=w.weight_bytes * f,
        embedding_bytes=w.embedding_bytes * f, expert_bytes=w.expert_bytes * f,
        lm_head_bytes=w.lm_head_bytes * f, linear_params=w.linear_params * f,
        lm_head_params=w.lm_head_params * f, kv_bytes_per_token=w.kv_bytes_per_token * f,
        attention_flops_per_key=w.attention_flops_per_key * f)
