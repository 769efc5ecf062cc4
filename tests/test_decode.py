"""The decode/prefill step model (planner/estimate/decode.py) against public llama.cpp tables.

Reference data: planner/data/reference/local_speed_xiongjiedai.csv = XiongjieDai,
"GPU-Benchmarks-on-LLM-Inference" README @ aa72e0ec86c3 (llama-bench, May 2024, flash attention
off; Llama-3-8B/70B at Q4_K_M and F16; tg/pp 512-8192; 16 NVIDIA GPUs, 4 Apple machines).
tests/data/local_speed_errors.csv holds every single-device row's measured speed, its
leave-one-device-out prediction (constants refitted without that device) and the prediction
of the shipped constants; it is written by ``python -m planner.estimate.decode_fit --write``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.estimate import decode as D
from planner.estimate import decode_fit as F
from planner.estimate import inference as I
from planner.estimate import offload as O
from planner.hardware import devices, get_device
from planner.model import zoo

ERRORS = Path(__file__).parent / "data" / "local_speed_errors.csv"


def _table():
    return list(csv.DictReader(ERRORS.open(encoding="utf-8")))


def _errs(key, where=lambda r: True):
    return np.array([abs(float(r[f"{key}_error_lodo"])) for r in _table()
                     if r[f"{key}_used"] == "True" and where(r)])


# --- cross-validated accuracy ----------------------------------------------------------------

def test_leave_one_device_out_decode_error():
    """Decode (tgN), 181 rows on 20 devices, leave-one-device-out.  Goal (issue 11): median
    within 10 %, every row within 25 %.  Achieved: median 6.3 %, worst 30.4 % (M1 Max,
    Llama-3-70B Q4_K_M: the one row over 25 %).  Bounds catch a regression of ~1 point."""
    e = _errs("tg")
    assert e.size == 181
    assert np.median(e) <= 0.075
    assert e.max() <= 0.32
    assert (e > 0.25).sum() <= 1
    cuda = _errs("tg", lambda r: r["backend"] == "llama.cpp-cuda")
    assert np.median(cuda) <= 0.07 and cuda.max() <= 0.22


def test_leave_one_device_out_prefill_error():
    """Prefill (ppN), 170 rows, leave-one-device-out.  Goal: median within 20 %.  Achieved:
    median 7.9 %, worst 44 % (M1 Max); NVIDIA alone median 7.3 %, worst 26.5 %."""
    e = _errs("pp")
    assert e.size == 170
    assert np.median(e) <= 0.09
    assert e.max() <= 0.46
    cuda = _errs("pp", lambda r: r["backend"] == "llama.cpp-cuda")
    assert np.median(cuda) <= 0.085 and cuda.max() <= 0.28


def test_error_file_matches_the_code():
    """The shipped constants reproduce the file's `*_predicted_shipped` columns, and a
    leave-one-device-out refit of four devices (one per class) reproduces its LODO columns: a
    change to the model or the fit that the file does not reflect fails here."""
    rows = F.load_rows()
    table = {r["row_id"]: r for r in _table()}
    tg, pp = F.predict_decode(rows), F.predict_prefill(rows)
    for i, rid in enumerate(rows.row_id):
        assert tg[i] == pytest.approx(float(table[rid]["tg_predicted_shipped"]), abs=0.011)
        assert pp[i] == pytest.approx(float(table[rid]["pp_predicted_shipped"]), abs=0.011)
        assert rows.tg[i] == pytest.approx(float(table[rid]["tg_measured"]))
    some = ["rtx-4090", "rtx-a6000", "a100-80gb", "m3-max-64gb"]
    cv = F.leave_one_device_out(rows, devices=some)
    for i in np.flatnonzero(np.isin(rows.device, some)):
        r = table[rows.row_id[i]]
        assert cv["tg"][i] == pytest.approx(float(r["tg_predicted_lodo"]), rel=2e-3)
        assert cv["pp"][i] == pytest.approx(float(r["pp_predicted_lodo"]), rel=2e-3)


def test_backend_table_is_complete_and_sane():
    assert D.validate_backend_table() == []
    for name in D.backend_names():
        D.backend(name, "Q4_K_M")


# --- published figures the fit did not see ---------------------------------------------------

@pytest.mark.parametrize("device, measured", [
    ("m1-max-32gb", 61.19), ("m2-ultra-192gb", 94.27), ("m3-max-48gb", 66.31),
    ("m2-max-32gb", 65.95)])
def test_llama2_7b_q4_0_decode_on_apple(device, measured):
    """llama.cpp discussion #4167 (Apple silicon, Llama-2-7B Q4_0, tg128, late 2023): a model
    and a quantisation type outside the fit.  Tolerance 12 %."""
    spec = zoo.get("llama-2-7b")
    r = D.device_speed(spec, "Q4_0", get_device(device), context=64, flash_attention=False)
    assert float(r["decode_tokens_per_s"]) == pytest.approx(measured, rel=0.12)


def test_multi_gpu_layer_split_decode_is_one_gpu():
    """llama.cpp's default --split-mode layer runs the layers one GPU after another, so decode
    on n identical GPUs takes one GPU's step time.  The 216 multi-GPU rows of the reference
    tables (not fitted) are predicted with the single-device model: median error 5.1 %."""
    errs = []
    for r in F.reference_rows():
        if r["n_devices"] == "1" or r["status"] != "ok":
            continue
        dev, spec, q = get_device(r["planner_device"]), zoo.get(r["planner_model"]), \
            r["planner_quant"]
        s = D.device_speed(spec, q, dev, D.generation_context(0, float(r["gen_tokens"])),
                           flash_attention=False)
        errs.append(float(s["decode_tokens_per_s"]) / float(r["gen_tokens_per_s"]) - 1)
    errs = np.abs(errs)
    assert errs.size == 216
    assert np.median(errs) <= 0.06


# --- memory: every OOM row predicted not to fit ------------------------------------------------

def test_oom_rows_do_not_fit_and_the_rest_do():
    """Every row of the reference tables: OOM rows (42) are predicted not to fit, rows that ran
    are predicted to fit.  Memory model: `inference.memory_total` + `usable_bytes`, with
    llama.cpp's placement (`offload.device_resident_bytes`: the token embedding stays on the
    host; the CUDA pool's f16 KQ product during prefill), flash attention off as llama-bench
    ran in May 2024, n_ctx = the test's token count.  Multi-GPU rows (layer split): the
    weights and KV spread over the GPUs, each GPU with its own buffers and runtime."""
    checked = ooms = 0
    for r in F.reference_rows():
        dev, spec, q = get_device(r["planner_device"]), zoo.get(r["planner_model"]), \
            r["planner_quant"]
        n, ctx = int(r["n_devices"]), int(r["prompt_tokens"])
        need = O.device_resident_bytes(spec, q, ctx, dev, flash_attention=False)
        per_gpu = I.compute_buffer_bytes(spec, ctx, 1, False) + I.runtime_bytes(False)
        need = need + (n - 1) * per_gpu
        usable = n * I.usable_bytes(dev.memory_bytes, dev.unified_memory)
        fits = bool(need <= usable)
        assert fits == (r["status"] == "ok"), (r["row_id"], dev.name, spec.name, q, ctx)
        checked += 1
        ooms += r["status"] == "OOM"
    assert checked == 440 and ooms == 42


# --- the step model's structure --------------------------------------------------------------

def _llama(name="llama-3-8b", quant="Q4_K_M"):
    return D.workload(zoo.get(name), quant)


def test_small_model_on_datacenter_gpu_is_overhead_bound():
    """Issue 11: A100 SXM, Llama-3-8B Q4_K_M measured 135 tokens/s (tg512) where the
    bandwidth roofline says ~400: per-layer and per-token overheads and the HBM fraction.  The
    model says 120-150 and attributes > 25 % of the step to fixed costs."""
    spec = zoo.get("llama-3-8b")
    r = D.device_speed(spec, "Q4_K_M", get_device("a100-80gb"), context=255.5,
                       flash_attention=False)
    assert 120 <= float(r["decode_tokens_per_s"]) <= 150
    be = D.backend("llama.cpp-cuda", "Q4_K_M")
    s = D.step_time(_llama(), D.hardware_terms(get_device("a100-80gb"), be), be, context=255)
    assert s["fixed_s"] / s["seconds"] > 0.25


def test_tensor_parallel_and_batch_terms_for_serving_rows():
    """The serving interface: batch b reads the weights once (throughput grows with b), TP
    splits the weights and adds all-reduces over the scale-up link."""
    import dataclasses
    be = D.backend("llama.cpp-cuda", "fp16")
    # NVLink4: 450 GB/s per direction (NVIDIA H100 datasheet: 900 GB/s bidirectional)
    hw = dataclasses.replace(D.hardware_terms(get_device("h100-sxm"), be),
                             link_bandwidth=450e9)
    w = _llama("llama-3-70b", "fp16")
    one = D.decode_rate(w, hw, be, 1024, 1)
    many = D.decode_rate(w, hw, be, 1024, 64)
    assert many["throughput_tokens_per_s"] > 10 * one["throughput_tokens_per_s"]
    tp1 = D.step_time(w, hw, be, context=1024, batch=64)
    tp4 = D.step_time(w, hw, be, context=1024, batch=64, tp=4)
    assert tp4["tensor_parallel_s"] > 0 and tp1["tensor_parallel_s"] == 0
    assert tp4["weight_bytes_read"] == pytest.approx(tp1["weight_bytes_read"] / 4)
    assert tp4["seconds"] < tp1["seconds"]


def test_vectorised_over_devices_and_contexts():
    be = D.backend("llama.cpp-cuda", "Q4_K_M")
    devs = [get_device(n) for n in ("rtx-3060-12gb", "rtx-4090", "h100-sxm")]
    hw = D.stack_hardware([D.hardware_terms(d, be) for d in devs])
    ctx = np.array([[512.0], [8192.0]])
    r = D.decode_rate(_llama(), hw, be, ctx)
    assert r["tokens_per_s"].shape == (2, 3)
    assert (r["tokens_per_s"][1] < r["tokens_per_s"][0]).all()   # longer context, slower


# --- properties ------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(bw=st.floats(5e10, 8e12), k=st.floats(1.0, 20.0), ctx=st.floats(0, 131072),
       batch=st.integers(1, 256), quant=st.sampled_from(["fp16", "Q4_K_M", "Q8_0", "Q4_0"]),
       backend=st.sampled_from(["llama.cpp-cuda", "llama.cpp-metal", "llama.cpp-cpu"]),
       peak=st.floats(1e12, 2e15), hbm=st.booleans(), fa=st.booleans())
def test_more_bandwidth_never_slows_decode(bw, k, ctx, batch, quant, backend, peak, hbm, fa):
    be = D.backend(backend, quant)
    w = _llama("llama-3-8b", quant)
    hw = lambda b: D.HardwareTerms(bandwidth=b, matmul_peak=peak, alu_peak=peak / 8,
                                   tdp_w=400.0, hbm=float(hbm))
    slow = D.decode_rate(w, hw(bw), be, ctx, batch, flash_attention=fa)["tokens_per_s"]
    fast = D.decode_rate(w, hw(bw * k), be, ctx, batch, flash_attention=fa)["tokens_per_s"]
    assert fast >= slow * (1 - 1e-12)


FAMILIES = [["llama-2-7b", "llama-2-13b", "llama-2-70b"], ["llama-3-8b", "llama-3-70b"],
            ["llama-7b", "llama-13b", "llama-33b", "llama-65b"],
            ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"]]


@settings(max_examples=40, deadline=None)
@given(family=st.sampled_from(FAMILIES), quant=st.sampled_from(["fp16", "Q4_K_M", "Q8_0"]),
       device=st.sampled_from(["rtx-3060-12gb", "rtx-4090", "a100-80gb", "h100-sxm",
                               "m2-ultra-192gb", "m1-8gb", "desktop-32gb", "rtx-a6000"]),
       ctx=st.floats(1, 4096), batch=st.integers(1, 64), prompt=st.integers(1, 4096))
def test_larger_model_of_a_family_is_never_faster(family, quant, device, ctx, batch, prompt):
    dev = get_device(device)
    speeds = [D.device_speed(zoo.get(m), quant, dev, ctx, prompt, batch) for m in family]
    for a, b in zip(speeds, speeds[1:]):
        assert b["decode_tokens_per_s"] <= a["decode_tokens_per_s"] * (1 + 1e-12)
        assert b["prefill_tokens_per_s"] <= a["prefill_tokens_per_s"] * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(["llama-2-13b", "llama-3-70b", "mixtral-8x7b", "llama-3-8b"]),
       device=st.sampled_from(["rtx-3060-12gb", "rtx-4090", "rtx-3090", "rtx-4070"]),
       ram=st.sampled_from(["ddr4-3200", "ddr5-5600", "ddr5-6400"]),
       ctx=st.floats(1, 8192), batch=st.integers(1, 8))
def test_more_layers_in_ram_never_speeds_decode(model, device, ram, ctx, batch):
    spec, dev = zoo.get(model), get_device(device)
    layers = np.arange(spec.n_layers + 1)
    r = O.offload_speed(spec, "Q4_K_M", dev, layers, ctx, O.ram_bandwidth(ram), batch=batch)
    speed = r["decode_tokens_per_s"]          # index = layers on the GPU
    assert (np.diff(speed) >= -1e-9 * speed[1:]).all()
    assert (np.diff(r["prefill_tokens_per_s"]) >= -1e-9).all()


# --- all devices ------------------------------------------------------------------------------

def test_every_profile_gets_a_finite_speed():
    spec = zoo.get("llama-2-7b")
    for d in devices():
        r = D.device_speed(spec, "Q4_K_M", d, 2048, 512)
        assert np.isfinite(r["decode_tokens_per_s"]) and r["decode_tokens_per_s"] > 0, d.name
        assert np.isfinite(r["prefill_tokens_per_s"]) and r["prefill_tokens_per_s"] > 0, d.name
