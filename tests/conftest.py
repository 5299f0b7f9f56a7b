"""Shared fixtures: keelkv and real redis-server processes, and a differential checker."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.harness import ROOT, RawClient, ServerProcess, start_keelkv, start_redis

os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")

# Both servers run with the same directives so that replies can be compared byte for byte.
COMMON_ARGS = ("--enable-debug-command", "yes")


@pytest.fixture(scope="module")
def keelkv_node() -> Iterator[ServerProcess]:
    node = start_keelkv(*COMMON_ARGS)
    yield node
    node.stop()


@pytest.fixture(scope="module")
def redis_node() -> Iterator[ServerProcess]:
    node = start_redis(*COMMON_ARGS)
    yield node
    node.stop()


class Differ:
    """Runs the same commands on keelkv and on real Redis and compares the reply bytes."""

    def __init__(self, keel: ServerProcess, real: ServerProcess) -> None:
        self.keel = RawClient(keel.port)
        self.real = RawClient(real.port)

    def both(self, *argv: bytes | str | int) -> tuple[bytes, bytes]:
        return self.keel.call(*argv), self.real.call(*argv)

    def check(self, *argv: bytes | str | int) -> bytes:
        """Assert both servers answer `argv` with identical bytes; returns the reply."""
        ours, theirs = self.both(*argv)
        assert ours == theirs, f"{argv!r}: keelkv {ours!r} != redis {theirs!r}"
        return ours

    def check_all(self, *commands: tuple[bytes | str | int, ...]) -> None:
        for argv in commands:
            self.check(*argv)

    def close(self) -> None:
        self.keel.close()
        self.real.close()


@pytest.fixture
def differ(keelkv_node: ServerProcess, redis_node: ServerProcess) -> Iterator[Differ]:
    d = Differ(keelkv_node, redis_node)
    d.both("FLUSHALL")
    d.both("SELECT", "0")
    yield d
    d.close()


@pytest.fixture
def keel(keelkv_node: ServerProcess):  # type: ignore[no-untyped-def]
    """A redis-py client on a flushed keelkv node."""
    client = keelkv_node.client()
    client.flushall()
    yield client
    client.close()
