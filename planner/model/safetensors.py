"""Read safetensors headers - tensor names, dtypes and shapes - without loading any weights.

File layout (the safetensors format spec, github.com/huggingface/safetensors, "Format"):
8 bytes little-endian unsigned N, then N bytes of UTF-8 JSON mapping each tensor name to
``{"dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end]}`` (plus an optional
``"__metadata__"`` object of strings), then the data area.  Only the first 8 + N bytes are read.

A sharded checkpoint has ``model.safetensors.index.json``: ``{"metadata": {"total_size":
bytes}, "weight_map": {tensor name: shard file}}``.
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from planner import safe_io
from planner.errors import PlannerError

# Bytes per element of each safetensors dtype (safetensors spec, `Dtype` enum).
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4,
    "U64": 8, "I64": 8, "F64": 8,
}

# config.json `torch_dtype` (or `dtype`, transformers >= 4.56) -> bytes per parameter.
TORCH_DTYPE_BYTES = {"float32": 4, "float": 4, "float16": 2, "half": 2, "bfloat16": 2,
                     "float64": 8, "int8": 1, "uint8": 1, "float8_e4m3fn": 1,
                     "float8_e5m2": 1}

INDEX_NAME = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100_000_000  # the format caps the header at 100 MB

# Tensors that some checkpoints store but that are NOT parameters (registered buffers), so
# `model.num_parameters()` does not count them:
#   * ``h.N.attn.bias`` / ``h.N.attn.masked_bias``: the causal-mask buffers of old GPT-2 and
#     GPT-J checkpoints (a 1x1xCxC bool/float lower-triangular matrix, 1,048,576 elements per
#     layer for GPT-2 - which is why the hub shows 137M for the 124M gpt2);
#   * ``attention.bias`` / ``attention.masked_bias`` of old GPT-NeoX checkpoints, likewise;
#   * ``rotary_emb.inv_freq``: the RoPE frequency table (Llama/NeoX/GPT-J conversions).
def is_buffer(name: str, shape: tuple[int, ...]) -> bool:
    """True for a known non-parameter buffer.  ``.attn.bias`` is a mask only when it is the
    4-d (1, 1, C, C) matrix: a 1-d ``attn.bias`` would be a real bias and is kept."""
    if name.endswith("rotary_emb.inv_freq") or name.endswith("masked_bias"):
        return True
    if name.endswith((".attn.bias", ".attention.bias")):
        return len(shape) == 4
    return False


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES[self.dtype]


def read_header(path: Path) -> list[Tensor]:
    """The tensors listed in one .safetensors file's header (reads 8 + N bytes only, N capped
    at 100 MB; the data area is never read)."""
    path = Path(path)
    what = "safetensors file"
    p = safe_io.check_regular(path, what)
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise PlannerError(f"{path}: not a safetensors file (shorter than its 8-byte "
                                   "header length)")
            (n,) = struct.unpack("<Q", head)
            size = os.fstat(fh.fileno()).st_size
            if n > MAX_HEADER_BYTES or 8 + n > size:
                raise PlannerError(f"{path}: not a safetensors file (header length {n:,} bytes "
                                   f"does not fit the {size:,}-byte file, or exceeds the "
                                   f"format's {MAX_HEADER_BYTES:,}-byte limit)")
            raw = fh.read(n)
    except OSError as exc:
        raise PlannerError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlannerError(f"{path}: malformed safetensors header (not UTF-8 at byte "
                           f"{exc.start})") from None
    header = safe_io.parse_json(text, f"{path}: malformed safetensors header:")
    if not isinstance(header, dict):
        raise PlannerError(f"{path}: malformed safetensors header (not a JSON object)")
    meta = header.get("__metadata__")
    if meta is not None and not isinstance(meta, dict):
        raise PlannerError(f"{path}: malformed safetensors header: '__metadata__' must be an "
                           f"object of strings, got {type(meta).__name__}")
    data_size = size - 8 - n
    tensors = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        tensors.append(_tensor(path, name, info, data_size))
    return tensors


def _tensor(path: Path, name: str, info: object, data_size: int) -> Tensor:
    bad = f"{path}: malformed safetensors header entry {name!r}"
    if not isinstance(info, dict):
        raise PlannerError(f"{bad} (not an object)")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise PlannerError(f"{bad} (dtype {dtype!r}; valid: {', '.join(DTYPE_BYTES)})")
    if not isinstance(shape, list) or len(shape) > 8 or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 2**40 for d in shape):
        raise PlannerError(f"{bad} (shape must be a list of up to 8 whole numbers >= 0, got "
                           f"{str(shape)[:80]})")
    t = Tensor(name, dtype, tuple(shape))
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size
            or offsets[1] - offsets[0] != t.nbytes):
        raise PlannerError(f"{bad} (data_offsets {offsets!r} do not hold {t.nbytes:,} bytes of "
                           f"{dtype} {list(shape)} inside the {data_size:,}-byte data area)")
    return t


@dataclass
class Count:
    """What the checkpoint's headers say: parameters (buffers and stored copies of tied
    weights excluded), bytes, parameters per dtype, files read, what was left out."""
    params: int
    bytes: int
    dtypes: dict[str, int]
    files: list[str]
    approximate: bool = False
    ignored_buffers: list[str] = field(default_factory=list)
    tied_duplicates: list[str] = field(default_factory=list)
    note: str = ""

    def meta(self) -> dict:
        """The `ModelSpec.meta` keys `planner params` shows beside the derived count."""
        out = {"safetensors_params": self.params, "safetensors_bytes": self.bytes,
               "safetensors_dtype_bytes": self.bytes / self.params if self.params else 0.0,
               "safetensors_dtypes": dict(self.dtypes), "safetensors_files": list(self.files),
               "safetensors_source": self.note, "safetensors_approximate": self.approximate}
        if self.ignored_buffers:
            out["safetensors_ignored_buffers"] = list(self.ignored_buffers)
        if self.tied_duplicates:
            out["safetensors_tied_duplicates"] = list(self.tied_duplicates)
        return out


# Embedding matrices by the names transformers gives them, and the names under which a
# checkpoint may store a second copy of a tied one.
_EMBEDDINGS = ("wte.weight", "embed_tokens.weight", "word_embeddings.weight", "shared.weight",
               "embed_in.weight")
_ENCDEC_COPIES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
_HEAD_COPIES = ("lm_head.weight", "embed_out.weight")


def count_tensors(tensors: list[Tensor], files: list[str], tied: bool = True,
                  note: str = "") -> Count:
    """Sum the parameters of `tensors` the way `model.num_parameters()` does: buffers are
    skipped and a stored copy of a shared matrix is counted once.  Copies are: T5's
    ``encoder/decoder.embed_tokens.weight`` beside ``shared.weight`` (always the same module),
    and, when the config ties embeddings (`tied`), an ``lm_head.weight`` of the embedding's
    shape (Falcon-7B's checkpoint stores it again: 7.22B on the hub vs 6.92B parameters)."""
    ignored, kept = [], []
    for t in tensors:
        (ignored if is_buffer(t.name, t.shape) else kept).append(t)
    originals = {t.shape for t in kept
                 if t.name.endswith(_EMBEDDINGS) and not t.name.endswith(_ENCDEC_COPIES)}
    dupes: list[str] = []
    counted: list[Tensor] = []
    for t in sorted(kept, key=lambda t: t.name.endswith(_HEAD_COPIES)):  # heads last
        if t.name.endswith(_ENCDEC_COPIES) or (tied and t.name.endswith(_HEAD_COPIES)):
            if t.shape in originals:
                dupes.append(t.name)
                continue
            originals.add(t.shape)
        counted.append(t)
    dtypes: dict[str, int] = {}
    for t in counted:
        dtypes[t.dtype] = dtypes.get(t.dtype, 0) + t.numel
    return Count(params=sum(t.numel for t in counted), bytes=sum(t.nbytes for t in counted),
                 dtypes=dtypes, files=files, ignored_buffers=sorted(t.name for t in ignored),
                 tied_duplicates=sorted(dupes), note=note)


def checkpoint_count(folder: Path, tied: bool = True,
                     torch_dtype: str | None = None) -> Count | None:
    """Parameters of the safetensors checkpoint in `folder`, or None if it holds none.

    With an index whose shards are all present, every shard's header is read (exact).  With
    only the index, ``metadata.total_size / bytes(torch_dtype)`` is an approximate count
    (it includes any buffers and stored tied copies, and assumes one dtype)."""
    folder = Path(folder)
    index = folder / INDEX_NAME
    if index.is_file():
        data = _read_index(index)
        shards = _index_shards(index, data)
        present = [s for s in shards if (folder / s).is_file()]
        if shards and len(present) == len(shards):
            tensors = [t for s in shards for t in read_header(folder / s)]
            return count_tensors(tensors, shards, tied,
                                 f"headers of {len(shards)} shard(s) listed in {INDEX_NAME}")
        return _approximate(index, data, shards, present, torch_dtype)
    files = sorted(p.name for p in folder.glob("*.safetensors") if p.is_file())
    if not files:
        return None
    tensors = [t for f in files for t in read_header(folder / f)]
    return count_tensors(tensors, files, tied, f"headers of {len(files)} .safetensors file(s)")


MAX_INDEX_BYTES = 64 * 2**20  # DeepSeek-V3's index (91k tensors) is ~9 MB


def _read_index(index: Path) -> dict:
    data = safe_io.read_json(index, "safetensors index", MAX_INDEX_BYTES)
    if not isinstance(data, dict):
        raise PlannerError(f"{index}: expected a JSON object with 'metadata' and 'weight_map'")
    if not isinstance(data.get("weight_map", {}), dict):
        raise PlannerError(f"{index}: 'weight_map' must be an object mapping tensor names to "
                           f"shard files, got {type(data['weight_map']).__name__}")
    if not isinstance(data.get("metadata", {}), dict):
        raise PlannerError(f"{index}: 'metadata' must be an object (with total_size), got "
                           f"{type(data['metadata']).__name__}")
    return data


def _index_shards(index: Path, data: dict) -> list[str]:
    """The shard files the index's weight_map names, each once, sorted."""
    weight_map = data.get("weight_map", {})
    for f in weight_map.values():
        if (not isinstance(f, str) or not f or "/" in f or "\\" in f or f.startswith(".")
                or len(f) > 255):
            raise PlannerError(f"{index}: weight_map names shard {str(f)[:80]!r} (expected a "
                               "file name in the same folder)")
    return sorted(set(weight_map.values()))


def _approximate(index: Path, data: dict, shards: list[str], present: list[str],
                 torch_dtype: str | None) -> Count:
    total = data.get("metadata", {}).get("total_size")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise PlannerError(f"{index}: {len(shards) - len(present)} of {len(shards)} shard(s) "
                           "are missing and metadata.total_size is absent, so no count can be "
                           "given (download the shards or the full index)")
    width = TORCH_DTYPE_BYTES.get(str(torch_dtype).lower()) if torch_dtype else None
    assumed = "" if width else " (config gives no torch_dtype; 2 bytes assumed)"
    width = width or 2
    missing = len(shards) - len(present)
    note = (f"approximate: {INDEX_NAME} metadata.total_size {total:,} bytes / {width} bytes "
            f"per {torch_dtype or 'parameter'}{assumed}; {missing} of {len(shards)} shard(s) "
            "not present")
    params = total // width
    return Count(params=params, bytes=total, dtypes={str(torch_dtype or "?"): params},
                 files=[INDEX_NAME], approximate=True, note=note)
