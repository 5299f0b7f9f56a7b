"""The sorted-set value: member -> score plus an ordered index, on sortedcontainers.

Members are ordered by (score, member) with bytes compared like memcmp, exactly Redis's
skiplist order. Besides the data, a ZSet remembers which encoding Redis would be using for
it (`listpack` for small sets, `skiplist` otherwise) because a few observable behaviours
depend on it in Redis 7.0:

- a listpack stores scores as text, and a zero is written as "0", so -0.0 becomes 0.0;
- ZSCAN returns a listpack zset whole, with its scores as the listpack holds them
  (`listpack_score_text`), while a skiplist zset is walked with a cursor;
- ZRANGEBYLEX and friends find the first element of a lex range by a linear walk in a
  listpack and by a (member-ordered) descent in a skiplist, which differ only when the
  members do not share one score (Redis leaves that case unspecified).

Like Redis, a set is converted to skiplist when it grows past `zset-max-listpack-entries`
or gets a member longer than `zset-max-listpack-value`, and never back, except for the
results of the *STORE commands, which are built in the smaller encoding when they fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import inf, nextafter
from typing import Final

from sortedcontainers import SortedList  # type: ignore[import-untyped]

# Listpack integers: Redis's d2string prints an integral score as an integer when it lies
# within +-LLONG_MAX/2, else with "%.17g".
_LLONG_HALF: Final = float(2**62)
# C isspace().
_C_SPACE: Final = b" \t\n\v\f\r"


class ZSet:
    """Members ordered by (score, member), as Redis orders them."""

    __slots__ = ("scores", "index", "listpack")

    def __init__(self, listpack: bool = False) -> None:
        self.scores: dict[bytes, float] = {}
        self.index: SortedList = SortedList()
        self.listpack = listpack

    @classmethod
    def from_scores(cls, scores: dict[bytes, float], listpack: bool = False) -> ZSet:
        """A zset holding `scores` (the dict is taken over, not copied)."""
        z = cls(listpack)
        if listpack:
            for member, score in scores.items():
                if score == 0.0:
                    scores[member] = 0.0
        z.scores = scores
        z.index = SortedList([(s, m) for m, s in scores.items()])
        return z

    @property
    def encoding(self) -> bytes:
        """What OBJECT ENCODING answers."""
        return b"listpack" if self.listpack else b"skiplist"

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        return iter(self.index)

    # -- single members ----------------------------------------------------

    def add(self, member: bytes, score: float) -> bool:
        """Insert or update; True when the member is new."""
        if self.listpack and score == 0.0:
            score = 0.0
        old = self.scores.get(member)
        if old is not None:
            if old != score:
                self.index.remove((old, member))
                self.scores[member] = score
                self.index.add((score, member))
            return False
        self.scores[member] = score
        self.index.add((score, member))
        return True

    def insert(self, member: bytes, score: float) -> None:
        """Add a member known to be absent."""
        if self.listpack and score == 0.0:
            score = 0.0
        self.scores[member] = score
        self.index.add((score, member))

    def update(self, member: bytes, old: float, score: float) -> None:
        """Move a present member from score `old` to `score`."""
        if self.listpack and score == 0.0:
            score = 0.0
        index = self.index
        index.remove((old, member))
        self.scores[member] = score
        index.add((score, member))

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.index.remove((old, member))
        return True

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.index.index((score, member))

    def pop(self, last: bool) -> tuple[float, bytes]:
        """Remove and return the lowest (or highest) (score, member)."""
        item = self.index.pop(-1 if last else 0)
        del self.scores[item[1]]
        return item

    def delete_range(self, start: int, stop: int) -> int:
        """Remove the members at ranks [start, stop); returns how many."""
        if start >= stop:
            return 0
        scores = self.scores
        for _, member in self.index.islice(start, stop):
            del scores[member]
        del self.index[start:stop]
        return stop - start

    def copy(self) -> ZSet:
        z = ZSet(self.listpack)
        z.scores = dict(self.scores)
        z.index = self.index.copy()
        return z

    # -- ranges --------------------------------------------------------------

    def score_bounds(self, spec: ScoreRange) -> tuple[int, int]:
        """Ranks [lo, hi) of the members whose score is inside `spec` (lo >= hi: none)."""
        index = self.index
        if spec.minex:
            lo = len(index) if spec.min == inf else index.bisect_left((nextafter(spec.min, inf),))
        else:
            lo = index.bisect_left((spec.min,))
        if spec.maxex:
            hi = index.bisect_left((spec.max,))
        else:
            hi = len(index) if spec.max == inf else index.bisect_left((nextafter(spec.max, inf),))
        return lo, hi

    def lex_first(self, spec: LexRange) -> int | None:
        """Rank of the first member in the lex range, found as Redis's encoding finds it."""
        index = self.index
        n = len(index)
        if n == 0 or spec.is_empty():
            return None
        if not spec.gte_min(index[-1][1]) or not spec.lte_max(index[0][1]):
            return None
        if self.listpack:
            for i, (_, member) in enumerate(index):
                if spec.gte_min(member):
                    return i if spec.lte_max(member) else None
            return None  # pragma: no cover - the last member is >= min
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if spec.gte_min(index[mid][1]):
                hi = mid
            else:
                lo = mid + 1
        return lo if spec.lte_max(index[lo][1]) else None

    def lex_last(self, spec: LexRange) -> int | None:
        """Rank of the last member in the lex range (the mirror of `lex_first`)."""
        index = self.index
        n = len(index)
        if n == 0 or spec.is_empty():
            return None
        if not spec.gte_min(index[-1][1]) or not spec.lte_max(index[0][1]):
            return None
        if self.listpack:
            for i in range(n - 1, -1, -1):
                member = index[i][1]
                if spec.lte_max(member):
                    return i if spec.gte_min(member) else None
            return None  # pragma: no cover - the first member is <= max
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if spec.lte_max(index[mid][1]):
                lo = mid
            else:
                hi = mid - 1
        return lo if spec.gte_min(index[lo][1]) else None

    def lex_walk_end(self, spec: LexRange, start: int) -> int:
        """From rank `start`, the first rank whose member is above max (Redis's forward walk)."""
        index = self.index
        n = len(index)
        i = start
        for _, member in index.islice(start, n):
            if not spec.lte_max(member):
                break
            i += 1
        return i


