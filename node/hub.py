"""One task serves every connection that is in the plain request/reply state.

The hub hosts a level-triggered `select.epoll` inside trio (perf-notes.md, the fastest
measured shape): it waits for the epoll descriptor to become readable, then serves every
ready client synchronously, one `recv` and one `send` each, with a single trio wake-up for
the whole batch and no per-request `epoll_ctl`. A round follows Redis's event loop: read
and run the commands of every ready client, write the AOF once (`beforeSleep`), then send
the replies.

A connection that has to wait for something (a blocking command or WAIT, CLIENT PAUSE, a
socket that stopped draining, a replica's stream, an fsync with `appendfsync always` is the
exception: the AOF writer sends those replies itself) is handed to a task of its own
(`node/connection.py`), which gives it back once it is idle again. Other tasks reach a
hub-owned client through `Client.wake`, which queues it here for the next round.
"""

from __future__ import annotations

import select
import time
import traceback
from typing import TYPE_CHECKING, Final

import trio
from trio.lowlevel import cancel_shielded_checkpoint, wait_readable

from node.connection import answer_protocol_error, client_desc, serve_client
from node.dispatch import DONE, execute
from node.keyspace import mstime
from node.resp import ProtocolError

if TYPE_CHECKING:
    from node.client import Client
    from node.server import Server

RECV_SIZE: Final = 64 * 1024
perf_counter_ns: Final = time.perf_counter_ns


class Hub:
    def __init__(self, server: Server, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.ep = select.epoll()
        self.by_fd: dict[int, Client] = {}
        # Clients with output to send or a kill to act on in this round (Client.hub_pending).
        self.pending: list[Client] = []
        self.scope: trio.CancelScope | None = None
        self.now = time.monotonic()

    # -- ownership ---------------------------------------------------------------------

    def adopt(self, c: Client) -> None:
        """Serve `c` from the hub from now on (it is idle: nothing queued, nothing awaited)."""
        c.hub = self
        self.by_fd[c.fd] = c
        self.ep.register(c.fd, select.EPOLLIN)
        if c.out or c.closing:
            self.notify(c)

    def _release(self, c: Client) -> None:
        if c.hub is self:
            c.hub = None
            self.by_fd.pop(c.fd, None)
            try:
                self.ep.unregister(c.fd)
            except (OSError, ValueError):
                pass

    def _hand_off(
        self,
        c: Client,
        batch: tuple[list[list[bytes]], int, int, ProtocolError | None] | None,
    ) -> None:
        """Give `c` a task of its own: it has to wait for something the hub cannot."""
        self._release(c)
        self.nursery.start_soon(serve_client, c, batch)

    def _close(self, c: Client) -> None:
        self._release(c)
        self.server.unlink_client(c)

    def close_all(self) -> None:
        for c in list(self.by_fd.values()):
            self._close(c)
        self.ep.close()

    def notify(self, c: Client) -> None:
        """Another task queued output for `c` or killed it: act on it in the next round."""
        self._queue(c)
        scope = self.scope
        if scope is not None:
            scope.cancel()

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        ep = self.ep
        server = self.server
        while True:
            events = ep.poll(0)
            if not events and not self.pending:
                with trio.CancelScope() as scope:
                    self.scope = scope
                    await wait_readable(ep.fileno())
                self.scope = None
                events = ep.poll(0)
            if server.shutting_down:
                # The final AOF flush and save have run: nothing more executes (Redis
                # exits right after them); the server closes the connections.
                await trio.sleep_forever()
            self.serve_round(events)
            # Let other tasks run; under load the next requests are waiting by then.
            await cancel_shielded_checkpoint()

    def serve_round(self, events: list[tuple[int, int]]) -> None:
        server = self.server
        self.now = time.monotonic()
        server.mstime = mstime()
        aof = server.aof_barrier
        mark = aof.appended if aof is not None else 0
        by_fd = self.by_fd
        for fd, _ in events:
            if server.shutting_down:
                break  # a SHUTDOWN ran in this round: nobody else's commands run
            c = by_fd.get(fd)
            if c is not None:
                try:
                    self._serve_client(c)
                except Exception as exc:
                    server.log.warning(
                        f"Closing client after an internal error: {client_desc(c)}: "
                        + "".join(traceback.format_exception(exc)).rstrip().replace("\n", "\n    ")
                    )
                    self._close(c)
        aof = server.aof_barrier
        if aof is not None and aof.appended > mark and aof.policy != "always":
            # everysec / no: the kernel has the writes before any reply says they happened.
            aof.write_pending()
        self._flush_pending()

    def _serve_client(self, c: Client) -> None:
        server = self.server
        sock = c.sock
        assert sock is not None
        try:
            data = sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self._close(c)
            return
        if not data:
            self._close(c)
            return
        size = len(data)
        c.tot_net_in += size
        server.stats.net_input_bytes += size
        c.last_interaction = self.now
        try:
            commands = c.parser.feed(data)
            error: ProtocolError | None = None
        except ProtocolError as exc:
            commands = []
            error = exc
        aof = server.aof_barrier
        mark = aof.appended if aof is not None else 0
        i = 0
        n = len(commands)
        server.cmd_clock_ns = perf_counter_ns()
        server.cmd_clock_chained = True
        try:
            while i < n:
                status = execute(c, commands[i])
                if status != DONE:
                    # BLOCKED or PAUSED: the rest of the batch waits in a task of its own.
                    self._hand_off(c, (commands, i, status, error))
                    return
                if c.closing or c.close_after_reply or server.shutting_down:
                    break
                i += 1
        finally:
            server.cmd_clock_chained = False
        if error is None:
            error = c.parser._pending_error
        if error is not None and not answer_protocol_error(c, error):
            self._close(c)
            return
        aof = server.aof_barrier
        if aof is not None and aof.appended > mark and aof.policy == "always":
            # Durability before acknowledgement: the AOF writer sends these replies after
            # the fsync that covers them.
            aof.hold(c, aof.appended)
        if c.kind != "normal":
            self._hand_off(c, None)  # it became a replica (PSYNC) or similar
            return
        self._queue(c)

    def _queue(self, c: Client) -> None:
        """Send `c`'s output (or close it) when this round flushes."""
        if not c.hub_pending:
            c.hub_pending = True
            self.pending.append(c)

    def _flush_pending(self) -> None:
        pending = self.pending
        if not pending:
            return
        self.pending = []
        stats = self.server.stats
        for c in pending:
            c.hub_pending = False
            if c.hub is not self:
                continue  # handed off or closed meanwhile
            if c.closing:
                # Killed (CLIENT KILL, shutdown, output limits): nothing more goes out, not
                # even replies an AOF fsync still holds.
                self._close(c)
                continue
            out = c.out
            if out and not c.aof_hold:
                data = b"".join(out) if len(out) > 1 else out[0]
                out.clear()
                sock = c.sock
                assert sock is not None
                try:
                    sent = sock.send(data)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    self._close(c)
                    continue
                c.tot_net_out += sent
                stats.net_output_bytes += sent
                if sent < len(data):
                    out.append(data[sent:])
                    if not c.closing:
                        # The socket stopped draining: a task waits for it to be writable.
                        self._hand_off(c, None)
                        continue
            if c.closing or c.close_after_reply:
                self._close(c)
