"""The command-line shell: a click group (`main.py`) and one thin module per command.

Commands parse their options (generated from the plan key tables in `planner.plan`), call one
evaluator and render its answer; they compute nothing themselves.
"""
from planner.cli.main import cli, main

__all__ = ["cli", "main"]
