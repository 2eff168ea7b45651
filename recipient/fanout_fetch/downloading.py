"""The writing side of a fetch: ``concurrency`` threads take objects from the queue the
parts feed (``queueing``) and download each to a temp file next to its destination, check
it (``integrity``: size; ETag and MD5 when the line carries an etag), then rename it into
place - a file under DIR is always complete and checked.

* A file already at the destination with the listed size is skipped only if it is verified:
  a record says this tool completed it and it has not changed since (``records``: size,
  mtime, key and ETag), or its MD5 equals the line's one-piece ETag. Otherwise it is
  downloaded again (to a temp file, renamed over it) and the report says it was replaced.
* A download that stops midway keeps its partial file when the line has an etag
  (``partials``); the next attempt - a retry in this run, or a later run - continues it with
  ``Range: bytes=N-`` and ``If-Match: "<etag>"``. S3's 412 (the object changed) or a wrong
  ETag is a failure and the partial is deleted: the bytes could only mix two objects. A 200
  instead of 206 (the range ignored) rewrites the file from byte 0; a 416 or a Content-Range
  other than ``bytes N-(size-1)/size`` starts over on the next attempt.
* Ctrl-C stops the threads; each keeps its resumable partial file and removes any other.
* No download starts that the disk cannot hold, and a full disk stops new downloads once,
  named once in the report (``space``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from rich.console import Console

from .http import Cancelled, FetchFailed, HttpClient, Mismatch, Restart, Retryable, check_size, network_error
from .integrity import check_etag, check_md5, file_md5, is_md5_etag, md5_hasher
from .links import LinkExpired
from .partials import Partial, remove_unclaimed, remove_unresumable, resume_name
from .paths import PathClaims, UnsafeKey, ignores_case, make_parents
from .queueing import CHUNK_BYTES, Item, PartReader
from .records import STATE_DIR, Record, Records, record_of
from .reporting import Failure, FetchReport, human_bytes, new_progress
from .space import MARGIN, NoSpace, Reservation, Space, bytes_present, is_disk_full


def continue_or_restart(response: requests.Response, partial: Partial, size: int) -> None:
    """A ranged answer continues ``partial``; a 200 (the range ignored) rewrites it from byte 0;
    any other range raises Restart (the next attempt starts over)."""
    if response.status_code == 200:
        partial.restart()
        return
    content_range = response.headers.get("Content-Range")
    if content_range != f"bytes {partial.offset}-{size - 1}/{size}":
        raise Restart(f"unexpected Content-Range {content_range!r} for {partial.offset:,}-; starting over")


class ServerSilent(Exception):
    """Not started: the server stopped answering (``HttpClient.silent``)."""


class Fetcher:
    def __init__(
        self,
        index_url: str,
        dest: Path,
        *,
        concurrency: int = 8,
        retries: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.dest = dest
        self.concurrency = concurrency
        self.http = HttpClient(pool=concurrency + 1, retries=retries, backoff=backoff, session=session)
        self.report = FetchReport(dest=dest)
        self.on_index: Callable[[dict[str, Any]], None] = lambda _index: None
        self.on_bytes: Callable[[int], None] = lambda _n: None
        # Late-bound: callers set on_files after construction (progress bars).
        self.reader = PartReader(self.http, index_url, self.report, lambda n: self.on_files(n))  # noqa: PLW0108
        self.on_files: Callable[[int], None] = lambda _n: None
        self.kept: set[Path] = set()  # resumable partial files left for a later run
        self._kept_lock = threading.Lock()
        self.records = Records(dest)
        self.space = Space()
        self.not_tried = 0  # objects not started once the server stopped answering (``http.silent``)

    def _download_once(self, item: Item, target: Path, reservation: Reservation) -> tuple[int, bool]:
        """Download into a partial file, check, rename: (bytes fetched now, resumed?)."""
        partial = Partial.open(target.parent, item.key, item.etag, item.size)
        started = partial.offset
        reported = 0
        try:
            headers = {"Range": f"bytes={started}-", "If-Match": f'"{item.etag}"'} if started else {}
            with self.http.open(item.url, "link", headers) as response:
                check_etag(response.headers, item.etag)
                if started:
                    continue_or_restart(response, partial, item.size)
                hasher = md5_hasher(response.headers, item.etag)
                if hasher is not None and partial.offset:
                    partial.hash_existing(hasher)
                resumed_from = written = reported = partial.offset
                self.on_bytes(reported)
                try:
                    # The bytes as stored (no Content-Encoding decoding): that is what `size` counts.
                    for chunk in response.raw.stream(CHUNK_BYTES, decode_content=False):
                        if self.http.stop.is_set():
                            raise Cancelled
                        written += len(chunk)
                        if written > item.size:
                            raise Mismatch(f"size mismatch: more than the {item.size:,} bytes the part lists")
                        self.http.answered()
                        partial.out.write(chunk)
                        reservation.wrote(len(chunk))
                        if hasher is not None:
                            hasher.update(chunk)
                        self.on_bytes(len(chunk))
                        reported = written
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    raise Retryable(network_error(exc, item.url), progressed=written > resumed_from) from exc
            check_size(written, item.size)
            check_md5(hasher, item.etag)
            partial.commit(target)
            if item.modified is not None:  # as wget and curl -R do: the object's time, not the download's
                with contextlib.suppress(OSError):
                    os.utime(target, (item.modified, item.modified))
            with contextlib.suppress(OSError):
                self.records.add(item.path.as_posix(), record_of(item.key, item.size, item.etag, target))
        except BaseException as exc:
            self.on_bytes(-reported)
            # Right bytes so far (a network error, an expired link, Ctrl-C): keep them to continue.
            if partial.resumable and not isinstance(exc, Mismatch | Restart):
                partial.keep()
                with self._kept_lock:
                    self.kept.add(partial.path)
            else:
                partial.discard()
            raise
        return written - resumed_from, resumed_from > 0

    def fetch_item(self, item: Item) -> None:
        try:
            if item.folder:
                make_parents(self.dest, item.path / "_")  # the folder itself, one level at a time
                self.report.count_ok(0)
                return
            self._fetch_file(item, make_parents(self.dest, item.path))
        except NoSpace:
            pass  # named once, at the end of the run
        except ServerSilent:
            with self._kept_lock:
                self.not_tried += 1  # named once, at the end of the run
        except UnsafeKey as exc:
            self.report.fail(Failure(item.key, f"refused: {exc}"))
        except LinkExpired:
            when = f"; the index says its links expire at {self.report.expires_at}" if self.report.expires_at else ""
            self.report.fail(Failure(item.key, f"link expired (part {item.part}{when})", expired=True))
        except FetchFailed as exc:
            self.report.fail(Failure(item.key, str(exc)))
        except OSError as exc:
            if is_disk_full(exc):
                self.space.ran_out(item.key, exc)
            else:
                self.report.fail(Failure(item.key, f"cannot write: {exc.strerror or exc}"))
        finally:
            self.on_files(1)

    def _fetch_file(self, item: Item, target: Path) -> None:
        """Skip ``target`` if verified complete, else download it (within the free space)."""
        try:
            existing = target.lstat()
        except FileNotFoundError:
            existing = None
        replacing: str | None = None
        if existing is not None and stat.S_ISREG(existing.st_mode) and existing.st_size == item.size:
            replacing = self._unverified(item, target, existing)
            if replacing is None:
                self.report.count_skipped(item.size)
                self.on_bytes(item.size)
                return
        if self.http.silent is not None:
            raise ServerSilent
        reservation = self.space.reserve(target.parent, item.key, self._missing_bytes(item, target))
        try:
            written, resumed = self.http.with_retries(
                f"downloading {item.key}", lambda: self._download_once(item, target, reservation)
            )
        finally:
            reservation.close()
        self.report.count_ok(written, resumed=resumed, replaced=replacing)

    def _unverified(self, item: Item, target: Path, existing: os.stat_result) -> str | None:
        """None if the file there (of the listed size) is verified complete, else why it is
        replaced: ``differed`` (its MD5 is not the ETag) or ``unverified`` (nothing to check it by)."""
        path = item.path.as_posix()
        record = Record(item.key, item.size, item.etag, existing.st_mtime_ns)
        if self.records.matches(path, record):
            return None
        if not is_md5_etag(item.etag):
            return "unverified"
        if file_md5(target) != (item.etag or "").lower():
            return "differed"
        self.records.add(path, record)  # checked once: the next run need not read it again
        return None

    def _missing_bytes(self, item: Item, target: Path) -> int:
        """What the download still has to write: the size less its resumable partial's bytes."""
        if not item.etag:
            return item.size
        try:
            kept = (target.parent / resume_name(item.key, item.etag)).stat().st_size
        except OSError:
            kept = 0
        return item.size - kept if kept < item.size else item.size  # a longer partial starts over

    def run(self) -> FetchReport:
        """Read the index, download everything; failures go into the report (never raised)."""
        started = time.monotonic()
        try:
            index = self.report.index = self.reader.read_index()
        except LinkExpired as exc:
            when = f" at {exc.expired_at:%Y-%m-%dT%H:%M:%SZ}" if exc.expired_at else ""
            self.report.fail(Failure("index", f"the index link expired{when}", expired=True, objects=0))
            return self._finish(started)
        except FetchFailed as exc:
            self.report.fail(Failure("index", str(exc), objects=0))
            return self._finish(started)
        self.on_index(index)
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            self.dest = self.report.dest = self.dest.resolve()
            remove_unresumable(self.dest)
            self.reader.claims = PathClaims(fold=ignores_case(self.dest), reserved=STATE_DIR)
            self.records = Records(self.dest)
            self.records.load()
            short = self._short_of_space(index)
        except OSError as exc:
            self.report.fail(Failure(str(self.dest), f"cannot use it as DIR: {exc.strerror or exc}", objects=0))
            return self._finish(started)
        if short:
            self.report.fail(Failure(str(self.dest), short, objects=0))
            return self._finish(started)
        self._download_all(index)
        if self.space.full is not None:
            left = f"; {self.space.left_out:,} objects not downloaded - free some space and run again"
            self.report.fail(Failure(str(self.dest), self.space.full + left, objects=self.space.left_out))
        if self.http.silent is not None and (self.not_tried or self.reader.unread):
            unread = self.reader.unread
            left = f"; {self.not_tried + unread:,} more objects not tried - run again later"
            self.report.fail(Failure("server", self.http.silent + left, objects=self.not_tried + unread))
        if self.reader.listed_all and not self.http.stop.is_set():
            remove_unclaimed(self.dest, self.kept)
        self.records.compact()
        return self._finish(started)

    def _short_of_space(self, index: dict[str, Any]) -> str | None:
        """Why the download cannot fit (before any byte is fetched), or None. The files already
        under DIR are counted only when the free space is below the index's total."""
        listed = index.get("object_bytes")
        if not isinstance(listed, int) or isinstance(listed, bool):
            return None
        free = shutil.disk_usage(self.dest).free
        if free - MARGIN >= listed:
            return None
        needed = listed - bytes_present(self.dest, STATE_DIR)
        if free - MARGIN >= needed:
            return None
        return (
            f"not enough space: {human_bytes(needed)} still to download (the index lists "
            f"{human_bytes(listed)}), {human_bytes(free)} free - nothing was downloaded"
        )

    def _download_all(self, index: dict[str, Any]) -> None:
        work: queue.Queue[Item | None] = queue.Queue(maxsize=self.concurrency * 4)

        def worker() -> None:
            while (item := work.get()) is not None:
                if self.http.stop.is_set():
                    self.on_files(1)
                    continue
                with contextlib.suppress(Cancelled):
                    self.fetch_item(item)

        threads = [
            threading.Thread(
                target=self.reader.produce, args=(index, work, self.concurrency), name="fetch-parts", daemon=True
            )
        ]
        threads += [threading.Thread(target=worker, name=f"fetch-{n}", daemon=True) for n in range(self.concurrency)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self.http.stop.set()
            for thread in threads[1:]:
                thread.join(5)  # workers remove their temp files
            raise

    def _finish(self, started: float) -> FetchReport:
        self.report.seconds = time.monotonic() - started
        return self.report


def fetch(
    index_url: str,
    dest: Path | str,
    *,
    concurrency: int = 8,
    retries: int = 4,
    backoff: float = 0.5,
    console: Console | None = None,
    progress: bool = True,
    run: Callable[[Fetcher], FetchReport] = Fetcher.run,
) -> FetchReport:
    """Download everything ``index_url`` lists into ``dest`` (see the module docstring).
    ``run`` runs the fetcher once its progress is wired (the CLI: in a thread, so that a
    signal only tells the downloads to stop)."""
    fetcher = Fetcher(index_url, Path(dest), concurrency=concurrency, retries=retries, backoff=backoff)
    if not progress:
        return run(fetcher)
    console = console or Console(stderr=True)
    if not console.is_terminal:  # a log has no live bar: say what the first seconds wait for
        console.print(f"reading the index at {_where(index_url)} ...", markup=False, highlight=False, soft_wrap=True)
    with new_progress(console) as bars:
        # Until the index is read, the bar says so (a page URL costs two requests).
        files = bars.add_task(f"reading the index at {_where(index_url)}", total=None, unit="files")
        size = bars.add_task("bytes", total=None, unit="bytes", visible=False)
        fetcher.on_files = lambda n: bars.advance(files, n)
        fetcher.on_bytes = lambda n: bars.advance(size, n)

        reading = threading.Event()
        reading.set()

        def size_bars(index: dict[str, Any]) -> None:
            reading.clear()
            bars.update(files, description="files", total=index.get("count"))
            bars.update(size, total=index.get("object_bytes"), visible=True)

        fetcher.on_index = size_bars

        def retrying(message: str) -> None:
            # Said where the user looks: on the spinner's line while the index is read, and as a
            # line of its own (above the bars on a terminal; the only sign of it in a log).
            if reading.is_set():
                retry = message.removeprefix("reading the index: ")
                bars.update(files, description=f"reading the index at {_where(index_url)}: {retry}")
            bars.console.print(message, markup=False, highlight=False, soft_wrap=True)

        fetcher.http.on_retry = retrying
        return run(fetcher)


def _where(url: str) -> str:
    """The host and path of a link, without its signature (long, and not for a log)."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}" if parts.netloc else "the link"
