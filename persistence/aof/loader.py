"""Loading a multi-part AOF at start: the base (RDB or RESP), then each incr file in order.

Commands are replayed through the command table as Redis's fake AOF client does: no reply,
no gates (the node is loading), MULTI ... EXEC applied as a unit, and nothing propagated
(the AOF writer is attached only after loading). Keys are never expired while loading
(Database.expire_if_needed checks `server.loading`), so each command meets the state it was
written against.

Truncation (spec/aof.md §3.2): a last file that ends inside a record or an open MULTI is cut
back to the end of its last complete command when `aof-load-truncated yes`, and the load goes
on; anywhere else, or with `no`, loading stops with the file, the offset and the reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from node.commands.table import COMMANDS, Command
from node.dispatch import call
from persistence.aof.records import Annotation, AofFormatError, AofReader
from persistence.apply import DatasetLoader
from persistence.loader import LoadingProgress, log_rdb_aux
from persistence.rdb import RdbError

if TYPE_CHECKING:
    from node.client import Client
    from node.server import Server

READ_CHUNK = 1 << 20


class AofLoadError(Exception):
    """Loading must stop: the message is what the log says before exiting."""


@dataclass
class LoadedFile:
    name: str
    size: int
    commands: int


class Replayer:
    """Runs RESP commands from the AOF against the keyspace, MULTI/EXEC as a unit."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client: Client = server.new_client(None)
        # The fake client is not a connection: keep it out of CLIENT LIST and INFO.
        server.clients.pop(self.client.id, None)
        self.client.kind = "master"
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.commands = 0

    def lookup(self, argv: list[bytes], name: str) -> Command:
        cmd = COMMANDS.get(argv[0].lower())
        if cmd is None:
            raise AofLoadError(
                f"Unknown command '{argv[0].decode('utf-8', 'replace')}' reading the append "
                f"only file {name}"
            )
        if cmd.subcommands and len(argv) > 1:
            sub = cmd.subcommands.get(argv[1].decode("latin-1").lower())
            if sub is not None:
                cmd = sub
        return cmd

    def run(self, argv: list[bytes], name: str) -> None:
        """Apply one command; returns after it (or its whole transaction) took effect."""
        word = argv[0].lower()
        if word == b"multi":
            self.multi = []
            return
        if word == b"exec":
            queued, self.multi = self.multi or [], None
            for cmd, args in queued:
                self._call(cmd, args)
            return
        cmd = self.lookup(argv, name)
        if self.multi is not None:
            self.multi.append((cmd, argv))
            return
        self._call(cmd, argv)

    def _call(self, cmd: Command, argv: list[bytes]) -> None:
        c = self.client
        call(c, cmd, argv)
        c.out.clear()
        self.commands += 1

    @property
    def in_multi(self) -> bool:
        return self.multi is not None

    def close(self) -> None:
        self.server.unlink_client(self.client)


def replay_file(
    server: Server,
    path: str,
    name: str,
    replayer: Replayer,
    progress: LoadingProgress,
    loaded_before: int,
    is_last: bool,
    *,
    skip_rdb: int = 0,
) -> Generator[None, None, int]:
    """Replay the RESP records of one file (from `skip_rdb`, past an RDB preamble),
    yielding after each chunk so an event loop can serve clients (-LOADING) meanwhile.

    Returns the bytes consumed. Truncation of the last file is repaired per
    aof-load-truncated; anything else raises AofLoadError.
    """
    reader = AofReader(base_offset=skip_rdb)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(skip_rdb)
        while chunk := f.read(READ_CHUNK):
            reader.feed(chunk)
            try:
                while (record := reader.next()) is not None:
                    if type(record) is Annotation:
                        continue
                    replayer.run(record.argv, name)  # type: ignore[union-attr]
            except AofFormatError as exc:
                raise AofLoadError(
                    f"Bad file format reading the append only file {name}: make a backup of "
                    f"your AOF file, then use ./keelkv-check-aof --fix <filename.manifest> "
                    f"(offset {exc.offset}: {exc.reason})"
                ) from exc
            progress.update(loaded_before + reader.offset, replayer.commands)
            yield
    cut = reader.at_eof()
    if replayer.in_multi and reader.multi_start is not None:
        # An open MULTI is cut away whole, with whatever incomplete record follows it.
        cut = reader.multi_start
    if cut is None:
        return size
    if not is_last:
        raise AofLoadError(
            f"Fatal error: the truncated file is not the last file ({name}, complete up to "
            f"offset {cut})"
        )
    if not server.config.aof_load_truncated:
        raise AofLoadError(
            f"Unexpected end of file reading the append only file {name}. You can: 1) Make a "
            f"backup of your AOF file, then use ./keelkv-check-aof --fix <filename.manifest>. "
            f"2) Alternatively you can set the 'aof-load-truncated' configuration option to yes "
            f"and restart the server."
        )
    log = server.log
    log.warning(f"!!! Warning: short read while loading the AOF file {name}!!!")
    log.warning(f"!!! Truncating the AOF {name} at offset {cut} !!!")
    if replayer.in_multi:
        log.warning("Revert incomplete MULTI/EXEC transaction in AOF file")
        replayer.multi = None
    os.truncate(path, cut)
    log.warning(f"AOF {name} loaded anyway because aof-load-truncated is enabled")
    return cut