class ScoreRange:
    """A parsed `min max` score interval; `(` makes an end exclusive."""

    __slots__ = ("min", "max", "minex", "maxex")

    def __init__(self, lo: float, minex: bool, hi: float, maxex: bool) -> None:
        self.min = lo
        self.max = hi
        self.minex = minex
        self.maxex = maxex

    def gte_min(self, score: float) -> bool:
        return score > self.min if self.minex else score >= self.min

    def lte_max(self, score: float) -> bool:
        return score < self.max if self.maxex else score <= self.max


# Lex bound kinds: `-` (below everything), a member, `+` (above everything).
LEX_MIN: Final = -1
LEX_VALUE: Final = 0
LEX_MAX: Final = 1


class LexRange:
    """A parsed `min max` lex interval (`[a`, `(a`, `-`, `+`), compared like Redis's sdscmplex."""

    __slots__ = ("min_kind", "min", "minex", "max_kind", "max", "maxex")

    def __init__(
        self, min_kind: int, lo: bytes, minex: bool, max_kind: int, hi: bytes, maxex: bool
    ) -> None:
        self.min_kind = min_kind
        self.min = lo
        self.minex = minex
        self.max_kind = max_kind
        self.max = hi
        self.maxex = maxex

    def gte_min(self, member: bytes) -> bool:
        kind = self.min_kind
        if kind == LEX_VALUE:
            return member > self.min if self.minex else member >= self.min
        return kind == LEX_MIN

    def lte_max(self, member: bytes) -> bool:
        kind = self.max_kind
        if kind == LEX_VALUE:
            return member < self.max if self.maxex else member <= self.max
        return kind == LEX_MAX

    def is_empty(self) -> bool:
        """Redis's early-out: min above max, or equal with an exclusive end."""
        if self.min_kind == LEX_VALUE and self.max_kind == LEX_VALUE:
            if self.min == self.max:
                return self.minex or self.maxex
            return self.min > self.max
        if self.min_kind == self.max_kind:  # `-`/`-` or `+`/`+`: both exclusive
            return True
        return self.min_kind == LEX_MAX or self.max_kind == LEX_MIN


