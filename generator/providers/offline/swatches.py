"""Seeded swatch patterns: the offline provider's pictures (encoded by ``generator.png``).

``render_swatch`` draws a pattern — stripes, checks, plaid, gradients, dots, rings,
scallops, chevrons, herringbone, grids, colour blocks — in a palette of tints and
shades of one base colour, with every choice (pattern, sizes, phases, colours) drawn
from a seed, so each image step gets its own picture and the same seed always gives
the same bytes.

Speed comes from building whole rows as ``bytes`` (a colour times a run length,
slices of a pre-built periodic row) and reusing identical rows; no pattern loops over
single pixels, so a 256x256 swatch renders and compresses in about a millisecond or two.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence

from generator.png import MAX_SIDE, encode_png

#: the patterns ``render_swatch`` can draw ("auto" lets the seed choose one)
PATTERNS: tuple[str, ...] = (
    "stripes",
    "bands",
    "diagonal",
    "chevron",
    "herringbone",
    "checks",
    "plaid",
    "gradient",
    "dots",
    "rings",
    "scallops",
    "grid",
    "blocks",
)

Rgb = tuple[int, int, int]
Row = bytes


# --- seeded choices ------------------------------------------------------------------------


class _Dice:
    """Draws deterministic numbers from a seed (SHA-256 in counter mode, no global state)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = hashlib.sha256(seed).digest()
        self._counter = 0
        self._pool = b""

    def _u32(self) -> int:
        if len(self._pool) < 4:
            self._pool += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        value = int.from_bytes(self._pool[:4], "big")
        self._pool = self._pool[4:]
        return value

    def between(self, low: int, high: int) -> int:
        """Returns an integer in low..high inclusive."""
        return low + self._u32() % (high - low + 1)

    def unit(self) -> float:
        """Returns a float in [0, 1)."""
        return self._u32() / 4294967296.0

    def chance(self, probability: float) -> bool:
        """Returns True with the given probability."""
        return self.unit() < probability

    def pick(self, items: Sequence[str]) -> str:
        """Returns one of the items."""
        return items[self.between(0, len(items) - 1)]


# --- palette -------------------------------------------------------------------------------


def parse_hex(value: str) -> Rgb:
    """Returns the (r, g, b) of a ``#rrggbb`` colour."""
    text = value.removeprefix("#")
    if len(text) != 6:
        raise ValueError(f"colour {value!r} is not #rrggbb")
    try:
        number = int(text, 16)
    except ValueError:
        raise ValueError(f"colour {value!r} is not #rrggbb") from None
    return (number >> 16) & 0xFF, (number >> 8) & 0xFF, number & 0xFF


def _mix(colour: Rgb, target: Rgb, amount: float) -> Rgb:
    return (
        round(colour[0] + (target[0] - colour[0]) * amount),
        round(colour[1] + (target[1] - colour[1]) * amount),
        round(colour[2] + (target[2] - colour[2]) * amount),
    )


def _jitter(colour: Rgb, dice: _Dice) -> bytes:
    # An imperceptible per-image nudge (at most 3 levels a channel) that, together with
    # the geometry, keeps two steps of one style from ever sharing a blob.
    return bytes(max(0, min(255, channel + dice.between(-3, 3))) for channel in colour)


def _luma(colour: bytes | Rgb) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


class _Palette:
    """Holds one image's colours: the base, its tints and shades, and an optional accent.

    ``set`` always puts the base colour itself into the first two colours, which every
    pattern draws, so each picture shows the style's colour and not just its relatives.
    """

    def __init__(self, base: Rgb, accent: Rgb | None, dice: _Dice) -> None:
        white, black = (250, 248, 243), (24, 22, 20)
        self.base = _jitter(base, dice)
        self.shades = [_jitter(_mix(base, black, amount), dice) for amount in (0.3, 0.55)]
        self.tints = [_jitter(_mix(base, white, amount), dice) for amount in (0.35, 0.6, 0.85)]
        self.accent = _jitter(accent, dice) if accent is not None else None
        self._dice = dice

    def ground(self) -> bytes:
        """Returns a background colour: a light tint, or the base (always when it is very light)."""
        if _luma(self.base) > 200 or self._dice.chance(0.2):
            return self.base
        return self.tints[self._dice.between(1, 2)]

    def ink(self, ground: bytes) -> bytes:
        """Returns the base, or (on a base ground) the shade or tint that reads best against it."""
        if ground != self.base:
            return self.base
        # Against the base itself, take the first relative far enough in lightness to
        # read (a shade for mid and light colours, a tint for very dark ones).
        candidates = [*self.shades, *self.tints]
        for colour in candidates:
            if abs(_luma(colour) - _luma(ground)) >= 45:
                return colour
        return max(candidates, key=lambda colour: abs(_luma(colour) - _luma(ground)))

    def extra(self) -> bytes:
        """Returns a third colour: the accent when there is one, else a tint or shade."""
        if self.accent is not None and self._dice.chance(0.75):
            return self.accent
        return (self.tints + self.shades)[self._dice.between(0, 4)]

    def set(self, count: int) -> list[bytes]:
        """Returns ``count`` colours: a ground, an ink (one of them the base), then extras."""
        ground = self.ground()
        colours = [ground, self.ink(ground)]
        while len(colours) < count:
            colours.append(self.extra())
        return colours


