"""The dispatcher: a failing handler costs one command, never the node."""

from __future__ import annotations

from collections.abc import Iterator

import hiredis
import pytest

from node.commands.table import COMMANDS, command
from tests.unit.sansio import Session


@pytest.fixture
def broken_command() -> Iterator[None]:
    @command("keelkv-test-broken", 1, "readonly")
    def broken(c, argv):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("boom")

    yield
    del COMMANDS[b"keelkv-test-broken"]


def test_an_unexpected_exception_becomes_an_error_reply(broken_command: None) -> None:
    s = Session()
    reply = s.run("keelkv-test-broken")
    assert isinstance(reply, hiredis.ReplyError)
    assert str(reply) == "ERR internal error running 'keelkv-test-broken': ZeroDivisionError"
    assert s.run("SET", "k", "v") == b"OK"
    assert s.run("GET", "k") == b"v"
    assert s.server.stats.failed_calls == 1


def test_unknown_command_error_quotes_the_arguments() -> None:
    s = Session()
    assert (
        str(s.run("NOPE", "a", "b"))
        == "ERR unknown command 'NOPE', with args beginning with: 'a' 'b' "
    )


def test_wrong_arity_is_refused_before_the_handler() -> None:
    s = Session()
    assert str(s.run("GET")) == "ERR wrong number of arguments for 'get' command"
