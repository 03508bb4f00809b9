"""The README's Python API example runs verbatim, so the README can never drift from the code."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from genjournal.cli import cli

ROOT = Path(__file__).resolve().parents[3]


def readme_example() -> str:
    """Returns the fenced python block that follows the README's `## Python API` heading."""
    section = (ROOT / "README.md").read_text().split("\n## Python API\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Python API section holds exactly one python example"
    return str(blocks[0])


def test_the_readme_python_api_example_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run verbatim against an offline run in ./genjournal-data, it prints status and verify OK."""
    monkeypatch.chdir(tmp_path)
    for name in ("GENJOURNAL_DATA_DIR", "GENJOURNAL_DB", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(
        cli, ["run", "--limit", "1", "--subcategory", "art-deco"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(readme_example(), "README.md#python-api", "exec"), {"__name__": "readme"})
    text = printed.getvalue()
    assert "1/60 styles complete" in text
    assert "offline-image-1" in text
    assert "image:room:" in text
    assert "verify: OK" in text
    assert os.path.isdir("genjournal-data")
