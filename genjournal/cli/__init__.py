"""The ``genjournal`` command line: a thin shell over the journal, projector and generator.

Each command module holds one group of commands (``run``; ``rebuild``/``export``; the
audit commands; ``serve``; ``prompts``); each command parses its options, calls one function of the
packages below, and prints. This module composes them: a new command is one module
and one line in ``COMMANDS``.
"""

from __future__ import annotations

from pathlib import Path

import click

from genjournal import __version__
from genjournal.cli import audit, batches, projection, prompts, regenerate, run, serve
from genjournal.cli.common import GenjournalGroup

COMMANDS: tuple[click.Command, ...] = (
    run.run,
    audit.status,
    audit.history,
    audit.costs,
    projection.rebuild,
    projection.export,
    audit.verify,
    serve.serve,
    prompts.prompts,
    regenerate.regenerate,
    batches.batches,
)


@click.group(cls=GenjournalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", "data_dir", type=click.Path(path_type=Path), default=None, hidden=True)
@click.option("--db", "db", default=None, hidden=True)
@click.version_option(__version__, prog_name="genjournal")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, db: str | None) -> None:
    """A crash-safe, event-sourced journal for long, expensive AI generation batches."""
    ctx.obj = {"data_dir": data_dir, "db": db}


for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Runs the ``genjournal`` console script."""
    cli.main(prog_name="genjournal")


__all__ = ["cli", "main"]
