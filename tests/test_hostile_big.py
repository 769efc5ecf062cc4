"""Hostile inputs that ask for unbounded work or memory (issue 9): 10^12-row sweeps (with --out,
--where, --sort, --json), huge Monte-Carlo runs, axes of tens of millions of values, a million
categorical values, devices (/dev/zero, /dev/urandom) as files, a million-layer config, absurd
cluster sizes.  Each runs in its own process under an address-space limit (RLIMIT_AS, 1.5 GiB
in all, the parent's imports included) and a CPU-time limit: a fork server (one `python`
subprocess that imports the planner once) forks one child per case, two at a time, and kills
any still running after WALL_TIMEOUT.  Each must end with one clean `Error:` line (or, for the
few that have one, a right answer) within CPU_BOUND seconds of CPU, under 1 GiB resident, never
a MemoryError, a kill or a hang."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hostile import GOOD, RIGHT, Case, Link, argv_of, case, prepare, record

AS_LIMIT = 1536 * 2**20      # bytes of address space per case (the forked parent's included)
CPU_BOUND = 6.0              # seconds of CPU per case
WALL_TIMEOUT = 60.0          # a case still running then is killed: a hang

# The fork server: reads the cases (argv, folder) as JSON on stdin, imports the planner once,
# runs each case in a forked child with the limits, writes the results as JSON on stdout.
SERVER = r"""
import json, os, resource, signal, sys, time
cases = json.load(sys.stdin)
limit_as, cpu_s, wall_s = float(sys.argv[1]), int(float(sys.argv[2])), float(sys.argv[3])
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
import numpy, planner.cli.main, planner.whatif.runner, planner.evaluate.train  # noqa: preload
from planner.cli.main import main

