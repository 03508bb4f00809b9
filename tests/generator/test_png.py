"""The PNG encoder and the seeded swatches, checked with an independent decoder."""

from __future__ import annotations

import hashlib
import math
import struct
import time
import zlib

import pytest

from generator.png import encode_png, png_size
from generator.providers.offline.swatches import PATTERNS, parse_hex, render_swatch

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decodes an encoder-made PNG strictly: chunk CRCs, header fields, row filters, sizes."""
    assert data[:8] == SIGNATURE, "bad signature"
    pos = 8
    chunks: list[tuple[bytes, bytes]] = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert len(body) == length, f"truncated {tag!r} chunk"
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, f"bad CRC in {tag!r}"
        chunks.append((tag, body))
        pos += 12 + length
    assert pos == len(data), "bytes after the last chunk"
    assert chunks[0][0] == b"IHDR"
    assert len(chunks[0][1]) == 13
    assert chunks[-1] == (b"IEND", b"")
    width, height, depth, colour_type, compression, filter_method, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    assert (depth, colour_type, compression, filter_method, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for tag, body in chunks if tag == b"IDAT"))
    stride = width * 3
    assert len(raw) == height * (stride + 1), "decompressed size does not match the header"
    rows: list[bytes] = []
    for y in range(height):
        start = y * (stride + 1)
        # The encoder writes filter type 0 (None) on every row; anything else is a bug.
        assert raw[start] == 0, f"row {y} has filter type {raw[start]}"
        rows.append(raw[start + 1 : start + 1 + stride])
    return width, height, rows


def pixels(rows: list[bytes]) -> set[tuple[int, int, int]]:
    """Returns the distinct colours in decoded rows."""
    found: set[tuple[int, int, int]] = set()
    for row in rows:
        found.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
    return found


def near(colours: set[tuple[int, int, int]], hex_colour: str, tolerance: int = 3) -> bool:
    """Tells whether some colour is within ``tolerance`` per channel of ``hex_colour``."""
    target = parse_hex(hex_colour)
    return any(
        all(abs(c - t) <= tolerance for c, t in zip(colour, target, strict=True)) for colour in colours
    )


def test_encoder_round_trips_exact_pixels() -> None:
    """A hand-made 3x2 image decodes to exactly the pixels that were encoded."""
    rows = [bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]), bytes([1, 2, 3, 4, 5, 6, 250, 251, 252])]
    width, height, decoded = decode_png(encode_png(3, 2, rows))
    assert (width, height) == (3, 2)
    assert decoded == rows


@pytest.mark.parametrize(
    ("width", "height", "rows", "message"),
    [
        (2, 1, [b"\x00" * 5], "row 0 has 5 bytes"),
        (1, 2, [b"\x00" * 3], "expected 2 rows"),
        (0, 1, [], "outside"),
        (5000, 1, [b"\x00" * 15000], "outside"),
    ],
)
def test_encoder_refuses_inconsistent_input(width: int, height: int, rows: list[bytes], message: str) -> None:
    """encode_png refuses rows of the wrong length or count and impossible sizes."""
    with pytest.raises(ValueError, match=message):
        encode_png(width, height, rows)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_pattern_decodes_at_the_default_size(pattern: str) -> None:
    """Every pattern renders a valid 256x256 PNG whose pixels include the base colour."""
    data = render_swatch(256, 256, "#b5903c", b"seed-1", pattern)
    width, height, rows = decode_png(data)
    assert (width, height) == (256, 256) == png_size(data)
    colours = pixels(rows)
    assert len(colours) >= 2, "a swatch is a pattern, not a flat fill"
    assert near(colours, "#b5903c")


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 3), (33, 65), (300, 41)])
def test_every_pattern_handles_odd_sizes(pattern: str, width: int, height: int) -> None:
    """Every pattern renders tiny, narrow and non-square sizes without error."""
    data = render_swatch(width, height, "#1f2f4f", b"odd", pattern, accent_hex="#c07a55")
    assert decode_png(data)[:2] == (width, height)


@pytest.mark.parametrize("pattern", [*PATTERNS, "auto"])
def test_same_seed_same_bytes_and_different_seeds_differ(pattern: str) -> None:
    """A seed always gives the same bytes, and 300 different seeds give 300 different images."""
    first = render_swatch(256, 256, "#6c8aa3", b"repeat", pattern)
    assert render_swatch(256, 256, "#6c8aa3", b"repeat", pattern) == first
    digests = {
        hashlib.sha256(render_swatch(256, 256, "#6c8aa3", f"step-{i}".encode(), pattern)).digest()
        for i in range(300)
    }
    assert len(digests) == 300


def test_auto_picks_varied_patterns() -> None:
    """With style "auto" the seed chooses among many patterns, not always the same one."""
    chosen = {render_swatch(64, 64, "#c8322b", f"s{i}".encode()) for i in range(40)}
    sizes = {len(data) for data in chosen}
    assert len(sizes) > 10


def test_accent_colour_is_mixed_into_swatches() -> None:
    """An accent colour (a room's palette) appears in a good share of the swatches."""
    hits = 0
    for i in range(60):
        rows = decode_png(render_swatch(64, 64, "#1f2f4f", f"a{i}".encode(), accent_hex="#c07a55"))[2]
        hits += near(pixels(rows), "#c07a55")
    assert hits >= 15


@pytest.mark.parametrize("base", ["#ece8e1", "#34312d", "#000000", "#ffffff", "#f2c500"])
def test_very_light_and_dark_bases_still_show_a_pattern(base: str) -> None:
    """Near-white and near-black bases still give at least two clearly different colours."""
    for i in range(20):
        colours = pixels(decode_png(render_swatch(48, 48, base, f"c{i}".encode()))[2])
        spread = max(math.dist(a, b) for a in colours for b in colours)
        assert spread >= 60, f"seed c{i} is nearly flat"
        assert near(colours, base)


def test_png_size_reads_the_header_and_refuses_other_bytes() -> None:
    """png_size returns the IHDR dimensions and raises ValueError for non-PNG bytes."""
    assert png_size(render_swatch(40, 30, "#123456", b"x")) == (40, 30)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + bytes(40))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"style": "paisley"}, "unknown swatch pattern"),
        ({"base_hex": "red"}, "not #rrggbb"),
        ({"base_hex": "#12345g"}, "not #rrggbb"),
        ({"width": 0}, "outside"),
    ],
)
def test_render_swatch_refuses_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    """Unknown patterns, malformed colours and impossible sizes raise ValueError."""
    arguments: dict[str, object] = {"width": 16, "height": 16, "base_hex": "#123456", "seed": b"s"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        render_swatch(**arguments)  # type: ignore[arg-type]


def test_swatches_render_fast() -> None:
    """A 256x256 swatch takes a few milliseconds on average (no per-pixel Python loops)."""
    render_swatch(256, 256, "#b5903c", b"warm-up")
    started = time.perf_counter()
    count = 150
    for i in range(count):
        render_swatch(256, 256, "#b5903c", f"speed-{i}".encode())
    average_ms = (time.perf_counter() - started) * 1000 / count
    # The target is under 3 ms; the bound leaves room for a loaded CI machine while still
    # catching a per-pixel loop (which costs 100 ms or more per image).
    assert average_ms < 15, f"{average_ms:.2f} ms per swatch"