def load_rdb_base(server: Server, path: str, name: str) -> tuple[int, int]:
    """An RDB base (or preamble): every key kept, as Redis loads AOF bases.

    Returns (keys loaded, the offset where the RDB ends, for a RESP tail).
    """
    loader = DatasetLoader(server, keep_expired=True)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(READ_CHUNK):
                loader.feed(chunk)
                if loader.ended:
                    break
        if not loader.ended:
            loader.finish()
    except RdbError as exc:
        raise AofLoadError(f"Fatal error loading the RDB base {name}: {exc}") from exc
    log_rdb_aux(server, loader.aux)
    server.log.notice(f"Done loading RDB, keys loaded: {loader.keys_loaded}, keys expired: 0.")
    return loader.keys_loaded, loader.offset


def is_rdb_file(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(5) == b"REDIS"


async def load_files(
    server: Server, directory: str, files: list[tuple[str, str]], progress: LoadingProgress
) -> list[LoadedFile]:
    """Load (name, kind) files of `directory` in order, serving the event loop between
    chunks."""
    steps = load_files_steps(server, directory, files, progress)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        await trio.sleep(0)


def load_files_sync(
    server: Server, directory: str, files: list[tuple[str, str]], progress: LoadingProgress
) -> list[LoadedFile]:
    """The same in one go (DEBUG LOADAOF)."""
    steps = load_files_steps(server, directory, files, progress)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def load_files_steps(
    server: Server, directory: str, files: list[tuple[str, str]], progress: LoadingProgress
) -> Generator[None, None, list[LoadedFile]]:
    """Load (name, kind) files of `directory` in order: kind "b" (base) or "i" (incr)."""
    replayer = Replayer(server)
    loaded: list[LoadedFile] = []
    consumed = 0
    # Replayed commands must not be appended to the AOF (or sent anywhere) again.
    consumers = server.propagator.consumers
    server.propagator.consumers = []
    try:
        for index, (name, kind) in enumerate(files):
            path = os.path.join(directory, name)
            if not os.path.exists(path):
                raise AofLoadError(
                    f"The AOF file {name} doesn't exist (listed in the manifest as "
                    f"{'base' if kind == 'b' else 'incr'})"
                )
            started = time.monotonic()
            size = os.path.getsize(path)
            is_last = index == len(files) - 1
            skip = 0
            if size and is_rdb_file(path):
                server.log.notice("Reading RDB base file on AOF loading...")
                _, skip = load_rdb_base(server, path, name)
            before = replayer.commands
            end = yield from replay_file(
                server, path, name, replayer, progress, consumed, is_last, skip_rdb=skip
            )
            consumed += end
            what = "base" if kind == "b" else "incr"
            server.log.notice(
                f"DB loaded from {what} file {name}: {time.monotonic() - started:.3f} seconds"
            )
            loaded.append(LoadedFile(name, end, replayer.commands - before))
    finally:
        replayer.close()
        server.propagator.consumers = consumers
    return loaded
