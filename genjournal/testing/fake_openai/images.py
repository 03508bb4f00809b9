"""``POST /v1/images/generations``: real PNGs whose pixels depend on the prompt and the request."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from typing import TYPE_CHECKING, Any

from generator.png import encode_png
from genjournal.testing.fake_openai.config import TEXT_ONLY, Request, tokens
from genjournal.testing.fake_openai.errors import Drop, Reply
from genjournal.testing.fake_openai.models import check_image_options, refuse_unknown

if TYPE_CHECKING:
    from genjournal.testing.fake_openai.server import FakeOpenAI


_HEX_IN_TEXT = re.compile(r"#([0-9a-fA-F]{6})\b")


def render_picture(prompt: str, nonce: str, width: int, height: int) -> bytes:
    """Paints a PNG from the prompt (its hex colour, if any) and a per-request nonce."""
    digest = hashlib.sha256(f"{nonce}\x00{prompt}".encode()).digest()
    found = _HEX_IN_TEXT.search(prompt)
    base = bytes.fromhex(found.group(1)) if found else digest[0:3]
    accent = digest[3:6]
    angle = digest[6] / 255 * math.pi
    freq = 2 + digest[7] % 6
    dx, dy = math.cos(angle), math.sin(angle)
    swatch_from = height - max(1, height // 8)
    pixels = bytearray()
    for y in range(height):
        if y >= swatch_from and y > 0:
            # A solid swatch of the prompt's colour along the bottom edge.
            pixels += base * width
            continue
        for x in range(width):
            if y == 0:
                # The first row spells the digest, so two requests never share a picture.
                byte = digest[(x * 32) // width]
                pixels += bytes((byte, 255 - byte, byte ^ 0x5A))
                continue
            t = 0.5 + 0.5 * math.sin(freq * math.pi * (x * dx + y * dy) / max(width, height))
            pixels += bytes(int(b * (1 - t) + a * t) for b, a in zip(base, accent, strict=True))
    stride = width * 3
    return encode_png(width, height, (bytes(pixels[y * stride : (y + 1) * stride]) for y in range(height)))


def _image_outputtokens(size: tuple[int, int], quality: str) -> int:
    per_square = {"low": 272, "medium": 1056, "high": 4160}.get(quality, 1056)
    return max(1, round(per_square * size[0] * size[1] / (1024 * 1024)))


def answer(
    app: FakeOpenAI, req: Request, body: dict[str, Any], api_key: str | None
) -> tuple[dict[str, Any], dict[str, str], str]:
    """Answers an image generation request; raises Reply/Drop for faults."""
    app.gate(api_key)
    # The spec: "Defaults to dall-e-2 unless a parameter specific to the GPT image models is used".
    model, prompt = str(req.model or "dall-e-2"), req.prompt
    if not prompt.strip():
        raise Reply(
            400,
            "Missing required parameter: 'prompt'.",
            outcome="400",
            param="prompt",
            code="missing_required_parameter",
        )
    refuse_unknown(model, app.extra_models)
    gpt_image = str(model).startswith("gpt-image")
    if gpt_image and "response_format" in body:
        raise Reply(
            400,
            "Unknown parameter: 'response_format'.",
            outcome="400",
            param="response_format",
            code="unknown_parameter",
        )
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= 10:
        raise Reply(
            400,
            f"Invalid 'n': integer must be between 1 and 10, got {n!r}.",
            outcome="400",
            param="n",
            code="integer_out_of_range",
        )
    size_text = body.get("size") or "auto"
    match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", str(size_text))
    if size_text != "auto" and match is None:
        raise Reply(
            400,
            f"Invalid value: '{size_text}'. Supported values are: '1024x1024', "
            "'1024x1536', '1536x1024' and 'auto'.",
            outcome="400",
            param="size",
            code="invalid_value",
        )
    check_image_options(model, body.get("size"), body.get("quality"))
    size = (int(match.group(1)), int(match.group(2))) if match else (1024, 1024)
    quality = str(body.get("quality") or "auto")
    quality = {"auto": "medium", "standard": "medium", "hd": "high"}.get(quality, quality)
    fault, headers = app.decide(req)
    if fault in TEXT_ONLY:
        fault = "malformed"  # an image answer cannot refuse in-band; treat as garbage bytes
    if fault is not None:
        app.error_fault(fault, req, headers)
    scale = app.image_px / max(size)
    width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    data = []
    for i in range(n):
        if fault == "malformed":
            encoded = "not-a-png/" + base64.b64encode(b"garbage").decode()
        else:
            png = render_picture(prompt, f"{app.seed}|{req.request_id}|{i}", width, height)
            encoded = base64.b64encode(png).decode()
        item: dict[str, Any] = {"b64_json": encoded}
        if body.get("response_format") == "url":
            item = {"url": f"data:image/png;base64,{encoded}"}
        data.append(item)
    req.images = n
    reply: dict[str, Any] = {"created": int(time.time()), "data": data}
    if gpt_image:
        out_tokens = _image_outputtokens(size, quality) * n
        req.usage_in, req.usage_out = tokens(prompt), out_tokens
        reply.update(
            {
                "background": "opaque",
                "output_format": "png",
                "quality": quality,
                "size": f"{size[0]}x{size[1]}",
                "usage": {
                    "input_tokens": req.usage_in,
                    "input_tokens_details": {"text_tokens": req.usage_in, "image_tokens": 0},
                    "output_tokens": out_tokens,
                    "output_tokens_details": {"image_tokens": out_tokens, "text_tokens": 0},
                    "total_tokens": req.usage_in + out_tokens,
                },
            }
        )
    if fault == "hang":
        raise Drop("timeout", fault, app.hang_s)
    app.delay(req)
    return reply, headers, "malformed" if fault == "malformed" else "ok"
