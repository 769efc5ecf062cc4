"""Hostile option values (issue 9): every numeric option of train, infer, optimal, parallel and
finetune fed NaN, infinities, 1e400, negatives, zero where it must be positive, values past the
top of its range, fractions where it counts things, garbage and units that do not fit - each must
be one clean `Error:` line naming the option, exit 2, nothing written.  The bad values come from
each key's own range in the plan key tables, so a new key is covered when it is added.  Then
hypothesis over option values, with an oracle written here (not the code under test): a value
is valid iff it is a finite number in the key's range, whole where the key counts."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hostile import ANSWERED, GOOD, RIGHT, case, record, run_case
from planner.errors import PlannerError
from planner.plan.infer import INFER
from planner.plan.keys import Key
from planner.plan.optimal import OPTIMAL
from planner.plan.parallel import PARALLEL
from planner.plan.train import TRAIN

# A valid command for each plan kind; one option at a time is replaced by a bad value.
BASE = {
    "train": ("gpt2", {"--tokens": "1B", "--hardware": "a100-80gb", "--gpus": "8"}),
    "infer": ("llama-2-7b", {"--device": "rtx-4090"}),
    "optimal": (None, {"--gpus": "8", "--hardware": "a100-80gb", "--days": "30"}),
    "parallel": ("gpt2", {"--hardware": "a100-80gb", "--gpus": "8"}),
}
TABLES = {"train": TRAIN, "infer": INFER, "optimal": OPTIMAL, "parallel": PARALLEL}

# Bad for every numeric key (all have lower bounds >= 0 and finite values).
ALWAYS_BAD = {"nan": "nan", "NaN": "NaN", "inf": "inf", "-inf": "-inf", "1e400": "1e400",
              "negative": "-1", "garbage": "abc", "empty": "", "commas typo": "1,,,0",
              "hex": "0x10", "code": "__import__('os').system('true')", "two dots": "1..5",
              "comma decimal": "1,5"}
# Parallel shares TRAIN's keys: the parser is the same, so fewer values there.
SHARED_BAD = {k: ALWAYS_BAD[k] for k in ("nan", "inf", "negative", "garbage")}
UNIT_MISFITS = {"bytes": ("80", "80s", "80 GB/s"), "bandwidth": ("2TB", "2 TB/h", "fast"),
                "duration": ("30", "30GB", "30 fortnights"), "price": ("$2/fortnight",),
                "usd": ("5 euros", "$5M/h"), "count": ("5GB",), "flops": ("5 GB",)}


def _bad_values(key: Key, shared: bool) -> dict[str, str]:
    """Values outside `key`'s valid set, named, from its range."""
    vals = dict(SHARED_BAD if shared else ALWAYS_BAD)
    if math.isfinite(key.upper):
        vals["above the top"] = f"{key.upper * 10:g}"
    if key.lower_open and key.lower == 0:
        vals["zero"] = "0"
    if key.integer:
        vals["fraction"] = "1.5" if key.upper >= 2 else "0.5"
    if not shared:
        for i, v in enumerate(UNIT_MISFITS.get(key.kind, ())):
            vals[f"unit misfit {i + 1}"] = v
    return vals


def _argv(kind: str, flag: str, value: str) -> list[str]:
    model, opts = BASE[kind]
    argv = [kind] + ([model] if model else [])
    for f, v in opts.items():
        if f != flag:
            argv += [f, v]
    return argv + [f"{flag}={value}"]


def option_cases():
    out = []
    for kind, table in TABLES.items():
        for key in table.keys:
            if not key.cli or key.name == table.argument or not key.numeric:
                continue
            shared = kind == "parallel" and key.name in TRAIN and key is TRAIN[key.name]
            for label, value in _bad_values(key, shared).items():
                klass = ("non-finite number" if label in ("nan", "NaN", "inf", "-inf", "1e400")
                         else "out-of-range number" if label in ("negative", "above the top",
                                                                 "zero")
                         else "non-integer count" if label == "fraction"
                         else "unit misfit" if label.startswith("unit") else "garbage number")
                out.append(case(klass, f"{kind} {key.flag} {label} ({value!r})",
                                *_argv(kind, key.flag, value), say=(key.flag,)))
    return out


