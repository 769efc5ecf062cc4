"""The parallel plan space and step-time model (planner.estimate.parallel): validity rules,
invariants (hypothesis), activation memory against Korthikanti et al. 2022, bad pins."""
from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import PlannerError
from planner.estimate.parallel import evaluate_plans, search
from planner.estimate.parallel.memory import layer_activation_bytes
from planner.estimate.parallel.reference import gpt_spec
from planner.estimate.parallel.shape import shape_of
from planner.estimate.parallel.space import plan_grid
from planner.estimate.parallel.steptime import hardware_flops_per_sequence
from planner.hardware.profiles import get_device
from planner.model.resolve import resolve_model
from planner.model.spec import ModelSpec

A100 = get_device("a100-80gb")
H100 = get_device("h100-sxm")
SMALL = gpt_spec(1024, 24, 16, 50304, 2048, "gpt-350m")
MOE = resolve_model("mixtral-8x7b")
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


# --- validity -------------------------------------------------------------------------------------

def _check_rules(plans, spec, gpus, batch, seq, domain):
    tp, pp, dp, cp, ep = (np.asarray(plans[k]) for k in ("tp", "pp", "dp", "cp", "ep"))
    b, v, m = (np.asarray(plans[k]) for k in ("micro_batch", "interleave", "micro_batches"))
    L = spec.n_layers
    assert np.all(tp * pp * dp * cp == gpus)
    assert np.all(domain % tp == 0)                                       # inside the domain
    assert np.all(spec.n_heads % tp == 0) and np.all(spec.kv_heads % tp == 0)
    assert np.all(L % (pp * v) == 0)                                       # layers / (PP x v)
    assert np.all(batch % (dp * b) == 0) and np.all(m * dp * b == batch)   # batch / (DP x mb)
    assert np.all((cp == 1) | (seq % (2 * cp) == 0))
    assert np.all((v == 1) | ((pp > 1) & (m % pp == 0)))
    assert np.all(~np.asarray(plans["sequence_parallel"]) | (tp > 1))
    E = max(spec.n_experts, 1)
    assert np.all(E % ep == 0) and np.all(dp % ep == 0)


def test_every_plan_is_valid_dense_and_moe():
    for spec, dev, gpus, batch, seq in ((resolve_model("gpt3-175b"), A100, 1024, 1536, 2048),
                                        (MOE, H100, 64, 512, 4096)):
        plans = evaluate_plans(spec, dev, gpus, batch, seq)
        assert len(plans["tp"]) > 1000
        _check_rules(plans, spec, gpus, batch, seq, int(dev.scale_up_domain))


