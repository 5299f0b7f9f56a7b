"""keelkv-server's command line on real processes: arguments, config files (Debian's stock
redis.conf among them), start-up log, daemonize and pidfile, and clean stops."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.config import split_config_line
from tests.harness import ROOT, RawClient, ServerProcess, free_port, keelkv_argv, start_keelkv

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CLI = [sys.executable, "-m", "node.cli"]
# pid:role dd Mon yyyy hh:mm:ss.mmm <level> message
LOG_LINE = re.compile(
    r"^(\d+):([CMSX]) \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] (.*)$"
)


def run_cli(
    *args: str, stdin: str | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        cwd=ROOT,
    )


def test_version_and_help_exit_zero() -> None:
    version = run_cli("-v")
    assert version.returncode == 0
    assert "redis_version=7.0.15" in version.stdout and "v=" in version.stdout
    assert run_cli("--version").stdout == version.stdout
    usage = run_cli("--help")
    assert usage.returncode == 0 and usage.stdout.startswith("Usage:")


def test_unknown_directive_in_a_file_exits_1_naming_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("port 7000\n# fine so far\nno-such-directive 1\n")
    result = run_cli(str(conf), "--port", "0")
    assert result.returncode == 1
    assert "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in result.stderr
    assert f"Reading the configuration file '{conf}', at line 3" in result.stderr
    assert ">>> 'no-such-directive 1'" in result.stderr
    assert "Bad directive or wrong number of arguments" in result.stderr


def test_bad_command_line_value_and_missing_file_exit_1(tmp_path: Path) -> None:
    bad = run_cli("--port", "notanumber")
    assert bad.returncode == 1
    assert "argument couldn't be parsed into an integer" in bad.stderr
    missing = run_cli(str(tmp_path / "nope.conf"))
    assert missing.returncode == 1
    assert "can't open config file" in missing.stderr


def test_startup_log_order_and_format(tmp_path: Path) -> None:
    node = start_keelkv(workdir=tmp_path)
    try:
        lines = [line for line in node.log().splitlines() if LOG_LINE.match(line)]
        messages = [LOG_LINE.match(line).group(3) for line in lines]  # type: ignore[union-attr]
        pids = {LOG_LINE.match(line).group(1) for line in lines}  # type: ignore[union-attr]
        assert pids == {str(node.pid)}  # the started process is the server
        version = next(i for i, m in enumerate(messages) if "redis_version=7.0.15" in m)
        pid_line = next(i for i, m in enumerate(messages) if f"PID: {node.pid}" in m)
        initialized = messages.index("Server initialized")
        ready = messages.index("Ready to accept connections")
        assert version < pid_line < initialized < ready
    finally:
        assert node.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly_with_status_0(tmp_path: Path, sig: int) -> None:
    node = start_keelkv(workdir=tmp_path)
    assert node.stop(sig) == 0
    assert "ready to exit, bye bye" in node.log()


def test_shutdown_command_stops_with_status_0(tmp_path: Path) -> None:
    node = start_keelkv(workdir=tmp_path)
    with RawClient(node.port) as c:
        c.send_raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
        assert c.sock.recv(100) == b""  # no reply: the connection closes
    assert node.proc is not None
    assert node.proc.wait(10) == 0
    node.stop()


def test_config_from_stdin_and_file_and_overrides(tmp_path: Path) -> None:
    conf = tmp_path / "r.conf"
    conf.write_text("maxmemory 100mb\ntimeout 5\n")
    port = free_port()
    argv = [*keelkv_argv(port, "--timeout", "7", config_file=str(conf)), "-"]
    log = tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=ENV, cwd=tmp_path
        )
        assert proc.stdin is not None
        proc.stdin.write(b"maxmemory-policy allkeys-lru\ntimeout 6\n")
        proc.stdin.close()
        node = ServerProcess(argv, port, tmp_path, log)
        node.proc = proc
        node._log = open(log, "ab")  # noqa: SIM115
        node.wait_ready()
        try:
            r = node.client(decode_responses=True)
            assert r.config_get("maxmemory")["maxmemory"] == str(100 * 1024**2)
            assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
            assert r.config_get("timeout")["timeout"] == "7"
            info = r.info("server")
            assert info["config_file"] == str(conf)
            r.close()
        finally:
            assert node.stop() == 0


def stock_overrides(text: str, workdir: Path) -> list[str]:
    """The overrides Debian's stock redis.conf needs to run as a test process: only for
    the directives it really sets (daemonize, pidfile, logfile, dir)."""
    wanted = {"daemonize": "no", "pidfile": "", "logfile": "", "dir": str(workdir)}
    present = set()
    for line in text.splitlines():
        args = (
            split_config_line(line) if line.strip() and not line.strip().startswith("#") else None
        )
        if args and args[0].lower() in wanted:
            present.add(args[0].lower())
    out: list[str] = []
    for name in sorted(present):
        out += [f"--{name}", wanted[name]]
    return out


def test_debian_stock_redis_conf_starts_a_node(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    shutil.copy("/etc/redis/redis.conf", conf)
    text = conf.read_text()
    overrides = stock_overrides(text, tmp_path)
    # The stock file daemonizes and writes under /var; those are what we override.
    assert "--daemonize" in overrides and "--dir" in overrides
    port = free_port()
    argv = [*CLI, str(conf), *overrides, "--port", str(port)]
    node = ServerProcess(argv, port, tmp_path, tmp_path / "keelkv.log")
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    node.start()
    try:
        r = node.client(decode_responses=True)
        assert r.ping()
        assert r.config_get("dir")["dir"] == str(tmp_path)
        assert r.config_get("hash-max-listpack-entries")["hash-max-listpack-entries"] == "512"
        assert r.config_get("jemalloc-bg-thread")["jemalloc-bg-thread"] == "yes"
        r.set("k", "v")
        assert r.get("k") == "v"
        r.close()
        log = node.log()
        assert "Directive 'jemalloc-bg-thread' has no effect in keelkv" in log
        assert log.count("Directive 'jemalloc-bg-thread'") == 1
        assert "Ready to accept connections" in log
    finally:
        assert node.stop() == 0


def test_daemonize_forks_once_and_writes_the_pidfile(tmp_path: Path) -> None:
    port = free_port()
    pidfile = tmp_path / "keelkv.pid"
    logfile = tmp_path / "keelkv.log"
    result = subprocess.run(
        [
            *CLI,
            "--port",
            str(port),
            "--save",
            "",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(logfile),
            "--dir",
            str(tmp_path),
        ],
        env=ENV,
        cwd=ROOT,
        timeout=20,
        capture_output=True,
    )
    assert result.returncode == 0  # the parent exits at once
    deadline = time.monotonic() + 15
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    try:
        node = ServerProcess([], port, tmp_path, logfile)
        node.wait_ready()
        r = node.client(decode_responses=True)
        assert r.info("server")["process_id"] == pid
        assert f"{pid}:M" in logfile.read_text()
        r.close()
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not pidfile.exists()  # removed on a clean stop


def test_logfile_and_include(tmp_path: Path) -> None:
    inc = tmp_path / "inc.conf"
    inc.write_text("maxmemory-policy volatile-ttl\n")
    conf = tmp_path / "r.conf"
    logfile = tmp_path / "server.log"
    conf.write_text(f"include {inc}\nlogfile {logfile}\nloglevel verbose\n")
    node = start_keelkv(workdir=tmp_path, config_file=str(conf))
    try:
        r = node.client(decode_responses=True)
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-ttl"
        r.close()
        text = logfile.read_text()
        assert "Ready to accept connections" in text
        assert all(LOG_LINE.match(line) for line in text.splitlines() if line)
    finally:
        assert node.stop() == 0


def test_installed_server_starts_from_any_directory(tmp_path: Path) -> None:
    """The console script as users run it: another cwd, no PYTHONPATH (the package comes
    from the install), with the compiled hot path and every command family importable."""
    script = shutil.which("keelkv-server")
    assert script is not None, "keelkv-server is not installed (pip install -e .)"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = open(tmp_path / "node.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [script, "--port", str(port), "--save", ""],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    node = ServerProcess(proc.args, port, tmp_path, tmp_path / "node.log")
    node.proc, node._log = proc, log
    try:
        node.wait_ready()
        with RawClient(port) as c:
            assert c.call(b"SET", b"k", b"v") == b"+OK\r\n"
            assert c.call(b"DUMP", b"k").startswith(b"$")
    finally:
        node.stop()


def test_bind_star_and_ipv6_star_as_in_redis_configs(tmp_path: Path) -> None:
    # `bind * -::*` is how Redis's own configs say "every address"; keelkv must accept it.
    with start_keelkv("--bind", "*", "-::*", "--protected-mode", "no", workdir=tmp_path) as node:
        assert node.client().ping()
