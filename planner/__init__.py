"""planner: how big is a language model, what does training it cost, can I run it locally.

Every estimate is a pure function of three inputs (after Calculon): the *model* (what,
`planner.model.ModelSpec`), the *hardware* (where, `planner.hardware`) and the *plan* (how:
tokens, precision, parallelism, batch).  The CLI (`planner.cli`) only parses and renders.
"""

__version__ = "0.1.0"
