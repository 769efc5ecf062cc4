"""Published training runs, the model's predictions for them, and the fit of each framework's
one constant (kappa: the fraction of the microbenchmark GEMM/attention rates it achieves).

Reference sets (planner/data/, every row with its source), with the framework profile each
measures and the stated subset its kappa is fitted on - every other row is held out:
  megatron_table1.csv            Narayanan et al. 2021 Table 1, GPT 1.7B-1T on 32-3,072 A100s,
                                 layout pinned as published (full recompute)   megatron-2021
                                 fit: rows 1-5 (1.7B-39.1B)
  megatron_korthikanti2022.csv   Korthikanti et al. 2022 Table 4 iteration times (the 8 runs
                                 Calculon validates on)                         megatron-2021
                                 fit: none
  llmfoundry_mpt_benchmarks.csv  MosaicML llm-foundry MPT throughput, FSDP, A100 and H100
                                                                                llm-foundry
                                 fit: A100-80GB rows at sequence 2,048
  llama_runs.csv                 Meta's LLaMA / Llama 2 / Llama 3.1 GPU-hours, layout searched
                                                                                production
                                 fit: the four LLaMA (1) runs
Errors are predicted throughput / measured - 1 (= measured time / predicted time - 1; for
Table 1 the same as predicted HFU x 312 / published TFLOP/s - 1, as the FLOPs are eq. 3's).

    python -m planner.estimate.parallel.reference           per-row errors
    python -m planner.estimate.parallel.reference --fit     refit every kappa on its subset
    python -m planner.estimate.parallel.reference --loo     Table 1 leave-one-out
"""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

import numpy as np

from planner.estimate.parallel import tables
from planner.estimate.parallel.search import evaluate_plans, search
from planner.model.spec import ModelSpec
from planner.resources import data_dir
from planner.units import HOUR


@functools.cache
def _rows(name: str) -> tuple[dict, ...]:
    text = (data_dir("data") / name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(text.splitlines()))


def table1_rows() -> tuple[dict, ...]:
    """Narayanan et al. 2021 Table 1 as published (planner/data/megatron_table1.csv)."""
    return _rows("megatron_table1.csv")


def gpt_spec(hidden: int, layers: int, heads: int, vocab: int = 51200, seq: int = 2048,
             name: str = "gpt") -> ModelSpec:
    """A GPT block stack as Narayanan et al. 2021 sec. 5.1 describe it (and MPT's benchmark
    configs use): d_ff = 4h, GeLU, learned positions, LayerNorm, tied embeddings."""
    return ModelSpec(name=name, vocab_size=vocab, d_model=hidden, n_layers=layers, n_heads=heads,
                     d_ff=4 * hidden, context=seq)


@functools.cache
def _device(name: str):
    from planner.hardware.profiles import get_device
    return get_device(name)


@dataclass(frozen=True)
class Run:
    """One reference run: what to evaluate and what was measured."""
    name: str
    dataset: str
    framework: str
    fit: bool
    spec: ModelSpec
    device: str
    gpus: int
    batch: int           # sequences
    seq: int
    pins: dict | None    # None: the layout is searched
    measured_tps: float  # tokens per second per GPU
    dp_overlap: float | None = None

    def predict(self, kappa: float | None = None) -> dict:
        fw = tables.framework(self.framework, kappa)
        if self.dp_overlap is not None:
            fw = fw.with_(dp_overlap=self.dp_overlap)
        dev = _device(self.device)
        if self.pins is None:
            row = search(self.spec, dev, self.gpus, self.batch, self.seq, {"precision": "bf16"},
                         top=1, framework=fw)["fastest"]
        else:
            res = evaluate_plans(self.spec, dev, self.gpus, self.batch, self.seq, self.pins,
                                 framework=fw)
            assert len(res["tp"]) == 1, f"{self.name}: a pinned reference layout is one plan"
            from planner.estimate.parallel.search import plan_row
            row = plan_row(res, 0)
        row["tokens_per_s_per_gpu"] = row["tokens_per_s"] / self.gpus
        row["error"] = row["tokens_per_s_per_gpu"] / self.measured_tps - 1.0
        return row


def _megatron(r: dict, recompute: str, sp: bool):
    """Model, GPUs, batch, sequence and pinned layout of a Megatron reference row."""
    h, L, a, s, V = (int(r[k]) for k in ("hidden_size", "n_layers", "attention_heads",
                                         "seq_len", "vocab"))
    pins = {"tp": int(r["tensor_parallel"]), "pp": int(r["pipeline_parallel"]), "cp": 1,
            "ep": 1, "micro_batch": int(r["microbatch_size"]),
            "interleave": int(r["interleave"]), "sequence_parallel": sp,
            "recompute": recompute, "zero": 0, "precision": "bf16"}
    return gpt_spec(h, L, a, V, s), int(r["n_gpus"]), int(r["global_batch_size"]), s, pins


def _table1() -> list[Run]:
    out = []
    for i, r in enumerate(_rows("megatron_table1.csv")):
        spec, n, B, s, pins = _megatron(r, "full", False)
        h, L, V = spec.d_model, spec.n_layers, spec.vocab_size
        eq3 = 96.0 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h))  # Narayanan eq. 3
        step = eq3 / (float(r["tflops_per_gpu"]) * 1e12 * n)
        out.append(Run(f"Table 1 {r['params_billion']}B", "table1", "megatron-2021", i < 5,
                       spec, "a100-80gb", n, B, s, pins, B * s / step / n,
                       1.0 if r["ddp_impl"] == "torch" else 0.0))
    return out


