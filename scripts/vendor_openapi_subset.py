"""Writes the subset of OpenAI's OpenAPI spec the contract tests validate against.

    python scripts/vendor_openapi_subset.py PATH/TO/openapi.json COMMIT DATE

Takes ``CreateChatCompletionRequest``, ``CreateChatCompletionResponse``,
``CreateImageRequest``, ``ImagesResponse`` and ``ErrorResponse`` from a checkout of
``openai/openai-openapi`` with every schema they reference, drops the prose
(descriptions, examples, ``x-*`` extensions) and writes
``tests/fixtures/openapi/subset.json`` recording where it came from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOTS = (
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateImageRequest",
    "ImagesResponse",
    "ErrorResponse",
)
PROSE = ("description", "example", "examples", "title")


def strip(node: Any) -> Any:
    """Returns a schema without prose and vendor extensions."""
    if isinstance(node, dict):
        return {
            k: ({name: strip(sub) for name, sub in v.items()} if k == "properties" else strip(v))
            for k, v in node.items()
            if k not in PROSE and not k.startswith("x-")
        }
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> list[str]:
    """Returns the roots and every schema they reference, transitively."""
    seen: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen:
                    seen.append(name)
                    visit(schemas[name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for root in roots:
        if root not in seen:
            seen.append(root)
            visit(schemas[root])
    return sorted(seen)


def main() -> int:
    """Reads the spec and writes the subset."""
    spec_path, commit, date = sys.argv[1], sys.argv[2], sys.argv[3]
    schemas = json.loads(Path(spec_path).read_text(encoding="utf-8"))["components"]["schemas"]
    subset = {
        "source": {
            "repository": "openai/openai-openapi",
            "file": "openapi.json",
            "commit": commit,
            "date": date,
        },
        "schemas": {name: strip(schemas[name]) for name in closure(schemas, ROOTS)},
    }
    out = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "openapi" / "subset.json"
    out.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(subset['schemas'])} schemas to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
