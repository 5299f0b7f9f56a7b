"""keelkv-restore: point-in-time restore of a multi-part AOF into a fresh directory.

    keelkv-restore --to <unix-time> --from <appendonlydir> --into <new dir>

Redis offers `redis-check-aof --truncate-to-timestamp`, which edits the live files in place
and only works when the cut falls in the last file. This tool never writes to the source:
it builds `<new dir>/<appenddirname>/` with the base copied as is, the incr files up to the
cut (the file holding the cut shortened, later files left out) and a manifest listing
exactly those files. A node started with `--dir <new dir> --appendonly yes` then serves
the dataset as of that moment.

The cut follows Redis's rule: at the first `#TS:<t>` annotation with t > T (commands
stamped exactly T are kept). A cut inside MULTI...EXEC moves back to the MULTI: a
transaction is restored whole or not at all. Commands before any annotation of an incr
file belong to the second of the last annotation seen before them (Redis writes `#TS:`
only when the second changes), and the first incr after a rewrite continues the base's
second.

Refusals: T before the base (the base is the dataset at the last rewrite; an RDB base has
no `#TS:` line, so its creation time is its `ctime` AUX field); no timestamps at all
(aof-timestamp-enabled was off); corrupt files before the cut; a target that exists and
is not empty.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Final, TextIO

from persistence.aof.manifest import AofInfo, Manifest, ManifestError, manifest_name
from persistence.aof.manifest import temp_manifest_name as _temp_manifest_name
from persistence.aof.records import Annotation, AofFormatError, AofReader
from persistence.rdb import Aux, EncodingLimits, End, KeyRecord, RdbDecoder, RdbError
from persistence.tools.check_aof import AofProgress
from persistence.tools.check_rdb import Progress

PROG: Final = "keelkv-restore"
CHUNK: Final = 1 << 20
DEFAULT_DIRNAME: Final = "appendonlydir"


class RestoreError(Exception):
    """A reason to refuse; the message is printed as is."""


@dataclass
class FilePlan:
    """What the restore keeps of one source file."""

    info: AofInfo
    size: int
    keep: int  # bytes kept from the start (== size: copied whole)
    commands: int = 0
    keys: int = 0  # an RDB base's keys
    kind: str = "incr"  # "base-rdb", "base-resp" or "incr"
    note: str = ""


@dataclass
class Plan:
    """The restore to perform: files kept (in manifest order) and what was found."""

    prefix: str
    to: int
    files: list[FilePlan] = field(default_factory=list)
    dropped: list[AofInfo] = field(default_factory=list)
    base_time: int | None = None
    last_kept_ts: int | None = None
    first_dropped_ts: int | None = None
    first_ts: int | None = None
    cut_reason: str = ""

    @property
    def bytes_kept(self) -> int:
        return sum(f.keep for f in self.files)

    @property
    def commands_kept(self) -> int:
        return sum(f.commands for f in self.files)


def when(t: int) -> str:
    """A unix time with its UTC reading, for messages."""
    return f"{t} ({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(t))})"


class Meter:
    """Progress over all bytes to scan (stderr); a no-op when not shown."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        if progress is not None:
            progress.total = total
        self.before = 0
        self.commands = 0

    def update(self, pos: int) -> None:
        if self.progress is not None:
            self.progress.update(self.before + pos, self.commands)

    def file_done(self, size: int) -> None:
        self.before += size

    def finish(self) -> None:
        if self.progress is not None and self.progress.shown:
            self.progress.finish(self.before, self.commands)


def find_manifest(source: str, prefix: str | None) -> tuple[str, str]:
    """(appendfilename, manifest path) in the source directory."""
    if prefix is not None:
        path = os.path.join(source, manifest_name(prefix))
        if not os.path.isfile(path):
            raise RestoreError(f"no manifest {manifest_name(prefix)} in {source}")
        return prefix, path
    try:
        names = os.listdir(source)
    except OSError as e:
        raise RestoreError(f"cannot read the AOF directory {source}: {e.strerror}") from None
    found = sorted(n for n in names if n.endswith(".manifest") and not n.startswith("temp-"))
    if not found:
        raise RestoreError(f"no AOF manifest (*.manifest) in {source}")
    if len(found) > 1:
        raise RestoreError(
            f"several manifests in {source} ({', '.join(found)}): choose one with --appendfilename"
        )
    return found[0][: -len(".manifest")], os.path.join(source, found[0])


