"""Device names a person types (planner/hardware/profiles.py `get_device`): exact names and
aliases first, then the words of a description; ambiguous names list their candidates and
unknown ones suggest the closest three."""
from __future__ import annotations

import pytest

from conftest import assert_user_error
from planner.errors import PlannerError
from planner.hardware import get_device


@pytest.mark.parametrize("typed, name", [
    ("macbook air m2 16gb", "m2-16gb"),
    ("m2-16", "m2-16gb"),
    ("M2 16 GB", "m2-16gb"),
    ("4090", "rtx-4090"),
    ("GeForce RTX 4090", "rtx-4090"),
    ("rtx4090", "rtx-4090"),
    ("MacBook Pro M3 Max 36GB", "m3-max-36gb"),
    ("Mac Studio M2 Ultra 192 GB", "m2-ultra-192gb"),
    ("apple m1 max 32-core gpu 64gb", "m1-max-64gb"),
    ("rtx 3080 ti", "rtx-3080-ti"),
    ("a100 40gb", "a100-40gb"),
    ("NVIDIA H100 PCIe", "h100-pcie"),
])
def test_typed_names_resolve(typed, name):
    assert get_device(typed).name == name


def test_exact_names_and_aliases_win_first():
    # 'h100' is an alias of the SXM part; 'a100-pcie' an alias of the 40 GB PCIe card
    assert get_device("h100").name == "h100-sxm"
    assert get_device("a100 pcie").name == "a100-40gb-pcie"
    assert get_device("m2-8gb").name == "m2-8gb"
    assert get_device("laptop").name == "laptop-16gb"


def test_ambiguous_name_lists_candidates():
    with pytest.raises(PlannerError) as err:
        get_device("m2")
    msg = str(err.value)
    assert "ambiguous" in msg
    for cand in ("m2-8gb", "m2-16gb", "m2-24gb"):
        assert cand in msg
    assert "m2-pro" not in msg          # a chip variant is not a plain M2
    with pytest.raises(PlannerError, match="m3-max-36gb, m3-max-48gb"):
        get_device("m3 max")


def test_unknown_name_suggests_the_closest_three():
    with pytest.raises(PlannerError) as err:
        get_device("rtx 9090")
    msg = str(err.value)
    assert "unknown device 'rtx 9090'" in msg
    assert msg.count("'rtx-") == 3 and "rtx-4090" in msg and "rtx-3090" in msg


def test_cli_errors_for_ambiguous_and_unknown_devices(cli):
    assert_user_error(cli("infer", "llama-2-7b", "--device", "m2"), "m2-8gb", "m2-16gb")
    assert_user_error(cli("infer", "llama-2-7b", "--device", "rtx 9090"), "rtx-4090")
