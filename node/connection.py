"""One task per client on a plain non-blocking socket (no trio Stream on the data path).

The loop follows the measured fast shape (perf-notes.md): recv first, run every complete
command in what arrived, send all replies with one synchronous `send`, then yield with a
cancel-shielded checkpoint so that under load the next request is already waiting. Only on
EAGAIN does the task wait for readability, inside a cancel scope that other tasks cancel
(`Client.wake`) to hand it pub/sub messages, unblocked replies or a kill.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING

import trio
from trio.lowlevel import cancel_shielded_checkpoint, wait_readable, wait_writable

from node.dispatch import BLOCKED, PAUSED, execute
from node.keyspace import mstime
from node.resp import NULL_ARRAY, ProtocolError, ReplyError

if TYPE_CHECKING:
    from node.client import Client

RECV_SIZE = 64 * 1024


async def serve_client(c: Client) -> None:
    """The connection task; an unexpected error closes this client only, never the node."""
    try:
        await _serve(c)
    except Exception as exc:
        c.server.log.warning(
            f"Closing client after an internal error: {client_desc(c)}: "
            + "".join(traceback.format_exception(exc)).rstrip().replace("\n", "\n    ")
        )
    finally:
        c.server.unlink_client(c)


async def _serve(c: Client) -> None:
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
        durable_needed = 0
        if commands:
            server.mstime = mstime()
            aof = server.aof_barrier
            mark = aof.appended if aof is not None else 0
            for argv in commands:
                status = execute(c, argv)
                if status:
                    if status == BLOCKED:
                        if not await wait_unblocked(c, commands):
                            return
                        # What served it was propagated by another client: wait for it too.
                        mark = -1
                    elif status == PAUSED:
                        await wait_unpaused(c, argv)
                if c.closing or c.close_after_reply:
                    break
            aof = server.aof_barrier
            if aof is not None and aof.appended > mark:
                durable_needed = aof.appended
        if error is None and c.parser._pending_error is not None:
            error = c.parser._pending_error
        if error is not None:
            reason = str(error)
            if reason == "query buffer limit":
                server.log.warning(
                    f"Closing client that reached max query buffer length: {client_desc(c)}"
                )
                break
            c.out.append(ReplyError(f"ERR Protocol error: {reason}").encode())
            server.log.verbose(f"Protocol error ({reason}) from client: {client_desc(c)}")
            c.close_after_reply = True
        if durable_needed:
            aof = server.aof_barrier
            if aof is not None and aof.done_offset() < durable_needed:
                # Durability before acknowledgement (appendfsync): the replies wait. With
                # `always` the writer sends them after the fsync that covers them, and this
                # task goes back to reading.
                if aof.policy == "always":
                    c.aof_hold = max(c.aof_hold, durable_needed)
                    aof.hold(c)
                else:
                    await aof.wait_for(durable_needed)
        if c.out and not c.aof_hold and not await flush(c):
            break
        if c.close_after_reply:
            break
        await cancel_shielded_checkpoint()


async def flush(c: Client) -> bool:
    """Send everything queued for `c`; False if the connection is gone.

    A replica's output never stops growing while the master takes writes: it gets one batch
    per call, so its connection task goes back to reading its ACKs in between.
    """
    sock = c.sock
    assert sock is not None
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
    assert state is not None
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
