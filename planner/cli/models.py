"""`planner models`: the built-in zoo."""
from __future__ import annotations

import click

from planner.model import zoo
from planner.model.spec import active_params, total_params
from planner.render.output import emit, output_options, text_table
from planner.units import format_count


@click.command()
@output_options
def models(fmt: str, as_json: bool) -> None:
    """List the built-in model zoo with parameter counts derived from each architecture.

    Names are case-insensitive and tolerant of '-', '_' and '.'; aliases are listed too.
    """
    records = []
    for spec in zoo.models().values():
        n, a = total_params(spec), active_params(spec)
        records.append({"name": spec.name, "params": n, "active_params": a,
                        "family": spec.family, "arch": spec.arch, "context": spec.context,
                        "aliases": list(spec.aliases), "source": spec.source,
                        "published_params": spec.meta.get("published_params"),
                        "status": "reported, unconfirmed" if spec.reported else "published"})

    def human() -> str:
        rows = [{"name": r["name"] + (" *" if r["status"] != "published" else ""),
                 "family": r["family"],
                 "params": format_count(r["params"]),
                 "active": format_count(r["active_params"]) if r["active_params"] != r["params"]
                 else "",
                 "context": f"{r['context']:,}", "aliases": ", ".join(r["aliases"])}
                for r in records]
        starred = [r["name"] for r in records if r["status"] != "published"]
        note = (f"\n* reported, unconfirmed architecture ({', '.join(starred)}): never "
                "published by its maker; see planner params NAME" if starred else "")
        return (text_table(rows) + f"\n\n{len(rows)} models; details: planner params NAME"
                + note)

    emit(records, fmt, as_json, human)