# --- row helpers ---------------------------------------------------------------------------


def _runs(segments: Iterable[tuple[bytes, int]]) -> bytes:
    return b"".join(colour * length for colour, length in segments)


def _slicer(period: bytes, width: int) -> Callable[[int], bytes]:
    """Returns a function giving ``width`` pixels of a periodic row from any offset."""
    pixels = len(period) // 3
    long_row = period * (width // pixels + 2)

    def at(offset: int) -> bytes:
        start = offset % pixels
        return long_row[start * 3 : (start + width) * 3]

    return at


def _tile(period: bytes, width: int, offset: int = 0) -> bytes:
    """Returns ``width`` pixels of a periodic row, starting ``offset`` pixels in."""
    return _slicer(period, width)(offset)


def _lerp_bytes(a: bytes, b: bytes, amount: float) -> bytes:
    return bytes(round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))


def _blend(a: bytes, b: bytes) -> bytes:
    return bytes((x + y + 1) // 2 for x, y in zip(a, b, strict=True))


# --- patterns ------------------------------------------------------------------------------
#
# Each pattern takes (width, height, palette, dice) and returns ``height`` rows of packed
# RGB. Every size and phase comes from the dice, so the seed alone decides the picture.

PatternFn = Callable[[int, int, _Palette, _Dice], list[Row]]


def _sett(dice: _Dice, colours: list[bytes], low: int, high: int) -> list[tuple[bytes, int]]:
    """Returns a repeating run sequence: the ground between runs of the other colours."""
    ground, others = colours[0], colours[1:]
    runs: list[tuple[bytes, int]] = []
    for index in range(dice.between(2, 5)):
        runs.append((ground, dice.between(low, high)))
        runs.append((others[index % len(others)], dice.between(low, high)))
    return runs


def _stripes(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    colours = palette.set(dice.between(2, 4))
    period = _runs(_sett(dice, colours, 3, max(4, width // 7)))
    row = _tile(period, width, dice.between(0, len(period) // 3))
    return [row] * height


def _bands(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    colours = palette.set(dice.between(2, 4))
    line = palette.shades[0] if dice.chance(0.5) else palette.tints[2]
    rows: list[Row] = []
    index = 0
    while len(rows) < height:
        band = dice.between(max(4, height // 12), max(6, height // 3))
        rows.extend([colours[index % len(colours)] * width] * band)
        if dice.chance(0.5):
            rows.extend([line * width] * dice.between(1, 3))
        index += 1
    return rows[:height]


def _diagonal_period(dice: _Dice, colours: list[bytes], low: int, high: int) -> bytes:
    return _runs(_sett(dice, colours, low, high))


def _diagonal(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    colours = palette.set(dice.between(2, 3))
    at = _slicer(_diagonal_period(dice, colours, 4, max(6, width // 10)), width)
    step = int(dice.pick(("1", "1", "2", "-1", "-2")))
    phase = dice.between(0, width)
    return [at(phase + step * y) for y in range(height)]


def _zigzag(width: int, height: int, palette: _Palette, dice: _Dice, broken: bool) -> list[Row]:
    colours = palette.set(dice.between(2, 3))
    period = _diagonal_period(dice, colours, 3, max(5, width // 14))
    pixels = len(period) // 3
    column = dice.between(max(8, width // 16), max(12, width // 5))
    phase = dice.between(0, pixels)
    # Herringbone offsets the falling columns by half a period, breaking the zigzag into
    # staggered slats divided by a seam; a chevron keeps the two halves joined.
    fall_phase = phase + (pixels // 2 if broken else 0)
    seam = palette.shades[1] * (dice.between(1, 2) if broken else 0)
    # Rising columns read forwards through a long periodic row; falling ones read the
    # same row backwards, which is a forward read of its pixel-reversed copy.
    turns = column // pixels + 3
    long_row = period * turns
    total = pixels * turns
    mirrored = b"".join(long_row[i : i + 3] for i in range(len(long_row) - 3, -1, -3))
    rows: list[Row] = []
    for y in range(height):
        parts: list[bytes] = []
        x = 0
        block = 0
        while x < width:
            run = min(column, width - x)
            if block % 2 == 0:
                start = (phase + y) % pixels
                part = long_row[start * 3 : (start + run) * 3]
            else:
                top = (fall_phase + y + column - 1) % pixels + pixels * (column // pixels + 1)
                start = total - 1 - top
                part = mirrored[start * 3 : (start + run) * 3]
            if seam and x + run < width:
                part = part[: len(part) - len(seam)] + seam
            parts.append(part)
            x += run
            block += 1
        rows.append(b"".join(parts))
    return rows


def _chevron(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    return _zigzag(width, height, palette, dice, broken=False)


def _herringbone(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    return _zigzag(width, height, palette, dice, broken=True)


def _checks(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    ground, ink, extra = palette.set(3)
    cell = dice.between(max(6, width // 24), max(10, width // 5))
    phase_x, phase_y = dice.between(0, cell * 2), dice.between(0, cell * 2)
    if dice.chance(0.5):
        # Gingham: where a light band crosses a dark one the colours mix.
        mixed = _blend(ground, ink)
        plain = _tile(ground * cell + mixed * cell, width, phase_x)
        crossed = _tile(mixed * cell + ink * cell, width, phase_x)
    else:
        plain = _tile(ground * cell + ink * cell, width, phase_x)
        crossed = _tile(ink * cell + (extra if dice.chance(0.4) else ground) * cell, width, phase_x)
    return [crossed if ((y + phase_y) // cell) % 2 else plain for y in range(height)]


def _plaid(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    colours = palette.set(dice.between(3, 4))
    sett = _sett(dice, colours, 2, max(4, width // 9))
    phase_x, phase_y = dice.between(0, width), dice.between(0, height)
    total = sum(length for _, length in sett)
    # Horizontal threads repeat the vertical sett; each row blends the warp runs with
    # the weft colour of that row, so there are only len(sett) distinct rows to build.
    cache: dict[int, Row] = {}
    rows: list[Row] = []
    for y in range(height):
        offset = (y + phase_y) % total
        index = 0
        while offset >= sett[index][1]:
            offset -= sett[index][1]
            index += 1
        if index not in cache:
            weft = sett[index][0]
            period = _runs((_blend(colour, weft), length) for colour, length in sett)
            cache[index] = _tile(period, width, phase_x)
        rows.append(cache[index])
    return rows


def _gradient(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    stops = palette.set(dice.between(2, 3))
    if dice.chance(0.5):
        stops.reverse()
    direction = dice.pick(("down", "across", "diagonal"))
    steps = dice.between(6, 48)
    length = {"down": height, "across": width, "diagonal": width + height}[direction]

    bands: dict[int, bytes] = {}

    def colour_at(position: int) -> bytes:
        # Banded, not smooth: flat steps read as a painted ombré and compress well.
        band = min(steps - 1, position * steps // length)
        colour = bands.get(band)
        if colour is None:
            t = band / max(1, steps - 1) * (len(stops) - 1)
            segment = min(len(stops) - 2, int(t))
            colour = bands[band] = _lerp_bytes(stops[segment], stops[segment + 1], t - segment)
        return colour

    if direction == "down":
        return [colour_at(y) * width for y in range(height)]
    line = b"".join(colour_at(x) for x in range(length))
    if direction == "across":
        return [line] * height
    return [line[y * 3 : (y + width) * 3] for y in range(height)]


def _dots(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    ground, ink = palette.set(2)
    spacing = dice.between(max(10, width // 20), max(14, width // 4))
    radius = spacing * (0.18 + 0.22 * dice.unit())
    stagger = dice.chance(0.6)
    phase_x, phase_y = dice.between(0, spacing), dice.between(0, spacing)
    centre = (spacing - 1) / 2
    tiles: list[Row] = []
    for yy in range(spacing):
        dy = yy - centre
        reach = radius * radius - dy * dy
        if reach < 0:
            tiles.append(ground * spacing)
            continue
        half = math.sqrt(reach)
        left = max(0, math.ceil(centre - half))
        right = min(spacing - 1, math.floor(centre + half))
        tiles.append(ground * left + ink * (right - left + 1) + ground * (spacing - 1 - right))
    cache: dict[tuple[int, int], Row] = {}
    rows: list[Row] = []
    for y in range(height):
        line, yy = divmod(y + phase_y, spacing)
        shift = spacing // 2 if stagger and line % 2 else 0
        key = (yy, shift)
        if key not in cache:
            cache[key] = _tile(tiles[yy], width, phase_x + shift)
        rows.append(cache[key])
    return rows


def _rings(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    colours = palette.set(dice.between(2, 3))
    ring = dice.between(max(10, width // 20), max(14, width // 5))
    cx = dice.between(-width // 4, width + width // 4)
    cy = dice.between(-height // 4, height + height // 4)
    far = max(math.hypot(x - cx, y - cy) for x in (0, width) for y in (0, height))
    count = int(far // ring) + 1
    # disc[k] is the colour of the k-th disc (radius k * ring); disc[count + 1] is the
    # colour beyond the largest one.
    disc = [colours[(k - 1) % len(colours)] for k in range(count + 2)]
    cache: dict[int, Row] = {}
    rows: list[Row] = []
    for y in range(height):
        dy = abs(y - cy)
        cached = cache.get(dy)
        if cached is None:
            cached = cache[dy] = _ring_row(width, cx, dy, ring, count, disc)
        rows.append(cached)
    return rows


def _ring_row(width: int, cx: int, dy: int, ring: int, count: int, disc: list[bytes]) -> Row:
    """Returns one row through concentric discs, each pixel written once, left to right."""
    # Only discs whose edge falls inside this row matter: smaller ones lie wholly off
    # the image and larger ones cover all of it, so trim the range to the row's
    # nearest and farthest pixel (one disc of slack each way for rounding).
    near_dx = 0 if 0 <= cx < width else (-cx if cx < 0 else cx - width + 1)
    far_dx = max(abs(cx), abs(width - 1 - cx))
    dy2 = dy * dy
    first = max(dy // ring + 1, math.isqrt(near_dx * near_dx + dy2) // ring)
    last = min(count, math.isqrt(far_dx * far_dx + dy2) // ring + 2)
    if first > last:
        return disc[min(first, count + 1)] * width
    halves = [math.isqrt((k * ring) ** 2 - dy2) for k in range(first, last + 1)]
    # Edges from the left inwards, then mirrored outwards; the pixel at distance d takes
    # the colour of the smallest disc containing it, and the segment before edge i has
    # colour paints[i].
    ends = [cx - h for h in reversed(halves)] + [cx + h + 1 for h in halves] + [width]
    paints = [disc[last + 1], *disc[last:first:-1], disc[first], *disc[first + 1 : last + 2]]
    parts: list[bytes] = []
    x = 0
    for end, paint in zip(ends, paints, strict=True):
        if end > width:
            end = width
        if end > x:
            parts.append(paint * (end - x))
            x = end
    return b"".join(parts)


def _scallops(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    colours = palette.set(dice.between(2, 3))
    size = dice.between(max(12, width // 16), max(16, width // 4)) | 1
    radius = size // 2
    rings = dice.between(1, 3)
    edge = palette.shades[0] if dice.chance(0.5) else colours[1]
    phase_x, phase_y = dice.between(0, size), dice.between(0, radius)

    def paint(line: bytearray, cx: int, dy: int) -> None:
        # A fish scale: concentric arcs, outermost first, outlined by a thin edge ring.
        for k in range(rings, -1, -1):
            r = radius if k == rings else radius * (k + 1) // (rings + 1)
            if r <= abs(dy):
                continue
            half = math.isqrt(r * r - dy * dy)
            left, right = max(0, cx - half), min(size, cx + half + 1)
            if left >= right:
                continue
            colour = edge if k == rings else colours[(k + 1) % len(colours)]
            line[left * 3 : right * 3] = colour * (right - left)
            if k == rings:
                inner = max(0, r - 2)
                if inner > abs(dy):
                    half_in = math.isqrt(inner * inner - dy * dy)
                    a, b = max(0, cx - half_in), min(size, cx + half_in + 1)
                    if a < b:
                        line[a * 3 : b * 3] = colours[0] * (b - a)

    tiles: list[Row] = []
    for yy in range(radius):
        line = bytearray(colours[0] * size)
        # Scales of the band above peek in at the top corners; this band's own scale,
        # centred on the band's lower edge, overlaps them.
        paint(line, 0, yy)
        paint(line, size - 1, yy)
        paint(line, size // 2, yy - radius)
        tiles.append(bytes(line))
    cache: dict[tuple[int, int], Row] = {}
    rows: list[Row] = []
    for y in range(height):
        band, yy = divmod(y + phase_y, radius)
        shift = size // 2 if band % 2 else 0
        key = (yy, shift)
        if key not in cache:
            cache[key] = _tile(tiles[yy], width, phase_x + shift)
        rows.append(cache[key])
    return rows


def _grid(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    ground, ink, extra = palette.set(3)
    cell = dice.between(max(8, width // 20), max(12, width // 4))
    line = dice.between(1, 3)
    double = dice.chance(0.35) and cell > 4 * line
    phase_x, phase_y = dice.between(0, cell), dice.between(0, cell)
    # The fill may take the third colour only when the lines already carry the base.
    fill = extra if ink == palette.base and dice.chance(0.3) else ground
    # A windowpane: rules of ``line`` pixels every ``cell``; a double rule is two rules
    # with a gap of the fill between them, across and down alike.
    rule = ink * line + fill * line + ink * line if double else ink * line
    lit = len(rule) // 3
    normal = _tile(rule + fill * (cell - lit), width, phase_x)
    solid = ink * width
    rows: list[Row] = []
    for y in range(height):
        yy = (y + phase_y) % cell
        on_rule = yy < lit and not (double and line <= yy < 2 * line)
        rows.append(solid if on_rule else normal)
    return rows


def _blocks(width: int, height: int, palette: _Palette, dice: _Dice) -> list[Row]:
    colours = palette.set(4) + palette.tints[:2]
    gutter = dice.between(2, 6) if dice.chance(0.6) else 0
    line = palette.shades[1]
    done: list[tuple[int, int, int, int]] = []
    pending = [(0, 0, width, height)]
    target = dice.between(5, 11)
    # Split the largest remaining block until there are enough: a Mondrian-like field.
    while pending and len(pending) + len(done) < target:
        pending.sort(key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))
        x0, y0, x1, y1 = pending.pop()
        if x1 - x0 >= y1 - y0 and x1 - x0 > 24:
            cut = x0 + (x1 - x0) * dice.between(25, 75) // 100
            pending += [(x0, y0, cut, y1), (cut, y0, x1, y1)]
        elif y1 - y0 > 24:
            cut = y0 + (y1 - y0) * dice.between(25, 75) // 100
            pending += [(x0, y0, x1, cut), (x0, cut, x1, y1)]
        else:
            done.append((x0, y0, x1, y1))
    # Each block is inset by the gutter on its top and left edges (except at the image
    # border), so the gutter colour shows as lines between blocks.
    # The two largest blocks take the ground and the ink, so the base always shows.
    blocks = sorted(done + pending, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]), reverse=True)
    fills = colours[:2] + [colours[dice.between(0, len(colours) - 1)] for _ in blocks[2:]]
    painted = [
        (x0 + (gutter if x0 else 0), y0 + (gutter if y0 else 0), x1, y1, fill)
        for (x0, y0, x1, y1), fill in zip(blocks, fills, strict=False)
    ]
    cache: dict[tuple[int, ...], Row] = {}
    rows: list[Row] = []
    for y in range(height):
        key = tuple(i for i, block in enumerate(painted) if block[1] <= y < block[3])
        cached = cache.get(key)
        if cached is None:
            row = bytearray(line * width)
            for i in key:
                x0, _, x1, _, colour = painted[i]
                if x0 < x1:
                    row[x0 * 3 : x1 * 3] = colour * (x1 - x0)
            cached = cache[key] = bytes(row)
        rows.append(cached)
    return rows


_PATTERN_FUNCTIONS: dict[str, PatternFn] = {
    "stripes": _stripes,
    "bands": _bands,
    "diagonal": _diagonal,
    "chevron": _chevron,
    "herringbone": _herringbone,
    "checks": _checks,
    "plaid": _plaid,
    "gradient": _gradient,
    "dots": _dots,
    "rings": _rings,
    "scallops": _scallops,
    "grid": _grid,
    "blocks": _blocks,
}


def render_swatch(
    width: int,
    height: int,
    base_hex: str,
    seed: bytes,
    style: str = "auto",
    *,
    accent_hex: str | None = None,
) -> bytes:
    """Renders a seeded pattern in tints and shades of ``base_hex`` as PNG bytes.

    ``style`` names one of ``PATTERNS`` or is ``"auto"`` (the seed picks one);
    ``accent_hex`` mixes a second colour (a room's palette) into the picture.
    """
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"swatch size {width}x{height} is outside 1..{MAX_SIDE}")
    dice = _Dice(seed)
    name = dice.pick(PATTERNS) if style == "auto" else style
    pattern = _PATTERN_FUNCTIONS.get(name)
    if pattern is None:
        raise ValueError(f"unknown swatch pattern {style!r}; use one of {', '.join(PATTERNS)}")
    accent = parse_hex(accent_hex) if accent_hex is not None else None
    palette = _Palette(parse_hex(base_hex), accent, dice)
    return encode_png(width, height, pattern(width, height, palette, dice))