def test_grid_is_complete_against_brute_force():
    """The vectorised grid holds exactly the (tp, pp, cp, dp, micro_batch, interleave) layouts a
    plain enumeration of the rules finds (small case, so the loop is cheap)."""
    spec, gpus, batch, seq, domain = SMALL, 16, 32, 2048, 8
    grid = plan_grid(shape_of(spec), gpus, batch, seq, domain, ("bf16",))
    got = set(zip(*(grid[k].tolist() for k in ("tp", "pp", "cp", "dp", "micro_batch",
                                                 "interleave"))))
    want = set()
    for tp, pp, cp in itertools.product(divisors(domain), divisors(spec.n_layers),
                                        (1, 2, 4, 8, 16)):
        if spec.n_heads % tp or gpus % (tp * pp * cp) or (cp > 1 and seq % (2 * cp)):
            continue
        dp = gpus // (tp * pp * cp)
        if batch % dp:
            continue
        for b in divisors(batch // dp):
            m = batch // (dp * b)
            for v in divisors(spec.n_layers):
                if v > 8 or spec.n_layers % (pp * v) or (v > 1 and (pp == 1 or m % pp)):
                    continue
                want.add((tp, pp, cp, dp, b, v))
    assert got == want


# --- invariants -----------------------------------------------------------------------------------

def _scaled(dev, k_mem, k_up, k_out):
    return dataclasses.replace(dev, bandwidth_bytes_per_s=dev.bandwidth_bytes_per_s * k_mem,
                               scale_up_bytes_per_s=dev.scale_up_bytes_per_s * k_up,
                               scale_out_bytes_per_s=dev.scale_out_bytes_per_s * k_out)


@FAST
@given(k_mem=st.floats(1.0, 4.0), k_up=st.floats(1.0, 4.0), k_out=st.floats(1.0, 8.0),
       gpus=st.sampled_from([8, 16, 32, 64]), fw=st.sampled_from(["production",
                                                                   "megatron-2021"]))
def test_more_bandwidth_never_slows_a_plan(k_mem, k_up, k_out, gpus, fw):
    slow = evaluate_plans(SMALL, A100, gpus, 64, 2048, framework=fw)
    fast = evaluate_plans(SMALL, _scaled(A100, k_mem, k_up, k_out), gpus, 64, 2048, framework=fw)
    assert np.array_equal(slow["tp"], fast["tp"]) and np.array_equal(slow["pp"], fast["pp"])
    assert np.all(fast["step_seconds"] <= slow["step_seconds"] * (1 + 1e-12))


@FAST
@given(dim=st.sampled_from(["tp", "pp", "cp", "micro_batch", "interleave", "zero",
                            "recompute", "sequence_parallel"]),
       pick=st.integers(0, 10**6), gpus=st.sampled_from([16, 64, 128]))
def test_pinning_never_beats_the_free_search(dim, pick, gpus):
    free = evaluate_plans(SMALL, A100, gpus, 128, 2048)
    values = sorted(set(free[dim].tolist()), key=str)
    value = values[pick % len(values)]
    pinned = evaluate_plans(SMALL, A100, gpus, 128, 2048, {dim: value})
    best_free = free["step_seconds"][free["fits"]].min()
    if pinned["fits"].any():
        assert pinned["step_seconds"][pinned["fits"]].min() >= best_free * (1 - 1e-12)


@FAST
@given(tp=st.sampled_from([1, 2, 4]), pp=st.sampled_from([1, 2]), batch=st.sampled_from([8, 16]))
def test_no_more_replicas_than_sequences(tp, pp, batch):
    """Issue 10: with a fixed global batch, GPUs beyond the point where DP x micro-batch reaches
    the batch cannot speed up the step: with the model-parallel degrees fixed, DP cannot exceed
    the batch, so more GPUs are refused with the constraint named."""
    pins = {"tp": tp, "pp": pp, "cp": 1}
    most = tp * pp * batch
    plans = evaluate_plans(SMALL, A100, most, batch, 2048, pins)
    assert plans["dp"].max() == batch and plans["micro_batch"].min() == 1
    with pytest.raises(PlannerError, match="global batch"):
        evaluate_plans(SMALL, A100, 2 * most, batch, 2048, pins)


PIPE = ("compute", "recompute", "tp_comm", "cp", "ep_all_to_all", "pp_p2p", "pp_bubble")


@FAST
@given(pp=st.sampled_from([1, 2, 3, 4, 6]), tp=st.sampled_from([1, 2, 4]),
       recompute=st.sampled_from(["none", "full"]))
def test_pipeline_stages_at_one_micro_batch_never_help(pp, tp, recompute):
    """When DP x micro-batch = global batch (one micro-batch per replica), more pipeline stages
    (more GPUs) only add bubble: the micro-batch path (compute, communication, bubble) never
    gets shorter (Narayanan et al. 2021 sec. 2.2: bubble (p-1)/(m+p-1) -> (p-1)/p at m = 1)."""
    batch = 8
    def path(p):
        r = evaluate_plans(SMALL, A100, tp * p * batch, batch, 2048,
                           {"tp": tp, "pp": p, "cp": 1, "micro_batch": 1, "zero": 0,
                            "recompute": recompute, "sequence_parallel": tp > 1})
        assert np.all(r["micro_batches"] == 1)
        return min(sum(r["breakdown"][k][i] for k in PIPE) for i in range(len(r["tp"])))
    assert path(2 * pp) >= path(pp) * (1 - 1e-12)


# --- FLOPs and memory against the papers ----------------------------------------------------------

@pytest.mark.parametrize("h,L,s,V", [(12288, 96, 2048, 51200), (2304, 24, 2048, 51200)])
def test_hardware_flops_are_narayanan_eq3(h, L, s, V):
    """Narayanan et al. 2021 eq. 3: with full recomputation a batch of B sequences executes
    96 B s l h^2 (1 + s/6h + V/16lh) FLOPs (written out here by hand)."""
    shape = shape_of(gpt_spec(h, L, h // 128, V, s))
    eq3 = 96.0 * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h))
    assert hardware_flops_per_sequence(shape, s, 2, False) == pytest.approx(eq3, rel=1e-12)
    # without recomputation: 72 B s l h^2 (1 + s/6h) + 6 B s h V
    no_re = 72.0 * s * L * h * h * (1 + s / (6 * h)) + 6.0 * s * h * V
    assert hardware_flops_per_sequence(shape, s, 0, False) == pytest.approx(no_re, rel=1e-12)


@pytest.mark.parametrize("t", [1, 2, 8])
def test_activations_are_korthikanti_table2(t):
    """Korthikanti et al. 2022 Table 2 (bytes per layer, GPT block, dropout): TP
    sbh(10 + 24/t + 5as/(ht)); TP+SP sbh/t (34 + 5as/h); selective sbh(10 + 24/t);
    full recompute 2sbh (layer input)."""
    h, a, s, b = 12288, 96, 2048, 1
    shape = shape_of(gpt_spec(h, 96, a, 51200, s))
    sbh, x = s * b * h, 5.0 * a * s / h

    def mem(sp, r):
        return float(layer_activation_bytes(shape, s * b, b, s, t, sp, r, False, True)[1])
    assert mem(False, 0) == pytest.approx(sbh * (10 + 24 / t + x / t))
    assert mem(True, 0) == pytest.approx(sbh / t * (34 + x))
    assert mem(False, 1) == pytest.approx(sbh * (10 + 24 / t))
    assert mem(False, 2) == pytest.approx(2 * sbh)


def test_memory_stage_imbalance_and_zero_shard_over_dp_only():
    """The reported memory is the larger pipeline stage's; ZeRO divides by DP (x CP) ranks,
    never by all GPUs (Rajbhandari et al. 2020 sec. 5)."""
    spec = resolve_model("gpt3-175b")
    base = {"tp": 8, "pp": 8, "cp": 1, "micro_batch": 1, "interleave": 1, "recompute": "full",
            "sequence_parallel": True}
    z0 = evaluate_plans(spec, A100, 512, 512, 2048, {**base, "zero": 0})
    z1 = evaluate_plans(spec, A100, 512, 512, 2048, {**base, "zero": 1})
    dp = int(z0["dp"][0])
    assert dp == 8
    assert z1["memory"]["optimizer"][0] == pytest.approx(z0["memory"]["optimizer"][0] / dp)
    assert z1["memory"]["weights"][0] == pytest.approx(z0["memory"]["weights"][0])
    # The first stage is the heaviest: 12 of 96 layers (12h^2 + 13h parameters each, GPT-3
    # with biases and two LayerNorms) plus the token (V x h) and position (2048 x h) embeddings,
    # over TP = 8, 2 bytes each.  (The last stage has the tied output copy and the final norm,
    # but no position embedding.)
    h = 12288
    first = 12 * (12 * h * h + 13 * h) + 50257 * h + 2048 * h
    assert z0["memory"]["weights"][0] == pytest.approx(2 * first / 8, rel=1e-9)


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("pins,needle", [
    ({"tp": 16}, r"--tp 16 .*scale-up domain of 8 .*nearest valid --tp: 4 or 8"),
    ({"tp": 3}, r"--tp 3 .*nearest valid --tp: 2 or 4"),
    ({"pp": 7}, r"--pp 7 .*divide the layers \(96\).*nearest valid --pp"),
    ({"pp": 8, "interleave": 5}, r"--interleave 5 .*PP x interleave.*nearest valid"),
    ({"ep": 2}, r"--ep 2 .*mixture-of-experts"),
    ({"cp": 3}, r"--cp 3 .*2 x CP.*nearest valid --cp: 2 or 4"),
    ({"tp": 0}, r"--tp must be a whole number >= 1"),
    ({"zero": 5}, r"--zero must be 0, 1, 2 or 3"),
    ({"recompute": "partial"}, r"unknown recompute mode 'partial'"),
    ({"precision": "fp8"}, r"--precision 'fp8' is not available"),
])
def test_bad_pins_name_the_rule_and_the_nearest_choice(pins, needle):
    with pytest.raises(PlannerError, match=needle):
        evaluate_plans(resolve_model("gpt3-175b"), A100, 1024, 1536, 2048, pins)


def test_batch_smaller_than_dp_is_an_error():
    with pytest.raises(PlannerError, match=r"global batch \(100 sequences\).*DP would be 1024"):
        evaluate_plans(resolve_model("gpt3-175b"), A100, 1024, 100, 2048,
                       {"tp": 1, "pp": 1, "cp": 1})


def test_nothing_fits_names_the_least_memory_plan():
    with pytest.raises(PlannerError, match=r"no plan fits .*least memory"):
        search(resolve_model("gpt3-175b"), A100, 8, 8, 2048)


def test_single_device_without_network_cannot_scale_out():
    with pytest.raises(PlannerError, match="scale-out bandwidth"):
        evaluate_plans(SMALL, get_device("m2-max-32gb"), 2, 8, 2048)


def test_kv_heads_limit_tp():
    """GQA: Llama-2-70B has 8 KV heads, so TP <= 8 even on a 72-GPU NVLink domain."""
    plans = evaluate_plans(resolve_model("llama-2-70b"), get_device("gb200"), 144, 144, 4096)
    assert set(plans["tp"].tolist()) <= {1, 2, 4, 8}


def test_breakdown_sums_to_step_and_units():
    r = search(resolve_model("gpt3-175b"), A100, 1024, 1536, 2048, top=3)
    for p in r["plans"]:
        assert sum(p["breakdown"].values()) == pytest.approx(p["step_seconds"], rel=1e-12)
        assert p["tokens_per_s"] == pytest.approx(1536 * 2048 / p["step_seconds"])
        assert p["tflops_per_gpu"] == pytest.approx(p["hfu"] * 312, rel=1e-9)
        assert 0 < p["mfu"] <= p["hfu"] < 1 and p["fits"]
    assert r["plans"][0]["step_seconds"] <= r["plans"][-1]["step_seconds"]
    assert r["cheapest"] == r["fastest"]  # one GPU count: the same plan
    _ = math
    _ = ModelSpec
