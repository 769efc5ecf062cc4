"""Serving capacity (`planner serve`): replica memory (`engine`), step time (`step`), the
queueing approximation (`load`), the solver (`solve`), the published reference rows and the
fit of the engine constants (`reference`, `fit`).  See docs/serving.md."""
