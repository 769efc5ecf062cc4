"""Partial offload (llama.cpp -ngl, --cpu-moe) and the memory placement rules
(planner/estimate/offload.py)."""
from __future__ import annotations

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.estimate import decode as D
from planner.estimate import inference as I
from planner.estimate import offload as O
from planner.hardware import get_device
from planner.model import zoo

DDR5 = 89.6e9   # DDR5-5600 dual channel: 5600e6 x 8 B x 2 (JEDEC JESD79-5)


def test_ram_types_follow_jedec_arithmetic():
    assert O.ram_bandwidth("DDR4-3200") == pytest.approx(3200e6 * 8 * 2)
    assert O.ram_bandwidth("ddr5 5600") == pytest.approx(DDR5)
    with pytest.raises(PlannerError, match="RAM type"):
        O.ram_bandwidth("ddr9-1")


def test_70b_layers_on_a_24gb_card():
    """llama.cpp issue #2496 (mirek190, 2023-08-02): on an RTX 3090 with 70B Q4_K_M "-ngl 40"
    and 65B "45" ran, so at least that many layers fit; all 40 layers of a 13B fit."""
    dev = get_device("rtx-3090")
    usable = I.usable_bytes(dev.memory_bytes, False)
    n70 = int(O.layers_that_fit(zoo.get("llama-2-70b"), "Q4_K_M", 512, usable)["gpu_layers"])
    n65 = int(O.layers_that_fit(zoo.get("llama-65b"), "Q4_K_M", 512, usable)["gpu_layers"])
    assert 40 <= n70 <= 50 and 45 <= n65 <= 55
    r13 = O.layers_that_fit(zoo.get("llama-2-13b"), "Q4_K_M", 512, usable)
    assert int(r13["gpu_layers"]) == 40 and bool(r13["output_on_gpu"])
    # what lands on the GPU fits it
    r70 = O.layers_that_fit(zoo.get("llama-2-70b"), "Q4_K_M", 512, usable)
    assert r70["gpu_bytes"] <= usable


def test_offload_ends_match_the_single_device_models():
    """All layers on the GPU = the GPU's own decode; none = the CPU backend at RAM speed
    (plus the GPU's per-step overhead)."""
    spec, dev = zoo.get("llama-2-13b"), get_device("rtx-4090")
    r = O.offload_speed(spec, "Q4_K_M", dev, [0, 40], 1024, DDR5, flash_attention=False)
    alone = D.device_speed(spec, "Q4_K_M", dev, 1024, flash_attention=False)
    assert r["decode_tokens_per_s"][1] == pytest.approx(float(alone["decode_tokens_per_s"]),
                                                        rel=1e-9)
    cpu = D.device_speed(spec, "Q4_K_M", get_device("desktop-32gb"), 1024,
                         flash_attention=False)
    assert r["decode_tokens_per_s"][0] <= float(cpu["decode_tokens_per_s"])
    assert r["decode_tokens_per_s"][0] == pytest.approx(float(cpu["decode_tokens_per_s"]),
                                                        rel=0.1)


def test_half_offloaded_70b_is_ram_bound():
    """70B Q4_K_M with ~half the layers on a 24 GB card: the host half dominates; decode
    is a few tokens/s, between all-CPU and all-GPU."""
    spec, dev = zoo.get("llama-3-70b"), get_device("rtx-4090")
    usable = I.usable_bytes(dev.memory_bytes, False)
    n = O.layers_that_fit(spec, "Q4_K_M", 4096, usable)["gpu_layers"]
    r = O.offload_speed(spec, "Q4_K_M", dev, n, 2048, DDR5)
    assert 1.5 <= float(r["decode_tokens_per_s"]) <= 5.0
    assert r["decode_host_s"] > 5 * r["decode_gpu_s"]


def test_cpu_moe_keeps_attention_on_the_gpu():
    """--cpu-moe (Mixtral 8x7B on a 24 GB card): the GPU holds attention and the router
    (~1-2 GB), the host the experts; decode is RAM-bound on the active experts (2 of 8).
    With --n-cpu-moe tuned so the rest fills the card, it beats offloading whole layers
    (-ngl), which leaves attention and the experts of those layers on the host."""
    spec, dev = zoo.get("mixtral-8x7b"), get_device("rtx-4090")
    r = O.cpu_moe_speed(spec, "Q4_K_M", dev, 4096, DDR5)
    assert r["gpu_weight_bytes"] < 3e9 and r["host_weight_bytes"] > 20e9
    assert 4 <= float(r["decode_tokens_per_s"]) <= 20
    usable = I.usable_bytes(dev.memory_bytes, False)
    for q in ("Q4_K_M", "Q8_0"):
        n = O.layers_that_fit(spec, q, 4096, usable)["gpu_layers"]
        k = O.expert_layers_on_host(spec, q, 4096, usable)
        assert 0 < k < 32
        whole = O.offload_speed(spec, q, dev, n, 4096, DDR5)
        tuned = O.cpu_moe_speed(spec, q, dev, 4096, DDR5, cpu_layers=k)
        assert tuned["decode_tokens_per_s"] >= whole["decode_tokens_per_s"]
    some = O.cpu_moe_speed(spec, "Q4_K_M", dev, 4096, DDR5, cpu_layers=[8, 16, 32])
    assert (np.diff(some["decode_tokens_per_s"]) < 0).all()   # more experts on the host
    with pytest.raises(PlannerError, match="mixture-of-experts"):
        O.cpu_moe_speed(zoo.get("llama-2-7b"), "Q4_K_M", dev, 4096, DDR5)


def test_cpu_moe_counts_only_the_moe_layers():
    """Llama 4 Maverick interleaves: MoE every other layer (HF config meta-llama/Llama-4-
    Maverick-17B-128E: num_hidden_layers 48, interleave_moe_layer_step 2), so 24 MoE layers
    of 48.  --n-cpu-moe counts those 24: all 24 on the host is --cpu-moe, and with no room at
    all the answer is 24 + 1."""
    spec, dev = zoo.get("llama-4-maverick"), get_device("rtx-4090")
    assert spec.n_moe_layers == 24
    assert int(O.expert_layers_on_host(spec, "Q4_K_M", 4096, 1e9)) == 24 + 1
    assert int(O.expert_layers_on_host(spec, "Q4_K_M", 4096, 1e15)) == 0
    every = O.cpu_moe_speed(spec, "Q4_K_M", dev, 4096, DDR5)
    all_24 = O.cpu_moe_speed(spec, "Q4_K_M", dev, 4096, DDR5, cpu_layers=24)
    half = O.cpu_moe_speed(spec, "Q4_K_M", dev, 4096, DDR5, cpu_layers=12)
    assert float(all_24["host_weight_bytes"]) == float(every["host_weight_bytes"])
    assert float(half["host_weight_bytes"]) < float(every["host_weight_bytes"])


def test_embedding_stays_on_the_host():
    spec = zoo.get("llama-3-8b")
    gpu = O.device_resident_bytes(spec, "fp16", 4096, get_device("rtx-4090"))
    cpu = O.device_resident_bytes(spec, "fp16", 4096, get_device("desktop-32gb"))
    total = I.memory_total(spec, "fp16", 4096)[3]
    assert total - gpu > 1.0e9          # 128256 x 4096 x 2 B = 1.05 GB stays in RAM
    assert cpu == pytest.approx(I.memory_total(spec, "fp16", 4096, shared_memory=True)[3])
