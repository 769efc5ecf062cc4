"""A form's request -> its answer, the way the command line answers it.

`ask(form, query)` parses the page's values (text, as typed) with the keys' own parsers, exactly
as `KeyTable.from_cli` does for the command's options, and collects every field's error at once
(so the page can show each beside its field).  `answer(asked)` evaluates the plan with the
form's function - the one the command uses - and adds what the page shows around the record:
the command's table output, headline figures, the equivalent command line, the download and
chart links.  MODEL is a zoo name or a pasted config.json, never a path on the server
(`offline_models`).
"""
from __future__ import annotations

import json
import re
import shlex
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from planner.errors import PlannerError
from planner.model.spec import ModelSpec
from planner.render.output import plain, rows_of, to_csv
from planner.ui.forms import DEVICE_KEYS, Form
from planner.ui.lru import LRU

CONFIG = "config"                   # the query parameter holding a pasted config.json
TRUE, FALSE = ("true", "on", "1", "yes"), ("false", "off", "0", "no")
MAX_VALUES = 64                     # values of one repeatable (comma-separated) field


class FormError(PlannerError):
    """Errors of a form's fields: field name -> message (the CLI's words); '' for the form."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(fields.values()))
        self.fields = fields


@dataclass
class Asked:
    """A parsed request: the values as typed (for the URL, the command line and the TOML), the
    plan, and the models it may name (a pasted config)."""
    form: Form
    raw: dict[str, str]
    plan: Any
    config: str = ""
    specs: dict[str, ModelSpec] = field(default_factory=dict)

    def query(self) -> str:
        """The query string that reproduces this answer."""
        pairs = list(self.raw.items()) + ([(CONFIG, self.config)] if self.config else [])
        return urlencode(pairs)


def _flag(key, text: str) -> bool:
    t = text.strip().lower()
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise PlannerError(f"{key.flag} must be true or false, got {text!r}")


def split_values(key, text: str) -> tuple[str, ...]:
    """A repeatable option's field (``h100-sxm, h200``) -> its values, one per repetition of
    the option on the command line (``-H h100-sxm -H h200``); empty items are dropped."""
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not parts:
        raise PlannerError(f"{key.flag} is empty (give one value, or several comma-separated)")
    if len(parts) > MAX_VALUES:
        raise PlannerError(f"{key.flag} has {len(parts)} values (at most {MAX_VALUES})")
    return parts


def ask(form: Form, query: dict[str, str]) -> Asked:
    """Parse `query` (field -> text; empty = not given).  Raises `FormError` naming every bad
    field, or an unknown parameter."""
    table = form.table
    fields = {k.name: k for k in form.fields()}
    unknown = [n for n in query if n not in fields and n != CONFIG]
    if unknown:
        from planner.errors import closest
        near = closest(unknown[0], list(fields))
        hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
        raise FormError({"": f"unknown field {unknown[0]!r} for {form.cli_name}{hint}"})
    raw = {n: query[n].strip() for n in fields if query.get(n, "").strip()}
    config = query.get(CONFIG, "").strip()
    if config and not table.argument:
        raise FormError({"": f"{form.cli_name} takes no MODEL, so no config.json"})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    specs: dict[str, ModelSpec] = {}
    for name, text in raw.items():
        key = fields[name]
        try:
            if key.kind == "flag":
                on = _flag(key, text)
                if on or key.secondary:
                    values[name] = on
                continue
            if name == table.argument and config:
                raise PlannerError("give a zoo name or a pasted config.json, not both")
            parts = split_values(key, text) if key.multiple else (text,)
            if name == table.argument:
                from planner.model import zoo
                zoo.get(text)      # a zoo name; never a path on the server
            elif name in DEVICE_KEYS:
                from planner.hardware import get_device
                for part in parts:  # unknown names suggest the closest, beside the field
                    get_device(part)
            values.update(table.from_cli({name: parts if key.multiple else text}))
        except PlannerError as exc:
            errors[name] = str(exc)
    if config and table.argument and table.argument not in errors:
        try:
            from planner.ui.catalog import pasted_model
            spec = pasted_model(config)
            specs[spec.name] = spec
            values[table.argument] = spec.name
        except PlannerError as exc:
            errors[table.argument] = str(exc)
    for c in table.conflicts:
        both = [k for k in c.keys if k in values]
        if len(both) > 1:
            try:
                table.check_conflicts(both, cli=True)
            except PlannerError as exc:
                errors.update({k: str(exc) for k in both if k not in errors})
    if errors:
        raise FormError(errors)
    return Asked(form, raw, form.plan_type(**values), config, specs)


def fields_of(form: Form, message: str, given=()) -> list[str]:
    """The fields an evaluator's error is about: the first option or MODEL it names; for a
    missing input (``give MODEL, --hardware NAME and --gpus N``) those it names that were
    not `given`."""
    names = {k.flag: k.name for k in form.fields()}
    if form.table.argument:
        names[form.table.argument.upper()] = form.table.argument
    named = [names[t] for t in re.findall(r"--[a-z][a-z0-9-]*|\b[A-Z]{4,}\b", message)
             if t in names]
    missing = [n for n in dict.fromkeys(named) if n not in given]
    if message.startswith("give ") and missing:
        return missing
    return named[:1]


RECORDS = LRU(256)      # answers by (form, query): its downloads and charts ask again
_BATCHERS: dict[str, Any] = {}
_BATCHERS_LOCK = threading.Lock()


def _batcher(form: Form):
    from planner.ui.batch import Batcher
    with _BATCHERS_LOCK:
        b = _BATCHERS.get(form.name)
        if b is None or b.many is not form.batch.rows:
            b = _BATCHERS[form.name] = Batcher(form.batch.rows)
        return b


def evaluate(asked: Asked):
    """The record `planner <command> --json` prints for this plan (plain JSON values).  Plans
    of zoo models go through the form's batcher (if it has one): evaluated with whatever
    other requests are waiting, in one vectorised call; a pasted config is evaluated alone
    (its name is only known to this request)."""
    from planner.model.resolve import offline_models
    form = asked.form
    key = (form.name, asked.query())
    record = RECORDS.get(key)
    if record is not None:
        return record
    with offline_models(asked.specs):
        try:
            if form.batch is not None and not asked.specs and form.batch.accepts(asked.plan):
                row = _batcher(form)(asked.plan)
                record = plain(form.batch.record(row, asked.plan))
            else:
                record = plain(form.answer(asked.plan))
        except PlannerError as exc:
            where = fields_of(asked.form, str(exc), asked.plan.given())
            raise FormError({"": str(exc), **{w: str(exc) for w in where}}) from None
    RECORDS.put(key, record)
    return record


def answer(asked: Asked, record=None) -> dict:
    """Everything the page shows for one answer."""
    from planner.model.resolve import offline_models
    from planner.render.plots import INSTALL_HINT, available
    form = asked.form
    record = evaluate(asked) if record is None else record
    with offline_models(asked.specs):
        text = form.text(record, asked.plan) if form.text else ""
    q = asked.query()
    out = {"ok": True, "form": form.name, "query": q, "record": record, "text": text,
           "headline": form.headline(record) if form.headline else [],
           "bars": form.bars(record) if form.bars else None,
           "warning": record.get("warning") if isinstance(record, dict) else None,
           "cli": cli_command(asked), "cli_note": ("the pasted config saved as config.json in "
                                                   "the current folder" if asked.config else ""),
           "downloads": {fmt: f"/api/form/{form.name}/download.{fmt}?{q}"
                         for fmt in ("json", "csv", "toml") if fmt != "toml" or form.has_toml}}
    charts = {n: c for n, c in form.charts.items() if c.when(record)}
    if charts and available():
        out["charts"] = [{"name": n, "title": c.title,
                          "url": f"/api/form/{form.name}/chart/{n}.png?{q}"}
                         for n, c in charts.items()]
    elif charts:
        out["charts_note"] = INSTALL_HINT
    return out


# --- the same answer as a command line, a file ----------------------------------------------

def cli_command(asked: Asked) -> str:
    """``planner COMMAND MODEL --key value ...``: the command that prints this answer, with
    each option spelled as the command's click option is (flags with no value)."""
    from planner.cli.main import cli
    form = asked.form
    command = cli.get_command(None, form.cli_name)  # type: ignore[arg-type]
    params = {p.name: p for p in command.params} if command is not None else {}
    words = ["planner", form.cli_name]
    arg = form.table.argument
    if asked.config and arg:
        words.append("config.json")
    elif arg and arg in asked.raw:
        words.append(asked.raw[arg])
    for name, text in asked.raw.items():
        if name == arg:
            continue
        key = form.table[name]
        p = params.get(name)
        if key.kind == "flag" and p is not None and getattr(p, "is_flag", False):
            on = _flag(key, text)
            if on:
                words.append(p.opts[0])
            elif p.secondary_opts:
                words.append(p.secondary_opts[0])
            continue
        opt = p.opts[0] if p is not None and p.opts else key.flag
        for value in split_values(key, text) if key.multiple else (text,):
            words += [opt, value]
    return " ".join(shlex.quote(w) for w in words)


