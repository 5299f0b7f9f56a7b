"""The one propagation stream: collection per call, MULTI/EXEC wrapping, SELECT emission."""

from __future__ import annotations

from node.propagate import EXEC, MULTI, Propagator, RecordingConsumer, StreamEncoder
from node.resp import encode_command


def test_nothing_is_collected_without_consumers() -> None:
    p = Propagator()
    p.propagate(0, [b"SET", b"k", b"v"])
    assert p.pending == []


def test_a_single_vector_is_delivered_unwrapped() -> None:
    p = Propagator()
    rec = RecordingConsumer()
    p.consumers.append(rec)
    p.propagate(3, [b"SET", b"k", b"v"])
    assert rec.ops == []  # nothing leaves before the call ends
    p.flush()
    assert rec.ops == [(3, [b"SET", b"k", b"v"])]


def test_several_vectors_of_one_call_are_wrapped_in_multi_exec() -> None:
    p = Propagator()
    rec = RecordingConsumer()
    p.consumers.append(rec)
    p.propagate(0, [b"DEL", b"expired"])
    p.propagate(0, [b"SET", b"k", b"v"])
    p.flush()
    assert [argv for _, argv in rec.ops] == [
        MULTI,
        [b"DEL", b"expired"],
        [b"SET", b"k", b"v"],
        EXEC,
    ]


def test_every_consumer_sees_the_same_sequence() -> None:
    p = Propagator()
    a, b = RecordingConsumer(), RecordingConsumer()
    p.consumers += [a, b]
    p.propagate(1, [b"INCR", b"x"])
    p.flush()
    assert a.ops == b.ops == [(1, [b"INCR", b"x"])]


def test_stream_encoder_selects_the_db_before_the_first_command_and_on_change() -> None:
    enc = StreamEncoder()
    set_k = [b"SET", b"k", b"v"]
    first = enc.encode(0, set_k)
    assert first == encode_command([b"SELECT", b"0"]) + encode_command(set_k)
    assert enc.encode(0, set_k) == encode_command(set_k)
    assert enc.encode(5, set_k) == encode_command([b"SELECT", b"5"]) + encode_command(set_k)


def test_exec_never_triggers_a_select() -> None:
    enc = StreamEncoder()
    enc.encode(2, MULTI)
    assert enc.encode(2, EXEC) == encode_command(EXEC)
