"""The share page at scale, in headless Chromium: time to the first rows, to open a deep
folder, to jump to a name, to search every name; peak JavaScript heap; how long the page's
main thread ever kept a script waiting.

A local HTTP server plays the manifest bucket: it serves the page (rendered by
``s3fanout.share_page``, with the folder summary ``s3fanout.folder_summary`` makes of the
same keys) and generates each part on request - 5,000 lines of realistic presigned URLs -
so ten million objects need no S3 at all. Page and parts share the origin, as on S3.
Keys: 200 batches x 100 folders x 500 files per 10M (``key_of``).

    python -m bench.share_page --objects 1000000 10000000   # --smoke: one part (make test)
    python -m bench.share_page --costs   # CPU per object: the folder summary; one more URL
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.processes import BenchError, child_setup, entry, signals_held
from s3fanout.folder_summary import summarize, summarize_parts
from s3fanout.presign import new_url_signer
from s3fanout.share_page import render_share_page
from s3fanout.sigv4 import FrozenCredentials

PART_LINES = 5000


MODIFIED = "2026-11-20T09:14:03.000Z"


def key_of(n: int) -> str:
    return f"shared/batch-{n // 50_000:03d}/folder-{n // 500:05d}/file-{n:07d}.pdf"


def size_of(n: int) -> int:
    return 100_000 + n % 100_000


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
        parts = []
        for start in range(0, objects, PART_LINES):
            end = min(start + PART_LINES, objects) - 1
            url = self.signer.presign_get(f"manifests/bench/parts/{start // PART_LINES:05d}.jsonl")
            parts.append({"count": end - start + 1, "first_key": key_of(start), "last_key": key_of(end), "url": url})
        started = time.process_time()
        folders = summarize(((key_of(n), size_of(n), MODIFIED, n // PART_LINES) for n in range(objects)), "shared/")
        self.summary_s = time.process_time() - started
        index = {
            "run_id": "bench",
            "bucket": "bench-bucket",
            "prefix": "shared/",
            "suffix": "",
            "created_at": "2026-11-28T00:00:00Z",
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400)),
            "count": objects,
            "object_bytes": sum(size_of(n) for n in range(objects)),
            "parts": parts,
        }
        self.page = render_share_page(index, f"{self.origin}/index.json", folders)
        self.part_bytes = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser went away: expected
            super().handle_error(request, client_address)

    def part(self, number: int) -> bytes:
        start = number * PART_LINES
        lines = []
        for n in range(start, min(start + PART_LINES, self.objects)):
            key = key_of(n)  # plain ASCII: no JSON escaping needed
            lines.append(
                f'{{"key":"{key}","size":{size_of(n)},"etag":"c4ca4238a0b923820dcc509a6f75849b",'
                f'"last_modified":"{MODIFIED}","url":"{self.signer.presign_get(key)}"}}'
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
        elif "/parts/" in path:
            self._send(self.server.part(int(path.rsplit("/", 1)[1].split(".")[0])), "application/x-ndjson")
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


class Session:
    """One page in the browser: wait for a state while sampling the JS heap and how long
    the page keeps a script waiting."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.peak_heap = 0
        self.worst_wait = 0.0
        driver.execute_cdp_cmd("Performance.enable", {})

    def heap(self) -> int:
        metrics = self.driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
        used = int(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))
        self.peak_heap = max(self.peak_heap, used)
        return used

    def until(self, script: str, what: str, limit: float = 900) -> float:
        """Seconds until ``script`` (a JS expression) is true."""
        started = time.monotonic()
        while True:
            asked = time.monotonic()
            done = self.driver.execute_script(f"return Boolean({script})")
            self.worst_wait = max(self.worst_wait, time.monotonic() - asked)
            self.heap()
            if done:
                return time.monotonic() - started
            if time.monotonic() - started > limit:
                raise BenchError(f"{what} did not finish in {limit:.0f} s")
            time.sleep(0.02)


READY = "document.body.dataset.state === 'ready'"


