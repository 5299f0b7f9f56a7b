"""A small Docker Engine API client over the unix socket (no SDK needed).

The drill only needs a handful of calls: find the compose project's containers, and kill,
pause, unpause, start, disconnect and reconnect one of them. They are plain HTTP/1.1
requests to `/var/run/docker.sock` (mounted into the drill container).
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

API = "/v1.41"  # Docker Engine 20.10


class DockerError(Exception):
    pass


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class DockerApi:
    def __init__(self, socket_path: str = "/var/run/docker.sock", timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, API + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise DockerError(f"{method} {path}: {response.status} {raw.decode(errors='replace')}")
        return json.loads(raw) if raw.strip() else None

    def containers(self, project: str | None = None) -> list[dict[str, Any]]:
        filters = {"label": [f"com.docker.compose.project={project}"]} if project else {}
        query = "?all=1&filters=" + quote(json.dumps(filters)) if filters else "?all=1"
        return list(self.request("GET", "/containers/json" + query))

    def inspect(self, container: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/containers/{container}/json"))

    def kill(self, container: str) -> None:
        self.request("POST", f"/containers/{container}/kill?signal=SIGKILL")

    def start(self, container: str) -> None:
        self.request("POST", f"/containers/{container}/start")

    def pause(self, container: str) -> None:
        self.request("POST", f"/containers/{container}/pause")

    def unpause(self, container: str) -> None:
        self.request("POST", f"/containers/{container}/unpause")

    def disconnect(self, network: str, container: str) -> None:
        self.request(
            "POST", f"/networks/{network}/disconnect", {"Container": container, "Force": True}
        )

    def connect(self, network: str, container: str, aliases: list[str], ipv4: str = "") -> None:
        endpoint: dict[str, Any] = {"Aliases": aliases}
        if ipv4:
            endpoint["IPAMConfig"] = {"IPv4Address": ipv4}
        self.request(
            "POST",
            f"/networks/{network}/connect",
            {"Container": container, "EndpointConfig": endpoint},
        )