# Options whose parser is their own (text keys with a grammar) and the commands outside the
# key tables (finetune, hardware, models, params).
OTHER = [
    case("garbage number", "train --optimizer-bytes nan",
         *_argv("train", "--optimizer-bytes", "nan"), say=("--optimizer-bytes",)),
    case("out-of-range number", "train --optimizer-bytes -4",
         *_argv("train", "--optimizer-bytes", "-4"), say=("--optimizer-bytes",)),
    case("out-of-range number", "train --optimizer-bytes 1e9",
         *_argv("train", "--optimizer-bytes", "1e9"), say=("--optimizer-bytes",)),
    case("unknown name", "train --optimizer-bytes adam",
         *_argv("train", "--optimizer-bytes", "adam"), say=("--optimizer-bytes",)),
    case("out-of-range number", "infer --reserve -2GB", *_argv("infer", "--reserve", "-2GB"),
         say=("--reserve",)),
    case("out-of-range number", "infer --reserve 100%", *_argv("infer", "--reserve", "100%"),
         say=("--reserve",)),
    case("non-finite number", "infer --reserve nan%", *_argv("infer", "--reserve", "nan%"),
         say=("--reserve",)),
    case("unit misfit", "infer --reserve 2", *_argv("infer", "--reserve", "2"),
         say=("--reserve",)),
    case("non-finite number", "infer --reserve 1e400GB", *_argv("infer", "--reserve", "1e400GB"),
         say=("--reserve",)),
    case("unknown name", "infer --quant q4_k_x", *_argv("infer", "--quant", "q4_k_x")),
    case("unknown name", "infer --kv-cache f17", *_argv("infer", "--kv-cache", "f17")),
    case("unknown name", "infer --recipes 2022", *_argv("infer", "--recipes", "2022")),
    case("unknown name", "train --precision fp12", *_argv("train", "--precision", "fp12"),
         say=("fp12",)),
    case("unknown name", "train --recompute some", *_argv("train", "--recompute", "some")),
    case("unknown name", "train --framework jax", *_argv("train", "--framework", "jax")),
    case("unknown name", "train --flops-method 7nd", *_argv("train", "--flops-method", "7nd")),
    case("unknown name", "optimal --method approach2", *_argv("optimal", "--method",
                                                                 "approach2")),
    case("garbage number", "parallel --gpus 8,,x", *_argv("parallel", "--gpus", "8,,x"),
         say=("--gpus",)),
    case("non-integer count", "parallel --gpus 8,1.5", *_argv("parallel", "--gpus", "8,1.5"),
         say=("--gpus",)),
    case("huge work", "parallel --gpus 65 sizes", *_argv("parallel", "--gpus",
                                                           ",".join(["8"] * 65)), say=("--gpus",)),
    case("non-finite number", "parallel --gpus 8,nan", *_argv("parallel", "--gpus", "8,nan"),
         say=("--gpus",)),
    case("garbage number", "parallel --gpus ,", *_argv("parallel", "--gpus", ","),
         say=("--gpus",)),
    case("flag given a value", "train --non-embedding false",
         *_argv("train", "--non-embedding", "false")),
    case("flag given a value", "infer --discrete maybe", *_argv("infer", "--discrete", "maybe")),
]
for flag, values in {"--rank": ("nan", "inf", "1e400", "-1", "0", "1.5", "abc", "1,,,0"),
                     "--context": ("nan", "-1", "0", "1.5", "abc", "1e400"),
                     "--batch": ("nan", "-1", "0", "2.5", "abc"),
                     "--memory": ("-16GB", "0GB", "nanGB", "16", "1e400GB"),
                     "--bandwidth": ("-100GB/s", "0GB/s", "100GB", "1e400GB/s"),
                     "--tflops": ("nan", "inf", "-5", "0", "abc", "1e400"),
                     "--reserve": ("-1GB", "150%", "abc"),
                     "--targets": ("bogus", ",,", "q,bogus")}.items():
    for v in values:
        klass = ("non-finite number" if any(s in v.lower() for s in ("nan", "inf", "1e400"))
                 else "garbage number" if flag == "--targets" or v in ("abc", "1,,,0")
                 else "non-integer count" if v in ("1.5", "2.5")
                 else "unit misfit" if v in ("16", "100GB") else "out-of-range number")
        OTHER.append(case(klass, f"finetune {flag} {v!r}", "finetune", "llama-2-7b",
                          "--device", "rtx-4090", f"{flag}={v}", say=() if flag == "--targets"
                          else (flag,)))
