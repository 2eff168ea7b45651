"""What fetch keeps to trust a file it finished (``records``), how it budgets disk space
(``space``), and how a timeout reads (``http.network_error``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from fanout_fetch.http import network_error
from fanout_fetch.records import STATE_DIR, Record, Records
from fanout_fetch.space import NoSpace, Space, bytes_present

RECORD = Record("a/b.pdf", 10, "0123456789abcdef0123456789abcdef", 1_700_000_000_000_000_000)


def test_a_record_survives_a_new_run_and_matches_only_the_same_file(tmp_path: Path) -> None:
    Records(tmp_path).add("a/b.pdf", RECORD)
    later = Records(tmp_path)
    later.load()

    assert later.matches("a/b.pdf", RECORD)
    assert not later.matches("a/b.pdf", Record("a/b.pdf", 10, RECORD.etag, RECORD.mtime_ns + 1))  # touched
    assert not later.matches("a/b.pdf", Record("a/b.pdf", 10, "f" * 32, RECORD.mtime_ns))  # a new object
    assert not later.matches("a/b.pdf", Record("a/b.pdf", 11, RECORD.etag, RECORD.mtime_ns))
    assert not later.matches("a//b.pdf", RECORD)


def test_damaged_lines_are_no_records_and_the_last_line_for_a_path_wins(tmp_path: Path) -> None:
    records = Records(tmp_path)
    records.add("x", RECORD)
    newer = Record("x", 10, None, 5)
    records.add("x", newer)
    with records.path.open("a") as file:
        file.write('{"path": "y", "key": "y"\nnot json\n{"path": "z"}\n')
    again = Records(tmp_path)
    again.load()

    assert again.matches("x", newer)
    assert not again.matches("x", RECORD)
    assert not again.matches("y", Record("y", 10, None, 5))


def test_many_lines_for_few_paths_are_compacted(tmp_path: Path) -> None:
    records = Records(tmp_path)
    for n in range(300):
        records.add("same", Record("same", n, None, n))
    records.compact()

    assert records.path.read_text().count("\n") == 1
    again = Records(tmp_path)
    again.load()
    assert again.matches("same", Record("same", 299, None, 299))


def test_a_symlink_planted_as_the_records_folder_is_not_followed(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / STATE_DIR).symlink_to(outside)

    Records(dest).add("a", RECORD)

    assert list(outside.iterdir()) == []


def test_a_download_that_does_not_fit_stops_every_later_one(tmp_path: Path) -> None:
    space = Space()
    fits = space.reserve(tmp_path, "small", 1000)
    free = shutil.disk_usage(tmp_path).free

    said = r"^not enough space: 'huge' needs .* more, .* free \(1\.0 KB of it for downloads in progress\)$"
    with pytest.raises(NoSpace, match=said):
        space.reserve(tmp_path, "huge", free * 2)
    with pytest.raises(NoSpace):
        space.reserve(tmp_path, "tiny", 1)  # would fit: none starts once the disk is short
    assert space.left_out == 2
    fits.wrote(600)
    fits.close()
    assert space._in_flight == 0


def test_bytes_present_counts_files_but_not_the_records(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x" * 10)
    (tmp_path / ".fanout-x.resume.part").write_bytes(b"x" * 5)
    Records(tmp_path).add("a/f", RECORD)

    assert bytes_present(tmp_path, STATE_DIR) == 15


def test_timeouts_read_as_such() -> None:
    read = requests.ReadTimeout("HTTPConnectionPool(host='h', port=1): Read timed out. (read timeout=10.0)")
    connect = requests.ConnectTimeout("Max retries exceeded (Caused by ConnectTimeoutError(..., 'timeout=8.94'))")

    assert network_error(read, "http://h:1/x?sig") == "timed out after 10 s waiting for h:1"
    assert network_error(connect, "http://h:1/x") == "timed out after 8.9 s connecting to h:1"
    refused = requests.ConnectionError("[Errno 111] Connection refused")
    assert network_error(refused, "http://h:1/x") == "network error reaching h:1: [Errno 111] Connection refused"
