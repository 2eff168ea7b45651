"""Planning's probes, lean: ListObjectsV2 signed by our own SigV4 signer, sent as one raw
aiohttp GET and read with the fast page helpers - the same question as
:func:`s3fanout.listing.probe_page` ("the first keys after this string") for a fraction of
aiobotocore's CPU per request (request building, signing, event hooks, response handling:
~3 ms each, 1,204 of them to plan 100M keys).

The lean path is an optimisation only, never a new behaviour:

* its signer (:class:`~s3fanout.sigv4.SigV4QuerySigner`) is used only after it reproduced,
  byte for byte, the client's own presigned ListObjectsV2 URLs (same endpoint, addressing
  style, region and credentials; query parameters in botocore's order) for parameters with
  every character class that needs escaping - else every probe is ``probe_page``;
* a probe whose answer is anything but a plainly complete ``200`` ListBucketResult with
  EncodingType=url - another status, a redirect, a dropped connection, a timeout, an
  ``<Error>`` document, a body the fast helpers do not read with certainty - is asked again
  through ``probe_page`` (aiobotocore: its retries, and the project's named errors), so
  failures, retries, permissions and NoSuchBucket behave exactly as before. After
  :data:`MAX_FALLBACKS` such fallbacks the lean path is left for the rest of the run.

Its aiohttp session is the run's own unless the caller hands over a process-wide one
(``http_sessions``: s3fanout.runtime keeps one per event loop, so a warm Lambda invocation
reuses its connections instead of paying new TCP and TLS handshakes; the run does not close it).
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import aiohttp
import botocore.httpsession
from botocore.utils import get_environ_proxies
from yarl import URL

from .botocore_overrides import split_keys, url_decoded
from .listing import ProbePage, probe_page
from .presign import PROBE_KEYS
from .sigv4 import CREDENTIALS_CHECK_SECONDS, FrozenCredentials, SigV4QuerySigner, parse_timestamp

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger(__name__)

Probe = Callable[[str | None, int], Awaitable[ProbePage]]
# ``(url, limit) -> session`` for lean probes to ``url`` with ``limit`` connections: one the
# caller keeps (and closes), as :func:`new_http_session` would build it.
HttpSessions = Callable[[str, int], Awaitable[aiohttp.ClientSession]]

# The lifetime of a probe's URL: it is used the moment it is signed.
EXPIRES_IN = 300
# Lean probes that fell back before the rest of the run goes straight to probe_page (the
# lean path is then evidently not answering here: another region, a proxy, an outage).
MAX_FALLBACKS = 16
# What ListObjectsV2 is asked, in the order botocore writes the query.
LIST_PARAMETERS = ("list-type", "prefix", "start-after", "max-keys", "encoding-type")
_ODD = PROBE_KEYS[1]
# The self-check's requests: (prefix, start_after, max_keys), besides the run's own prefix.
CHECKS: tuple[tuple[str, str | None, int], ...] = (
    ("", None, 1000),
    (_ODD, _ODD, 1),
    ("x", _ODD + "~", 37),
    (_ODD, None, 1000),
)


def list_query(prefix: str, start_after: str | None, max_keys: int) -> dict[str, str]:
    """A probe's ListObjectsV2 query parameters (raw values), as :func:`probe_page` asks."""
    query = {"list-type": "2", "prefix": prefix, "max-keys": str(max_keys), "encoding-type": "url"}
    if start_after is not None:
        query["start-after"] = start_after
    return query


def list_params(bucket: str, prefix: str, start_after: str | None, max_keys: int) -> dict[str, Any]:
    """The same request as botocore's ``list_objects_v2`` parameters (probe_page's)."""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys, "EncodingType": "url"}
    if start_after is not None:
        params["StartAfter"] = start_after
    return params


def list_signer_from(
    references: list[tuple[tuple[str, str | None, int], str]], credentials: FrozenCredentials, expires_in: int
) -> SigV4QuerySigner | None:
    """A signer that reproduces every ``(request, botocore's presigned URL)`` in
    ``references`` at botocore's own timestamp, or None.

    The URL (endpoint, addressing style), region and service are read off botocore's first
    URL with a start-after (which then carries every parameter), the query order too.
    """
    try:
        full = next(url for (_p, start_after, _m), url in references if start_after is not None)
        base, _, query = full.partition("?")
        pairs = parse_qsl(query, keep_blank_values=True)
        order = tuple(name for name, _ in pairs if not name.startswith("X-Amz-"))
        auth = dict(pairs)
        scope = auth["X-Amz-Credential"].split("/")  # AKID/date/region/service/aws4_request
        if sorted(order) != sorted(LIST_PARAMETERS) or auth.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            return None
        if len(scope) != 5 or scope[0] != credentials.access_key:
            return None
        signer = SigV4QuerySigner(
            base, order=order, region=scope[2], service=scope[3], expires_in=expires_in, credentials=credentials
        )
        for request, url in references:
            stamp = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
            if signer.presign_at(list_query(*request), parse_timestamp(stamp)) != url:
                return None
    except Exception:  # any surprise means "no lean probe"
        log.debug("lean list signer unavailable", exc_info=True)
        return None
    return signer


