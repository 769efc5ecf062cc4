"""Fine-tuning memory against the QLoRA and LoRA papers."""
from __future__ import annotations

import pytest

from planner.model import zoo
from planner.errors import PlannerError
from planner.estimate.finetune import activations_bytes, finetune_memory, plan_finetune
from planner.hardware.profiles import get_device

L65 = zoo.get("llama-65b")


def test_qlora_65b_fits_one_48gb_gpu():
    """Dettmers et al. 2023 (QLoRA) abstract: a 65B model fine-tunes on a single 48 GB GPU
    (r = 64 on all linear layers, sec. 4/App. B; sequences ~512 tokens, checkpointing)."""
    r = plan_finetune(L65, get_device("rtx-a6000"), "qlora", rank=64, context=512,
                      search_devices=False)
    assert r["fits"]
    assert 35e9 < r["total_bytes"] < 48 * 2**30
    # the adapters: ~0.8 B parameters (Guanaco-65B adapter checkpoint ~3.2 GB in fp32)
    assert r["trainable_params"] == pytest.approx(0.8e9, rel=0.02)


def test_full_finetune_65b_over_780_gb():
    """QLoRA abstract: 16-bit full fine-tuning of a 65B model needs more than 780 GB."""
    m = finetune_memory(L65, "full", context=512)
    assert m["weights_bytes"] + m["gradient_and_optimizer_bytes"] > 780e9


def test_lora_needs_less_than_full_and_qlora_less_than_lora():
    spec = zoo.get("llama-2-7b")
    dev = get_device("rtx-4090")
    totals = {m: plan_finetune(spec, dev, m, search_devices=False)["total_bytes"]
              for m in ("full", "lora", "qlora")}
    assert totals["qlora"] < totals["lora"] < totals["full"]


def test_checkpointing_reduces_activations_and_grows_with_context():
    spec = zoo.get("llama-2-7b")
    assert activations_bytes(spec, 2048, 1, True) < activations_bytes(spec, 2048, 1, False)
    assert activations_bytes(spec, 4096, 1, False) > activations_bytes(spec, 2048, 1, False)
    # Korthikanti et al. 2022: 34 sbh per layer for a 4h GELU MLP with q = kv = h, flash attn
    gpt = zoo.get("gpt3-175b")
    from planner.estimate.finetune import activation_bytes_per_layer
    assert activation_bytes_per_layer(gpt, 2048, 1) == 34 * 2048 * gpt.d_model


def test_bad_targets_and_method():
    with pytest.raises(PlannerError, match="did you mean"):
        finetune_memory(zoo.get("llama-2-7b"), "qlorra")
    with pytest.raises(PlannerError, match="gate"):
        finetune_memory(zoo.get("gpt2"), "lora", 8, ["gate"])