OTHER += [
    case("missing input", "train with nothing", "train"),
    case("missing input", "train without tokens", "train", "gpt2", "--hardware", "a100-80gb",
         "--gpus", "8"),
    case("missing input", "train without a device", "train", "gpt2", "--tokens", "1B",
         "--gpus", "8"),
    case("missing input", "train without gpus or deadline", "train", "gpt2", "--tokens", "1B",
         "--hardware", "a100-80gb"),
    case("missing input", "infer without a model", "infer", "--device", "rtx-4090"),
    case("missing input", "infer ad-hoc without bandwidth", "infer", "llama-2-7b", "--memory",
         "16GB"),
    case("missing input", "optimal with nothing", "optimal"),
    case("missing input", "optimal gpus without days", "optimal", "--gpus", "8", "--hardware",
         "a100-80gb"),
    case("missing input", "parallel without gpus", "parallel", "gpt2", "--hardware",
         "a100-80gb"),
    case("missing input", "finetune without a device", "finetune", "llama-2-7b"),
    case("missing input", "params without a model", "params"),
    case("missing input", "run without a file", "run"),
    case("missing input", "compare without files", "compare"),
    case("missing input", "compare one plan", "compare", "{d}/a.toml",
         files={"a.toml": '[model]\nname = "gpt2"\n[train]\ntokens = "1B"\nhardware = '
                          '"a100-80gb"\ngpus = 8\nmfu = 0.4\n'}),
    case("missing input", "report without a file", "report"),
    case("contradictory keys", "train --mfu and --hfu", *_argv("train", "--mfu", "0.4"),
         "--hfu", "0.45", say=("--mfu", "--hfu")),
    case("contradictory keys", "train --flops and --tokens", "train", "--flops", "1e21",
         "--tokens", "1B", "--tflops", "100", "--gpus", "8", say=("--flops", "--tokens")),
    case("contradictory keys", "train MODEL and --flops", "train", "gpt2", "--flops", "1e21",
         "--hardware", "a100-80gb", "--gpus", "8", say=("MODEL", "--flops")),
    case("contradictory keys", "train MODEL and --params", "train", "gpt2", "--params", "1B",
         "--tokens", "1B", "--hardware", "a100-80gb", "--gpus", "8", say=("MODEL", "--params")),
    case("contradictory keys", "train --flops and --params", "train", "--flops", "1e21",
         "--params", "1B", "--tflops", "100", "--gpus", "8", say=("--flops", "--params")),
    case("contradictory keys", "train two global batches", *_argv("train", "--global-batch",
                                                                    "8"),
         "--global-batch-tokens", "4M", say=("--global-batch", "--global-batch-tokens")),
    case("contradictory keys", "parallel two global batches",
         *_argv("parallel", "--global-batch", "8"), "--global-batch-tokens", "4M",
         say=("--global-batch", "--global-batch-tokens")),
    case("contradictory keys", "optimal --flops and --gpus", "optimal", "--flops", "1e21",
         "--gpus", "8", "--hardware", "a100-80gb", "--days", "30", say=("--flops",)),
    case("contradictory keys", "optimal --hardware and --tflops", *_argv("optimal", "--tflops",
                                                                         "100"),
         say=("--hardware", "--tflops")),
    case("inconsistent layout", "train --tp 3 on 32 heads", "train", "llama-2-7b", "--tokens",
         "1B", "--hardware", "a100-80gb", "--gpus", "24", "--tp", "3", say=("--tp",)),
    case("inconsistent layout", "train --tp 3 with --mfu", "train", "llama-2-7b", "--tokens",
         "1B", "--hardware", "a100-80gb", "--gpus", "24", "--tp", "3", "--mfu", "0.4",
         say=("--tp",)),
    case("inconsistent layout", "parallel --tp 3 on 32 heads", "parallel", "llama-2-7b",
         "--hardware", "a100-80gb", "--gpus", "24", "--tp", "3", say=("tp",)),
    case("inconsistent layout", "train --pp 100 on 32 layers", "train", "llama-2-7b", "--tokens",
         "1B", "--hardware", "a100-80gb", "--gpus", "8", "--pp", "100", say=("--pp",)),
    case("inconsistent layout", "train tp x pp x dp != gpus", "train", "llama-2-7b", "--tokens",
         "1B", "--hardware", "a100-80gb", "--gpus", "8", "--tp", "2", "--pp", "2", "--dp", "4",
         say=("--dp",)),
    case("inconsistent layout", "train --ep 2 on a dense model", "train", "llama-2-7b",
         "--tokens", "1B", "--hardware", "a100-80gb", "--gpus", "8", "--ep", "2", say=("--ep",)),
    case("inconsistent layout", "train --interleave 2 without pp", "train", "llama-2-7b",
         "--tokens", "1B", "--hardware", "a100-80gb", "--gpus", "8", "--interleave", "2",
         "--pp", "1", say=("--interleave",)),
    case("inconsistent layout", "parallel --tp 16 > gpus", "parallel", "llama-2-7b",
         "--hardware", "a100-80gb", "--gpus", "8", "--tp", "16"),
    case("inconsistent layout", "infer --context past the model's", "infer", "llama-2-7b",
         "--device", "rtx-4090", "--context", "100000", say=("--context",)),
    case("inconsistent layout", "train --seq-len over the global batch", *_argv(
        "train", "--seq-len", "100000000"), say=("global batch",)),
    case("unknown name", "train device typo", *_argv("train", "--hardware", "a1OO-80gb"),
         say=("a1OO-80gb",)),
    case("unknown name", "train model typo", "train", "gtp2", "--tokens", "1B", "--hardware",
         "a100-80gb", "--gpus", "8", say=("gtp2",)),
    case("unknown name", "infer device typo", "infer", "llama-2-7b", "--device", "rtx-4909",
         say=("rtx-4909",)),
    case("unknown name", "parallel device typo", *_argv("parallel", "--hardware", "h100-sxn"),
         say=("h100-sxn",)),
    case("unknown name", "finetune model typo", "finetune", "lama-2-7b", "--device", "rtx-4090",
         say=("lama-2-7b",)),
    case("unknown name", "hardware unknown", "hardware", "rtx-9999", say=("rtx-9999",)),
    case("unknown name", "hardware empty name", "hardware", ""),
    case("unknown name", "params unknown", "params", "gpt5-ultra", say=("gpt5-ultra",)),
    case("unknown name", "unknown command", "trian", say=("trian",)),
    case("unknown name", "unknown option", "train", "--gpu", "8", say=("--gpu",)),
    case("unknown name", "unknown format", "params", "gpt2", "--format", "xlsx"),
    case("unknown name", "finetune unknown method", "finetune", "llama-2-7b", "--device",
         "rtx-4090", "--method", "dora"),
    case("unknown name", "hardware --category bogus", "hardware", "--category", "bogus"),
    case("long name", "params 300-char model", "params", "x" * 300),
    case("long name", "params 100,000-char model", "params", "x" * 100_000),
    case("long name", "train 300-char model", "train", "m" * 300, "--tokens", "1B",
         "--hardware", "a100-80gb", "--gpus", "8"),
    case("long name", "train 300-char device", *_argv("train", "--hardware", "h" * 300)),
    case("long name", "infer 300-char device", "infer", "llama-2-7b", "--device", "d" * 300),
    case("long name", "infer 300-char quant", *_argv("infer", "--quant", "q" * 300)),
    case("long name", "hardware 300-char name", "hardware", "h" * 300),
    case("long name", "parallel 300-char model", "parallel", "p" * 300, "--hardware",
         "a100-80gb", "--gpus", "8"),
    case("long name", "finetune 300-char model", "finetune", "f" * 300, "--device", "rtx-4090"),
    case("long name", "train 300-char precision", *_argv("train", "--precision", "p" * 300)),
    case("long name", "params model with a NUL", "params", "gpt2\x00evil"),
    case("long name", "params a path into nowhere", "params", "/no/such/folder/config.json"),
]


