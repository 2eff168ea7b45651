"""Fast SigV4 query signers for S3 (GetObject, ListObjectsV2), byte-for-byte what botocore produces.

botocore spends ~0.5-1 ms per presigned URL (request objects, event hooks, endpoint
rules, URL parsing, HMAC key derivation). For a GET of one bucket almost all of that is
the same for every key, so this signer does it once:

* the URL prefix (scheme, host, bucket path) comes from botocore itself - see
  ``presign.new_url_signer``, which asks botocore for a probe URL and checks that this
  signer reproduces it exactly before using it;
* the signing key is derived once per (date, credentials), the query string and the
  string-to-sign head once per second.

Per key that leaves one ``quote``, one SHA-256 and one HMAC-SHA256.

:class:`SigV4QuerySigner` signs requests to one URL whose operation parameters are in the
query (ListObjectsV2's ``?list-type=2&prefix=...``), in the order botocore puts them;
``list_probe.list_signer_for`` proves it against botocore before planning uses it. Both
share the credentials and per-second state of :class:`_QuerySigner`.

The output matches botocore's pure-Python ``S3SigV4QueryAuth`` (which is what botocore
uses unless awscrt is installed): query parameters in botocore's order, key encoded with
``quote(key, safe="/~")``, ``X-Amz-Security-Token`` after ``X-Amz-SignedHeaders``.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
# How often a signer holding refreshable credentials asks them whether they changed.
CREDENTIALS_CHECK_SECONDS = 30.0

_sha256 = hashlib.sha256
_hmac_digest = hmac.digest


def _query_quote(value: str) -> str:
    """botocore.utils.percent_encode: UTF-8, everything but ``-_.~`` and alphanumerics escaped."""
    return quote(value.encode("utf-8"), safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return _hmac_digest(key, message.encode("utf-8"), "sha256")


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """SigV4 key derivation (kDate -> kRegion -> kService -> kSigning)."""
    k_date = _hmac(f"AWS4{secret_key}".encode(), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def host_header(url: str) -> str:
    """The Host value botocore signs: lowercase host, default port dropped, no userinfo."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return host


def parse_timestamp(value: str) -> int:
    """``20240102T030405Z`` -> epoch seconds."""
    return calendar.timegm(time.strptime(value, SIGV4_TIMESTAMP))


@dataclass(frozen=True)
class FrozenCredentials:
    """A key pair (and session token, if temporary) as of one moment: s3fanout's one
    credentials type (the signing identity's, and botocore's frozen into it)."""

    access_key: str
    secret_key: str
    token: str | None = None


