"""Plan keys: the one typed boundary every number a user gives passes through.

A `Key` is one input of a plan: its name (the scenario key and the Python field), how its text
is parsed into base units, the unit, the default, the valid range, whether it counts things
(whole numbers) and its help text.  A `KeyTable` lists the keys of one plan kind; from it come
the click options of the command, the keys a scenario section accepts, the validation, the
`--help` text, the web page's form fields and the README's key reference - so a new key is added
in one place.  `make_plan_type` builds the plan type (`TrainPlan`, `InferPlan`, ...) from a table.

Parsing never evaluates anything: quantities go through `planner.units` (``300B``, ``16GiB``,
``30d``, ``$2.50/h``), plain numbers through `float` with a finiteness check, and every value is
then checked against the key's range (finite, sign, integer where it counts things).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from planner.errors import PlannerError, closest
from planner import units

MAX_TEXT = 200   # characters of a name or other text value


# --- parsers: (raw value, what) -> base-unit value --------------------------------------------

def _text(raw: Any, what: str) -> str:
    if not isinstance(raw, str):   # a name: a TOML number or table here is a wrong type
        raise PlannerError(f"{what} must be text (a name), got {raw!r}")
    text = str(raw).strip()
    if not text:
        raise PlannerError(f"{what} is empty")
    if len(text) > MAX_TEXT:
        raise PlannerError(f"{what} is {len(text)} characters long (at most {MAX_TEXT})")
    return text


def _flag(raw: Any, what: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise PlannerError(f"{what} must be true or false, got {raw!r}")


PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "number": units.parse_number,
    "count": units.parse_count,
    "flops": lambda raw, what: units.parse_count(raw, what),
    "bytes": units.parse_bytes,
    "bandwidth": units.parse_bandwidth,
    "duration": units.parse_duration,
    "usd": units.parse_usd,
    "price": units.parse_price,
    "text": _text,
    "flag": _flag,
}


@dataclass(frozen=True)
class Key:
    """One plan input.  `kind` names its parser (PARSERS, or 'choice'); numbers are checked
    against [lower, upper] (open at `lower` if `lower_open`), finite, whole if `integer`."""

    name: str
    kind: str
    help: str
    unit: str = ""                     # base unit of the parsed value, for docs and forms
    default: Any = None                # None: not given (a null figure, or a rule decides)
    default_text: str = ""             # how the default reads in --help when it is a rule
    lower: float = -math.inf
    upper: float = math.inf
    lower_open: bool = False
    integer: bool = False
    choices: tuple = ()
    example: str = ""
    option: str | None = None          # CLI flag; default --name-with-dashes
    short: str | None = None           # e.g. -H
    secondary: str | None = None       # a --no-x flag for a boolean that defaults to true
    metavar: str | None = None
    cli: bool = True                   # an option of the command
    scenario: bool = True              # a key of the scenario section
    categorical: bool = False          # the evaluator resolves it once per distinct value
    multiple: bool = False             # repeatable option (a tuple of values)
    sweepable: bool = True             # may be a list / range in a scenario
    parser: Callable[[Any, str], Any] | None = None   # instead of PARSERS[kind]
    auto: bool = False                 # "auto" means not given (the dimension is searched)

    @property
    def flag(self) -> str:
        return self.option or "--" + self.name.replace("_", "-")

    @property
    def numeric(self) -> bool:
        return self.kind not in ("text", "flag", "choice")

    def parse(self, raw: Any, what: str | None = None) -> Any:
        """`raw` (text from the command line or a TOML value) -> the checked base-unit value."""
        what = what or self.name
        if self.auto and isinstance(raw, str) and raw.strip().lower() == "auto":
            return None
        if self.kind == "choice":
            text = _text(raw, what).lower()
            valid = {str(c).lower(): c for c in self.choices}
            if text not in valid:
                near = closest(text, list(valid))
                hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
                raise PlannerError(f"{what} {raw!r} is not one of {', '.join(map(str, self.choices))}"
                                   f" ({hint}valid: {', '.join(map(str, self.choices))})")
            return valid[text]
        try:
            value = (self.parser or PARSERS[self.kind])(raw, what)
        except PlannerError:
            if self.kind != "number" or self.parser:
                raise
            word = str(raw).strip().lower().lstrip("+-")
            how = "a finite number" if word in ("nan", "inf", "infinity") else "a number"
            raise PlannerError(f"{what} {raw!r} is not {how} ({self.valid_text()})") from None
        if self.numeric:
            self.check(value, what, raw)
            if self.integer:
                value = int(value)
        return value

    def check(self, value: float, what: str, raw: Any = None) -> None:
        """The range check alone (also used for Monte-Carlo draws and sweep ranges)."""
        shown = raw if raw is not None else value
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PlannerError(f"{what} {shown!r} is not a finite number ({self.valid_text()})")
        low_bad = value <= self.lower if self.lower_open else value < self.lower
        if low_bad or value > self.upper:
            raise PlannerError(f"{what} {shown!r} is out of range ({self.valid_text()})")
        if self.integer and value != int(value):
            raise PlannerError(f"{what} {shown!r} must be a whole number ({self.valid_text()})")

    def valid_text(self) -> str:
        """``valid: (0, 1] fraction; e.g. 0.4`` and the like, for errors."""
        if not (self.numeric or self.kind == "choice"):
            return "valid: " + (self.example or "text")
        worded = self.kind in _WORDED and self._capped   # the cap carries its unit
        unit = f" {self.unit}" if self.unit and self.kind != "choice" and not worded else ""
        example = f"; e.g. {self.example}" if self.example else ""
        return f"valid: {self.range_text()}{unit}{example}"

    @property
    def _capped(self) -> bool:
        return math.isfinite(self.lower) and math.isfinite(self.upper) and \
            self.upper >= SANITY_CAP * max(abs(self.lower), 1)

    def range_text(self) -> str:
        """``> 0``, ``(0, 1]``, ``whole, 1 to 4,096``, or the choices."""
        if self.kind == "choice":
            return ", ".join(map(str, self.choices))
        if not self.numeric:
            return ""
        lo, hi = math.isfinite(self.lower), math.isfinite(self.upper)
        if self._capped:
            # a bound against overflow, not a range people plan within: say it second
            return (("whole, " if self.integer else "") +
                    f"{'>' if self.lower_open else '>='} {_num(self.lower)}, at most "
                    f"{_bound(self.kind, self.upper)}")
        if lo and hi and self.lower_open:
            text = f"({_num(self.lower)}, {_num(self.upper)}]"
        elif lo and hi:
            text = f"{_num(self.lower)} to {_num(self.upper)}"
        elif lo:
            text = f"{'>' if self.lower_open else '>='} {_num(self.lower)}"
        else:
            text = "any"
        return ("whole, " if self.integer else "") + text

    def help_text(self) -> str:
        default = self.default_text or ("" if self.default is None or self.kind == "flag"
                                        else _show_default(self.default))
        text = self.help
        if default:
            text += f" [default: {default}]"
        return text


SANITY_CAP = 1e6   # an upper bound this many times the lower one is a cap against overflow


_WORDED = ("duration", "bytes", "bandwidth", "usd")


def _bound(kind: str, x: float) -> str:
    """A cap in the words of its kind: ``100 years``, ``10 PB``, ``$1,000 T``."""
    from planner import units
    if kind == "duration":
        return units.format_duration(x)
    if kind in ("bytes", "bandwidth"):
        return units.format_bytes(x) + ("/s" if kind == "bandwidth" else "")
    if kind == "usd":
        return units.format_usd(x)
    return _num(x)


def _num(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) and abs(x) < 1e15 else f"{x:g}".replace("e+", "e")


def _show_default(v: Any) -> str:
    return _num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


@dataclass(frozen=True)
class Conflict:
    """Keys that cannot be given together, and why."""
    keys: tuple[str, ...]
    why: str


@dataclass
class KeyTable:
    """The keys of one plan kind, in display order, and the pairs that exclude each other."""

    kind: str
    keys: list[Key]
    conflicts: list[Conflict] = field(default_factory=list)
    argument: str | None = None        # the positional CLI argument's key (MODEL)

    def __post_init__(self) -> None:
        self.by_name = {k.name: k for k in self.keys}

    def __getitem__(self, name: str) -> Key:
        return self.by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    @property
    def scenario_keys(self) -> list[str]:
        return [k.name for k in self.keys if k.scenario]

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys if k.categorical)

    # -- the command line ------------------------------------------------------------------
    def options(self, func: Callable) -> Callable:
        """Decorate a click command with one option per CLI key (all parsed by us: click only
        collects the text, so every value meets the same parser as in a scenario)."""
        import click
        for key in reversed([k for k in self.keys if k.cli and k.name != self.argument]):
            decls = [key.flag] + ([key.short] if key.short else [])
            if key.kind == "flag":
                if key.secondary:
                    decls = [f"{key.flag}/{key.secondary}"]
                opt = click.option(*decls, key.name, default=None, help=key.help_text(),
                                   is_flag=not key.secondary or None)
            else:
                opt = click.option(*decls, key.name, default=None, multiple=key.multiple,
                                   metavar=key.metavar or _metavar(key),
                                   help=key.help_text())
            func = opt(func)
        if self.argument:
            func = click.argument(self.argument, required=False)(func)
        return func

    def from_cli(self, values: dict[str, Any]) -> dict[str, Any]:
        """Parsed values of the options that were given (None / empty: not given)."""
        out: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in self.by_name or raw is None or raw == ():
                continue
            key = self.by_name[name]
            if key.multiple:
                out[name] = tuple(key.parse(r, key.flag) for r in raw)
            elif key.auto and isinstance(raw, str) and raw.strip().lower() == "auto":
                continue
            elif key.kind == "flag":
                out[name] = bool(raw)
            else:
                what = key.name.upper() if name == self.argument else key.flag
                out[name] = key.parse(raw, what)
        self.check_conflicts(out, cli=True)
        return out

    def check_conflicts(self, given: Iterable[str], cli: bool = False) -> None:
        present = set(given)
        for c in self.conflicts:
            both = [k for k in c.keys if k in present]
            if len(both) > 1:
                names = [self.by_name[k].flag if cli and k != self.argument else k for k in both]
                if cli and self.argument in both:
                    names[both.index(self.argument)] = self.argument.upper()
                raise PlannerError(f"give {' or '.join(names)}, not both ({c.why})")

    # -- scenario files ----------------------------------------------------------------------
    def unknown_key(self, key: str, where: str) -> PlannerError:
        valid = self.scenario_keys
        near = closest(key, valid)
        hint = f"did you mean {', '.join(repr(n) for n in near)}?" if near else \
            "valid: " + ", ".join(valid)
        return PlannerError(f"{where}: unknown key {key!r} in [{self.kind}] ({hint})")

    # -- documentation -----------------------------------------------------------------------
    def reference(self) -> list[dict]:
        """One row per key: name, option, unit, default, valid range, help (for the README
        and the web page's forms)."""
        rows = []
        for k in self.keys:
            rows.append({
                "key": k.name, "option": (k.flag if k.cli and k.name != self.argument
                                          else (k.name.upper() if k.cli else "")),
                "scenario": k.scenario, "unit": k.unit,
                "default": k.default_text or ("" if k.default is None else _show_default(
                    k.default)),
                "valid": k.range_text(), "example": k.example,
                "help": k.help})
        return rows

    def markdown(self) -> str:
        head = "| key | option | unit | default | valid | meaning |\n|---|---|---|---|---|---|"
        lines = [head]
        for r in self.reference():
            example = f" E.g. {r['example']}." if r["example"] else ""
            cells = [f"`{r['key']}`" + ("" if r["scenario"] else " (CLI only)"),
                     f"`{r['option']}`" if r["option"] else "", r["unit"], r["default"],
                     r["valid"], r["help"] + example]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)