def measure(objects: int) -> dict[str, Any]:
    server = ShareServer(objects)
    with signals_held():  # the thread inherits the mask: SIGINT/SIGTERM reach the main thread only
        threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = _driver()
    figures: dict[str, Any] = {"objects": objects, "parts": -(-objects // PART_LINES)}
    try:
        page = Session(driver)

        def view(fragment: str, ready: str, what: str) -> int:
            """Milliseconds from a change of the fragment (as a click makes) to its rows."""
            driver.execute_script("document.body.dataset.state = 'asked'; location.hash = arguments[0]", fragment)
            return round(page.until(f"{READY} && {ready}", what) * 1000)

        # The first view: the top folders, from the folder summary alone.
        driver.get(f"{server.origin}/index.html?X-Amz-Signature=1")
        page.until(f"{READY} && document.querySelectorAll('#rows tr').length > 0", "the first rows")
        figures["first_rows_ms"] = int(driver.execute_script("return document.body.dataset.firstRowsMs"))
        # The flat list in key order, a page in the middle: the parts of that page.
        middle = objects // 2 // 100 + 1
        figures["list_page_in_the_middle_ms"] = view(
            f"#view=list&page={middle}", "document.querySelectorAll('#rows tr').length === 100", "list page"
        )
        # A deep folder (batch/folder/: 500 files), near the end of the keys.
        folder = key_of(objects - 1).removeprefix("shared/").rsplit("/", 1)[0] + "/"
        figures["open_deep_folder_ms"] = view(
            f"#folder={folder}", "document.getElementById('range').textContent.includes(' of ')", "deep folder"
        )
        # Jump to a name from the list's first page.
        view("#view=list", "document.querySelectorAll('#rows tr').length > 0", "the list")
        target = key_of(objects * 3 // 4).removeprefix("shared/")
        started = time.monotonic()
        driver.execute_script(
            "document.getElementById('jump-to').value = arguments[0];document.getElementById('jump').requestSubmit()",
            target,
        )
        leaf = json.dumps(target.rsplit("/", 1)[1])
        page.until(f"document.activeElement && document.activeElement.textContent === {leaf}", "jump")
        figures["jump_to_a_name_ms"] = round((time.monotonic() - started) * 1000)
        # A search every part must answer: streamed, four parts at a time.
        name = f"file-{objects - 1:07d}"
        figures["search_all_s"] = round(
            view(
                f"#view=list&q={name}", "document.getElementById('range').textContent.endsWith(' of 1 match')", "search"
            )
            / 1000,
            3,
        )
        # The largest files first: every part streamed, the first 10,000 kept.
        figures["sort_by_size_s"] = round(
            view("#view=list&sort=-size", "document.querySelectorAll('#rows tr').length === 100", "size sort") / 1000,
            2,
        )
        figures["heap_after_search_mb"] = round(page.heap() / 1e6)
    finally:
        driver.quit()
        server.shutdown()
    figures.update(
        peak_js_heap_mb=round(page.peak_heap / 1e6),
        longest_wait_for_page_ms=round(page.worst_wait * 1000),
        page_kb=round(len(server.page) / 1000),
        summary_cpu_s=round(server.summary_s, 2),
        parts_mb=round(server.part_bytes / 1e6),
    )
    return figures


def share_page_figures(sizes: list[int]) -> dict[str, Any]:
    figures = {}
    for objects in sizes:
        result = measure(objects)
        figures[str(objects)] = result
        print(
            f"  {objects:>10,} objects: first rows {result['first_rows_ms']} ms, list page in the middle "
            f"{result['list_page_in_the_middle_ms']} ms, deep folder {result['open_deep_folder_ms']} ms, "
            f"jump {result['jump_to_a_name_ms']} ms, search over all {result['search_all_s']} s, "
            f"largest first {result['sort_by_size_s']} s "
            f"({result['parts_mb']} MB of parts), peak JS heap {result['peak_js_heap_mb']} MB, page busy at most "
            f"{result['longest_wait_for_page_ms']} ms, page {result['page_kb']} kB",
            flush=True,
        )
    return figures


def costs(objects: int = 1_000_000, runs: int = 3) -> dict[str, Any]:
    """CPU per object (median of ``runs``, this process) of what the page's data costs the
    Lambdas: MergeIndex's folder summary read from the parts' lines (in memory here, as
    read), and - the road not taken - one more presigned URL per object (a download URL)."""
    server = ShareServer(PART_LINES)  # its signer and its part format
    server.objects = objects
    bodies = {f"{n:05d}": server.part(n) for n in range(-(-objects // PART_LINES))}

    async def read(key: str) -> bytes:
        return bodies[key]

    summary_us = []
    for _ in range(runs):
        started = time.process_time()
        asyncio.run(summarize_parts(read, sorted(bodies), "shared/"))
        summary_us.append((time.process_time() - started) / objects * 1e6)
    keys = [key_of(n) for n in range(min(objects, 200_000))]
    presign_us = []
    for _ in range(runs):
        started = time.process_time()
        for key in keys:
            server.signer.presign_get(key)
        presign_us.append((time.process_time() - started) / len(keys) * 1e6)
    return {
        "objects": objects,
        "parts_mb": round(sum(map(len, bodies.values())) / 1e6),
        "folder_summary_us_per_object": round(statistics.median(summary_us), 2),
        "one_more_url_us_per_object": round(statistics.median(presign_us), 2),
        "signer": type(server.signer).__name__,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--smoke", action="store_true", help=f"one part ({PART_LINES:,} objects): does it run")
    parser.add_argument("--costs", action="store_true", help="CPU per object: the folder summary, one more URL")
    args = parser.parse_args()
    if args.costs:
        print(json.dumps(costs()))
        return
    if args.smoke:
        args.objects = [PART_LINES]
    if any(n < 1 for n in args.objects):
        parser.error(f"--objects: each size must be at least 1, not {min(args.objects)}")
    print(json.dumps(share_page_figures(args.objects)))


if __name__ == "__main__":
    entry(main, "bench.share_page")