class _QuerySigner:
    """What every SigV4 query signer here shares: credentials (re-read when refreshable),
    the signing key (per date), and the auth parameters and string-to-sign head (per second).

    ``base_url`` gives the Host signed. ``credentials`` is either a :class:`FrozenCredentials`
    or a botocore credentials object (anything with ``get_frozen_credentials()``); a
    refreshable one is re-read at most every :data:`CREDENTIALS_CHECK_SECONDS`, so a long run
    picks up rotated keys. (An owner holding async credentials - aiobotocore's - reads them
    itself and hands them over with :meth:`set_credentials`.) ``clock`` returns epoch
    seconds (``time.time``); tests freeze it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        region: str,
        expires_in: int,
        credentials: object,
        service: str = "s3",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.service = service
        self.expires_in = int(expires_in)
        self._clock = clock
        self._credentials = credentials
        self._refreshable = hasattr(credentials, "refresh_needed")
        self._host = host_header(base_url)
        self._frozen: FrozenCredentials | None = None
        self._key_date = ""
        self._key = b""
        self._second = -1
        self._next_credentials_check = 0.0
        # Set per second by _tick: botocore's auth params in its (URL) order, the
        # string-to-sign's head.
        self._auth: list[tuple[str, str]] = []
        self._sts_head = ""
        self._load_credentials()

    # --- per-credentials / per-second state --------------------------------------------

    def set_credentials(self, credentials: FrozenCredentials) -> None:
        """Sign with ``credentials`` from now on (the owner re-reads its own source)."""
        self._credentials = credentials
        self._refreshable = False
        self._load_credentials()

    def _load_credentials(self) -> bool:
        """Re-read the credentials; True when they changed."""
        source = self._credentials
        if isinstance(source, FrozenCredentials):
            frozen = source
        else:
            raw = source.get_frozen_credentials()  # type: ignore[attr-defined]
            frozen = FrozenCredentials(raw.access_key, raw.secret_key, raw.token)
        if not frozen.access_key or not frozen.secret_key:
            raise ValueError("credentials have no access key or secret key")
        changed = frozen != self._frozen
        self._frozen = frozen
        if changed:
            self._key_date = ""  # re-derive the signing key
            self._second = -1
        self._next_credentials_check = time.monotonic() + CREDENTIALS_CHECK_SECONDS
        return changed

    def _tick(self, second: int) -> None:
        """Rebuild everything that depends on the timestamp (and, daily, the key)."""
        if self._refreshable and time.monotonic() >= self._next_credentials_check:
            self._load_credentials()
        creds = self._frozen
        assert creds is not None
        timestamp = time.strftime(SIGV4_TIMESTAMP, time.gmtime(second))
        date = timestamp[:8]
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        if date != self._key_date:
            self._key = signing_key(creds.secret_key, date, self.region, self.service)
            self._key_date = date
        credential = _query_quote(f"{creds.access_key}/{scope}")
        # botocore's auth params, in its insertion order (the URL).
        params = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", credential),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", _query_quote(str(self.expires_in))),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if creds.token is not None:
            params.append(("X-Amz-Security-Token", _query_quote(creds.token)))
        self._auth = params
        self._sts_head = f"{ALGORITHM}\n{timestamp}\n{scope}\n"
        self._second = second
        self._ticked()

    def _ticked(self) -> None:
        """Subclasses precompute their per-second strings here."""

    def _now(self) -> None:
        second = int(self._clock())
        if second != self._second:
            self._tick(second)

    def _signature(self, canonical_request: str) -> str:
        string_to_sign = self._sts_head + _sha256(canonical_request.encode("utf-8")).hexdigest()
        return _hmac_digest(self._key, string_to_sign.encode("utf-8"), "sha256").hex()

    @contextmanager
    def _frozen_clock(self, epoch_seconds: int) -> Iterator[None]:
        """Sign as of a given second (self-checks and tests)."""
        clock = self._clock
        self._clock = lambda: epoch_seconds
        try:
            yield
        finally:
            self._clock = clock
            self._second = -1


class SigV4GetSigner(_QuerySigner):
    """Presigns ``GET <url_prefix><quoted key>`` for one bucket.

    ``url_prefix`` is everything before the key, ending in ``/``, e.g.
    ``https://bucket.s3.amazonaws.com/`` or ``http://127.0.0.1:5000/bucket/``.
    """

    def __init__(
        self,
        url_prefix: str,
        *,
        region: str,
        expires_in: int,
        credentials: object,
        service: str = "s3",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url_prefix.endswith("/") or "?" in url_prefix or "#" in url_prefix:
            raise ValueError(f"url_prefix must end with '/' and carry no query: {url_prefix!r}")
        self.url_prefix = url_prefix
        self._path_prefix = urlsplit(url_prefix).path
        # Set per second by _ticked.
        self._canonical_tail = ""
        self._url_query = ""
        super().__init__(
            url_prefix, region=region, expires_in=expires_in, credentials=credentials, service=service, clock=clock
        )

    def _ticked(self) -> None:
        # The auth params are the whole query: sorted once for the canonical request.
        canonical_query = "&".join(f"{k}={v}" for k, v in sorted(self._auth))
        self._canonical_tail = f"\n{canonical_query}\nhost:{self._host}\n\nhost\n{UNSIGNED_PAYLOAD}"
        self._url_query = "?" + "&".join(f"{k}={v}" for k, v in self._auth) + "&X-Amz-Signature="

    # --- hot path ------------------------------------------------------------------------

    def presign_get(self, key: str) -> str:
        self._now()
        path = quote(key, safe="/~")
        signature = self._signature(f"GET\n{self._path_prefix}{path}{self._canonical_tail}")
        return f"{self.url_prefix}{path}{self._url_query}{signature}"

    def presign_get_at(self, key: str, epoch_seconds: int) -> str:
        """``presign_get`` as of a given second (self-checks and tests)."""
        with self._frozen_clock(epoch_seconds):
            return self.presign_get(key)


class SigV4QuerySigner(_QuerySigner):
    """Presigns ``GET <url>?<operation parameters>`` for one URL (a bucket's ListObjectsV2).

    ``url`` carries no query (``https://bucket.s3.amazonaws.com/``,
    ``http://127.0.0.1:5000/bucket``). ``order`` names every operation parameter this
    signer may be given, in the order botocore writes them into the URL (before the auth
    parameters); each value is encoded like botocore's ``percent_encode``.
    """

    def __init__(
        self,
        url: str,
        *,
        order: tuple[str, ...],
        region: str,
        expires_in: int,
        credentials: object,
        service: str = "s3",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if "?" in url or "#" in url:
            raise ValueError(f"url must carry no query: {url!r}")
        if len(set(order)) != len(order) or any(name.startswith("X-Amz-") for name in order):
            raise ValueError(f"order must name distinct operation parameters: {order!r}")
        self.url = url
        self.order = order
        self._path = urlsplit(url).path or "/"
        super().__init__(
            url, region=region, expires_in=expires_in, credentials=credentials, service=service, clock=clock
        )

    def presign(self, params: Mapping[str, str]) -> str:
        """The URL for ``params`` (raw values; names from ``order``, any subset)."""
        if not params.keys() <= set(self.order):
            raise ValueError(f"unknown parameters: {sorted(params.keys() - set(self.order))}")
        self._now()
        operation = [(name, _query_quote(params[name])) for name in self.order if name in params]
        canonical_query = "&".join(f"{k}={v}" for k, v in sorted(operation + self._auth))
        signature = self._signature(
            f"GET\n{self._path}\n{canonical_query}\nhost:{self._host}\n\nhost\n{UNSIGNED_PAYLOAD}"
        )
        query = "&".join(f"{k}={v}" for k, v in (*operation, *self._auth))
        return f"{self.url}?{query}&X-Amz-Signature={signature}"

    def presign_at(self, params: Mapping[str, str], epoch_seconds: int) -> str:
        """``presign`` as of a given second (self-checks and tests)."""
        with self._frozen_clock(epoch_seconds):
            return self.presign(params)
