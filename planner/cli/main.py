"""The `planner` command line: a click group whose subcommands live in `planner.cli`.

Subcommands are imported only when run, so ``planner --help`` starts fast.  Every user error
becomes one line on stderr, ``Error: ...``, and exit status 2 (never a traceback).
"""
from __future__ import annotations

import importlib
import sys

import click

from planner.errors import PlannerError

# name -> (module in planner.cli, one-line help shown by `planner --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("models", "List the built-in model zoo."),
    "params": ("params", "Parameter count, breakdown and neurons of a model."),
    "hardware": ("hardware", "List hardware profiles, or show one."),
    "train": ("train", "Training FLOPs, time, cost, energy and memory; solves for GPUs."),
    "parallel": ("parallel", "Best parallel layouts: step time, MFU/HFU, memory, breakdown."),
    "optimal": ("optimal", "Compute-optimal model size and tokens for a FLOPs budget."),
    "infer": ("infer", "Can it run locally? Inference memory, fit verdict and tokens/s."),
    "fits": ("fits", "What can I run? Every model that fits a device, best quantisation, speed."),
    "finetune": ("finetune", "Memory and fit of full, LoRA or QLoRA fine-tuning on a device."),
    "serve": ("serve", "Serving capacity: GPUs, replicas and dollars for a request rate and latency targets."),
    "run": ("run", "Run a what-if scenario or sweep from a TOML file."),
    "compare": ("compare", "Put scenarios side by side with their differences."),
    "report": ("report", "Write a self-contained HTML report of a scenario."),
    "validate": ("validate", "Check the planner against published figures: error per row and area."),
    "ui": ("ui", "The planner in a browser: a local web page for the questions above."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n, (mod, _) in COMMANDS.items() if _available(mod)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(COMMANDS[name][0]):
            return None
        module = importlib.import_module(f"planner.cli.{COMMANDS[name][0]}")
        return getattr(module, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][1]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from planner.errors import unknown
            raise unknown("command", name, self.list_commands(ctx), "see `planner --help`")
        return super().resolve_command(ctx, args)


def _available(module: str) -> bool:
    from importlib.util import find_spec
    return find_spec(f"planner.cli.{module}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                               "max_content_width": 100})
@click.version_option(package_name="planner", message="planner %(version)s")
def cli() -> None:
    """Size, cost and feasibility of large language models.

    \b
    How big is it?        planner params gpt3-175b
    What does it cost?    planner train gpt3-175b --tokens 300B --hardware a100-80gb --gpus 1024
    How many GPUs?        planner train llama-2-70b --tokens 2T --hardware h100-sxm --deadline 30d
    Can I run it?         planner infer llama-2-13b --device m2-max-32gb --quant all
    What does it need?    planner infer llama-3-8b
    What can I run?       planner fits --device rtx-3060-12gb
    What if?              planner run scenarios/gpt3.toml

    MODEL is a zoo name (see `planner models`), a Hugging Face config.json (or a folder
    holding one) or a model TOML file.  Add --json to any command for base-unit output.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group, turning every user error into one ``Error:`` line."""
    try:
        code = cli.main(args=argv, prog_name="planner", standalone_mode=False)
    except PlannerError as exc:
        _fail(str(exc))
    except click.exceptions.NoSuchOption as exc:
        hint = f" (did you mean {', '.join(exc.possibilities)}?)" if exc.possibilities else ""
        _fail(f"no such option {exc.option_name}{hint}; see `planner {_sub(argv)} --help`")
    except click.ClickException as exc:
        _fail(exc.format_message().replace("\n", " "))
    except click.exceptions.Abort:
        _fail("aborted")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        _fail("interrupted")
    except OSError as exc:  # the system refused (disk full, permissions): say so in one line
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        _fail(f"{exc.strerror or exc}{where}")
    sys.exit(code if isinstance(code, int) else 0)


def _sub(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), "")


def _fail(message: str) -> None:
    # one line, whatever the message quotes (a value with a newline, a huge name)
    line = " ".join(str(message).split("\n")).encode("utf-8", "backslashreplace").decode()
    if len(line) > 2000:
        line = line[:2000] + f"... ({len(line):,} characters)"
    click.echo(f"Error: {line}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
