"""HTTP search throughput and latency: POST /api/search with 1, 4 and 16 concurrent clients on
loopback, against the library's own ``Index.search`` latency measured in the same run.

The server runs in its own process (``pictrace.api.app.serve``, uvicorn, one worker), so the
load generator does not share its interpreter. Queries are the bundled sample photos (each one
is in the index: an exact hit after the full search, i.e. decode, features, candidates,
verification). Request counts are bounded, so a run takes about a minute on two cores.

    python bench/bench_http.py                      # index of examples/photos in a temp folder
    python bench/bench_http.py --index demo-index --levels 1 4 16 --requests 48

The table goes to stdout and to bench/results/http.md (--out).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from pictrace import Index, load_settings

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "examples" / "photos"
SERVER = """
import sys
from pathlib import Path
from pictrace.api.app import serve
from pictrace.settings import load_settings
serve(Path(sys.argv[1]), "127.0.0.1", int(sys.argv[2]), load_settings())
"""


@dataclass(frozen=True)
class Row:
    mode: str
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    server_ms: list[float]

    def cells(self) -> list[str]:
        lat = sorted(self.latencies_ms)
        inner = f"{statistics.median(self.server_ms):.0f}" if self.server_ms else "-"
        return [
            self.mode,
            str(self.clients),
            str(self.requests),
            f"{self.requests / self.seconds:.1f}",
            f"{percentile(lat, 50):.0f}",
            f"{percentile(lat, 95):.0f}",
            inner,
        ]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = (len(sorted_values) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def queries() -> list[tuple[str, bytes]]:
    files = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    return [(p.name, p.read_bytes()) for p in files]


def library_row(index_dir: Path, items: list[tuple[str, bytes]], count: int) -> Row:
    """Index.search in-process, one at a time (the floor every HTTP request pays)."""
    with Index.open(index_dir, readonly=True, settings=load_settings()) as index:
        index.search(items[0][1], k=10)  # warm-up: model sessions, faiss files
        latencies = []
        started = time.perf_counter()
        for i in range(count):
            t0 = time.perf_counter()
            index.search(items[i % len(items)][1], k=10)
            latencies.append((time.perf_counter() - t0) * 1000.0)
        seconds = time.perf_counter() - started
    return Row("library Index.search", 1, count, seconds, latencies, latencies)


async def http_row(base: str, items: list[tuple[str, bytes]], clients: int, count: int) -> Row:
    latencies: list[float] = []
    server: list[float] = []
    next_item = iter(range(count))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, timeout=120.0, limits=limits, trust_env=False
    ) as client:

        async def worker() -> None:
            for i in next_item:
                name, data = items[i % len(items)]
                t0 = time.perf_counter()
                answer = await client.post(
                    "/api/search", files={"file": (name, data)}, data={"k": "10"}
                )
                latencies.append((time.perf_counter() - t0) * 1000.0)
                answer.raise_for_status()
                server.append(answer.json()["elapsed_ms"])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Row("HTTP POST /api/search", clients, count, seconds, latencies, server)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(index_dir: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(index_dir), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if (
                httpx.get(
                    f"http://127.0.0.1:{port}/api/health", timeout=1.0, trust_env=False
                ).status_code
                == 200
            ):
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start within 60 s")


def table(rows: list[Row]) -> str:
    head = ["mode", "clients", "requests", "req/s", "p50 ms", "p95 ms", "search ms (p50)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load average {load} "
        "at the start (a shared machine)"
    )


def run(index_dir: Path, levels: list[int], requests: int, out: Path) -> str:
    host = machine()
    items = queries()
    rows = [library_row(index_dir, items, requests)]
    port = free_port()
    server = start_server(index_dir, port)
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(http_row(base, items, 1, 4))  # warm-up
        for clients in levels:
            rows.append(asyncio.run(http_row(base, items, clients, max(requests, 4 * clients))))
    finally:
        server.terminate()
        server.wait(timeout=30)
    command = "python bench/bench_http.py " + shlex.join(sys.argv[1:])
    report = "\n".join(
        [
            "# HTTP search benchmark",
            "",
            f"`{command.strip()}` on {host}, {time.strftime('%Y-%m-%d')}.",
            "",
            f"Index: {len(items)} bundled sample photos; each query is one of them (multipart "
            'upload, k=10). Latency is end to end on loopback; "search ms" is the server\'s own '
            "`elapsed_ms` (decode + features + search) or, for the library row, the call itself.",
            "",
            table(rows),
            "",
            "The server runs CPU work on worker threads (never on the event loop), at most one "
            "search per CPU at a time: with several clients throughput rises towards cores x "
            "the single-search rate, and beyond the core count extra clients queue, so latency "
            "grows with the queue while the server-side search time stays flat.",
            "",
        ]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="existing index (default: build a temp one)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=48, help="requests per level (min)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "http.md")
    args = parser.parse_args()
    if args.index is not None:
        print(run(args.index, args.levels, args.requests, args.out))
        return
    with tempfile.TemporaryDirectory() as folder:
        index_dir = Path(folder) / "index"
        with Index.open(index_dir, settings=load_settings()) as index:
            index.add([PHOTOS])
        print(run(index_dir, args.levels, args.requests, args.out))


if __name__ == "__main__":
    main()
