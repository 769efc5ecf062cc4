"""Where the tensors live: accelerator memory, host RAM, and what a split does to speed.

llama.cpp places a model layer by layer (``-ngl N``, ``--n-gpu-layers``: "number of layers to
store in VRAM"; the last N repeating layers go to the GPU, and N > n_layer also moves the output
layer), keeps the token embedding on the host ("there is very little benefit to offloading the
input layer, so always keep it on the CPU", llama.cpp ``llm_load_tensors``), and can keep MoE
expert tensors on the host while attention stays on the GPU (``--cpu-moe``: "keep all Mixture of
Experts (MoE) weights in the CPU"; ``--n-cpu-moe N``: those of the first N layers;
``-ot/--override-tensor PATTERN=BUFFER`` in general) - ggml-org/llama.cpp
tools/server/README.md and common/arg.cpp.

Speed of a split (decode): the step runs the layers in order, so the time is the sum of each
part's step time on the device that holds it (`decode.step_time` on a workload cut to that
part), the host part at host RAM bandwidth with the CPU backend's constants.  Prefill: for
micro-batches of >= 32 tokens the CUDA backend runs host-resident layers on the GPU, copying
their weights over PCIe each micro-batch (ggml-cuda ``offload_op``: batch >= 32), so the
prefill is the all-GPU prefill plus host bytes / PCIe bandwidth per micro-batch.

The same split prices layer-split multi-GPU inference (``--split-mode layer``, llama.cpp's
default): decode on n identical GPUs is one GPU's step time, validated (not fitted) on the 216
multi-GPU rows of the reference tables (see tests/test_decode.py).

All functions are pure and broadcast over arrays (VRAM, RAM bandwidth, context, ...).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from planner.errors import PlannerError
from planner.estimate import decode
from planner.estimate.decode import HardwareTerms, Workload


# --- memory placement ------------------------------------------------------------------------

def host_kept_bytes(spec, quant: str, backend_name: str, era: str = "current") -> float:
    """Weight bytes llama.cpp keeps in host memory even with every layer offloaded: the input
    embedding on an accelerator backend (CUDA, Metal: a CPU buffer outside the Metal working
    set); nothing on the CPU backend (everything is host memory there)."""
    from planner.estimate.quant import weight_bytes
    if backend_name == "llama.cpp-cpu":
        return 0.0
    return float(weight_bytes(spec, quant, era).embedding)


def cuda_prefill_scratch_bytes(spec, quant: str, context, batch=1,
                               flash_attention: bool = True):
    """Device memory the CUDA backend takes from its pool during prefill, beyond the compute
    buffer (ggml-cuda.cu, 2024): without flash attention the batched cuBLAS KQ product is
    computed in f16 into a pool buffer, n_ubatch x n_kv x n_heads x 2 bytes, before conversion
    to f32 (ggml_cuda_mul_mat_batched_cublas, dst_f16); for quantised weights the largest
    matrix dequantised to f16 for cuBLAS (d_model x d_ff x 2 bytes; the file's comment: "+100-
    200 MB" for a 7B model)."""
    from planner.estimate.inference import cached_tokens, inference_data
    ub = inference_data()["compute_buffer"]["n_ubatch"]
    ctx = np.asarray(context, dtype=float)
    b = np.asarray(batch, dtype=float)
    u = np.minimum(ub, ctx * b)
    kq = 0.0 if flash_attention else u * cached_tokens(spec, ctx) * b * spec.n_heads * 2.0
    w = decode.workload(spec, quant)
    width = max(spec.d_ff, spec.expert_d_ff or 0)
    deq = 2.0 * spec.d_model * width if w.params_per_byte > 0.51 else 0.0
    return kq + deq


def device_resident_bytes(spec, quant: str, context, device, batch=1, kv_type: str = "f16",
                          flash_attention: bool = True, era: str = "current",
                          backend_name: str | None = None, shared_memory: bool | None = None):
    """Bytes that must fit the device's usable memory with every layer offloaded
    (`inference.memory_total`: weights + KV + compute buffer + runtime), minus what llama.cpp
    keeps on the host (`host_kept_bytes`), plus the CUDA pool's prefill scratch
    (`cuda_prefill_scratch_bytes`).  Compare with `inference.usable_bytes`.  Without a
    `device`, `backend_name` and `shared_memory` describe the kind of machine."""
    from planner.estimate.inference import memory_total
    name = backend_name or decode.backend_for(device)
    shared = bool(device.unified_memory) if shared_memory is None else bool(shared_memory)
    total = memory_total(spec, quant, context, batch, kv_type, shared, flash_attention, era)[3]
    total = total - host_kept_bytes(spec, quant, name, era)
    if name == "llama.cpp-cuda":
        total = total + cuda_prefill_scratch_bytes(spec, quant, context, batch, flash_attention)
    return total


# --- host memory -----------------------------------------------------------------------------

@functools.cache
def host_memory_types() -> dict[str, dict]:
    """RAM type -> {"gbs": GB/s of a dual-channel desktop, "source": ...}
    (decode_backends.toml [host_memory])."""
    return decode.backend_data()["host_memory"]


def ram_bandwidth(ram_type: str) -> float:
    """Bytes/s of a dual-channel memory system of `ram_type` (JEDEC transfer rate x 8 bytes x 2
    channels: DDR4-3200 -> 51.2 GB/s, DDR5-5600 -> 89.6 GB/s)."""
    from planner.errors import unknown
    table = host_memory_types()
    key = str(ram_type).lower().replace("_", "-").replace(" ", "-")
    if key not in table:
        raise unknown("RAM type", ram_type, table)
    return float(table[key]["gbs"]) * 1e9


def host_terms(ram_bandwidth_bytes, cpu_flops=None) -> HardwareTerms:
    """`HardwareTerms` of the host CPU and RAM for the CPU backend (fp32 FLOP/s default: the
    desktop profiles' 8-core AVX2 figure, decode_backends.toml [host_memory] note)."""
    flops = decode.backend_data()["host_cpu"]["fp32_flops"] if cpu_flops is None else cpu_flops
    return HardwareTerms(bandwidth=np.asarray(ram_bandwidth_bytes, dtype=float),
                         matmul_peak=np.asarray(flops, dtype=float),
                         alu_peak=np.asarray(flops, dtype=float), tdp_w=math.inf, hbm=0.0)


# --- cutting a workload ----------------------------------------------------------------------

def layer_part(w: Workload, fraction, output: bool) -> Workload:
    """The part of a workload made of `fraction` of its repeating layers, with (`output`) or
    without the output layer.  The embedding is never part of a device's reads."""
    f = np.asarray(fraction, dtype=float)
    layers_bytes = w.weight_bytes - w.embedding_bytes - w.lm_head_bytes
    lm_b = w.lm_head_bytes if output else 0.0
    lm_p = w.lm_head_params if output else 0.0
    return dataclasses.replace(
        w, n_layers=w.n_layers * f, weight_bytes=layers_bytes * f + lm_b, embedding_bytes=0.0,
        expert_bytes=w.expert_bytes * f, lm_head_bytes=lm_b,
        linear_params=(w.linear_params - w.lm_head_params) * f + lm_p, lm_head_params=lm_p,
        kv_bytes_per_token=w.kv_bytes_per_token * f,
        attention_flops_per_key=w.attention_flops_per_key * f)


def expert_part(w: Workload, fraction) -> tuple[Workload, Workload]:
    """(rest, experts): the routed experts of `fraction` of the layers cut out (--cpu-moe is
    fraction 1).  The expert part has no attention, KV or output layer; its per-layer overhead
    counts the layers it spans."""
    f = np.asarray(fraction, dtype=float)
    ex_b = w.expert_bytes * f
    k_over_e = np.where(np.asarray(w.n_experts) > 0,
                        np.asarray(w.experts_per_token) / np.maximum(w.n_experts, 1.0), 0.0)
    ex_active_p = ex_b * w.params_per_byte * k_over_e
    rest = dataclasses.replace(w, weight_bytes=w.weight_bytes - ex_b,
                               expert_bytes=w.expert_bytes - ex_b,
                               linear_params=w.linear_params - ex_active_p)
    experts = dataclasses.replace(
        w, n_layers=w.n_layers * f, weight_bytes=ex_b, embedding_bytes=0.0, expert_bytes=ex_b,
        lm_head_bytes=0.0, linear_params=ex_active_p, lm_head_params=0.0,
        kv_bytes_per_token=0.0 * f, attention_flops_per_key=0.0 * f)
    return rest, experts


# --- partial offload -------------------------------------------------------------------------

def split_bytes(spec, quant: str, context, gpu_layers, output_on_gpu, batch=1,
                kv_type: str = "f16", flash_attention: bool = True, shared_memory: bool = False,
                era: str = "current") -> dict[str, Any]:
    """Bytes on the GPU and in host RAM with `gpu_layers` repeating layers (and the output
    layer where `output_on_gpu`) on the GPU, as llama.cpp places them: each GPU layer brings
    its weights and its KV cache; the GPU also holds the compute buffer and the runtime; the
    token embedding stays on the host.  Arrays broadcast.  Returns gpu_bytes, host_bytes and
    layer_bytes (weights + KV cache of one layer)."""
    from planner.estimate.inference import compute_buffer_bytes, kv_cache_bytes, runtime_bytes
    w = decode.workload(spec, quant, kv_type, era)
    L = float(spec.n_layers)
    layer_w = (w.weight_bytes - w.embedding_bytes - w.lm_head_bytes) / L
    layer_kv = kv_cache_bytes(spec, context, batch, kv_type) / L
    fixed = compute_buffer_bytes(spec, context, batch, flash_attention) + runtime_bytes(
        shared_memory)
    n = np.clip(np.asarray(gpu_layers, dtype=float), 0, L)
    out = np.asarray(output_on_gpu, dtype=bool)
    gpu = n * (layer_w + layer_kv) + np.where(out, w.lm_head_bytes, 0.0) + fixed
    host = (w.embedding_bytes + (L - n) * (layer_w + layer_kv)
            + np.where(out, 0.0, w.lm_head_bytes))
    return {"gpu_bytes": gpu, "host_bytes": host, "layer_bytes": layer_w + layer_kv,
            "fixed_bytes": fixed, "output_bytes": w.lm_head_bytes}


def layers_that_fit(spec, quant: str, context, vram_usable, batch=1, kv_type: str = "f16",
                    flash_attention: bool = True, shared_memory: bool = False,
                    era: str = "current") -> dict[str, Any]:
    """How many repeating layers fit in `vram_usable` bytes (llama.cpp -ngl), the rest in host
    RAM (`split_bytes`); when every layer fits and the output layer too, it goes on the GPU
    (-ngl n_layer + 1).  Returns gpu_layers (int array), output_on_gpu, gpu_bytes, host_bytes,
    layer_bytes."""
    L = float(spec.n_layers)
    none = split_bytes(spec, quant, context, 0, False, batch, kv_type, flash_attention,
                       shared_memory, era)
    room = np.asarray(vram_usable, dtype=float) - none["fixed_bytes"]
    per = none["layer_bytes"]
    n = np.clip(np.floor(room / per), 0, L)
    out = (n >= L) & (room - L * per >= none["output_bytes"])
    split = split_bytes(spec, quant, context, n, out, batch, kv_type, flash_attention,
                        shared_memory, era)
    return {"gpu_layers": n.astype(int), "output_on_gpu": out, "gpu_bytes": split["gpu_bytes"],
            "host_bytes": split["host_bytes"], "layer_bytes": per}


def offload_speed(spec, quant: str, device, gpu_layers, context, ram_bandwidth_bytes,
                  prompt=512, batch=1, cpu_flops=None, pcie_bandwidth=None,
                  output_on_gpu=None, kv_type: str = "f16", flash_attention: bool = True,
                  era: str = "current") -> dict[str, Any]:
    """Decode and prefill tokens/s with `gpu_layers` of the model's layers on `device` and the
    rest in host RAM (`ram_bandwidth_bytes`), arrays broadcast.  Decode: GPU part + host part
    (`layer_part`), each by `decode.step_time` on its own device.  Prefill: the all-GPU
    prefill plus host-resident bytes over PCIe per micro-batch (default: the device's PCIe
    link, one direction = half its bidirectional `interconnect_gbs`, else 32 GB/s)."""
    w, hw, be, host, cpu_be = _split_inputs(spec, quant, device, ram_bandwidth_bytes,
                                            cpu_flops, kv_type, era)
    L = float(spec.n_layers)
    n = np.clip(np.asarray(gpu_layers, dtype=float), 0, L)
    out = (n >= L) if output_on_gpu is None else np.asarray(output_on_gpu, dtype=bool)
    frac = n / L
    gpu_part = layer_part(w, frac, False)
    host_part = layer_part(w, 1.0 - frac, False)
    # the output layer goes where it is held (-ngl above n_layer puts it on the GPU)
    gpu_part = dataclasses.replace(gpu_part, **_output_where(w, gpu_part, out))
    host_part = dataclasses.replace(host_part, **_output_where(w, host_part, ~out))
    ctx = np.asarray(context, dtype=float)
    t_gpu = decode.step_time(gpu_part, hw, be, context=ctx, batch=batch,
                             flash_attention=flash_attention)["seconds"]
    t_host = decode.step_time(host_part, host, cpu_be, context=ctx, batch=batch,
                              flash_attention=flash_attention)["seconds"]
    t_host = np.where((n >= L) & out, 0.0, t_host)
    t_dec = t_gpu + t_host
    host_w = host_part.weight_bytes
    pre = _offloaded_prefill(w, hw, be, device, host_w, prompt, batch, pcie_bandwidth,
                             flash_attention)
    return {"decode_tokens_per_s": 1.0 / t_dec, "decode_gpu_s": t_gpu, "decode_host_s": t_host,
            "prefill_tokens_per_s": pre, "host_weight_bytes": host_w,
            "gpu_layers": n.astype(int), "output_on_gpu": out}


def _split_inputs(spec, quant, device, ram_bandwidth_bytes, cpu_flops, kv_type, era):
    """(workload, GPU terms, GPU backend, host terms, CPU backend) of a GPU + host split."""
    be = decode.backend(decode.backend_for(device), quant)
    return (decode.workload(spec, quant, kv_type, era), decode.hardware_terms(device, be), be,
            host_terms(ram_bandwidth_bytes, cpu_flops), decode.backend("llama.cpp-cpu", quant))


def _offloaded_prefill(w, hw, be, device, host_bytes, prompt, batch, pcie_bandwidth,
                       flash_attention):
    """Prompt tokens/s when `host_bytes` of weights live in host RAM: the all-GPU prefill
    plus one copy of them over PCIe per micro-batch (ggml-cuda offload_op, batch >= 32)."""
    pre = decode.prefill_time(w, hw, be, prompt, 0, batch, flash_attention=flash_attention)
    link = _pcie(device) if pcie_bandwidth is None else float(pcie_bandwidth)
    t = pre["seconds"] + pre["steps"] * host_bytes / link
    return np.asarray(prompt, dtype=float) * np.asarray(batch, dtype=float) / t


def _output_where(w: Workload, part: Workload, here) -> dict:
    """Fields of `part` with the output layer included where `here`, removed elsewhere."""
    here = np.asarray(here, dtype=bool)
    no_out_b = part.weight_bytes - part.lm_head_bytes
    no_out_p = part.linear_params - part.lm_head_params
    return {"weight_bytes": no_out_b + np.where(here, w.lm_head_bytes, 0.0),
            "lm_head_bytes": np.where(here, w.lm_head_bytes, 0.0),
            "linear_params": no_out_p + np.where(here, w.lm_head_params, 0.0),
            "lm_head_params": np.where(here, w.lm_head_params, 0.0)}


def _pcie(device) -> float:
    """One direction of the device's host link: half the bidirectional PCIe figure."""
    if "pcie" in str(device.info.get("interconnect", "")).lower() and \
            device.interconnect_bytes_per_s > 0:
        return device.interconnect_bytes_per_s / 2.0
    return 32e9   # PCIe 4.0 x16, one direction (ASSUMPTION for devices without the figure)


def expert_layers_on_host(spec, quant: str, context, vram_usable, batch=1,
                          kv_type: str = "f16", flash_attention: bool = True,
                          shared_memory: bool = False, era: str = "current"):
    """--n-cpu-moe N as a person tunes it: the fewest MoE layers whose routed experts go to
    host RAM so that everything else fits `vram_usable` (attention, shared experts, router,
    output layer, the remaining experts, the KV cache, compute buffer and runtime).  The
    number of MoE layers + 1 where even all experts on the host leave too little room."""
    from planner.estimate.inference import compute_buffer_bytes, kv_cache_bytes, runtime_bytes
    w = decode.workload(spec, quant, kv_type, era)
    moe_layers = float(spec.n_moe_layers)
    per_layer = w.expert_bytes / max(moe_layers, 1.0)
    fixed = (w.weight_bytes - w.embedding_bytes - w.expert_bytes
             + kv_cache_bytes(spec, context, batch, kv_type)
             + compute_buffer_bytes(spec, context, batch, flash_attention)
             + runtime_bytes(shared_memory))
    room = np.asarray(vram_usable, dtype=float) - fixed
    keep = np.floor(np.where(per_layer > 0, room / max(per_layer, 1e-30), moe_layers))
    n = moe_layers - np.clip(keep, 0.0, moe_layers)
    return np.where(room < 0, moe_layers + 1, n).astype(int)


def cpu_moe_speed(spec, quant: str, device, context, ram_bandwidth_bytes, cpu_layers=None,
                  prompt=512, batch=1, cpu_flops=None, pcie_bandwidth=None,
                  kv_type: str = "f16", flash_attention: bool = True,
                  era: str = "current") -> dict[str, Any]:
    """--cpu-moe / --n-cpu-moe N: the routed experts of `cpu_layers` layers (default all) in
    host RAM, everything else (attention, shared experts, router, output) on `device`.
    Decode = GPU step on the rest + CPU step on the active experts; prefill = all-GPU prefill +
    the host experts' bytes over PCIe per micro-batch.  Also the GPU and host bytes."""
    if not spec.is_moe:
        raise PlannerError(f"--cpu-moe needs a mixture-of-experts model; {spec.name} has no "
                           "routed experts")
    w, hw, be, host, cpu_be = _split_inputs(spec, quant, device, ram_bandwidth_bytes,
                                            cpu_flops, kv_type, era)
    L = float(spec.n_moe_layers)
    f = np.clip(np.asarray(L if cpu_layers is None else cpu_layers, dtype=float) / L, 0.0, 1.0)
    rest, experts = expert_part(w, f)
    ctx = np.asarray(context, dtype=float)
    t_gpu = decode.step_time(rest, hw, be, context=ctx, batch=batch,
                             flash_attention=flash_attention)["seconds"]
    t_host = decode.step_time(experts, host, cpu_be, context=ctx, batch=batch)["seconds"]
    pre = _offloaded_prefill(w, hw, be, device, experts.weight_bytes, prompt, batch,
                             pcie_bandwidth, flash_attention)
    return {"decode_tokens_per_s": 1.0 / (t_gpu + t_host), "decode_gpu_s": t_gpu,
            "decode_host_s": t_host, "prefill_tokens_per_s": pre,
            "host_weight_bytes": experts.weight_bytes + w.embedding_bytes,
            "gpu_weight_bytes": rest.weight_bytes - w.embedding_bytes}
