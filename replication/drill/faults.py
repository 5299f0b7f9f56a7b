"""The faults a drill injects into the master, and how each is healed afterwards.

`DockerFaults` acts on the compose project's containers through the Engine API (the drill
service mounts /var/run/docker.sock): `kill` SIGKILLs the master's container (healed by
starting it again, with its volume), `pause` freezes it (unpause), `partition` disconnects
it from its networks (reconnect, with the same aliases). `ProcessFaults` does the same to
local processes by PID (signals), for groups run outside Docker.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Protocol

from replication.drill.docker_api import DockerApi, DockerError

FAULTS = ("kill", "pause", "partition")
Address = tuple[str, int]


class Faults(Protocol):
    def inject(self, fault: str, node: Address) -> str:
        """Apply `fault` to the node at `node`; returns what was done, for the report."""

    def heal(self, fault: str, node: Address) -> str:
        """Undo it (the node comes back with its data)."""


class DockerFaults:
    def __init__(self, api: DockerApi | None = None, project: str | None = None) -> None:
        self.api = api or DockerApi()
        self.project = project
        self._networks: dict[str, list[tuple[str, list[str], str]]] = {}
        # The container each fault hit: after a kill or a partition its address is gone.
        self._injected: dict[Address, str] = {}

    def container_for(self, node: Address) -> str:
        """The container whose network address or name is the node's host."""
        host = node[0]
        for summary in self.api.containers(self.project):
            cid = summary["Id"]
            info = self.api.inspect(cid)
            names = {info.get("Name", "").lstrip("/"), info["Config"].get("Hostname", "")}
            labels = info["Config"].get("Labels") or {}
            names.add(labels.get("com.docker.compose.service", ""))
            for net in (info["NetworkSettings"].get("Networks") or {}).values():
                names.add(net.get("IPAddress", ""))
                names.update(net.get("Aliases") or [])
            if host in names:
                return str(cid)
        raise DockerError(f"no container of the project answers to {host}")

    def inject(self, fault: str, node: Address) -> str:
        cid = self.container_for(node)
        self._injected[node] = cid
        name = self.api.inspect(cid).get("Name", cid).lstrip("/")
        if fault == "kill":
            self.api.kill(cid)
        elif fault == "pause":
            self.api.pause(cid)
        elif fault == "partition":
            nets = self.api.inspect(cid)["NetworkSettings"]["Networks"]
            self._networks[cid] = [
                (
                    net_name,
                    [a for a in (net.get("Aliases") or []) if a != cid[:12]],
                    # A fixed address (compose's ipv4_address) must come back with it.
                    (net.get("IPAMConfig") or {}).get("IPv4Address") or "",
                )
                for net_name, net in nets.items()
            ]
            for net_name, _, _ in self._networks[cid]:
                self.api.disconnect(net_name, cid)
        else:
            raise ValueError(fault)
        return f"{fault} container {name}"

    def heal(self, fault: str, node: Address) -> str:
        cid = self._injected.pop(node, None) or self.container_for(node)
        if fault == "kill":
            self.api.start(cid)
        elif fault == "pause":
            self.api.unpause(cid)
        elif fault == "partition":
            for net_name, aliases, ipv4 in self._networks.pop(cid, []):
                self.api.connect(net_name, cid, aliases, ipv4)
        return f"healed {fault}"


class ProcessFaults:
    """Faults on local processes: `pids` maps a node to its PID, `restart` starts a killed
    node again and returns its new PID."""

    def __init__(self, pids: dict[Address, int], restart: Callable[[Address], int]) -> None:
        self.pids = pids
        self.restart = restart

    def inject(self, fault: str, node: Address) -> str:
        pid = self.pids[node]
        if fault == "kill":
            os.kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        elif fault == "pause":
            os.kill(pid, signal.SIGSTOP)
        else:
            raise ValueError(f"fault {fault} needs Docker (--docker)")
        return f"{fault} pid {pid}"

    def heal(self, fault: str, node: Address) -> str:
        if fault == "kill":
            self.pids[node] = self.restart(node)
            return f"restarted as pid {self.pids[node]}"
        os.kill(self.pids[node], signal.SIGCONT)
        return "resumed"


def describe(node: Address) -> str:
    return f"{node[0]}:{node[1]}"
