"""A task of its own for a connection that has to wait (node/hub.py serves the rest).

A client gets here from the hub when it blocks (BLPOP, WAIT...), is paused, has a socket
that stopped draining, or becomes a replica. The loop keeps the measured fast shape
(perf-notes.md): recv first, run every complete command in what arrived, send all replies
with one synchronous `send`, then yield with a cancel-shielded checkpoint. Only on EAGAIN
does the task wait for readability, inside a cancel scope that other tasks cancel
(`Client.wake`) to hand it pub/sub messages, unblocked replies or a kill; an idle plain
client is handed back to the hub instead.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Final

import trio
from trio.lowlevel import cancel_shielded_checkpoint, wait_readable, wait_writable

from node.dispatch import BLOCKED, DONE, PAUSED, execute
from node.keyspace import mstime
from node.resp import NULL_ARRAY, ProtocolError, ReplyError

if TYPE_CHECKING:
    from node.client import Client

RECV_SIZE: Final = 64 * 1024


async def serve_client(
    c: Client,
    batch: tuple[list[list[bytes]], int, int, ProtocolError | None] | None = None,
) -> None:
    """The connection task; an unexpected error closes this client only, never the node.

    `batch` is the rest of a batch the hub (node/hub.py) started: its commands, the index
    of the one that has to wait and what it waits for, and the batch's protocol error.
    """
    handed_back = False
    try:
        if batch is not None:
            commands, start, status, error = batch
            ok = await run_batch(c, commands, error, start, status)
        else:
            ok = not (c.out and not c.aof_hold) or await flush(c)
        if ok:
            handed_back = await _serve(c)
    except Exception as exc:
        c.server.log.warning(
            f"Closing client after an internal error: {client_desc(c)}: "
            + "".join(traceback.format_exception(exc)).rstrip().replace("\n", "\n    ")
        )
    finally:
        if not handed_back:
            c.server.unlink_client(c)


def hub_can_adopt(c: Client) -> bool:
    """An idle plain client goes back to the hub: nothing queued, nothing awaited."""
    return (
        c.kind == "normal"
        and c.blocked is None
        and not c.out
        and not c.aof_hold
        and not c.closing
        and not c.close_after_reply
    )


async def _serve(c: Client) -> bool:
    """Serve `c` until it closes (False) or is handed back to the hub (True)."""
    server = c.server
    sock = c.sock
    assert sock is not None
    while not c.closing:
        try:
            data = sock.recv(RECV_SIZE)
        except BlockingIOError:
            if c.out and not c.aof_hold:
                if not await flush(c):
                    break
                if c.out:
                    continue  # a replica's stream grew meanwhile: read its ACKs, send more
            hub = server.hub
            if hub is not None and hub_can_adopt(c):
                hub.adopt(c)
                return True
            with trio.CancelScope() as scope:
                c.wake_scope = scope
                await wait_readable(sock)
            c.wake_scope = None
            continue
        except OSError:
            break
        if not data:
            break
        c.tot_net_in += len(data)
        server.stats.net_input_bytes += len(data)
        c.last_interaction = time.monotonic()
        try:
            commands = c.parser.feed(data)
            error = None
        except ProtocolError as exc:
            commands = []
            error = exc
        if not await run_batch(c, commands, error, 0, DONE):
            break
        await cancel_shielded_checkpoint()
    return False


async def run_batch(
    c: Client, commands: list[list[bytes]], error: ProtocolError | None, start: int, status: int
) -> bool:
    """Run `commands[start:]` (the first already ran with `status` unless DONE), then send
    the replies once they are as durable as appendfsync promises. False: close."""
    server = c.server
    durable_needed = 0
    if commands:
        server.mstime = mstime()
        aof = server.aof_barrier
        # A resumed batch may hold writes from before it was handed over: wait for all.
        mark = aof.appended if aof is not None and start == 0 else -1
        i = start
        while i < len(commands):  # a blocked client's arrivals are appended to the batch
            argv = commands[i]
            if status == DONE:
                status = execute(c, argv)
            if status == BLOCKED:
                if not await wait_unblocked(c, commands):
                    return False
                # What served it was propagated by another client: wait for it too.
                mark = -1
            elif status == PAUSED:
                await wait_unpaused(c, argv)
            status = DONE
            if c.closing or c.close_after_reply:
                break
            i += 1
        aof = server.aof_barrier
        if aof is not None and aof.appended > mark:
            durable_needed = aof.appended
    if error is None:
        error = c.parser._pending_error
    if error is not None and not answer_protocol_error(c, error):
        return False
    if durable_needed:
        await make_durable(c, durable_needed)
    if c.out and not c.aof_hold and not await flush(c):
        return False
    return not c.close_after_reply


def answer_protocol_error(c: Client, error: ProtocolError) -> bool:
    """Queue Redis's reply to a protocol error and close after it. False: close at once
    (a query buffer over its limit, which Redis logs and does not answer)."""
    server = c.server
    reason = str(error)
    if reason == "query buffer limit":
        server.log.warning(f"Closing client that reached max query buffer length: {client_desc(c)}")
        return False
    c.out.append(ReplyError(f"ERR Protocol error: {reason}").encode())
    server.log.verbose(f"Protocol error ({reason}) from client: {client_desc(c)}")
    c.close_after_reply = True
    return True


async def make_durable(c: Client, offset: int) -> None:
    """Durability before acknowledgement (appendfsync): `c`'s replies wait for the AOF.

    With `always` the writer sends them after the fsync that covers them, and the task
    goes back to reading.
    """
    aof = c.server.aof_barrier
    if aof is not None and aof.done_offset() < offset:
        if aof.policy == "always":
            aof.hold(c, offset)
        else:
            await aof.wait_for(offset)


async def flush(c: Client) -> bool:
    """Send everything queued for `c`; False if the connection is gone.

    A replica's output never stops growing while the master takes writes: it gets one batch
    per call, so its connection task goes back to reading its ACKs in between.
    """
    sock = c.sock
    assert sock is not None
    if c.closing:
        return False  # killed: nothing more goes out, not even replies an fsync held
    while c.out:
        joined = b"".join(c.out) if len(c.out) > 1 else c.out[0]
        c.out.clear()
        data = memoryview(joined)
        while data:
            try:
                sent = sock.send(data)
            except BlockingIOError:
                c.server.output_pending_bytes(c, len(data))
                # A kill (output buffer limit, CLIENT KILL) must not wait for a reader
                # that may never come back.
                with trio.CancelScope() as scope:
                    c.wake_scope = scope
                    await wait_writable(sock)
                c.wake_scope = None
                if c.closing:
                    return False
                continue
            except OSError:
                return False
            c.tot_net_out += sent
            c.server.stats.net_output_bytes += sent
            data = data[sent:]
            if c.closing:
                return False
        if c.kind == "replica":
            break
    return True


async def wait_unblocked(c: Client, queue: list[list[bytes]] | None = None) -> bool:
    """Park a client blocked on keys until served, timed out or disconnected.

    What the client sends meanwhile is parsed but not run, as in Redis: the commands are
    appended to `queue` (the rest of the batch being run) so they keep their order, or run
    here when there is no queue. False when the connection is gone.
    """
    server = c.server
    state = c.blocked
    if state is None:
        return True  # served by another client before this task started (see node/hub.py)
    aof = server.aof_barrier
    if aof is not None and c.out:
        await make_durable(c, aof.appended)
    if c.out and not c.aof_hold and not await flush(c):
        server.blocking.unblock(c, None)
        return False
    sock = c.sock
    assert sock is not None
    alive = True
    arrived: list[list[bytes]] = []

    async def watch_socket(cancel: trio.CancelScope) -> None:
        nonlocal alive
        # A blocked client still has its socket watched, so a disconnection ends the wait.
        while True:
            await wait_readable(sock)
            try:
                peek = sock.recv(RECV_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                peek = b""
            if not peek:
                alive = False
                cancel.cancel()
                return
            c.tot_net_in += len(peek)
            server.stats.net_input_bytes += len(peek)
            try:
                arrived.extend(c.parser.feed(peek))
            except ProtocolError:
                alive = False
                cancel.cancel()
                return

    with trio.move_on_at(state.deadline):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_socket, nursery.cancel_scope)
            while not state.event.is_set() and not c.closing and alive:
                with trio.CancelScope() as wake:
                    c.wake_scope = wake
                    await state.event.wait()
            nursery.cancel_scope.cancel()
    c.wake_scope = None
    if not alive or c.closing:
        server.blocking.unblock(c, None)
        return False
    if c.blocked is state:
        server.mstime = mstime()
        server.blocking.unblock(
            c, state.timeout_reply if state.timeout_reply is not None else NULL_ARRAY
        )
    if arrived:
        if queue is not None:
            queue.extend(arrived)
            return True
        server.mstime = mstime()
        for argv in arrived:
            status = execute(c, argv)
            if status == BLOCKED and not await wait_unblocked(c):
                return False
    return True


async def wait_unpaused(c: Client, argv: list[bytes]) -> None:
    """CLIENT PAUSE: hold the command until the pause ends, then run it."""
    server = c.server
    while True:
        await server.pause_ended.wait()
        server.mstime = mstime()
        status = execute(c, argv)
        if status != PAUSED:
            if status == BLOCKED:
                await wait_unblocked(c)
            return


def client_desc(c: Client) -> str:
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name={c.name.decode(errors='replace')}"
    )
