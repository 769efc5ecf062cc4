"""Shared test helpers: run the CLI in-process and capture its output and exit status."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from planner.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """``cli("params", "gpt2", "--json")`` -> Result(code, out, err)."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def assert_user_error(result: Result, *fragments: str) -> None:
    """The error contract: exit 2, one line on stderr starting 'Error:', no traceback."""
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    assert "Traceback" not in result.err
    for frag in fragments:
        assert frag.lower() in lines[0].lower(), (frag, lines[0])


def pytest_terminal_summary(terminalreporter):
    """The hostile-input battery's table (issue 9), when its tests ran: cases per class and
    their outcomes (tests/hostile.py)."""
    import sys
    hostile = sys.modules.get("hostile")
    lines = hostile.summary_lines() if hostile else []
    if lines:
        terminalreporter.section("hostile-input battery (issue 9)")
        for line in lines:
            terminalreporter.write_line(line)
