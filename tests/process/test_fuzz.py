"""Protocol fuzzing of a live node: random and truncated RESP never crash or stall it.

Hypothesis feeds one connection per example with valid commands cut at random points,
random bytes, huge declared lengths, nested and negative multibulks and inline garbage,
sent in random chunks. Meanwhile a separate client PINGs the node in a thread: every PING
must be answered promptly for the whole run, and the process must be alive, without a
traceback in its log and with a bounded RSS at the end.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.resp import encode_command
from tests.harness import RawClient, ServerProcess, start_keelkv, start_redis

# Commands whose effects stay within the fuzzing connection and the dataset: nothing that
# stops, pauses or reconfigures the node, or kills other clients.
SAFE_COMMANDS = [
    b"PING",
    b"ECHO",
    b"SET",
    b"GET",
    b"DEL",
    b"INCR",
    b"APPEND",
    b"MSET",
    b"LPUSH",
    b"LRANGE",
    b"HSET",
    b"HGETALL",
    b"SADD",
    b"ZADD",
    b"ZRANGE",
    b"EXPIRE",
    b"TTL",
    b"EXISTS",
    b"TYPE",
    b"OBJECT",
    b"MULTI",
    b"EXEC",
    b"SELECT",
    b"SUBSCRIBE",
    b"HELLO",
    b"SCAN",
    b"NOSUCHCOMMAND",
]

PING_EVERY = 0.01
PING_DEADLINE = 2.0  # a PING unanswered this long means the node stalled
READ_WINDOW = 0.5  # per example: how long we listen for the node's replies


@pytest.fixture(scope="module")
def node() -> Iterator[ServerProcess]:
    proc = start_keelkv()
    yield proc
    proc.stop()


class Pinger(threading.Thread):
    """A well-behaved client that keeps asking PING while the fuzzing runs."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.client = RawClient(port, timeout=PING_DEADLINE)
        self.stop_event = threading.Event()
        self.answered = 0
        self.slowest = 0.0
        self.failure: str | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                start = time.monotonic()
                reply = self.client.call(b"PING")
                self.slowest = max(self.slowest, time.monotonic() - start)
                if reply != b"+PONG\r\n":
                    self.failure = f"PING answered {reply!r}"
                    return
                self.answered += 1
                time.sleep(PING_EVERY)
        except OSError as exc:
            self.failure = f"PING failed: {exc!r}"
        finally:
            self.client.close()


# -- payload strategies --------------------------------------------------------------------

args = st.lists(st.binary(max_size=40), max_size=6)


@st.composite
def truncated_command(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(SAFE_COMMANDS))
    data = encode_command([name, *draw(args)])
    return data[: draw(st.integers(0, len(data)))]


@st.composite
def pipelined_commands(draw: st.DrawFn) -> bytes:
    parts = [encode_command([draw(st.sampled_from(SAFE_COMMANDS)), *draw(args)])]
    parts += [draw(truncated_command()) for _ in range(draw(st.integers(0, 3)))]
    return b"".join(parts)


huge_lengths = st.sampled_from(
    [
        b"*99999999999\r\n",
        b"*2147483648\r\n",
        b"*1048577\r\n",
        b"*1\r\n$536870912\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$9223372036854775807\r\n",
        b"*1\r\n$99999999999999999999999\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\nabc",
        b"*-1\r\n",
        b"*-5\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$-7\r\n",
        b"*0\r\n",
        b"*abc\r\n",
        b"*1\r\n$x\r\n",
        b"*1\r\n$3\r\nGETX\r\n",
        b"*1\r\n$3\r\nPING",
    ]
)


@st.composite
def nested_arrays(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 8))
    inner = encode_command([b"PING"])
    return b"*1\r\n" * depth + inner


# Inline text that happens to spell a real command which stops or reconfigures the node
# (SHUTDOWN, CONFIG SET port ...) would end the test, not find a bug.
STATE_CHANGING = {"shutdown", "config", "client", "debug", "monitor", "quit", "reset", "swapdb"}


def _is_state_changing(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].strip("\"'").lower() in STATE_CHANGING