def _korthikanti() -> list[Run]:
    out = []
    for r in _rows("megatron_korthikanti2022.csv"):
        sp = r["sequence_parallel"] == "true"
        spec, n, B, s, pins = _megatron(r, r["recompute"], sp)
        mode = "SP+selective" if sp else "full"
        out.append(Run(f"Korthikanti {r['model']} {mode}", "korthikanti", "megatron-2021",
                       False, spec, "a100-80gb", n, B, s, pins,
                       B * s / float(r["iteration_seconds"]) / n))
    return out


def _mpt() -> list[Run]:
    out = []
    for r in _rows("llmfoundry_mpt_benchmarks.csv"):
        h, L, a, s, V = (int(r[k]) for k in ("hidden_size", "n_layers", "attention_heads",
                                             "seq_len", "vocab"))
        n, b = int(r["n_gpus"]), int(r["microbatch_size"])
        pins = {"tp": 1, "pp": 1, "cp": 1, "ep": 1, "micro_batch": b, "interleave": 1,
                "sequence_parallel": False, "zero": 3, "precision": "bf16",
                "recompute": "full" if r["activation_checkpointing"] == "true" else "none"}
        fit = r["gpu"] == "a100-80gb" and s == 2048
        out.append(Run(f"MPT-{r['model']} s{s} {n}x{r['gpu']}", "llm-foundry", "llm-foundry", fit,
                       gpt_spec(h, L, a, V, s, f"mpt-{r['model']}"), r["gpu"], n,
                       int(r["global_batch_size"]), s, pins, float(r["tokens_per_s_per_gpu"])))
    return out


def _llama() -> list[Run]:
    from planner.model.resolve import resolve_model
    out = []
    for r in _rows("llama_runs.csv"):
        s, n = int(r["seq_len"]), int(r["gpus"])
        tps = float(r["train_tokens"]) / (float(r["gpu_hours"]) * HOUR)
        out.append(Run(r["model"], "llama", "production", r["fit"] == "true",
                       resolve_model(r["model"]), r["device"], n,
                       int(float(r["global_batch_tokens"]) // s), s, None, tps))
    return out


DATASETS = {"table1": _table1, "korthikanti": _korthikanti, "llm-foundry": _mpt,
            "llama": _llama}


def runs(*datasets: str) -> list[Run]:
    return [r for d in (datasets or DATASETS) for r in DATASETS[d]()]


def errors(*datasets: str, kappa: float | None = None) -> list[dict]:
    """Per run: name, dataset, framework, fit, measured and predicted tokens/s/GPU, error."""
    out = []
    for run in runs(*datasets):
        p = run.predict(kappa)
        out.append({"name": run.name, "dataset": run.dataset, "framework": run.framework,
                    "fit": run.fit, "measured": run.measured_tps,
                    "predicted": p["tokens_per_s_per_gpu"], "error": p["error"],
                    "mfu": p["mfu"], "plan": p})
    return out


def fit_loss(kappa: float, fit_runs: list[Run]) -> float:
    return float(sum(np.log1p(r.predict(kappa)["error"]) ** 2 for r in fit_runs))


def calibrate(framework: str, fit_runs: list[Run] | None = None) -> float:
    """kappa of `framework` minimising the squared log throughput error on its fit runs."""
    from scipy.optimize import minimize_scalar
    if fit_runs is None:
        fit_runs = [r for r in runs() if r.framework == framework and r.fit]
    res = minimize_scalar(lambda k: fit_loss(k, fit_runs), bounds=(0.3, 1.2), method="bounded",
                          options={"xatol": 1e-4})
    return round(float(res.x), 4)


def leave_one_out() -> list[dict]:
    """Each Table 1 row predicted with kappa fitted on the other nine."""
    t1 = runs("table1")
    out = []
    for i, run in enumerate(t1):
        k = calibrate("megatron-2021", [r for j, r in enumerate(t1) if j != i])
        out.append({"name": run.name, "kappa": k, "error": run.predict(k)["error"]})
    return out


def summary(rows: list[dict]) -> str:
    lines = [f"{'run':34s} {'framework':14s} {'fit':>4s} {'measured':>10s} {'predicted':>10s} "
             f"{'error':>8s}   (tokens/s per GPU)"]
    for r in rows:
        lines.append(f"{r['name']:34s} {r['framework']:14s} {'yes' if r['fit'] else 'no':>4s} "
                     f"{r['measured']:10.1f} {r['predicted']:10.1f} {100 * r['error']:+7.1f}%")
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        held = [abs(r["error"]) for r in rows if r["dataset"] == ds and not r["fit"]]
        fit = [abs(r["error"]) for r in rows if r["dataset"] == ds and r["fit"]]
        if held:
            lines.append(f"{ds}: held-out {len(held)} rows, mean |error| {100 * np.mean(held):.2f}%,"
                         f" median {100 * np.median(held):.2f}%, worst {100 * max(held):.2f}%"
                         + (f"; fit rows {len(fit)}, mean {100 * np.mean(fit):.2f}%" if fit else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    if "--fit" in sys.argv:
        for fw in tables.frameworks():
            print(f"kappa[{fw}] = {calibrate(fw)}  (stored: {tables.framework(fw).kappa})")
    print(summary(errors()))
    if "--loo" in sys.argv:
        for r in leave_one_out():
            print(f"LOO {r['name']:20s} kappa {r['kappa']:.4f} error {100 * r['error']:+.1f}%")
