"""Processes seen from outside: free ports, stopping process groups, descendants, listeners, CPU time and peak
RSS from /proc (Linux), and whether a server answers over HTTP. The tests use these too."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


def answers(url: str) -> bool:
    """Does ``url`` answer 2xx now?"""
    try:
        return httpx.get(url, timeout=3).is_success
    except httpx.HTTPError:
        return False


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the process group a ``start_new_session`` child leads; SIGKILL it after ``grace_s``."""
    stop_process_groups([proc], grace_s)


def stop_process_groups(procs: list[subprocess.Popen], grace_s: float = 20) -> None:
    """SIGTERM the process groups of ``procs`` all at once, so that they shut down side by side; SIGKILL the
    groups of those still running ``grace_s`` later."""
    running = [proc for proc in procs if proc.poll() is None]
    for proc in running:
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def descendants(ancestors: set[int]) -> set[int]:
    """The live processes below ``ancestors`` (from /proc)."""
    parents = {}
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        with contextlib.suppress(OSError):
            parents[pid] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = set(ancestors)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _listening_sockets(port: int) -> dict[str, str]:
    """The sockets listening on a local TCP port (from /proc): socket inode -> local address as /proc writes it
    (hex; IPv4 little-endian)."""
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                address, hex_port = fields[1].rsplit(":", 1)
                if fields[3] == "0A" and int(hex_port, 16) == port:
                    sockets[f"socket:[{fields[9]}]"] = address
    return sockets


def listening_addresses(port: int) -> set[str]:
    """The local addresses listening on a TCP port: dotted IPv4 (``127.0.0.1``, ``0.0.0.0``), or ``ipv6:<hex>``."""
    addresses = set()
    for address in _listening_sockets(port).values():
        if len(address) == 8:
            addresses.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
        else:
            addresses.add(f"ipv6:{address}")
    return addresses


def listening_pid(port: int) -> int | None:
    """The process listening on a local TCP port (from /proc), or None if it cannot be seen."""
    inodes = set(_listening_sockets(port))
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process in MB (0 for a zombie, which has no memory left to report)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1) if "VmHWM:" in status else 0.0


def tree_rss_mb(pid: int) -> float:
    """The resident memory (VmRSS) of a process and all its descendants, in MB."""
    total = 0
    for member in {pid} | descendants({pid}):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        if "VmRSS:" in status:
            total += int(status.split("VmRSS:")[1].split()[0])
    return round(total / 1024, 1)


class PeakRss:
    """Samples the peak RSS (VmHWM) of the descendants of ``ancestor`` that start while it runs."""

    def __init__(self, ancestor: int, every_s: float = 0.2) -> None:
        self.ancestor, self.every_s = ancestor, every_s
        self.peak_mb = 0.0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample_until_stopped(self) -> None:
        older = descendants({self.ancestor})  # the workers already running are not task processes
        ours: set[int] = set()
        while not self._stop.wait(self.every_s):
            new = descendants({self.ancestor}) - older - ours
            ours |= new
            self.processes += len(new)
            for pid in list(ours):
                try:
                    self.peak_mb = max(self.peak_mb, peak_rss_mb(pid))
                except OSError:
                    ours.discard(pid)


def run_json_process(module: str, job: dict, cwd: Path) -> dict:
    """``python -m module`` with ``job`` as JSON on stdin; the JSON object of its last stdout line (a failure
    raises with the end of its stderr)."""
    proc = subprocess.run([sys.executable, "-m", module], input=json.dumps(job), text=True, capture_output=True,
                          cwd=cwd, check=False)
    if proc.returncode:
        raise RuntimeError(f"{module} {job.get('step', '')} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
