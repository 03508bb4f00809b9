"""Which models the fake serves and which image options each accepts, as the real API does.

Written from the published specification, not from the provider's code (the provider has
its own table in ``generator.providers.openai.models``; a test holds the two against each
other and against the spec): ``CreateImageRequest`` in ``openai/openai-openapi`` at commit
f85dbe223d40e1a31cba812ab2d755c7e98a92a3 (2026-08-21), and the retirements of
DALL·E 2 and 3 (2026-05-12) and ``gpt-image-1`` (2026-10-23). A model the API does not
serve answers 404 ``model_not_found``; an image option its model does not take answers
400 ``invalid_value`` naming the parameter, with the real message.
"""

from __future__ import annotations

import re

from genjournal.testing.fake_openai.errors import Reply

#: text models served (a dated snapshot of one, and a fine-tune of one, are served too)
TEXT_MODELS = (
    "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.4-pro", "gpt-5", "gpt-5-mini", "gpt-5-nano",
    "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini",
)  # fmt: skip
#: image models served; DALL·E 2/3 and gpt-image-1 are retired
IMAGE_MODELS = ("gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-1.5", "gpt-image-1-mini")
_SNAPSHOT = re.compile(r"(.+)-\d{4}-\d{2}-\d{2}")
_GPT_IMAGE_SIZES = ("1024x1024", "1024x1536", "1536x1024", "auto")
_GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")


def model_list(extra: tuple[str, ...] = ()) -> dict[str, object]:
    """Returns ``GET /v1/models`` as the API answers it (``ListModelsResponse``)."""
    names = (*TEXT_MODELS, *IMAGE_MODELS, *extra)
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"} for name in names
        ],
    }


def served(model: str, extra: tuple[str, ...] = ()) -> bool:
    """Tells whether the fake serves a model (or its snapshot, or a fine-tune of it)."""
    known = set(TEXT_MODELS) | set(IMAGE_MODELS) | set(extra)
    if model in known:
        return True
    if model.startswith("ft:"):
        return model.split(":")[1] in known if model.count(":") >= 2 else False
    snapshot = _SNAPSHOT.fullmatch(model)
    return snapshot is not None and snapshot.group(1) in known


def refuse_unknown(model: str, extra: tuple[str, ...] = ()) -> None:
    """Answers 404 ``model_not_found`` for a model the fake does not serve."""
    if not served(model, extra):
        raise Reply(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            outcome="404",
            code="model_not_found",
        )


def _listed(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 2 else " and ".join(quoted)


def _invalid(param: str, value: str, supported: tuple[str, ...]) -> Reply:
    return Reply(
        400,
        f"Invalid value: '{value}'. Supported values are: {_listed(supported)}.",
        outcome="400",
        param=param,
        code="invalid_value",
    )


def check_image_options(model: str, size: str | None, quality: str | None) -> None:
    """Refuses a size or quality the model does not take, as ``CreateImageRequest`` says."""
    base = model.removesuffix("-2026-04-21")
    if base == "gpt-image-2":
        if size is not None and size != "auto":
            found = re.fullmatch(r"(\d+)x(\d+)", size)
            ok = False
            if found is not None:
                width, height = int(found.group(1)), int(found.group(2))
                ok = (
                    width > 0
                    and height > 0
                    and width % 16 == 0
                    and height % 16 == 0
                    and max(width, height) <= 3840
                    and width * height <= 3840 * 2160
                    and max(width, height) <= 3 * min(width, height)
                )
            if not ok:
                raise Reply(
                    400,
                    f"Invalid value: '{size}'. Width and height must both be divisible by 16, the "
                    "aspect ratio must be between 1:3 and 3:1, and the resolution at most 3840x2160.",
                    outcome="400",
                    param="size",
                    code="invalid_value",
                )
        if quality is not None and quality not in _GPT_IMAGE_QUALITIES:
            raise _invalid("quality", quality, _GPT_IMAGE_QUALITIES)
    elif base.startswith("gpt-image-1"):
        if size is not None and size not in _GPT_IMAGE_SIZES:
            raise _invalid("size", size, _GPT_IMAGE_SIZES)
        if quality is not None and quality not in _GPT_IMAGE_QUALITIES:
            raise _invalid("quality", quality, _GPT_IMAGE_QUALITIES)
    elif base == "dall-e-3":
        if size is not None and size not in ("1024x1024", "1792x1024", "1024x1792"):
            raise _invalid("size", size, ("1024x1024", "1792x1024", "1024x1792"))
        if quality is not None and quality not in ("standard", "hd"):
            raise _invalid("quality", quality, ("standard", "hd"))
    elif base == "dall-e-2":
        if size is not None and size not in ("256x256", "512x512", "1024x1024"):
            raise _invalid("size", size, ("256x256", "512x512", "1024x1024"))
        if quality is not None and quality != "standard":
            raise _invalid("quality", quality, ("standard",))