ALL = option_cases() + OTHER


def test_every_number_has_a_stated_range():
    """Every numeric key of every plan states a finite range: an input that would overflow
    (tokens = 1e300 made the FLOPs infinite) is refused at the boundary, with the range."""
    for table in TABLES.values():
        for key in table.keys:
            if key.numeric:
                assert math.isfinite(key.lower) and math.isfinite(key.upper), \
                    (table.kind, key.name)
                key.check(key.upper, key.name)                 # the top is valid ...
                with pytest.raises(PlannerError):
                    key.check(key.upper * 1.01 + 1, key.name)  # ... and past it is not


def test_battery_size():
    """The battery covers every numeric option of every plan kind (several hundred cases)."""
    assert len(ALL) > 400
    assert len({c.id for c in ALL}) == len(ALL)


@pytest.mark.parametrize("c", ALL, ids=lambda c: c.id)
def test_hostile_option(cli, tmp_path, c):
    o = run_case(cli, c, tmp_path)
    assert o.outcome == GOOD, (c.id, o.outcome, o.detail)


# --- right answers: inputs that look odd but have one --------------------------------------------

def test_thousands_separators_are_read(cli):
    """``--tokens 1,000,000`` is a million tokens; ``1_000_000`` too (commas only as thousands
    separators, so ``1,,,0`` above is an error, not 10)."""
    for text in ("1,000,000", "1_000_000", "1e6", "1M"):
        r = cli("train", "--params", "1B", "--tokens", text, "--tflops", "100", "--gpus", "8",
                "--mfu", "0.5", "--json")
        assert r.code == 0, r.err
        assert r.json()["tokens"] == 1e6
    record("right answer", RIGHT)