inline_garbage = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"*", b"").replace(b"$", b"") + b"\r\n"),
    st.text(max_size=80)
    .filter(lambda t: not _is_state_changing(t))
    .map(lambda t: t.encode("utf-8", "surrogatepass") + b"\n"),
    st.sampled_from(
        [
            b'SET "unbalanced\r\n',
            b"SET 'a\\'\r\n",
            b'ECHO "\\x4\r\n',
            b'ECHO "a"b\r\n',
            b"\r\n\r\n\r\n",
            b"\n",
            b"PING" + b" x" * 40000 + b"\r\n",
            b"A" * 70000,
        ]
    ),
)

payloads = st.one_of(
    truncated_command(),
    pipelined_commands(),
    st.binary(max_size=300),
    huge_lengths,
    nested_arrays(),
    inline_garbage,
    st.tuples(huge_lengths, st.binary(max_size=100)).map(b"".join),
)


def send_in_chunks(sock: socket.socket, payload: bytes, cuts: list[int]) -> None:
    pos = 0
    for cut in sorted(set(cuts)):
        if 0 < cut < len(payload):
            sock.sendall(payload[pos:cut])
            pos = cut
    sock.sendall(payload[pos:])


def feed(port: int, payload: bytes, cuts: list[int], close_first: bool) -> None:
    """Send one payload and listen for at most READ_WINDOW; never waits on the node."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=READ_WINDOW)
    try:
        try:
            send_in_chunks(sock, payload, cuts)
            if not close_first:
                sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + READ_WINDOW
            while not close_first and time.monotonic() < deadline:
                if not sock.recv(65536):
                    break
        except OSError:
            pass  # the node closed on us (protocol error) or kept waiting: both fine
    finally:
        sock.close()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    payload=payloads,
    cuts=st.lists(st.integers(0, 400), max_size=4),
    close_first=st.booleans(),
)
def fuzz_once(port: int, payload: bytes, cuts: list[int], close_first: bool) -> None:
    feed(port, payload, cuts, close_first)


def test_random_and_truncated_resp_never_takes_the_node_down(node: ServerProcess) -> None:
    pinger = Pinger(node.port)
    pinger.start()
    started = time.monotonic()
    try:
        fuzz_once(node.port)
    finally:
        pinger.stop_event.set()
        pinger.join(PING_DEADLINE + 1)
    elapsed = time.monotonic() - started
    assert pinger.failure is None, pinger.failure
    assert pinger.answered > 0
    assert pinger.slowest < PING_DEADLINE
    assert node.proc is not None and node.proc.poll() is None, node.log()
    assert "Traceback" not in node.log()
    assert psutil.Process(node.pid).memory_info().rss < 512 * 1024 * 1024
    with RawClient(node.port) as c:
        assert c.call(b"SET", b"after", b"fuzz") == b"+OK\r\n"
        assert c.call(b"GET", b"after") == b"$4\r\nfuzz\r\n"
    assert elapsed < 120


def test_protocol_errors_close_only_the_offending_connection(node: ServerProcess) -> None:
    with RawClient(node.port) as good, RawClient(node.port) as bad:
        good.call(b"SET", b"k", b"v")
        bad.send_raw(b"*1\r\n*1\r\n$4\r\nPING\r\n")
        assert bad.read_reply().startswith(b"-ERR Protocol error")
        with pytest.raises(ConnectionError):
            bad.read_reply()
        assert good.call(b"GET", b"k") == b"$1\r\nv\r\n"


def test_nul_in_an_inline_request_hides_its_newline_like_redis(node: ServerProcess) -> None:
    """Redis finds an inline request's end with strchr, which stops at a NUL: such a line
    never completes (until it is too big), and nothing after it runs."""
    real = start_redis()
    try:
        for payload in (
            b"PING\x00junk\r\n",
            b"\x00PING\r\nPING\r\n",
            b"ECHO a\x00b c\r\n",
            b"PING\x00" + b"x" * 70_000,
        ):
            replies = []
            for port in (node.port, real.port):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(payload)
                    sock.shutdown(socket.SHUT_WR)
                    data = b""
                    while chunk := sock.recv(65536):
                        data += chunk
                replies.append(data)
            assert replies[0] == replies[1], payload[:20]
    finally:
        real.stop()


def test_a_half_sent_huge_bulk_does_not_block_others(node: ServerProcess) -> None:
    with RawClient(node.port) as good, RawClient(node.port) as slow:
        slow.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n" + b"x" * 100_000)
        start = time.monotonic()
        assert good.call(b"PING") == b"+PONG\r\n"
        assert time.monotonic() - start < 1