def parse_lex_item(raw: bytes) -> tuple[int, bytes, bool] | None:
    """One lex bound as (kind, value, exclusive), or None when malformed (zslParseLexRangeItem)."""
    if not raw:
        return None
    first = raw[0]
    # Redis tests the C string's next byte, so "+\0..." counts as "+".
    if first == 0x2B:  # '+'
        return (LEX_MAX, b"", True) if len(raw) == 1 or raw[1] == 0 else None
    if first == 0x2D:  # '-'
        return (LEX_MIN, b"", True) if len(raw) == 1 or raw[1] == 0 else None
    if first == 0x28:  # '('
        return (LEX_VALUE, raw[1:], True)
    if first == 0x5B:  # '['
        return (LEX_VALUE, raw[1:], False)
    return None


def parse_lex_range(lo: bytes, hi: bytes) -> LexRange | None:
    a = parse_lex_item(lo)
    b = parse_lex_item(hi)
    if a is None or b is None:
        return None
    return LexRange(a[0], a[1], a[2], b[0], b[1], b[2])


def _strtod_whole(raw: bytes) -> float | None:
    """C strtod where the whole argument must be consumed (or end at a NUL), NaN refused.

    This is what zslParseRange accepts: unlike score arguments, leading whitespace, an
    empty string (0) and out-of-range values (+-inf or 0) are all let through.
    """
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    if not raw:
        return 0.0
    text = raw.lstrip(_C_SPACE)
    if not text:
        return None
    value = strtod_value(text)
    if value is None or value != value:
        return None
    return value


def strtod_value(text: bytes) -> float | None:
    """The value of `text` read as C strtod reads a complete number, else None.

    Accepts decimal, hexadecimal (0x1p3), inf/infinity and nan forms; overflow gives
    +-inf and underflow 0, as strtod returns them (callers decide about ERANGE).
    """
    try:
        value = float(text)
    except ValueError:
        return _strtod_hex(text)
    # Python's float() also takes surrounding whitespace and digit underscores.
    if b"_" in text or text[-1:].isspace() or text[:1].isspace():
        return None
    return value


def _strtod_hex(text: bytes) -> float | None:
    body = text
    sign = 1.0
    if body[:1] in (b"+", b"-"):
        sign = -1.0 if body[:1] == b"-" else 1.0
        body = body[1:]
    if body[:2].lower() != b"0x" or b"_" in body or not body[2:3].strip():
        return None
    try:
        return sign * float.fromhex(body.decode("ascii"))
    except (ValueError, OverflowError, UnicodeDecodeError):
        return None


def parse_score(raw: bytes) -> float | None:
    """A score, increment or weight argument, as Redis's string2d reads it, else None.

    strtod syntax (decimal, hex, inf), the whole argument, no leading whitespace, no NaN,
    and no overflow to +-inf or underflow to 0 (strtod's ERANGE).
    """
    if not raw or raw[0] in _C_SPACE or b"\0" in raw:
        return None
    value = strtod_value(raw)
    if value is None or value != value:
        return None
    if value == inf or value == -inf:
        if raw.lstrip(b"+-").lower() not in (b"inf", b"infinity"):
            return None
    elif value == 0.0 and _nonzero_mantissa(raw):
        return None
    return value


def _nonzero_mantissa(raw: bytes) -> bool:
    text = raw.lower().lstrip(b"+-")
    if text[:2] == b"0x":
        return any(ch not in b"0." for ch in text[2:].split(b"p")[0])
    return any(ch in b"123456789" for ch in text.split(b"e")[0])


def parse_score_range(lo: bytes, hi: bytes) -> ScoreRange | None:
    """zslParseRange: `min max` with optional `(`; None means 'min or max is not a float'."""
    minex = lo[:1] == b"("
    maxex = hi[:1] == b"("
    a = _strtod_whole(lo[1:] if minex else lo)
    if a is None:
        return None
    b = _strtod_whole(hi[1:] if maxex else hi)
    if b is None:
        return None
    return ScoreRange(a, minex, b, maxex)


def listpack_score_text(score: float) -> bytes:
    """A score as a listpack stores it (Redis 7.0 d2string): what ZSCAN returns for it."""
    if score == inf:
        return b"inf"
    if score == -inf:
        return b"-inf"
    if -_LLONG_HALF <= score <= _LLONG_HALF and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score
