"""Pure, vectorised estimators beneath the three inputs: FLOPs, time and cost, training memory, inference memory and speed, quantised sizes, fine-tuning, scaling laws, solvers."""
