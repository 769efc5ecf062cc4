"""Hardware profiles: data quality, the traps peer tools fell into, and `planner hardware`."""
from __future__ import annotations

import csv

import pytest

from conftest import assert_user_error
from planner.hardware import profiles as hw
from planner.resources import data_dir


def raw_rows() -> list[dict]:
    rows = []
    for path in sorted(data_dir("hardware_profiles").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            rows.extend(dict(r, file=path.name) for r in csv.DictReader(f))
    return rows


def test_at_least_30_devices():
    assert len(raw_rows()) >= 30


def test_every_row_has_sources():
    """Every row has spec_source; every priced row has price_source."""
    for r in raw_rows():
        assert r["spec_source"].strip(), r["name"]
        if r.get("price_usd_per_hour", "").strip():
            assert r["price_source"].strip(), r["name"]


def test_names_and_aliases_unique():
    """Names are unique across all files, and no alias names two devices."""
    rows = raw_rows()
    names = [r["name"].strip().lower() for r in rows]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    seen: dict[str, str] = {}
    from planner.names import loose_key, split_aliases
    for r in rows:
        for key in [r["name"], *split_aliases(r["aliases"])]:
            k = loose_key(key)
            assert seen.setdefault(k, r["name"]) == r["name"], (key, seen[k], r["name"])


def test_h100_dense_not_sparse():
    """Trap: NVIDIA prints 1,979 TFLOPS bf16 for H100 SXM with 2:4 sparsity; dense is 989.4
    (H100 whitepaper; the datasheet's 1,979/2 = 989.5) - tolerance 0.1 TFLOPS."""
    assert hw.get_device("h100-sxm").peak("bf16") / 1e12 == pytest.approx(989.4, abs=0.11)


def test_a100_dense_not_sparse():
    """Trap: A100 bf16 dense is 312 TFLOPS, not the sparse 624 (A100 datasheet)."""
    assert hw.get_device("a100-80gb").peak("bf16") == 312e12


def test_v100_16_vs_32():
    """Trap: a 16 GB V100 listed as 32 GB.  v100-sxm2-16gb has 16 GiB, v100-sxm2-32gb 32 GiB."""
    assert hw.get_device("v100-sxm2-16gb").memory_bytes == 16 * 2**30
    assert hw.get_device("v100-sxm2-32gb").memory_bytes == 32 * 2**30


def test_gib_not_gb():
    """Trap: GB vs GiB.  The A100 80GB has 80 GiB of HBM2e: 80 x 2^30 bytes."""
    assert hw.get_device("a100-80gb").memory_bytes == 80 * 2**30


def test_sensible_values():
    """Every accelerator with a bf16 peak: MFU in (0, 1], bandwidth > 0, memory > 1 GiB."""
    for name in hw.names():
        d = hw.get_device(name)
        assert d.memory_bytes > 2**30, name
        assert d.bandwidth_bytes_per_s > 0, name
        if d.default_mfu == d.default_mfu:
            assert 0 < d.default_mfu <= 1, name


def test_list_cli(cli):
    r = cli("hardware")
    assert r.code == 0 and "h100-sxm" in r.out and "bf16 TFLOPS" in r.out
    rows = cli("hardware", "--json").json()
    assert len(rows) >= 30 and all("name" in x and "memory_bytes" in x for x in rows)


def test_category_filter(cli):
    rows = cli("hardware", "--category", "datacenter", "--json").json()
    assert rows and all(x["category"] == "datacenter" for x in rows)
    assert_user_error(cli("hardware", "--category", "datacentre"), "category", "datacenter")


def test_show_one_with_sources(cli):
    r = cli("hardware", "a100")  # an alias
    assert r.code == 0 and "a100-80gb" in r.out and "spec_source" in r.out
    rec = cli("hardware", "h100", "--json").json()
    assert rec["name"] == "h100-sxm" and rec["spec_source"] and rec["memory_bytes"] == 80 * 2**30


def test_unknown_device_suggests(cli):
    assert_user_error(cli("hardware", "h10"), "unknown device", "h100")


HEADER = ("name,aliases,vendor,category,memory,memory_bandwidth_gbs,bf16_tflops,tdp_w,"
          "price_usd_per_hour,price_source,default_mfu,spec_source\n")


def test_user_hardware_file(cli, tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text(HEADER + "my-chip,mc,Acme,datacenter,48GiB,1000,100,300,1.5,my quote,0.5,"
                          "my datasheet\n")
    rec = cli("hardware", "my-chip", "--hardware-file", str(f), "--json").json()
    assert rec["memory_bytes"] == 48 * 2**30 and rec["spec_source"] == "my datasheet"
    r = cli("train", "--flops", "1e21", "--hardware", "mc", "--hardware-file", str(f),
            "--gpus", "8", "--json")
    assert r.code == 0, r.err
    assert r.json()["seconds"] == pytest.approx(1e21 / (8 * 100e12 * 0.5))


def test_hardware_path_env(cli, tmp_path, monkeypatch):
    (tmp_path / "x.csv").write_text(HEADER + "env-chip,,Acme,datacenter,8GB,100,10,50,,,0.3,"
                                             "sheet\n")
    monkeypatch.setenv(hw.ENV_PATH, str(tmp_path))
    try:
        assert hw.get_device("env-chip").memory_bytes == 8e9
    finally:
        monkeypatch.delenv(hw.ENV_PATH)
    

def test_missing_hardware_file(cli):
    assert_user_error(cli("hardware", "--hardware-file", "/nonexistent.csv"), "does not exist")
