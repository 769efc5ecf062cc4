"""Writes through planner.safe_io: one routine (`atomic_path`) behind `atomic_write` too, so a
chart, a report and a CSV all end with the mode a new file gets (0666 less the umask; mkstemp
alone would leave 0600), and a failed write leaves the old file and no temporary behind."""
from __future__ import annotations

import os
import stat

import pytest

from planner.errors import PlannerError
from planner.safe_io import atomic_path, atomic_write


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_both_writers_leave_the_mode_a_new_file_gets(tmp_path, umask_022):
    with atomic_write(tmp_path / "out.csv") as fh:
        fh.write("a,b\n")
    with atomic_path(tmp_path / "chart.png", "chart file") as tmp:
        assert tmp.name.endswith(".part.png")   # writers that go by the suffix see it
        tmp.write_bytes(b"\x89PNG")
    assert _mode(tmp_path / "out.csv") == 0o644
    assert _mode(tmp_path / "chart.png") == 0o644
    assert (tmp_path / "out.csv").read_text() == "a,b\n"


def test_a_chart_saved_by_plots_gets_the_same_mode(tmp_path, umask_022):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from planner.render import plots
    fig = plt.figure()
    [path] = plots.save(fig, tmp_path / "c.svg")
    plt.close(fig)
    assert _mode(path) == 0o644


@pytest.mark.parametrize("binary", [False, True])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_part(tmp_path, binary):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "wb" if binary else "w") as fh:
            fh.write(b"new" if binary else "new")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_missing_folder_is_a_clean_error(tmp_path):
    with pytest.raises(PlannerError, match="does not exist"):
        with atomic_path(tmp_path / "nope" / "c.png", "chart file"):
            pass
