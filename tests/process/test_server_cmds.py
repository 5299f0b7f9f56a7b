"""Server commands on a real keelkv process, driven by redis-py and redis-cli: INFO and
COMMAND as clients parse them, CONFIG SET side effects (port rebinding), CONFIG REWRITE
surviving a restart, DEBUG SLEEP stopping the server."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.harness import RawClient, ServerProcess, free_port, start_keelkv


@pytest.fixture(scope="module")
def node() -> Iterator[ServerProcess]:
    n = start_keelkv("--enable-debug-command", "yes")
    yield n
    n.stop()


@pytest.fixture
def r(node: ServerProcess) -> Iterator[redis.Redis]:
    client = node.client(decode_responses=True)
    client.flushall()
    yield client
    client.close()


def test_redis_py_parses_info(r: redis.Redis, node: ServerProcess) -> None:
    r.set("a", "1")
    info = r.info()
    assert info["redis_version"] == "7.0.15" and info["tcp_port"] == node.port
    assert info["process_id"] == node.pid and info["role"] == "master"
    assert info["db0"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
    everything = r.info("everything")
    assert "cmdstat_set" in everything and everything["cluster_enabled"] == 0
    assert r.info("server")["executable"].endswith("cli.py")


def test_redis_py_parses_command_and_config(r: redis.Redis) -> None:
    commands = r.command()
    assert commands["get"]["arity"] == 2 and "readonly" in commands["get"]["flags"]
    assert r.command_count() == len(commands)
    assert r.config_get("maxmemory*")["maxmemory-policy"] == "noeviction"
    assert r.config_set("maxmemory-policy", "allkeys-lru")
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    r.config_set("maxmemory-policy", "noeviction")
    seconds, micros = r.time()
    assert abs(seconds - time.time()) < 5 and 0 <= micros < 1_000_000


def test_redis_cli_uses_info_config_and_command_docs(node: ServerProcess) -> None:
    cli = shutil.which("redis-cli")
    assert cli is not None, "redis-cli (redis-tools) is required"
    out = subprocess.run(
        [cli, "-p", str(node.port), "CONFIG", "GET", "maxmemory"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0 and out.stdout.split() == ["maxmemory", "0"]
    out = subprocess.run(
        [cli, "-p", str(node.port), "INFO", "server"], capture_output=True, text=True, timeout=20
    )
    assert "redis_version:7.0.15" in out.stdout
    # redis-cli asks COMMAND DOCS for its hints when it starts; it must get a usable answer.
    out = subprocess.run(
        [cli, "-p", str(node.port)],
        input="PING\nCOMMAND COUNT\n",
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0 and "PONG" in out.stdout and "ERR" not in out.stdout


def test_debug_sleep_stops_the_whole_server(r: redis.Redis, node: ServerProcess) -> None:
    done = threading.Event()

    def sleeper() -> None:
        with RawClient(node.port) as c:
            assert c.call("DEBUG", "SLEEP", "0.5") == b"+OK\r\n"
        done.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    time.sleep(0.1)
    start = time.monotonic()
    assert r.ping()
    assert time.monotonic() - start > 0.2  # PING waited for the sleep to end
    thread.join(10)
    assert done.is_set()


def test_debug_populate_and_digest(r: redis.Redis) -> None:
    r.execute_command("DEBUG", "POPULATE", "1000")
    assert r.dbsize() == 1000 and r.get("key:999") == "value:999"
    digest = r.execute_command("DEBUG", "DIGEST")
    assert len(digest) == 40 and digest != "0" * 40
    r.flushall()
    assert r.execute_command("DEBUG", "DIGEST") == "0" * 40


def test_config_set_port_rebinds_the_listener(tmp_path: Path) -> None:
    node = start_keelkv(workdir=tmp_path)
    new_port = free_port()
    try:
        with RawClient(node.port) as c:
            assert c.call("CONFIG", "SET", "port", str(new_port)) == b"+OK\r\n"
        with RawClient(new_port) as c:
            assert c.call("PING") == b"+PONG\r\n"
            assert c.call("CONFIG", "GET", "port") == b"*2\r\n$4\r\nport\r\n$%d\r\n%d\r\n" % (
                len(str(new_port)),
                new_port,
            )
        with pytest.raises(OSError):
            RawClient(node.port, timeout=1).call("PING")
    finally:
        assert node.stop() == 0


def test_config_rewrite_survives_a_restart(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("# my settings\nmaxmemory 10mb\n")
    port = free_port()
    node = start_keelkv(config_file=str(conf), workdir=tmp_path, port=port)
    try:
        r = node.client(decode_responses=True)
        assert r.config_set("maxmemory", "20mb")
        r.config_set("timeout", "42")
        assert r.config_rewrite()
        r.close()
    finally:
        node.stop()
    text = conf.read_text()
    assert text.startswith("# my settings\nmaxmemory 20mb\n")
    assert "# Generated by CONFIG REWRITE" in text and "timeout 42" in text
    again = ServerProcess([*start_argv(conf, port)], port, tmp_path, tmp_path / "again.log").start()
    try:
        r = again.client(decode_responses=True)
        assert r.config_get("maxmemory")["maxmemory"] == str(20 * 1024**2)
        assert r.config_get("timeout")["timeout"] == "42"
        r.close()
    finally:
        assert again.stop() == 0


def start_argv(conf: Path, port: int) -> list[str]:
    from tests.harness import keelkv_argv

    return keelkv_argv(port, config_file=str(conf))


def test_slowlog_records_commands(r: redis.Redis) -> None:
    r.slowlog_reset()
    r.config_set("slowlog-log-slower-than", "0")
    try:
        r.set("slow", "1")
        entries = r.slowlog_get(5)
        assert any(e["command"] in ("SET slow 1", b"SET slow 1") for e in entries)
        assert r.slowlog_len() >= 1
    finally:
        r.config_set("slowlog-log-slower-than", "10000")
        r.slowlog_reset()


def test_errorstats_count_error_replies(r: redis.Redis) -> None:
    r.config_resetstat()
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    with pytest.raises(redis.ResponseError):
        r.execute_command("DEBUG", "JMAP")
    stats = r.info("errorstats")
    assert stats["errorstat_ERR"] == {"count": 2}
