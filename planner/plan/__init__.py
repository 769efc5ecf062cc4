"""The plan input: what the user asks.  One key table per plan kind (`TRAIN`, `INFER`) lists
every key with its parser, unit, default, valid range and help; the plan types (`TrainPlan`,
`InferPlan`), the CLI options, the scenario keys and the web forms all come from it."""
from planner.plan.infer import INFER, InferPlan
from planner.plan.keys import Key, KeyTable
from planner.plan.train import TRAIN, TrainPlan

__all__ = ["INFER", "InferPlan", "Key", "KeyTable", "TRAIN", "TrainPlan"]