def client_credentials(client: Any) -> Any:
    """The credentials object ``client`` signs with (aiobotocore's, with an async
    ``get_frozen_credentials``), or None. aiobotocore has no public accessor: this reads its
    request signer's, and a client without one gets no lean probe."""
    signer = getattr(client, "_request_signer", None)
    return getattr(signer, "_credentials", None)


async def _frozen(credentials: Any) -> FrozenCredentials:
    raw = await credentials.get_frozen_credentials()
    return FrozenCredentials(raw.access_key, raw.secret_key, raw.token)


async def list_signer_for(client: S3Client, bucket: str, prefix: str) -> SigV4QuerySigner | None:
    """The lean signer for ``bucket``'s probes, proven against ``client``'s own presigned
    ListObjectsV2 URLs, or None (then the probes go through ``client``)."""
    credentials = client_credentials(client)
    if credentials is None:
        log.debug("lean probe unavailable: the client has no credentials")
        return None
    try:
        frozen = await _frozen(credentials)
        requests = [*CHECKS, (prefix, None, 1000), (prefix, prefix + _ODD, 1000)]
        references = [
            (
                request,
                str(
                    await client.generate_presigned_url(
                        "list_objects_v2", Params=list_params(bucket, *request), ExpiresIn=EXPIRES_IN
                    )
                ),
            )
            for request in requests
        ]
    except Exception:
        log.debug("lean probe unavailable", exc_info=True)
        return None
    signer = list_signer_from(references, frozen, EXPIRES_IN)
    if signer is None:
        log.debug("lean probe unavailable: its signer does not reproduce botocore's URLs")
    return signer


class _Unsure(Exception):
    """A lean answer not read with certainty: ask again through aiobotocore."""


_ROOT = "<ListBucketResult"
_END = "</ListBucketResult>"
_TRUE, _FALSE = "<IsTruncated>true</IsTruncated>", "<IsTruncated>false</IsTruncated>"


def read_page(body: bytes) -> ProbePage:
    """``probe_page``'s answer from a 200 ListObjectsV2 body asked with EncodingType=url;
    :class:`_Unsure` unless it is plainly S3's complete ListBucketResult.

    The Contents run is cut out and read by ``split_keys`` (on its conditions); everything
    else is checked on the small rest of the document.
    """
    raw: list[str] = []
    if b"<Contents>" in body:
        split = split_keys(body)
        if split is None:
            raise _Unsure("Contents not read")
        body, raw = split
    try:
        rest = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unsure("not UTF-8") from exc
    declaration = rest.find("?>") + 2 if rest.startswith("<?xml") else 0
    root = rest.find("<", declaration)
    opened = rest.startswith(_ROOT + ">", root) or rest.startswith(_ROOT + " ", root)
    if declaration == 1 or not opened or not rest.rstrip().endswith(_END):
        raise _Unsure("not one ListBucketResult")
    if "<Error>" in rest or "<Contents" in rest or "<Key>" in rest or "<Key/>" in rest or "<Key " in rest:
        raise _Unsure("an error, or keys outside the Contents run")
    if rest.count("<EncodingType>url</EncodingType>") != 1:
        raise _Unsure("keys not URL-encoded")
    truncated = rest.count(_TRUE)
    if truncated + rest.count(_FALSE) != 1 or rest.count("<IsTruncated") != 1:
        raise _Unsure("no single IsTruncated")
    keys = tuple(url_decoded(raw))
    return ProbePage(keys, bool(truncated) and bool(keys))


def _ssl_context(url: str) -> ssl.SSLContext | bool:
    """TLS verified against the CA bundle botocore would use (AWS_CA_BUNDLE, else its default)."""
    if urlsplit(url).scheme != "https":
        return False
    bundle = os.environ.get("AWS_CA_BUNDLE") or botocore.httpsession.get_cert_path(True)
    return _verifying_context(bundle if isinstance(bundle, str) else None)


@cache
def _verifying_context(cafile: str | None) -> ssl.SSLContext:
    # (Loading a CA bundle costs tens of ms: once per process.)
    return ssl.create_default_context(cafile=cafile)


def http_session_key(url: str, limit: int) -> tuple[ssl.SSLContext | bool, int]:
    """What tells lean probe sessions apart: TLS (off for http, else the CA bundle's context,
    one per bundle) and the connection limit. A session for one key serves any host."""
    return (_ssl_context(url), limit)