def test_flags_are_switches(cli):
    """``--non-embedding`` is a switch: present means true (it once took a value, and read
    'false' as true)."""
    base = ("train", "gpt2", "--tokens", "1B", "--hardware", "a100-80gb", "--gpus", "8",
            "--mfu", "0.4", "--json")
    plain, non_emb = cli(*base).json(), cli(*base, "--non-embedding").json()
    assert non_emb["non_embedding"] is True and plain["non_embedding"] is False
    # gpt2: 124.4 M parameters, of which 38.6 M are the token and position embeddings
    # (Radford et al. 2019 vocabulary 50,257 x 768 + 1,024 x 768), so 6ND drops by ~31%.
    assert non_emb["flops"] == pytest.approx(plain["flops"] * (124_439_808 - 39_383_808)
                                             / 124_439_808, rel=1e-6)
    record("right answer", RIGHT)


def test_infer_tflops_is_used(cli):
    """--tflops overrides the prefill peak (it was once ignored: prefill stayed at 6,007
    tok/s).  At 0.1-0.2 TFLOPS prefill is compute-bound, so it doubles with the peak."""
    slow = cli("infer", "llama-2-7b", "--device", "rtx-4090", "--tflops", "0.1",
               "--json").json()
    fast = cli("infer", "llama-2-7b", "--device", "rtx-4090", "--tflops", "0.2",
               "--json").json()
    assert fast["prefill_tokens_per_s"] == pytest.approx(2 * slow["prefill_tokens_per_s"],
                                                         rel=0.01)
    record("right answer", RIGHT)


def test_train_tflops_overrides_the_profile(cli):
    """--hardware with --tflops: the given peak is used (not silently the profile's)."""
    base = ("train", "gpt2", "--tokens", "1B", "--hardware", "a100-80gb", "--gpus", "8",
            "--mfu", "0.4", "--json")
    a = cli(*base).json()
    b = cli(*base, "--tflops", "31.2").json()   # a tenth of the A100's 312 bf16 dense
    assert b["days"] == pytest.approx(10 * a["days"], rel=1e-6)
    record("right answer", RIGHT)


# --- hypothesis: any value of any numeric option -------------------------------------------------

def _oracle(key: Key, x: float) -> bool:
    """Valid iff finite, in range, whole where the key counts (independent of Key.check)."""
    if not math.isfinite(x):
        return False
    if x < key.lower or (key.lower_open and x == key.lower) or x > key.upper:
        return False
    return not key.integer or x == int(x)


