"""`planner hardware [NAME]`: list device profiles (filterable) or show one with its sources."""
from __future__ import annotations

import click

from planner.errors import unknown
from planner.hardware.profiles import get_device, table
from planner.render.output import emit, output_options, plain, text_table
from planner.units import format_bytes

LIST_COLUMNS = ("name", "category", "memory", "bandwidth", "bf16 TFLOPS", "price $/h", "MFU")


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _record(row: dict) -> dict:
    """A profile row as a JSON record: the CSV fields plus memory_bytes (numbers as numbers)."""
    out = {k: plain(v) for k, v in row.items()}
    out["memory_bytes"] = float(row["memory_bytes"])
    return out


def _list_row(r: dict) -> dict:
    bf16 = _num(r.get("bf16_tflops")) or _num(r.get("fp16_tflops"))
    note = "" if _num(r.get("bf16_tflops")) else (" (fp16)" if bf16 else "")
    price = _num(r.get("price_usd_per_hour"))
    mfu = _num(r.get("default_mfu"))
    bw = _num(r.get("memory_bandwidth_gbs"))
    return {"name": r["name"], "category": r.get("category") or "",
            "memory": str(r.get("memory", "")),
            "bandwidth": format_bytes(bw * 1e9) + "/s" if bw else "",
            "bf16 TFLOPS": (f"{bf16:g}{note}" if bf16 else ""),
            "price $/h": f"{price:.2f}" if price is not None else "",
            "MFU": f"{mfu:.2f}" if mfu is not None else ""}


def _show(rec: dict, dev) -> str:
    lines = [f"{rec['name']}  ({rec.get('vendor', '')}, {rec.get('category', '')})"]
    mem_binary = str(rec.get("memory", "")).lower().endswith("ib")
    lines.append(f"  memory               {rec.get('memory')} = {dev.memory_bytes:,.0f} bytes "
                 f"({format_bytes(dev.memory_bytes, binary=mem_binary)}, "
                 f"{format_bytes(dev.memory_bytes)})")
    skip = {"name", "memory", "memory_bytes", "file"}
    for k, v in rec.items():
        if k in skip or v is None or v == "":
            continue
        lines.append(f"  {k:<20} {v}")
    lines.append(f"  {'file':<20} {rec.get('file', '')}")
    lines.append("  (peaks are dense TFLOPS; GB = 1e9 bytes, GiB = 2^30 bytes)")
    return "\n".join(lines)


@click.command()
@click.argument("name", required=False)
@click.option("--category", help="Only this category (datacenter, tpu, consumer-gpu, apple, ...).")
@click.option("--vendor", help="Only this vendor (NVIDIA, AMD, Intel, Google, Apple, ...).")
@click.option("--hardware-file", "hardware_files", multiple=True, metavar="FILE",
              help="Extra profile CSV (same columns; repeatable). A folder of CSVs can also be "
                   "named in PLANNER_HARDWARE_PATH.")
@output_options
def hardware(name: str | None, category: str | None, vendor: str | None,
             hardware_files: tuple[str, ...], fmt: str, as_json: bool) -> None:
    """List the hardware profiles, or show NAME with all its fields and sources.

    Peaks are dense TFLOPS (vendor sparse figures halved); memory keeps its unit (GiB vs GB).
    Unknown names get the closest matches.
    """
    extra = tuple(hardware_files)
    df = table(extra)
    if name is not None:
        dev = get_device(name, extra)  # resolves aliases; suggests near misses
        rec = _record(df[df["name"] == dev.name].iloc[0].to_dict())
        emit(rec, fmt, as_json, lambda: _show(rec, dev))
        return
    for col, value, label in (("category", category, "category"), ("vendor", vendor, "vendor")):
        if value is not None:
            valid = sorted({str(v) for v in df[col].dropna()}) if col in df else []
            mask = df[col].astype(str).str.lower() == value.lower() if col in df else None
            if mask is None or not mask.any():
                raise unknown(label, value, valid)
            df = df[mask]
    records = [_record(r) for r in df.to_dict("records")]

    def human() -> str:
        rows = [_list_row(r) for r in records]
        return (text_table(rows, list(LIST_COLUMNS)) + f"\n\n{len(rows)} devices; peaks are dense "
                "bf16 TFLOPS (fp16 where no bf16); MFU = default model-FLOPs utilisation; "
                "details and sources: planner hardware NAME")

    emit(records, fmt, as_json, human)
