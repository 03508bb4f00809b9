"""What every command shares: one-line errors, exit codes, ``--data-dir``/``--db``, JSON output.

Data goes to stdout (``--json`` prints exactly one JSON document); progress, logs and
human text go to stderr. A user mistake is one line on stderr and exit 2, never a
traceback (docs/design.md, "Command line").
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import click

from generator.outcome import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from journal.config import Location
from journal.errors import JournalError
from journal.redaction import one_line
from journal.store import EventStore

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "FiniteFloat",
    "GenjournalGroup",
    "UserError",
    "common_options",
    "emit_json",
    "fail",
    "location",
    "opened",
    "prompts_option",
]


class UserError(click.ClickException):
    """A mistake the user can fix: one line on stderr, exit 2."""

    exit_code = EXIT_USAGE


def fail(message: str) -> NoReturn:
    """Stops the command with a one-line error and exit code 2."""
    raise UserError(message)


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Prints a library's warning as one redacted line (pymongo's span two, with source)."""
    click.echo(f"genjournal: warning: {one_line(str(message))}", err=True)


class GenjournalGroup(click.Group):
    """A click group whose every error is one line on stderr, never a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        warnings.showwarning = show_warning
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "genjournal"
            click.echo(f"{where}: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"genjournal: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("genjournal: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except JournalError as exc:
            click.echo(f"genjournal: error: {one_line(exc)}", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            sys.exit(EXIT_OK)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


class FiniteFloat(click.FloatRange):
    """A number in a range that refuses NaN and infinity (``float("nan")`` passes every bound)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def common_options(func: F) -> F:
    """Adds ``--data-dir`` and ``--db`` to a command (they are accepted on the group too)."""
    func = click.option(
        "--db",
        "db",
        metavar="URL",
        default=None,
        help="Journal URL: sqlite:///PATH or mongodb://… (env GENJOURNAL_DB; default: in the data dir).",
    )(func)
    func = click.option(
        "--data-dir",
        "data_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Where the journal and images live (env GENJOURNAL_DATA_DIR; default ./genjournal-data).",
    )(func)
    return func


def location(data_dir: Path | None, db: str | None) -> Location:
    """Resolves the journal's location from the command's options, the group's, or the environment."""
    parent = click.get_current_context().find_root().obj or {}
    return Location.resolve(
        data_dir if data_dir is not None else parent.get("data_dir"),
        db if db is not None else parent.get("db"),
    )


@contextmanager
def opened(where: Location, *, create: bool = False) -> Iterator[EventStore]:
    """Opens the journal (refusing a missing one unless ``create``) and closes it after."""
    store = where.open(create=create)
    try:
        yield store
    finally:
        store.close()


#: ``--prompts FILE`` (env ``GENJOURNAL_PROMPTS``): the user's templates over the shipped ones
prompts_option = click.option(
    "--prompts",
    "prompts_file",
    type=click.Path(path_type=Path),
    envvar="GENJOURNAL_PROMPTS",
    default=None,
    help="Prompt templates TOML laid over the shipped ones (see `genjournal prompts`).",
)


def emit_json(document: Any) -> None:
    """Prints exactly one JSON document on stdout."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