PLAIN_KEYS = [(kind, k) for kind, t in TABLES.items() for k in t.keys
              if k.cli and k.kind in ("number", "count") and k.name != t.argument]
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-10**6, 10**12).map(float),
                    st.sampled_from([0.0, -0.0, 1.0, 0.5, 1.5, 1e308, -1e-300, 5e-324]))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(PLAIN_KEYS), numbers)
def test_key_parse_accepts_exactly_the_valid_numbers(kind_key, x):
    """Key.parse of a number's text: accepted iff the oracle says valid, and then equal."""
    _, key = kind_key
    try:
        got = key.parse(repr(x), key.flag)
    except PlannerError:
        assert not _oracle(key, x), (key.name, x)
    else:
        assert _oracle(key, x), (key.name, x, got)
        assert got == pytest.approx(x, rel=1e-12)


# Text that is never a number: letters, symbols and whitespace, no digits.
garbage = st.text(st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="\x00"),
                  max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(PLAIN_KEYS), st.one_of(numbers.map(repr), garbage))
def test_any_option_value_is_an_answer_or_one_clean_error(cli, tmp_path_factory, kind_key,
                                                          text):
    """Through the command line: a value the oracle calls invalid is a clean error naming the
    option; a valid one is an answer or a clean error (e.g. a layout that does not fit) -
    never a traceback, never a half-written file."""
    kind, key = kind_key
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    c = case("hypothesis", f"{kind} {key.flag}={text!r}", *_argv(kind, key.flag, text))
    valid = _oracle(key, x) and text.strip() == text
    o = run_case(cli, c, tmp_path_factory.mktemp("h"), valid=valid)
    if valid:
        assert o.outcome in (GOOD, RIGHT), (c.id, o.outcome, o.detail)
    else:
        assert o.outcome == GOOD and key.flag in o.detail, (c.id, o.outcome, o.detail)


# Any text where a name goes: unicode, control characters, undecodable bytes (as Python gets
# them from a non-UTF-8 command line: lone surrogates), quotes, paths, very long.
names = st.one_of(
    st.text(st.characters(blacklist_characters="\x00"), max_size=40),
    st.lists(st.sampled_from(["\udcff", "\udc80", "\n", "\r", "\t", "'", '"', "\\", "/", "..",
                              "\u202e", "\ufeff", "a", "1", "-", " ", "💥", "ｈ１００", "h100"]),
             min_size=1, max_size=12).map("".join),
    st.integers(201, 5000).map(lambda n: "x" * n))
NAME_OPTIONS = [("train", "--hardware"), ("train", "--precision"), ("infer", "--device"),
                ("infer", "--quant"), ("infer", "--kv-cache"), ("optimal", "--method"),
                ("parallel", "--hardware"), ("train", "--optimizer-bytes"),
                ("infer", "--reserve")]


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(NAME_OPTIONS), names)
def test_any_name_is_an_answer_or_one_clean_error(cli, tmp_path_factory, option, text):
    kind, flag = option
    c = case("hypothesis: names", f"{kind} {flag}={text!r}", *_argv(kind, flag, text))
    o = run_case(cli, c, tmp_path_factory.mktemp("hn"), valid=None)
    assert o.outcome in (GOOD, ANSWERED), (c.id, o.outcome, o.detail)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["params", "train", "infer", "parallel", "finetune"]), names)
def test_any_model_argument_is_an_answer_or_one_clean_error(cli, tmp_path_factory, command,
                                                            text):
    argv = {"params": (), "train": ("--tokens", "1B", "--hardware", "a100-80gb", "--gpus", "8"),
            "infer": ("--device", "rtx-4090"), "parallel": ("--hardware", "a100-80gb",
                                                            "--gpus", "8"),
            "finetune": ("--device", "rtx-4090")}[command]
    c = case("hypothesis: names", f"{command} MODEL={text!r}", command, *argv, "--", text)
    o = run_case(cli, c, tmp_path_factory.mktemp("hm"), valid=None)
    assert o.outcome in (GOOD, ANSWERED), (c.id, o.outcome, o.detail)