def _metavar(key: Key) -> str:
    return {"count": "N", "number": "X", "flops": "FLOP", "bytes": "SIZE", "bandwidth": "BW",
            "duration": "TIME", "usd": "USD", "price": "$/h", "choice": "|".join(
                map(str, key.choices)) if len(key.choices) <= 4 else "NAME",
            "text": "NAME"}.get(key.kind, "X")


def make_plan_type(name: str, table: KeyTable, doc: str, module: str = "planner.plan") -> type:
    """A frozen dataclass with one field per key (None = not given), and helpers to build it
    from command-line values or a mapping and to turn it into evaluator columns."""
    fields = [(k.name, Any, dataclasses.field(default=None)) for k in table.keys]

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def from_cli(cls, values: dict[str, Any]):
        return cls(**table.from_cli(values))

    def from_mapping(cls, values: dict[str, Any], where: str = ""):
        parsed = {}
        for key, raw in values.items():
            if key not in table or not table[key].scenario:
                raise table.unknown_key(key, where or name)
            label = f"{where + ': ' if where else ''}{key}"
            if table[key].multiple:            # a repeatable key: one value or a list of them
                items = [raw] if isinstance(raw, str) or not hasattr(raw, "__iter__") else raw
                parsed[key] = tuple(table[key].parse(v, label) for v in items)
            else:
                parsed[key] = table[key].parse(raw, label)
        table.check_conflicts(parsed)
        return cls(**parsed)

    cls = dataclasses.make_dataclass(name, fields, frozen=True, namespace={
        "__doc__": doc, "table": table, "given": given,
        "from_cli": classmethod(from_cli), "from_mapping": classmethod(from_mapping)})
    cls.__module__ = module
    return cls
