"""The sorted-set value: member -> score plus an ordered index, on sortedcontainers."""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedList  # type: ignore[import-untyped]


class ZSet:
    """Members ordered by (score, member), as Redis orders them."""

    __slots__ = ("scores", "index")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.index: SortedList = SortedList()

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        return iter(self.index)

    def add(self, member: bytes, score: float) -> bool:
        """Insert or update; True when the member is new."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return False
            self.index.remove((old, member))
            self.scores[member] = score
            self.index.add((score, member))
            return False
        self.scores[member] = score
        self.index.add((score, member))
        return True

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

    def copy(self) -> ZSet:
        z = ZSet()
        z.scores = dict(self.scores)
        z.index = SortedList(self.index)
        return z
