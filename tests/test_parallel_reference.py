"""The step-time model against published measurements (planner/data/*.csv, sources per row).

Each framework's one constant (kappa) is fitted on a stated subset; these tests hold the model
to the tolerances issue 10 sets on the rows the fit did not see, and check the stored kappas are
what the fit gives (so nobody tunes them by hand)."""
from __future__ import annotations

import numpy as np
import pytest

from planner.estimate.parallel import predicted_utilisation, tables
from planner.estimate.parallel.goodput import goodput
from planner.estimate.parallel.reference import fit_loss, runs, table1_rows
from planner.hardware.profiles import get_device
from planner.model.resolve import resolve_model

TABLE1 = runs("table1")
KORTHIKANTI = runs("korthikanti")


@pytest.mark.parametrize("run", TABLE1, ids=[r.name for r in TABLE1])
def test_table1_row_within_15_percent(run):
    """Narayanan et al. 2021 Table 1 (A100 80GB, 312 TFLOP/s peak; TP, PP, batch, micro-batch and
    interleave pinned as in the paper's examples/sc21/run_table_1.sh; full recomputation):
    predicted HFU x 312 against the published TFLOP/s per GPU (eq. 3 FLOPs count the
    recomputation), within 15% (issue 10).  Rows 1-5 are the kappa fit set, 6-10 held out."""
    row = next(r for r in table1_rows() if f"Table 1 {r['params_billion']}B" == run.name)
    tflops = run.predict()["tflops_per_gpu"]
    assert tflops == pytest.approx(float(row["tflops_per_gpu"]), rel=0.15)


def test_table1_median_within_5_percent():
    """Issue 10's goal: median |error| over Table 1 within 5% (held-out rows 6-10 alone too)."""
    err = [abs(r.predict()["error"]) for r in TABLE1]
    assert np.median(err) < 0.05
    assert np.median([e for e, r in zip(err, TABLE1) if not r.fit]) < 0.05


@pytest.mark.parametrize("run", KORTHIKANTI, ids=[r.name for r in KORTHIKANTI])
def test_korthikanti_iteration_time_within_15_percent(run):
    """Korthikanti et al. 2022 Table 4 end-to-end iteration times (the eight runs Calculon
    validates on: 22B/175B/530B/1T, full recompute or SP + selective), none used in any fit;
    within 15% each (Calculon reports mean 3.65%, worst 8.87% on them; we report ours)."""
    assert abs(run.predict()["error"]) < 0.15


def test_llmfoundry_a100_held_out_median_within_15_percent():
    """MosaicML llm-foundry MPT throughput (FSDP, FlashAttention; A100-80GB rows at sequence
    lengths other than the 2,048 used to fit kappa): median |error| within 15%."""
    held = [r for r in runs("llm-foundry") if not r.fit and r.device == "a100-80gb"]
    assert len(held) >= 8
    assert np.median([abs(r.predict()["error"]) for r in held]) < 0.15


LLAMA2 = [("llama-2-7b", 184_320), ("llama-2-13b", 368_640), ("llama-2-70b", 1_720_320)]


@pytest.mark.parametrize("name,published", LLAMA2)
def test_llama2_gpu_hours_within_15_percent(name, published):
    """Touvron et al. 2023b (Llama 2) Table 2: 184,320 / 368,640 / 1,720,320 A100-80GB hours for
    7B / 13B / 70B on 2.0T tokens (Table 1), global batch 4M tokens of 4,096 (sec. 2.2).
    Predicted with no MFU given: the best plan of the default framework (kappa fitted on LLaMA
    1 only) on an assumed 2,048 A100-80GB (the published hours are 2,048 x 90 / 180 / 840
    whole hours), divided by the goodput's useful fraction; within 15% (issue 10)."""
    spec, dev, gpus = resolve_model(name), get_device("a100-80gb"), 2048
    pred = predicted_utilisation(spec, dev, gpus, 1024, 4096)
    useful = float(goodput(gpus, spec.meta["exact_params"])["useful_fraction"])
    hours = 2.0e12 / pred["tokens_per_s"] * gpus / 3600 / useful
    assert hours == pytest.approx(published, rel=0.15)


@pytest.mark.parametrize("framework", ["megatron-2021", "llm-foundry", "production"])
def test_stored_kappa_is_the_fit(framework):
    """Each stored kappa minimises the fit loss on its stated subset (to 0.002)."""
    fit = [r for r in runs() if r.framework == framework and r.fit]
    k = tables.framework(framework).kappa
    here = fit_loss(k, fit)
    assert here <= fit_loss(k - 0.002, fit) and here <= fit_loss(k + 0.002, fit)
