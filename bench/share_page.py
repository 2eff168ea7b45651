"""The share page at scale, in headless Chromium: time to first rows, a search over every
name, and how long the page's main thread is ever busy while the parts load.

A local HTTP server plays the manifest bucket: it serves the page (rendered by
``s3fanout.share_page``) and generates each part on request - 5,000 lines of realistic
presigned URLs - so a million objects need no S3 at all. Page and parts share the origin,
as on S3.

    python -m bench.share_page --objects 100000 1000000   # --smoke: one part (make test)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.processes import BenchError, child_setup, entry, signals_held
from s3fanout.presign import new_url_signer
from s3fanout.share_page import render_share_page
from s3fanout.sigv4 import FrozenCredentials

PART_LINES = 5000


def key_of(n: int) -> str:
    return f"shared/batch-{n // 50_000:03d}/folder-{n // 500:05d}/file-{n:07d}.pdf"


class ShareServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, objects: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.objects = objects
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"
        identity = FrozenCredentials(access_key="AKIABENCHEXAMPLE", secret_key="bench-secret")
        self.signer = new_url_signer(
            "bench-bucket", 604800, region="us-east-1", endpoint_url=self.origin, credentials=identity
        )
        parts = [
            {"count": min(PART_LINES, objects - start), "url": f"{self.origin}/parts/{start // PART_LINES}?X-Amz-Sig=1"}
            for start in range(0, objects, PART_LINES)
        ]
        index = {
            "run_id": "bench",
            "bucket": "bench-bucket",
            "prefix": "shared/",
            "suffix": "",
            "created_at": "2026-11-28T00:00:00Z",
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400)),
            "count": objects,
            "object_bytes": objects * 150_000,
            "parts": parts,
        }
        self.page = render_share_page(index, f"{self.origin}/index.json")
        self.part_bytes = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser went away: expected
            super().handle_error(request, client_address)

    def part(self, number: int) -> bytes:
        start = number * PART_LINES
        lines = []
        for n in range(start, min(start + PART_LINES, self.objects)):
            key = key_of(n)
            lines.append(
                json.dumps(
                    {
                        "key": key,
                        "size": 100_000 + n % 100_000,
                        "etag": "c4ca4238a0b923820dcc509a6f75849b",
                        "last_modified": "2026-11-20T09:14:03.000Z",
                        "url": self.signer.presign_get(key),
                    }
                )
            )
        body = ("\n".join(lines) + "\n").encode()
        self.part_bytes += len(body)
        return body


class _Handler(BaseHTTPRequestHandler):
    server: ShareServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/index.html":
            self._send(self.server.page, "text/html; charset=utf-8")
        elif path.startswith("/parts/"):
            self._send(self.server.part(int(path.rsplit("/", 1)[1])), "application/x-ndjson")
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def _driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:  # else selenium would try to download a driver
        raise BenchError(
            "headless Chromium not found: install the Debian/Ubuntu packages chromium and chromium-driver "
            "(`make browser` does)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    # The driver in its own process group (a terminal's Ctrl-C reaches us, and we quit it),
    # dying with us.
    service = Service(executable_path=driver, popen_kw={"process_group": 0, "preexec_fn": child_setup()})
    try:
        with signals_held():  # a Ctrl-C while the driver is forked would be lost
            return webdriver.Chrome(options=options, service=service)
    except BaseException:  # e.g. Ctrl-C while the browser starts: selenium quits it only on an Exception
        process = getattr(service, "process", None)
        if process is not None:  # not service.stop(): it would ask the driver, perhaps not listening yet
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the driver and the browser it started
            process.wait()
        raise


def measure(objects: int) -> dict[str, Any]:
    server = ShareServer(objects)
    with signals_held():  # the thread inherits the mask: SIGINT/SIGTERM reach the main thread only
        threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = _driver()
    try:
        driver.get(f"{server.origin}/index.html?X-Amz-Signature=1")
        first = None
        deadline = time.monotonic() + 60
        while first is None and time.monotonic() < deadline:
            first = driver.execute_script("return document.body.dataset.firstRowsMs")
            time.sleep(0.02)
        # A search every part must answer: the page loads them all, four at a time.
        target = f"file-{objects - 1:07d}"
        started = time.monotonic()
        driver.execute_script(f"location.hash = '#q={target}'")
        worst = 0.0
        while True:
            asked = time.monotonic()
            done = driver.execute_script(
                "return document.body.dataset.state === 'ready' && document.getElementById('range').textContent"
            )
            worst = max(worst, time.monotonic() - asked)  # how long the main thread kept us waiting
            if done and done.endswith(" of 1 matches"):
                break
            if time.monotonic() - started > 600:
                raise BenchError(f"search over {objects:,} objects did not finish in 600 s")
            time.sleep(0.05)
        search_s = time.monotonic() - started
        heap = driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null")
    finally:
        driver.quit()
        server.shutdown()
    return {
        "objects": objects,
        "parts": -(-objects // PART_LINES),
        "first_rows_ms": int(first) if first else None,
        "search_all_s": round(search_s, 2),
        "longest_wait_for_page_ms": round(worst * 1000),
        "js_heap_mb": round(heap / 1e6) if heap else None,
        "parts_mb": round(server.part_bytes / 1e6),
    }


def share_page_figures(sizes: list[int]) -> dict[str, Any]:
    figures = {}
    for objects in sizes:
        result = measure(objects)
        figures[str(objects)] = result
        print(
            f"  {objects:>9,} objects: first rows {result['first_rows_ms']} ms, search over all "
            f"{result['search_all_s']} s ({result['parts_mb']} MB of parts), page busy at most "
            f"{result['longest_wait_for_page_ms']} ms, JS heap {result['js_heap_mb']} MB",
            flush=True,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--smoke", action="store_true", help=f"one part ({PART_LINES:,} objects): does it run")
    args = parser.parse_args()
    if args.smoke:
        args.objects = [PART_LINES]
    if any(n < 1 for n in args.objects):
        parser.error(f"--objects: each size must be at least 1, not {min(args.objects)}")
    print(json.dumps(share_page_figures(args.objects)))


if __name__ == "__main__":
    entry(main, "bench.share_page")