def scan_rdb_base(f: BinaryIO, meter: Meter) -> tuple[int | None, int, int]:
    """Check an RDB base fully; (its ctime AUX or None, where the RDB part ends, keys)."""
    dec = RdbDecoder(EncodingLimits(), check_crc=True)
    ctime: int | None = None
    keys = 0
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            dec.close()  # raises RdbError: the file ended before the RDB did
        dec.feed(chunk)
        while (ev := dec.next_event()) is not None:
            if isinstance(ev, Aux) and ev.key == b"ctime":
                try:
                    ctime = int(ev.value)
                except ValueError:
                    ctime = None
            elif isinstance(ev, KeyRecord):
                keys += 1
            elif isinstance(ev, End):
                return ctime, dec.offset, keys
        meter.update(dec.offset)


class Scanner:
    """Walks the source files in manifest order and decides where the cut falls."""

    def __init__(self, source: str, manifest: Manifest, prefix: str, to: int, meter: Meter):
        self.source = source
        self.manifest = manifest
        self.meter = meter
        self.plan = Plan(prefix, to)
        self.current_ts: int | None = None  # second of the last annotation seen
        self.seen_annotation = False
        self.incr_annotation = False
        self.untimed_content = False  # commands (or base data) before any known time

    def path(self, info: AofInfo) -> str:
        return os.path.join(self.source, info.name)

    def run(self) -> Plan:
        m = self.manifest
        files = ([m.base] if m.base is not None else []) + m.incrs
        for info in files:
            if not os.path.isfile(self.path(info)):
                raise RestoreError(f"{info.name} is listed in the manifest but missing")
        if not files:
            raise RestoreError("the manifest lists no base and no incr file: nothing to restore")
        if m.base is not None:
            self.scan_base(m.base, is_last=not m.incrs)
        for n, info in enumerate(m.incrs):
            if self.plan.cut_reason:
                self.plan.dropped.append(info)
                continue
            self.scan_resp(info, "incr", is_last=n == len(m.incrs) - 1)
        self.check_timestamps()
        return self.plan

    def scan_base(self, info: AofInfo, is_last: bool) -> None:
        """The base: an RDB (its ctime is the floor) or RESP (its first #TS: line is)."""
        plan = self.plan
        path = self.path(info)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            is_rdb = size >= 8 and f.read(5) == b"REDIS"
            f.seek(0)
            if not is_rdb:
                fp = self.scan_resp(info, "base-resp", is_last)
                if plan.files[0].keep == 0 and plan.cut_reason:
                    raise RestoreError(self.before_base_message(plan.first_dropped_ts))
                plan.base_time = plan.first_ts if fp.keep else None
                return
            try:
                ctime, end, keys = scan_rdb_base(f, self.meter)
            except RdbError as e:
                raise RestoreError(f"the RDB base {info.name} is not valid: {e}") from None
        plan.base_time = ctime
        if ctime is None:
            self.untimed_content = True
        else:
            self.current_ts = ctime
            if plan.to < ctime:
                raise RestoreError(self.before_base_message(ctime, rdb=True))
        fp = FilePlan(info, size, size, keys=keys, kind="base-rdb")
        plan.files.append(fp)
        if end < size:  # an old-style RDB preamble with a RESP tail: cut like an incr
            self._scan_records(info, fp, end, is_last)
        self.meter.file_done(size)

    def before_base_message(self, t: int | None, rdb: bool = False) -> str:
        to = self.plan.to
        what = (
            "an RDB base carries no #TS: annotations, so its creation time is its ctime field"
            if rdb
            else "the base starts with that #TS: annotation"
        )
        return (
            f"cannot restore to {when(to)}: it is before the base of this AOF, written by the "
            f"last rewrite at {when(t) if t is not None else 'an unknown time'} ({what}). "
            f"The earliest restorable point is {when(t) if t is not None else 'unknown'}; "
            f"older states were dropped when the base was rewritten."
        )

    def scan_resp(self, info: AofInfo, kind: str, is_last: bool) -> FilePlan:
        path = self.path(info)
        size = os.path.getsize(path)
        fp = FilePlan(info, size, 0, kind=kind)
        self.plan.files.append(fp)
        self._scan_records(info, fp, 0, is_last)
        self.meter.file_done(size)
        return fp

    def _scan_records(self, info: AofInfo, fp: FilePlan, start: int, is_last: bool) -> None:
        plan = self.plan
        reader = AofReader(start)
        commands_at_multi = 0  # what was kept before the open MULTI, if the cut drops it
        ts_at_multi = kept_ts = plan.last_kept_ts
        cut: int | None = None
        with open(self.path(info), "rb") as f:
            f.seek(start)
            while True:
                chunk = f.read(CHUNK)
                if chunk:
                    reader.feed(chunk)
                else:
                    cut = reader.at_eof()
                try:
                    while (rec := reader.next()) is not None:
                        if isinstance(rec, Annotation):
                            t = rec.timestamp
                            if t is None:
                                continue
                            self.seen_annotation = True
                            if fp.kind == "incr":
                                self.incr_annotation = True
                            if plan.first_ts is None:
                                plan.first_ts = t
                            if t > plan.to:
                                self._cut(fp, rec.start, reader, commands_at_multi, t)
                                in_multi = reader.multi_start is not None
                                plan.last_kept_ts = ts_at_multi if in_multi else kept_ts
                                return
                            self.current_ts = kept_ts = t
                        else:
                            if reader.multi_start == rec.start:
                                commands_at_multi = fp.commands
                                ts_at_multi = kept_ts
                            fp.commands += 1
                            self.meter.commands += 1
                            if self.current_ts is None:
                                self.untimed_content = True
                except AofFormatError as e:
                    raise RestoreError(
                        f"{info.name} is corrupt at offset {e.offset} ({e.reason}); "
                        f"check it with keelkv-check-aof"
                    ) from None
                self.meter.update(reader.offset)
                if not chunk:
                    break
        plan.last_kept_ts = ts_at_multi if reader.multi_start is not None else kept_ts
        if cut is None and reader.multi_start is None:
            fp.keep = fp.size
            return
        # the file ends inside a record or inside MULTI: Redis would cut it on load
        end = reader.multi_start if reader.multi_start is not None else cut
        assert end is not None
        if not is_last:
            raise RestoreError(
                f"{info.name} is truncated at offset {end} but is not the last file "
                f"(Redis refuses to load it); repair the source first"
            )
        if reader.multi_start is not None:
            fp.commands = commands_at_multi
        fp.keep = end
        fp.note = f"source ends with an incomplete record or MULTI; cut at offset {end}"

    def _cut(
        self, fp: FilePlan, at: int, reader: AofReader, commands_at_multi: int, t: int
    ) -> None:
        plan = self.plan
        plan.first_dropped_ts = t
        if reader.multi_start is not None:
            at = reader.multi_start
            fp.commands = commands_at_multi
            fp.note = f"cut at offset {at}, before a MULTI left open by the cut"
        else:
            fp.note = f"cut at offset {at}, the #TS:{t} annotation"
        fp.keep = at
        plan.cut_reason = f"#TS:{t} > {plan.to}"

    def check_timestamps(self) -> None:
        plan = self.plan
        if not self.seen_annotation and plan.base_time is None:
            raise RestoreError(
                "no #TS: timestamp annotations in these AOF files, so no moment can be "
                "placed in them: aof-timestamp-enabled was off when they were written "
                "(enable it with CONFIG SET aof-timestamp-enabled yes for future restores)"
            )
        if not self.incr_annotation and any(f.commands for f in plan.files if f.kind == "incr"):
            raise RestoreError(
                "the incr files hold commands but no #TS: timestamp annotations: "
                "aof-timestamp-enabled was off when they were written, so no moment after "
                f"the base ({when(plan.base_time) if plan.base_time else 'unknown'}) can be placed"
            )
        if self.untimed_content and plan.first_ts is not None and plan.to < plan.first_ts:
            raise RestoreError(
                f"cannot restore to {when(plan.to)}: the files hold data written before their "
                f"first timestamp annotation ({when(plan.first_ts)}) at an unknown time; the "
                f"earliest restorable point is {when(plan.first_ts)}"
            )