def json_text(record) -> str:
    """As `planner ... --json` prints it."""
    return json.dumps(plain(record), indent=2) + "\n"


def csv_text(record) -> str:
    """As `planner ... --format csv` prints it."""
    return to_csv(rows_of(record))


def toml_text(asked: Asked) -> str:
    """A scenario file that reproduces the answer with `planner run` (for a form with a
    scenario section), else the model as a model TOML file (`planner params model.toml`)."""
    from planner.ui import catalog
    from planner.whatif.scenario import SECTIONS
    form = asked.form
    if form.toml:
        return form.toml(asked)
    if not form.has_toml:
        raise PlannerError(f"{form.cli_name} has no TOML form (download JSON or CSV)")
    arg = form.table.argument
    spec = next(iter(asked.specs.values()), None)
    head = f"# {form.title} - written by `planner ui`\n"
    if form.name not in SECTIONS:
        from planner.model.resolve import offline_models, resolve_model
        if spec is None:
            with offline_models():
                spec = resolve_model(asked.plan.model)
        return (head + "# planner params model.toml\n"
                + catalog.toml_table("model", {"name": spec.name, **catalog.model_fields(spec)}))
    parts = [head + "# planner run scenario.toml\n"]
    if spec is not None:
        parts.append(catalog.toml_table("model", catalog.model_fields(spec)))
    elif arg and arg in asked.raw:
        parts.append(catalog.toml_table("model", {"name": asked.raw[arg]}))
    section = {}
    for name, text in asked.raw.items():
        key = form.table[name]
        if name == arg or not key.scenario:
            continue
        if key.multiple:       # in a scenario a list is a sweep: one row per value
            values = split_values(key, text)
            section[name] = list(values) if len(values) > 1 else values[0]
            if len(values) > 1:
                parts.append(f"# {name} = [...] sweeps: one row per value (`planner "
                             f"{form.cli_name}` with {key.flag} repeated answers for the "
                             "best of them)\n")
            continue
        section[name] = _flag(key, text) if key.kind == "flag" else text
    parts.append(catalog.toml_table(form.name, section))
    return "\n".join(parts)