def new_http_session(url: str, limit: int) -> aiohttp.ClientSession:
    """An aiohttp session for lean probes to ``url``: ``limit`` connections, TLS verified as
    botocore would. No proxy (lean_prober leaves proxied clients alone), no cookies (botocore
    keeps none), no timeout of its own: each probe carries its run's (a session may serve many)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=_ssl_context(url)),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class LeanProbe:
    """Planning's probes for one bucket and prefix (see the module's docstring).

    ``fallback`` answers a probe the lean path could not (``probe_page`` on the client).
    ``session``: a shared aiohttp session (left open by :meth:`aclose`), else its own with
    ``concurrency`` connections (closed by :meth:`aclose`).
    """

    def __init__(
        self,
        signer: SigV4QuerySigner,
        prefix: str,
        fallback: Probe,
        *,
        credentials: Any = None,
        concurrency: int,
        timeout: aiohttp.ClientTimeout,
        max_fallbacks: int = MAX_FALLBACKS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._signer = signer
        self._prefix = prefix
        self._fallback = fallback
        # Refreshable (aiobotocore) credentials are re-read now and then and handed to the signer.
        self._credentials = credentials if hasattr(credentials, "refresh_needed") else None
        self._next_check = time.monotonic() + CREDENTIALS_CHECK_SECONDS
        self._max_fallbacks = max_fallbacks
        self._timeout = timeout
        self.lean = 0
        self.fallbacks = 0
        self._owns_session = session is None
        self._session = new_http_session(signer.url, concurrency) if session is None else session

    async def aclose(self) -> None:
        if self._owns_session:
            await self._session.close()

    async def _refresh_credentials(self) -> None:
        if self._credentials is None or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + CREDENTIALS_CHECK_SECONDS
        self._signer.set_credentials(await _frozen(self._credentials))

    async def _lean(self, start_after: str | None, max_keys: int) -> ProbePage:
        await self._refresh_credentials()
        url = self._signer.presign(list_query(self._prefix, start_after, max_keys))
        request = self._session.get(URL(url, encoded=True), allow_redirects=False, timeout=self._timeout)
        async with request as response:
            if response.status != 200:
                raise _Unsure(f"HTTP {response.status}")
            body = await response.read()
        return read_page(body)

    async def probe(self, start_after: str | None, max_keys: int) -> ProbePage:
        if self.fallbacks < self._max_fallbacks:
            try:
                page = await self._lean(start_after, max_keys)
            except Exception:  # (not CancelledError: a BaseException, it propagates)
                self.fallbacks += 1
                log.debug("lean probe fell back", exc_info=True)
                if self.fallbacks == self._max_fallbacks:
                    log.debug("lean probe off for the rest of the run after %d fallbacks", self.fallbacks)
            else:
                self.lean += 1
                return page
        return await self._fallback(start_after, max_keys)


def _proxied(client: S3Client, url: str) -> bool:
    """Whether ``client`` would reach ``url`` through a proxy (its config, or botocore's
    reading of HTTP(S)_PROXY / NO_PROXY): the lean path does not, so it stays off then."""
    if getattr(client.meta.config, "proxies", None):
        log.debug("lean probe off: the client has proxies")
        return True
    if urlsplit(url).scheme in get_environ_proxies(url):
        log.debug("lean probe off: a proxy is configured for %s", url)
        return True
    return False


@asynccontextmanager
async def lean_prober(
    client: S3Client,
    bucket: str,
    prefix: str,
    *,
    concurrency: int,
    stats: dict[str, int] | None = None,
    max_fallbacks: int = MAX_FALLBACKS,
    region: str | None = None,
    http_sessions: HttpSessions | None = None,
) -> AsyncIterator[Probe]:
    """``probe(start_after, max_keys) -> ProbePage`` for planning ``bucket``/``prefix``:
    lean when its signer is proven for ``client``, else ``probe_page`` on ``client``.
    ``stats`` (if given) receives how many probes went lean and how many fell back.

    ``region``: the bucket's, if known. The lean probe signs for the client's region; a
    bucket in another one would refuse every lean probe (aiobotocore follows S3's redirect
    and remembers the region), so it is planned through ``client`` alone.

    ``http_sessions``: where the lean probes' aiohttp session comes from (kept open after the
    run); None: a session of the run's own, closed at its end.
    """

    async def fallback(start_after: str | None, max_keys: int) -> ProbePage:
        return await probe_page(client, bucket, prefix, start_after, max_keys=max_keys)

    config = client.meta.config
    if region is not None and region != client.meta.region_name:
        log.debug("lean probe off: bucket %s is in %s, the client in %s", bucket, region, client.meta.region_name)
        yield fallback
        return
    signer = await list_signer_for(client, bucket, prefix)
    if signer is None or _proxied(client, signer.url):
        yield fallback
        return
    read_timeout = getattr(config, "read_timeout", None) or 60
    connect_timeout = getattr(config, "connect_timeout", None) or 60
    session = None if http_sessions is None else await http_sessions(signer.url, concurrency)
    lean = LeanProbe(
        signer,
        prefix,
        fallback,
        credentials=client_credentials(client),
        concurrency=concurrency,
        max_fallbacks=max_fallbacks,
        timeout=aiohttp.ClientTimeout(total=read_timeout + connect_timeout, sock_connect=connect_timeout),
        session=session,
    )
    try:
        yield lean.probe
    finally:
        await lean.aclose()
    if stats is not None:
        stats.update(lean_probes=lean.lean, lean_fallbacks=lean.fallbacks)
