"""The model input: `ModelSpec` (the architecture), the one inventory of its tensors
(`tensors`), the counts, FLOPs and KV cache derived from it, the zoo of known models, and
import from Hugging Face `config.json` / safetensors headers."""
from planner.model.spec import *  # noqa: F401,F403
from planner.model.spec import ModelSpec, VisionSpec
from planner.model.tensors import Tensor, tensors

__all__ = ["ModelSpec", "VisionSpec", "Tensor", "tensors"]
