"""Memory around fork: the child's copy-on-write, fork admission, and maxmemory guidance.

A forked child shares the parent's pages until one side writes to them; the kernel then
copies the page, and the copy shows up as the child's Private_Dirty memory. That is the
figure Redis reports as copy-on-write, and the one sampled here with psutil.

CPython makes this worse than C: a child walking the keyspace writes every object's
reference count, so it dirties the pages of everything it serializes even when the parent
writes nothing. The worst case is therefore a full copy of the parent's private memory, and
that is what fork admission checks the machine (or the container's memory cgroup) can hold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1024 * 1024
GB = 1024 * MB

# Share of RAM maxmemory may take while snapshots or the AOF fork, leaving the rest for
# copy-on-write and the OS (the project's guidance; larger machines keep a smaller margin).
MAXMEMORY_SHARE_BY_RAM = [
    (64 * GB, 0.66),
    (32 * GB, 0.65),
    (16 * GB, 0.63),
    (8 * GB, 0.58),
    (4 * GB, 0.50),
    (2 * GB, 0.33),
]


def private_dirty(pid: int) -> int:
    """Private_Dirty bytes of process `pid` (summed over its mappings), 0 if it is gone."""
    try:
        maps = psutil.Process(pid).memory_maps(grouped=True)
    except (psutil.Error, OSError):
        return 0
    return sum(m.private_dirty for m in maps)


@dataclass
class CowSampler:
    """Copy-on-write samples of one child, as INFO's current_cow_* fields show them."""

    current: int = 0
    peak: int = 0
    total: int = 0
    samples: int = 0
    sampled_at: float = 0.0  # time.monotonic() of the last sample

    def add(self, value: int, when: float) -> None:
        self.current = value
        self.peak = max(self.peak, value)
        self.total += value
        self.samples += 1
        self.sampled_at = when

    @property
    def average(self) -> int:
        return self.total // self.samples if self.samples else 0


# -- the memory a fork may use ----------------------------------------------------------------


def _own_memory_cgroup() -> Path | None:
    """The memory cgroup directory of this process (v2 unified or v1 memory controller)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if controllers == "memory":
            candidate = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (candidate / "memory.limit_in_bytes").exists():
                return candidate
        if hierarchy == "0" and controllers == "":
            candidate = Path("/sys/fs/cgroup") / path.lstrip("/")
            if (candidate / "memory.max").exists():
                return candidate
    return None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _inactive_file(cgroup: Path) -> int:
    """Page cache the cgroup can drop under pressure (Docker counts it as free)."""
    try:
        for line in (cgroup / "memory.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name in ("total_inactive_file", "inactive_file"):
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


@dataclass(frozen=True)
class MemoryRoom:
    total: int  # RAM this process may use: the machine's, or its cgroup's limit if lower
    available: int  # what is still free for it
    limited_by: str  # "machine" or "cgroup"


def memory_room() -> MemoryRoom:
    vm = psutil.virtual_memory()
    room = MemoryRoom(vm.total, vm.available, "machine")
    cgroup = _own_memory_cgroup()
    if cgroup is None:
        return room
    limit = _read_int(cgroup / "memory.max") or _read_int(cgroup / "memory.limit_in_bytes")
    usage = _read_int(cgroup / "memory.current") or _read_int(cgroup / "memory.usage_in_bytes")
    if limit is None or usage is None or limit >= vm.total:
        return room
    available = max(0, limit - max(0, usage - _inactive_file(cgroup)))
    if available < room.available:
        return MemoryRoom(min(limit, vm.total), available, "cgroup")
    return MemoryRoom(min(limit, vm.total), room.available, "machine")


def fork_refusal(kind: str) -> str | None:
    """Why forking now could run out of memory, or None if a full copy-on-write fits.

    The worst case is the child copying every private page of the parent: that is what
    must fit in the memory still available to this process.
    """
    need = private_dirty(os.getpid())
    room = memory_room()
    if need <= room.available:
        return None
    where = "this machine" if room.limited_by == "machine" else "this process's memory cgroup"
    return (
        f"not enough memory to fork safely for {kind}: a full copy-on-write of the dataset "
        f"needs {need / MB:.2f} MB but {where} has {room.available / MB:.2f} MB available"
    )


# -- maxmemory guidance -------------------------------------------------------------------


def recommended_share(total_ram: int) -> float:
    for ram, share in MAXMEMORY_SHARE_BY_RAM:
        if total_ram >= ram:
            return share
    return MAXMEMORY_SHARE_BY_RAM[-1][1]


def maxmemory_warning(maxmemory: int, forks_enabled: bool) -> str | None:
    """The log warning when maxmemory leaves too little room for copy-on-write."""
    if not maxmemory or not forks_enabled:
        return None
    total = memory_room().total
    share = recommended_share(total)
    recommended = int(total * share)
    if maxmemory <= recommended:
        return None
    return (
        f"WARNING maxmemory is {maxmemory / MB:.0f} MB, more than {share:.0%} of the "
        f"{total / MB:.0f} MB of RAM available to this node, while snapshots or the AOF are "
        f"enabled: a fork's copy-on-write may run the machine out of memory. Recommended: "
        f"maxmemory {recommended // MB}mb or less."
    )
