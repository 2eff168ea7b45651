"""``fanout fetch INDEX_URL --to DIR``: what a recipient does with the link - download it all.

No AWS credentials: plain HTTP(S) GETs of the presigned URLs. The index is read first (its
``count`` and ``object_bytes`` size the progress bars), then one thread streams the parts
line by line into a bounded queue while ``concurrency`` threads download objects:

* each object is streamed to a temp file next to its destination, its size checked against
  the part's ``size``, then renamed into place - a file under DIR is always complete;
* a file already there with the listed size is skipped (resume: run the command again);
* network errors, 5xx and 429 are retried with exponential back-off; an expired link (403
  ``Request has expired``) is not, and is reported as expired, with the index's ``expires_at``.

Where a file goes - the safe-path rule: object ``key`` is written to ``DIR/key``, exactly,
or not at all. A key that is not a plain relative path is refused (a failure naming the
reason), never rewritten: empty, absolute (``/x``), a drive letter (``C:x``), a backslash,
a NUL or other control character, an empty segment (``a//b``, trailing ``/``), or a ``.``
or ``..`` segment. Directories are created one level at a time and a symlink met on the way
is refused, so a link planted under DIR cannot redirect a write outside it either.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from .recipient import LinkExpired, is_expired_response, link_expired, new_session, s3_error_fields

CHUNK_BYTES = 256 * 1024
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- the safe-path rule ------------------------------------------------------------------------
class UnsafeKey(ValueError):
    """An object key that does not map to a file under DIR (the message says why)."""


def local_path(key: str) -> PurePosixPath:
    """Where ``key`` goes, relative to DIR: the key itself, or :class:`UnsafeKey`."""
    if not key:
        raise UnsafeKey("empty key")
    if "\x00" in key:
        raise UnsafeKey("contains a NUL character")
    if _CONTROL.search(key):
        raise UnsafeKey("contains a control character")
    if "\\" in key:
        raise UnsafeKey("contains a backslash (a path separator on Windows)")
    if key.startswith("/"):
        raise UnsafeKey("absolute path (starts with '/')")
    if _DRIVE_LETTER.match(key):
        raise UnsafeKey("starts with a drive letter")
    if key.endswith("/"):
        raise UnsafeKey("ends with '/' (a folder marker, not a file)")
    segments = key.split("/")
    if "" in segments:
        raise UnsafeKey("empty path segment ('//')")
    if ".." in segments:
        raise UnsafeKey("'..' path segment (would leave DIR)")
    if "." in segments:
        raise UnsafeKey("'.' path segment")
    return PurePosixPath(*segments)


def _make_parents(root: Path, relative: PurePosixPath) -> Path:
    """Create the directories of ``relative`` under ``root`` one at a time, refusing symlinks."""
    current = root
    for segment in relative.parts[:-1]:
        current = current / segment
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):  # another thread made it
                current.mkdir()
            mode = current.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise UnsafeKey(f"{current.relative_to(root)} is a symlink (refusing to follow it out of DIR)")
        if not stat.S_ISDIR(mode):
            raise UnsafeKey(f"{current.relative_to(root)} exists and is not a directory")
    return current / relative.name


# -- report ------------------------------------------------------------------------------------
@dataclass
class Failure:
    what: str  # an object key, "part <key>" or "index"
    reason: str
    expired: bool = False
    objects: int = 1  # how many listed objects this failure accounts for


@dataclass
class FetchReport:
    dest: Path
    index: dict[str, Any] | None = None
    ok: int = 0
    skipped: int = 0
    bytes_downloaded: int = 0
    bytes_skipped: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return sum(f.objects for f in self.failures)

    @property
    def succeeded(self) -> bool:
        return not self.failures

    @property
    def expires_at(self) -> str | None:
        return (self.index or {}).get("expires_at")

    def fail(self, failure: Failure) -> None:
        with self._lock:
            self.failures.append(failure)

    def count_ok(self, size: int) -> None:
        with self._lock:
            self.ok += 1
            self.bytes_downloaded += size

    def count_skipped(self, size: int) -> None:
        with self._lock:
            self.skipped += 1
            self.bytes_skipped += size


class FetchFailed(Exception):
    """One object (or part) could not be fetched; the message is the reason."""


def _check_size(written: int, listed: int) -> None:
    if written != listed:
        raise FetchFailed(f"size mismatch: got {written:,} bytes, the part lists {listed:,}")


def _network_error(exc: Exception, url: str | None = None) -> str:
    """``network error reaching host:port: [Errno 111] Connection refused`` - short, no URL query."""
    where = f" reaching {urlsplit(url).netloc}" if url else ""
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
    return f"network error{where}: {errno.group(0) if errno else type(exc).__name__}"


class _Retryable(Exception):
    pass


class _Cancelled(Exception):
    pass


# -- progress ----------------------------------------------------------------------------------
class _AmountColumn(ProgressColumn):
    """``12/40`` for the files bar, ``3.1/9.8 MB 2.0 MB/s`` for the bytes bar."""

    def __init__(self) -> None:
        super().__init__()
        self._count = MofNCompleteColumn()
        self._size = DownloadColumn()
        self._speed = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "bytes":
            return Text.assemble(self._size.render(task), " ", self._speed.render(task))
        return self._count.render(task)


def _new_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        _AmountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# -- the fetcher -------------------------------------------------------------------------------
@dataclass
class _Item:
    key: str
    size: int
    url: str
    part: str


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
        self.index_url = index_url
        self.dest = dest
        self.concurrency = concurrency
        self.retries = retries
        self.backoff = backoff
        self.session = session or new_session(concurrency + 1)
        self.stop = threading.Event()
        self.report = FetchReport(dest=dest)
        self.on_index: Callable[[dict[str, Any]], None] = lambda _index: None
        self.on_files: Callable[[int], None] = lambda _n: None
        self.on_bytes: Callable[[int], None] = lambda _n: None

    # HTTP ---------------------------------------------------------------------------------
    def _sleep_before_retry(self, attempt: int) -> None:
        delay = self.backoff * 2**attempt * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
        if self.stop.wait(delay):
            raise _Cancelled

    def _with_retries(self, what: str, attempt_once: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return attempt_once()
            except _Retryable as exc:
                if attempt == self.retries:
                    raise FetchFailed(f"{exc} (gave up after {attempt + 1} attempts)") from None
                self._sleep_before_retry(attempt)
        raise AssertionError(what)  # pragma: no cover - the loop returns or raises

    def _open(self, url: str, what: str) -> requests.Response:
        """GET ``url`` streaming; raise LinkExpired, FetchFailed (final) or _Retryable."""
        try:
            response = self.session.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retryable(_network_error(exc, url)) from exc
        if response.status_code == 200:
            return response
        with response:
            try:
                body = response.raw.read(16384, decode_content=True) or b""
            except (requests.RequestException, urllib3.exceptions.HTTPError):
                body = b""
        if is_expired_response(response.status_code, body):
            raise link_expired(url, what)
        code, message = s3_error_fields(body)
        detail = f"HTTP {response.status_code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(detail)
        raise FetchFailed(detail)

    # index and parts ----------------------------------------------------------------------
    def read_index(self) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            with self._open(self.index_url, "the index link") as response:
                try:
                    return response.json()
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    raise _Retryable(_network_error(exc)) from exc
                except ValueError as exc:
                    raise FetchFailed("the index is not JSON (is this an s3-fanout index URL?)") from exc

        index = self._with_retries("index", once)
        if not isinstance(index, dict) or not isinstance(index.get("parts"), list):
            raise FetchFailed("not an s3-fanout index: no 'parts' list")
        return index

    def iter_part(self, part: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The part's lines, streamed; a retry after a network error skips lines already given."""
        given = 0

        def once() -> Iterator[dict[str, Any]]:
            nonlocal given
            seen = 0
            with self._open(part["url"], f"part {part.get('key')}") as response:
                try:
                    for raw in response.iter_lines(chunk_size=CHUNK_BYTES):
                        if not raw:
                            continue
                        seen += 1
                        if seen <= given:
                            continue
                        given += 1
                        yield json.loads(raw)
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    raise _Retryable(_network_error(exc)) from exc

        for attempt in range(self.retries + 1):
            try:
                yield from once()
            except _Retryable as exc:
                if attempt == self.retries:
                    raise FetchFailed(f"{exc} (gave up after {attempt + 1} attempts)") from None
                self._sleep_before_retry(attempt)
            else:
                return

    # objects ------------------------------------------------------------------------------
    def _download_once(self, item: _Item, target: Path) -> int:
        fd, temp_name = tempfile.mkstemp(prefix=".fanout-", suffix=".part", dir=target.parent)
        temp = Path(temp_name)
        written = reported = 0
        try:
            with os.fdopen(fd, "wb") as out, self._open(item.url, "link") as response:
                try:
                    # The bytes as stored (no Content-Encoding decoding): that is what `size` counts.
                    for chunk in response.raw.stream(CHUNK_BYTES, decode_content=False):
                        if self.stop.is_set():
                            raise _Cancelled
                        written += len(chunk)
                        if written > item.size:
                            raise FetchFailed(f"size mismatch: more than the {item.size:,} bytes the part lists")
                        out.write(chunk)
                        self.on_bytes(len(chunk))
                        reported = written
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    raise _Retryable(_network_error(exc)) from exc
            _check_size(written, item.size)
            temp.replace(target)
        except BaseException:
            temp.unlink(missing_ok=True)
            self.on_bytes(-reported)
            raise
        return written

    def fetch_item(self, item: _Item) -> None:
        try:
            target = _make_parents(self.dest, local_path(item.key))
            try:
                existing = target.lstat()
            except FileNotFoundError:
                existing = None
            if existing is not None and stat.S_ISREG(existing.st_mode) and existing.st_size == item.size:
                self.report.count_skipped(item.size)
                self.on_bytes(item.size)
                return
            written = self._with_retries(item.key, lambda: self._download_once(item, target))
            self.report.count_ok(written)
        except UnsafeKey as exc:
            self.report.fail(Failure(item.key, f"refused: {exc}"))
        except LinkExpired:
            when = f"; the index says its links expire at {self.report.expires_at}" if self.report.expires_at else ""
            self.report.fail(Failure(item.key, f"link expired (part {item.part}{when})", expired=True))
        except FetchFailed as exc:
            self.report.fail(Failure(item.key, str(exc)))
        except OSError as exc:
            self.report.fail(Failure(item.key, f"cannot write: {exc.strerror or exc}"))
        finally:
            self.on_files(1)

    # orchestration ------------------------------------------------------------------------
    def _produce(self, index: dict[str, Any], work: queue.Queue[_Item | None]) -> None:
        try:
            for part in index["parts"]:
                if self.stop.is_set():
                    return
                self._produce_part(part, work)
        finally:
            for _ in range(self.concurrency):
                work.put(None)

    def _produce_part(self, part: dict[str, Any], work: queue.Queue[_Item | None]) -> None:
        part_key = str(part.get("key", "?"))
        listed = int(part.get("count", 0) or 0)
        lines = 0
        try:
            for line in self.iter_part(part):
                lines += 1
                if not (
                    isinstance(line, dict)
                    and isinstance(line.get("key"), str)
                    and isinstance(line.get("size"), int)
                    and line["size"] >= 0
                    and isinstance(line.get("url"), str)
                    and line["url"].startswith(("https://", "http://"))
                ):
                    self.report.fail(Failure(f"part {part_key}", f"line {lines} is not a key/size/url object"))
                    self.on_files(1)
                    continue
                work.put(_Item(line["key"], line["size"], line["url"], part_key))
        except LinkExpired:
            when = f"; the index says its links expire at {self.report.expires_at}" if self.report.expires_at else ""
            missing = max(listed - lines, 0)
            reason = f"link expired ({missing} objects not listed{when})"
            self.report.fail(Failure(f"part {part_key}", reason, expired=True, objects=missing))
            self.on_files(missing)
            return
        except (FetchFailed, ValueError) as exc:
            missing = max(listed - lines, 0)
            reason = f"not JSON lines: {exc}" if isinstance(exc, ValueError) else str(exc)
            self.report.fail(Failure(f"part {part_key}", f"{reason} ({missing} objects not listed)", objects=missing))
            self.on_files(missing)
            return
        if lines != listed:
            self.report.fail(Failure(f"part {part_key}", f"{lines} lines, the index says {listed}", objects=0))

    def run(self) -> FetchReport:
        """Read the index, download everything; failures go into the report (never raised)."""
        started = time.monotonic()
        try:
            index = self.report.index = self.read_index()
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
        except OSError as exc:
            self.report.fail(Failure(str(self.dest), f"cannot use it as DIR: {exc.strerror or exc}", objects=0))
            return self._finish(started)
        self._download_all(index)
        return self._finish(started)

    def _download_all(self, index: dict[str, Any]) -> None:
        work: queue.Queue[_Item | None] = queue.Queue(maxsize=self.concurrency * 4)

        def worker() -> None:
            while (item := work.get()) is not None:
                if self.stop.is_set():
                    self.on_files(1)
                    continue
                with contextlib.suppress(_Cancelled):
                    self.fetch_item(item)

        threads = [threading.Thread(target=self._produce, args=(index, work), name="fetch-parts", daemon=True)]
        threads += [threading.Thread(target=worker, name=f"fetch-{n}", daemon=True) for n in range(self.concurrency)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self.stop.set()
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
) -> FetchReport:
    """Download everything ``index_url`` lists into ``dest`` (see the module docstring)."""
    fetcher = Fetcher(index_url, Path(dest), concurrency=concurrency, retries=retries, backoff=backoff)
    if not progress:
        return fetcher.run()
    console = console or Console(stderr=True)
    with _new_progress(console) as bars:
        files = bars.add_task("files", total=None, unit="files")
        size = bars.add_task("bytes", total=None, unit="bytes")
        fetcher.on_files = lambda n: bars.advance(files, n)
        fetcher.on_bytes = lambda n: bars.advance(size, n)

        def size_bars(index: dict[str, Any]) -> None:
            bars.update(files, total=index.get("count"))
            bars.update(size, total=index.get("object_bytes"))

        fetcher.on_index = size_bars
        return fetcher.run()


