"""The model input: `ModelSpec` (the architecture), its parameter counts and FLOPs, the zoo of
known models, and import from Hugging Face `config.json` / safetensors headers."""
from planner.model.spec import *  # noqa: F401,F403
from planner.model.spec import ModelSpec

__all__ = ["ModelSpec"]
