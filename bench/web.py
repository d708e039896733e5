"""Benchmark: how fast ``spokenemo serve`` answers an upload of a 4 s clip, after start-up.

Run from the repository root::

    .venv/bin/python bench/web.py                         # 10 uploads, one at a time
    .venv/bin/python bench/web.py -n 20 --concurrency 2   # two clients at once
    .venv/bin/python bench/web.py --asr none              # no transcript (what the page asks for)
    .venv/bin/python bench/web.py --student -n 5          # the AECoTD student instead of the recogniser

The server is the real one (:func:`spokenemo.apps.web.server.create_app` under uvicorn on a free
local port, in this process): it loads the default model (the shipped recogniser; ``--student``:
the AECoTD student) and warms it up before it listens; the
start-up is timed apart. Each upload is a multipart POST of the clip to ``/api/explain``, timed
at the client from the first byte sent to the whole answer read. The server's own analysis time
(``analysis_seconds``) is printed beside it, and the machine load (1-minute load average), since
other jobs share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spokenemo.apps.web.server import create_app  # noqa: E402
from spokenemo.apps.web.settings import ServeSettings  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "ravdess" / "Actor_03" / "03-01-05-02-02-01-03.flac"  # 4.2 s, angry


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _upload(url: str, data: bytes, name: str) -> tuple[float, dict]:
    start = time.perf_counter()
    r = httpx.post(f"{url}/api/explain", files={"file": (name, data, "audio/flac")}, timeout=600)
    seconds = time.perf_counter() - start
    body = r.json()
    if r.status_code != 200:
        raise SystemExit(f"upload refused: {r.status_code} {body}")
    return seconds, body


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("-n", type=int, default=10, help="uploads timed")
    ap.add_argument("--concurrency", type=int, default=1, help="clients uploading at once")
    ap.add_argument("--workers", type=int, default=1, help="server worker threads")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--asr", help="explain's asr option (e.g. none)")
    ap.add_argument("--max-new-tokens", type=int, help="explain's max_new_tokens option")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--student", action="store_true", help="answer with the AECoTD student (serve --student)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    options = {k: v for k, v in {"asr": args.asr, "max_new_tokens": args.max_new_tokens}.items() if v is not None}
    settings = ServeSettings(workers=args.workers, student=args.student, explain_options=options)
    port = _port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    started = time.perf_counter()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    startup = time.perf_counter() - started
    url = f"http://127.0.0.1:{port}"
    health = httpx.get(f"{url}/api/health").json()
    data = args.clip.read_bytes()
    wall = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(lambda i: _upload(url, data, args.clip.name), range(args.n)))
    wall = time.perf_counter() - wall
    server.should_exit = True
    thread.join(timeout=30)
    latencies = sorted(r[0] for r in results)
    analysis = [r[1]["analysis_seconds"] for r in results]
    figures = {
        "clip": args.clip.name, "clip_seconds": results[0][1]["duration"], "model": health["engine"]["model"],
        "answer": health["engine"]["answer"], "warm_up_seconds": health["engine"]["warm_up_seconds"],
        "options": options, "workers": args.workers, "concurrency": args.concurrency, "n": args.n,
        "torch_threads": args.threads, "startup_seconds": round(startup, 2),
        "model_load_seconds": health["engine"]["load_seconds"],
        "latency_median": round(statistics.median(latencies), 3),
        "latency_p90": round(latencies[int(0.9 * (len(latencies) - 1))], 3),
        "latency_min": round(latencies[0], 3), "latency_max": round(latencies[-1], 3),
        "analysis_median": round(statistics.median(analysis), 3), "uploads_per_second": round(args.n / wall, 3),
        "emotion": results[0][1]["emotion"], "load_average_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    goal = figures["latency_median"] < 2.0
    print(f"goal (a 4 s clip answered in under 2 s after start-up): {'met' if goal else 'NOT met'} "
          f"(median {figures['latency_median']} s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
