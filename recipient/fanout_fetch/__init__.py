"""``fanout-fetch URL --to DIR`` (also ``fanout fetch``): what a recipient does with the link - download it all.

No AWS credentials: plain HTTP(S) GETs of the presigned URLs. URL is the share page's (its
embedded ``index_url`` is followed) or the index's. The index is read first (its
``count`` and ``object_bytes`` size the progress bars), then one thread streams the parts
line by line into a bounded queue while ``concurrency`` threads download objects:

* each object is streamed to a temp file next to its destination, checked (size; ETag and
  MD5 where the line's ``etag`` allows: ``integrity``), then renamed into place - a file
  under DIR is always complete;
* a file already there with the listed size is skipped only when verified - a record of
  this tool's that it finished that file, unchanged since (``records``), or its MD5 equal to
  the line's one-piece ETag; otherwise it is downloaded again and replaced. A download cut
  short keeps its partial file and continues it with an HTTP Range when the line carries an
  ``etag`` (``partials``, ``downloading``);
* network errors, timeouts, 5xx and 429 are retried with exponential back-off, each retry
  said, every wait bounded (``http``); an expired link (403 ``Request has expired``) is not,
  and is reported as expired, with the index's ``expires_at``;
* no download starts that the free disk space cannot hold; a full disk stops new downloads
  once (``space``).

Where a file goes (``paths``): object ``key`` is written under DIR at the key read as a
path - ``//`` collapsed, ``.`` dropped, ``..`` resolved inside the key (``a/x/../c.pdf`` ->
``a/c.pdf``) - or not at all: a key whose ``..`` would leave DIR, that maps to nothing, or
holds a control character is refused, and so is a key whose path an earlier key (in index
order) already has as a file or a folder. A symlink met under DIR is refused, so a link
planted there cannot redirect a write outside it either.
"""

from __future__ import annotations

from .downloading import Fetcher, fetch
from .paths import UnsafeKey, local_path
from .reporting import Failure, FetchReport, human_bytes, print_summary

__all__ = ["Failure", "FetchReport", "Fetcher", "UnsafeKey", "fetch", "human_bytes", "local_path", "print_summary"]