def plan_restore(
    source: str, to: int, prefix: str | None = None, progress: Progress | None = None
) -> Plan:
    """Read the source AOF directory (never writing to it) and decide what to keep."""
    prefix, mpath = find_manifest(source, prefix)
    with open(mpath, "rb") as f:
        data = f.read()
    try:
        manifest = Manifest.parse(data)
    except ManifestError as e:
        raise RestoreError(f"the manifest {mpath} is not valid: {e}") from None
    files = ([manifest.base] if manifest.base else []) + manifest.incrs
    total = 0
    for info in files:
        try:
            total += os.path.getsize(os.path.join(source, info.name))
        except OSError:
            pass
    meter = Meter(progress, total)
    try:
        return Scanner(source, manifest, prefix, to, meter).run()
    finally:
        meter.finish()


def copy_prefix(src: str, dst: str, length: int, meter: Meter) -> None:
    """Copy the first `length` bytes of src to a new file dst and fsync it."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
        left = length
        while left > 0:
            chunk = fin.read(min(CHUNK, left))
            if not chunk:
                raise RestoreError(f"{src} shrank while it was being copied")
            fout.write(chunk)
            left -= len(chunk)
            meter.update(length - left)
        fout.flush()
        os.fsync(fout.fileno())
    meter.file_done(length)
    meter.commands += 1


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_restore(
    plan: Plan, source: str, target: str, progress: Progress | None = None
) -> Manifest:
    """Create `target` (must not exist or be empty) with the kept files and a manifest."""
    if os.path.exists(target):
        if not os.path.isdir(target) or os.listdir(target):
            raise RestoreError(f"{target} already exists and is not empty; choose a new --into")
    else:
        os.makedirs(target, 0o755)
    if isinstance(progress, AofProgress):
        progress.label = "files copied"
    meter = Meter(progress, plan.bytes_kept)
    manifest = Manifest()
    try:
        for fp in plan.files:
            if fp.kind == "incr" and fp.keep == 0:
                continue  # nothing before the cut in this file
            copy_prefix(
                os.path.join(source, fp.info.name),
                os.path.join(target, fp.info.name),
                fp.keep,
                meter,
            )
            if fp.kind == "incr":
                manifest.incrs.append(AofInfo(fp.info.name, fp.info.seq, "i"))
                manifest.curr_incr_seq = fp.info.seq
            else:
                manifest.base = AofInfo(fp.info.name, fp.info.seq, "b")
                manifest.curr_base_seq = fp.info.seq
    finally:
        meter.finish()
    temp = os.path.join(target, _temp_manifest_name(plan.prefix))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(manifest.render())
        f.flush()
        os.fsync(f.fileno())
    os.rename(temp, os.path.join(target, manifest_name(plan.prefix)))
    fsync_dir(target)
    fsync_dir(os.path.dirname(os.path.abspath(target)))
    return manifest


def report(plan: Plan, source: str, target: str, into: str, out: TextIO) -> None:
    w = out.write
    w(f"Restored {source} to {when(plan.to)} into {target}\n")
    for fp in plan.files:
        name = fp.info.name
        if fp.kind == "base-rdb":
            born = when(plan.base_time) if plan.base_time is not None else "unknown time"
            w(f"  base {name}: {fp.size} bytes, RDB of {fp.keys} keys written at {born}, copied\n")
            if fp.note:
                w(f"       {fp.note}\n")
            continue
        label = "base" if fp.kind == "base-resp" else "incr"
        if fp.kind == "incr" and fp.keep == 0:
            w(f"  {label} {name}: left out ({fp.note})\n")
            continue
        whole = "copied whole" if fp.keep == fp.size else f"{fp.keep} of {fp.size} bytes kept"
        w(f"  {label} {name}: {whole}, {fp.commands} commands")
        w(f"; {fp.note}\n" if fp.note else "\n")
    for info in plan.dropped:
        w(f"  incr {info.name}: left out (after the cut)\n")
    kept_files = sum(1 for fp in plan.files if fp.keep or fp.kind != "incr")
    w(f"Kept {kept_files} file(s), {plan.bytes_kept} bytes, {plan.commands_kept} commands\n")
    if plan.last_kept_ts is not None:
        w(f"Last timestamp kept: {when(plan.last_kept_ts)}\n")
    else:
        w("Last timestamp kept: none (only the base and untimed commands)\n")
    if plan.first_dropped_ts is not None:
        w(f"First timestamp dropped: {when(plan.first_dropped_ts)}\n")
    else:
        w("First timestamp dropped: none (nothing was written after that moment)\n")
    dirname = os.path.basename(os.path.normpath(target))
    extra = "" if dirname == DEFAULT_DIRNAME else f" --appenddirname {dirname}"
    if plan.prefix != "appendonly.aof":
        extra += f" --appendfilename {plan.prefix}"
    w(f"Start a node on it with: --dir {into} --appendonly yes{extra}\n")


def main(
    argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Entry point: `keelkv-restore --to <unix-time> --from <appendonlydir> --into <dir>`."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Point-in-time restore of a Redis 7.0 / keelkv multi-part AOF into a "
        "new directory (the source is never modified).",
    )
    parser.add_argument("--to", required=True, type=int, help="unix time (seconds) to restore")
    parser.add_argument("--from", dest="source", required=True, help="the source appendonlydir")
    parser.add_argument("--into", required=True, help="new node directory (--dir) to create")
    parser.add_argument("--appendfilename", default=None, help="prefix, if several manifests")
    parser.add_argument("--progress", dest="progress", action="store_true", default=None)
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    source = os.path.normpath(args.source)
    dirname = os.path.basename(os.path.abspath(source)) or DEFAULT_DIRNAME
    target = os.path.join(args.into, dirname)
    if os.path.abspath(target) == os.path.abspath(source):
        err.write(f"{PROG}: --into would write over the source {source}\n")
        return 1
    show = args.progress if args.progress is not None else _isatty(err)
    try:
        plan = plan_restore(
            source, args.to, args.appendfilename, AofProgress(err, 0) if show else None
        )
        write_restore(plan, source, target, AofProgress(err, 0) if show else None)
    except RestoreError as e:
        err.write(f"{PROG}: {e}\n")
        return 1
    except OSError as e:
        err.write(f"{PROG}: {e}\n")
        return 1
    report(plan, source, target, args.into, out)
    return 0


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
