"""``genjournal prompts``: the prompt templates in force and their versions."""

from __future__ import annotations

from pathlib import Path

import click

from genjournal.cli.common import EXIT_OK, emit_json, prompts_option


@click.command()
@prompts_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def prompts(prompts_file: Path | None, as_json: bool) -> int:
    """Show the prompt templates a run would use, and the prompt_version of each kind of call."""
    from generator.prompts import TEMPLATE_KEYS, load_prompts

    loaded = load_prompts(prompts_file)
    versions = loaded.versions()
    if as_json:
        emit_json(
            {
                "source": loaded.source,
                "versions": versions,
                "templates": {key: getattr(loaded, key) for key in TEMPLATE_KEYS},
                "image_views": list(loaded.image_views),
            }
        )
        return EXIT_OK
    lines = [f"prompts: {loaded.source}"]
    lines.append("versions: " + ", ".join(f"{kind} {version}" for kind, version in versions.items()))
    for key in TEMPLATE_KEYS:
        lines += ["", f"[{key}]", getattr(loaded, key)]
    lines += ["", "[image_views]", *(f"{i}: {view}" for i, view in enumerate(loaded.image_views))]
    click.echo("\n".join(lines))
    return EXIT_OK