# -- output ------------------------------------------------------------------------------------
def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n:,} B"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def print_summary(report: FetchReport, console: Console, *, limit: int = 50) -> None:
    console.print(
        f"{'[bold green]fetched[/]' if report.succeeded else '[bold red]fetch incomplete[/]'}: "
        f"{report.ok:,} downloaded, {report.skipped:,} skipped (already complete), {report.failed:,} failed; "
        f"{human_bytes(report.bytes_downloaded)} in {report.seconds:.1f} s -> {escape(str(report.dest))}",
        soft_wrap=True,
    )
    if not report.failures:
        return
    console.print(f"[red]{len(report.failures)} problem(s):[/]", soft_wrap=True)
    for failure in report.failures[:limit]:
        console.print(f"  [red]✗[/] {escape(failure.what)}: {escape(failure.reason)}", soft_wrap=True)
    if len(report.failures) > limit:
        console.print(f"  ... and {len(report.failures) - limit} more")
    if any(f.expired for f in report.failures):
        hint = "the index link has expired" if report.index is None else "some links have expired"
        if report.expires_at:
            past = _is_past(report.expires_at)
            hint += f" (the index says its links expire{'d' if past else ''} at {report.expires_at})"
        console.print(f"[yellow]{hint}: ask the sender for a new link[/]", soft_wrap=True)


def _is_past(timestamp: str) -> bool:
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")) <= datetime.now(UTC)
    except ValueError:
        return False


def command_fetch(index_url: str, to: str, concurrency: int, console: Console) -> int:
    """The ``fanout fetch`` subcommand: 0 if every object is there, 1 otherwise."""
    report = fetch(index_url, to, concurrency=concurrency, console=console)
    print_summary(report, console)
    return 0 if report.succeeded else 1