def child(case):
    resource.setrlimit(resource.RLIMIT_AS, (int(limit_as), int(limit_as)))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    os.chdir(case["folder"])
    for fd, name in ((1, "out"), (2, "err")):
        os.dup2(os.open(os.path.join(case["folder"], ".std" + name),
                        os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    with open("/proc/self/status") as fh:
        vm_kb = next(int(l.split()[1]) for l in fh if l.startswith("VmSize:"))
    t0, code, error = time.process_time(), None, None
    try:
        main(case["argv"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except MemoryError:
        error = "memory blow-up"
    except BaseException as exc:
        import traceback
        traceback.print_exc()
        error = "traceback"
    sys.stdout.flush(); sys.stderr.flush()
    with open(os.path.join(case["folder"], ".stats.json"), "w") as fh:
        json.dump({"cpu": time.process_time() - t0, "code": code, "error": error,
                   "as_limit": resource.getrlimit(resource.RLIMIT_AS)[0], "vm_start_kb": vm_kb,
                   "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}, fh)
    os._exit(code if isinstance(code, int) else 1)

results, running, todo = {}, {}, list(cases)
while todo or running:
    while todo and len(running) < 2:
        case = todo.pop(0)
        sys.stdout.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            child(case)
        running[pid] = (case, time.monotonic())
    pid, status = os.waitpid(-1, os.WNOHANG)
    if pid == 0:
        time.sleep(0.01)
        for p, (case, t0) in list(running.items()):
            if time.monotonic() - t0 > wall_s:
                os.kill(p, signal.SIGKILL)
                results[case["id"]] = {"hung": True}
        continue
    case, t0 = running.pop(pid)
    results.setdefault(case["id"], {"hung": False})
    results[case["id"]]["status"] = (os.WEXITSTATUS(status) if os.WIFEXITED(status)
                                     else -os.WTERMSIG(status))
json.dump(results, sys.stdout)
"""


SWEEP_10_12 = ('[model]\nname = "gpt2"\n[train]\nhardware = "a100-80gb"\nmfu = 0.4\n'
               'tokens = {start = 1e9, stop = 1e12, step = 1e9}\n'
               'gpus = {start = 1, stop = 1000, step = 1}\n'
               'price = {start = 1, stop = 1000, step = 1}\n'
               'pue = {start = 1, stop = 2, num = 1000}\n')
MC = ('[model]\nname = "gpt2"\n[train]\nhardware = "a100-80gb"\ntokens = "1B"\ngpus = 8\n'
      'mfu = {low = 0.3, high = 0.5}\n[montecarlo]\nsamples = %s\n')
AXIS = ('[model]\nname = "gpt2"\n[train]\nhardware = "a100-80gb"\nmfu = 0.4\ngpus = 8\n'
        'tokens = {start = 1, stop = %s, step = 1}\n')
LAYERS = ('{"model_type": "llama", "hidden_size": 64, "intermediate_size": 160, '
          '"num_hidden_layers": 1000000, "num_attention_heads": 4, "vocab_size": 100}')

BIG = [
    case("huge work", "10^12-row sweep", "run", "{d}/s.toml", files={"s.toml": SWEEP_10_12},
         say=("--max-rows",)),
    case("huge work", "10^12-row sweep to --out", "run", "{d}/s.toml", "--out", "{d}/o.csv",
         files={"s.toml": SWEEP_10_12}, say=("--max-rows",)),
    case("huge work", "10^12-row sweep with --where", "run", "{d}/s.toml", "--where",
         "cost_usd < 1", files={"s.toml": SWEEP_10_12}, say=("--max-rows",)),
    case("huge work", "10^12-row sweep with --sort", "run", "{d}/s.toml", "--sort", "days",
         files={"s.toml": SWEEP_10_12}, say=("--max-rows",)),
    case("huge work", "10^12-row sweep as --json", "run", "{d}/s.toml", "--json",
         files={"s.toml": SWEEP_10_12}, say=("--max-rows",)),
    case("huge work", "10^12-row sweep, --max-rows 1e16", "run", "{d}/s.toml",
         "--max-rows", "10000000000000000", files={"s.toml": SWEEP_10_12}, say=("--max-rows",)),
    case("huge work", "Monte-Carlo 1e12 samples", "run", "{d}/s.toml",
         files={"s.toml": MC % "1e12"}, say=("samples",)),
    case("huge work", "Monte-Carlo 1e9 samples", "run", "{d}/s.toml",
         files={"s.toml": MC % "1e9"}, say=("--max-rows",)),
    case("huge work", "Monte-Carlo 1e8 samples, --max-rows raised", "run", "{d}/s.toml",
         "--max-rows", "1000000000", files={"s.toml": MC % "1e8"}, say=("memory",)),
    case("huge work", "an axis of 50 million values", "run", "{d}/s.toml",
         files={"s.toml": AXIS % "5e7"}, say=("tokens",)),
    case("huge work", "an axis of 10 million values, --max-rows raised", "run", "{d}/s.toml",
         "--max-rows", "1000000000", files={"s.toml": AXIS % "1e7"}, say=("tokens",)),
    case("huge work", "10 million predicted cluster sizes", "run", "{d}/s.toml",
         files={"s.toml": '[model]\nname = "gpt2"\n[train]\nhardware = "a100-80gb"\n'
                          'tokens = "1B"\ngpus = {start = 1, stop = 1e7, step = 1}\n'},
         say=("gpus",)),
    case("huge work", "a million predicted cluster sizes", "run", "{d}/s.toml",
         files={"s.toml": '[model]\nname = "gpt2"\n[train]\nhardware = "a100-80gb"\n'
                          'tokens = "1B"\ngpus = {start = 1, stop = 1e6, step = 1}\n'},
         say=("would take",)),
    case("huge work", "a million sequence lengths (each a layout search)", "run",
         "{d}/s.toml", files={"s.toml": '[model]\nname = "gpt2"\n[train]\nhardware = '
                                        '"a100-80gb"\ntokens = "1B"\ngpus = 8\n'
                                        'seq_len = {start = 1, stop = 1e6, step = 1}\n'},
         say=("would take",)),
    case("huge work", "20,000 models in a sweep", "run", "{d}/s.toml",
         files={"s.toml": '[model]\nname = [' + ", ".join(['"gpt2"'] * 20000) + ']\n'
                          '[train]\nhardware = "a100-80gb"\ntokens = "1B"\ngpus = 8\n'
                          'mfu = 0.4\n'}, say=("1,000",)),
    case("huge work", "140,000 device names in a sweep, each resolved", "run", "{d}/s.toml",
         files={"s.toml": '[model]\nname = "gpt2"\n[train]\ntokens = "1B"\ngpus = 8\n'
                          'mfu = 0.4\nhardware = [' + ",".join(['"h100"'] * 140_000) +
                          ']\nprecision = ["bf16", "fp16"]\nseq_len = [512, 1024, 2048]\n'},
         say=("would take",)),
    case("huge work", "10^12 [optimal] rows", "run", "{d}/s.toml",
         files={"s.toml": '[optimal]\ndays = {start = 1, stop = 1000, num = 1000000}\n'
                          'gpus = {start = 1, stop = 1e6, step = 1}\n'
                          'hardware = "a100-80gb"\n'}, say=("--max-rows",)),
    case("huge work", "a million [optimal] rows", "run", "{d}/s.toml",
         files={"s.toml": '[optimal]\nflops = {start = 1e20, stop = 1e24, num = 1000000}\n'},
         say=("[optimal]",)),
    case("huge work", "one row per chunk", "run", "{d}/s.toml", "--chunk-rows", "1",
         files={"s.toml": AXIS % "1e6"}, say=("would take",)),
    case("unreadable file", "scenario /dev/zero (limited)", "run", "/dev/zero"),
    case("unreadable file", "model /dev/urandom (limited)", "params", "/dev/urandom",
         say=("regular file",)),
    case("unreadable file", "config.json linked to /dev/zero (limited)", "infer", "{d}/m",
         "--device", "rtx-4090", files={"m/config.json": Link("/dev/zero")}),
    case("unreadable file", "hardware file /dev/zero (limited)", "hardware",
         "--hardware-file", "/dev/zero"),
    case("absurd architecture", "a million layers (infer)", "infer", "{d}/m", "--device",
         "rtx-4090", files={"m/config.json": LAYERS}, say=("num_hidden_layers",)),
    case("absurd architecture", "a million layers (parallel)", "parallel", "{d}/m",
         "--hardware", "a100-80gb", "--gpus", "8", files={"m/config.json": LAYERS},
         say=("num_hidden_layers",)),
    case("huge work", "parallel on 10 million GPUs", "parallel", "gpt2", "--hardware",
         "a100-80gb", "--gpus", "10000000"),
    case("huge work", "deadline of 1 s up to 10 million GPUs", "train", "gpt2", "--tokens",
         "1B", "--hardware", "a100-80gb", "--deadline", "1s", "--max-gpus", "10000000"),
    case("huge work", "a hardware CSV of 8 MB of rows", "hardware", "nope-gpu",
         "--hardware-file", "{d}/big.csv",
         files={"big.csv": "name,memory,memory_bandwidth_gbs\n" + "".join(
             f"gpu-{i},80GB,2000\n" for i in range(300_000))}),
]
# Inputs at the edge that have an answer: it must come within the same bounds.
EDGE = [
    case("edge with an answer", "chunks of 10 million rows (made to fit)", "run", "{d}/s.toml",
         "--chunk-rows", "10000000", "--where", "days < 0",
         files={"s.toml": '[model]\nname = "gpt2"\n[train]\nhardware = "a100-80gb"\n'
                          'mfu = 0.4\ngpus = 8\ntokens = {start = 1, stop = 1e6, step = 1}\n'}),
    case("edge with an answer", "parallel on 64 cluster sizes", "parallel", "gpt2",
         "--hardware", "a100-80gb", "--gpus", ",".join(str(2**20 + i) for i in range(64))),
    case("edge with an answer", "infer at a 100-million-token context", "infer", "{d}/m",
         "--device", "h100-sxm", "--context", "100000000",
         files={"m/config.json": '{"model_type": "llama", "hidden_size": 4096, '
                                 '"intermediate_size": 11008, "num_hidden_layers": 32, '
                                 '"num_attention_heads": 32, "vocab_size": 32000, '
                                 '"max_position_embeddings": 1073741824}'}),
    case("edge with an answer", "train 10,000 layers", "train", "{d}/m", "--tokens", "1T",
         "--hardware", "h100-sxm", "--gpus", "1024", "--mfu", "0.4", "--recompute", "full",
         files={"m/config.json": LAYERS.replace("1000000", "10000")}),
    case("edge with an answer", "a 1 MiB scenario of 200,000 listed values", "run",
         "{d}/s.toml", "--where", "days < 0", files={"s.toml": '[model]\nname = "gpt2"\n'
                                                         '[train]\nhardware = "a100-80gb"\n'
                                                         'gpus = 8\nmfu = 0.4\ntokens = [' +
                                                         ",".join(["1e9"] * 200_000) + "]\n"}),
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Run every case through the fork server; (exit status, stdout, stderr, stats, hung,
    folder) by case id."""
    folders, cases = {}, []
    for c in BIG + EDGE:
        folder = tmp_path_factory.mktemp("big")
        prepare(c, folder)
        folders[c.id] = folder
        cases.append({"id": c.id, "argv": argv_of(c, folder), "folder": str(folder)})
    proc = subprocess.run([sys.executable, "-c", SERVER, str(AS_LIMIT), str(WALL_TIMEOUT),
                           str(WALL_TIMEOUT)], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=len(cases) * WALL_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    server = json.loads(proc.stdout)
    results = {}
    for cid, folder in folders.items():
        r = server.get(cid, {"hung": True})
        stats_file = folder / ".stats.json"
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        read = (lambda n: (folder / n).read_text(errors="replace") if (folder / n).exists()
                else "")
        results[cid] = (r.get("status"), read(".stdout"), read(".stderr"), stats,
                        r.get("hung", False), folder)
    return results


def _judge(c: Case, rc, out, err, stats, hung, expect_answer=False) -> tuple[str, str]:
    if hung or (stats.get("cpu") or 0) > CPU_BOUND:
        return "hang", f"cpu {stats.get('cpu')}, hung {hung}"
    if "MemoryError" in err or stats.get("error") == "memory blow-up" or rc in (-6, -9, -11):
        return "memory blow-up", f"rc {rc}, {err[-300:]!r}"
    if "Traceback" in err:
        return "traceback", err[-500:]
    if expect_answer:
        return (RIGHT, "") if rc == 0 else ("unclear error", f"rc {rc}: {err[:300]!r}")
    lines = err.strip().splitlines()
    if rc == 0:
        return "silent wrong answer", out[:300]
    if rc != 2 or len(lines) != 1 or not lines[0].startswith("Error: "):
        return "unclear error", f"rc {rc}: {err[:500]!r}"
    missing = [w for w in c.say if w.lower() not in lines[0].lower()]
    if missing:
        return "unclear error", f"{lines[0]!r} lacks {missing}"
    return GOOD, lines[0]


@pytest.mark.parametrize("c", BIG, ids=lambda c: c.id)
def test_big_input_is_refused_within_bounds(finished, c):
    rc, out, err, stats, hung, folder = finished[c.id]
    outcome, detail = _judge(c, rc, out, err, stats, hung)
    left = sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part"))
    if left or (folder / "o.csv").exists():
        outcome, detail = "lost file", f"left behind: {left}"
    record(c.klass, outcome)
    assert outcome == GOOD, (c.id, outcome, detail, stats)
    assert stats["maxrss_kb"] < 1024 * 1024, stats   # under 1 GiB resident


@pytest.mark.parametrize("c", EDGE, ids=lambda c: c.id)
def test_edge_input_is_answered_within_bounds(finished, c):
    rc, out, err, stats, hung, folder = finished[c.id]
    outcome, detail = _judge(c, rc, out, err, stats, hung, expect_answer=True)
    record(c.klass, outcome)
    assert outcome == RIGHT, (c.id, outcome, detail, stats)


def test_the_limit_binds(finished):
    """The harness is honest: every case ran under the 1.5 GiB address-space limit, starting
    well below it (the forked parent's imports), so a case that allocated more than ~1 GiB
    would have failed with MemoryError and been counted as a blow-up."""
    for cid, (rc, out, err, stats, hung, folder) in finished.items():
        assert stats["as_limit"] == AS_LIMIT, cid
        assert stats["vm_start_kb"] * 1024 < AS_LIMIT - 2**30, (cid, stats["vm_start_kb"])
