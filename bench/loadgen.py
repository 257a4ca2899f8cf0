"""A light HTTP load generator for the benchmarks: pre-built requests over keep-alive sockets.

Why so bare: on a 2-core machine the client and the server share the CPU, so every microsecond
the client spends is taken from the server it measures. Each request is built, signed and encoded
to its final bytes before any clock starts; a send is one `sendall` and a receive reads the status
line, the headers and a Content-Length body, nothing more (no chunked bodies: fail loudly).

Two shapes: `at_rate` is open-loop (request i is due at start + i / rate, whatever happened to
the others; its latency is measured from that due time, so a server that falls behind pays
for every request queued behind the slow one instead of hiding it: no coordinated omission);
`flat_out` keeps N connections busy back to back and measures throughput.
"""

from __future__ import annotations

import itertools
import resource
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

RECEIVE_BYTES = 65536
TIMEOUT_SECONDS = 30.0


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.pending = b""

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=TIMEOUT_SECONDS)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.pending = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def exchange(self, request: bytes) -> int:
        """Send one request, read its whole answer; the status, or 0 when the connection failed."""
        try:
            sock = self.sock or self._open()
            sock.sendall(request)
            status, keep = self._answer(sock)
        except OSError:
            self.close()
            return 0
        if not keep:
            self.close()
        return status

    def _answer(self, sock: socket.socket) -> tuple[int, bool]:
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._receive(sock)
        head, data = data[:end].decode("latin-1").split("\r\n"), data[end + 4 :]
        status = int(head[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        if "chunked" in headers.get("transfer-encoding", ""):
            raise RuntimeError("chunked answers are not expected from these routes")
        length = int(headers.get("content-length", "0"))
        while len(data) < length:
            data += self._receive(sock)
        self.pending = data[length:]
        keep = headers.get("connection", "").lower() != "close" and head[0].startswith("HTTP/1.1")
        return status, keep

    @staticmethod
    def _receive(sock: socket.socket) -> bytes:
        chunk = sock.recv(RECEIVE_BYTES)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        return chunk


@dataclass
class Run:
    """What one run measured: per-request statuses and latencies, and the client's CPU."""

    statuses: list[int]
    latencies: list[float]  # seconds: from due time (at_rate) or from send (flat_out)
    late_sends: list[float]  # seconds each send started after its due time (at_rate only)
    elapsed: float
    client_cpu: float  # CPU seconds this process (all its threads) used during the run

    @property
    def failures(self) -> int:
        return sum(status != 200 for status in self.statuses)

    @property
    def throughput(self) -> float:
        return len(self.statuses) / self.elapsed


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(
    host: str, port: int, requests: Sequence[bytes], connections: int, rate: float | None
) -> Run:
    count = len(requests)
    statuses = [0] * count
    latencies = [0.0] * count
    late = [0.0] * count
    taken = itertools.count()  # next() on a count is atomic under the GIL
    ready = threading.Barrier(connections + 1)
    start = 0.0

    def work() -> None:
        connection = Connection(host, port)
        connection._open()
        ready.wait()
        ready.wait()  # the start time is set between the two waits
        while (index := next(taken)) < count:
            due = start + index / rate if rate else time.perf_counter()
            if rate and (pause := due - time.perf_counter()) > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            statuses[index] = connection.exchange(requests[index])
            latencies[index] = time.perf_counter() - due
            late[index] = sent - due
        connection.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu_before = _cpu()
    start = time.perf_counter() + 0.05
    ready.wait()
    for thread in threads:
        thread.join()
    finished = time.perf_counter()
    return Run(statuses, latencies, late if rate else [], finished - start, _cpu() - cpu_before)


def at_rate(
    host: str, port: int, requests: Sequence[bytes], rate: float, connections: int = 64
) -> Run:
    """Open loop: request i is due at start + i / rate; latency is measured from that time."""
    return _run(host, port, requests, connections, rate)


def flat_out(host: str, port: int, requests: Sequence[bytes], connections: int) -> Run:
    """`connections` clients, each sending its next request as soon as the last is answered."""
    return _run(host, port, requests, connections, None)
