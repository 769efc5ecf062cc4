"""The terms a training step's time is split into (`steptime.step_time`), in display order.
A module of its own so the training evaluator can name its columns without importing the
step-time model."""
TERMS = ("compute", "recompute", "tp_comm", "cp", "ep_all_to_all", "pp_p2p", "pp_bubble",
         "dp_comm", "zero_gathers", "optimizer")
