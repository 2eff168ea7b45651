"""Presigned GET URLs for S3 objects (SigV4 query auth).

``new_url_signer`` returns the fast :class:`~s3fanout.sigv4.SigV4GetSigner` when it can
prove, for this bucket, endpoint and credentials, that it produces exactly botocore's URL;
otherwise botocore's own presigner (:class:`BotocoreUrlSigner`).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials

from .sigv4 import FrozenCredentials, SigV4GetSigner, parse_timestamp

log = logging.getLogger(__name__)

# Keys the self-check signs with both signers: a plain one, and one with every character
# class that needs escaping (space, + % = ~ //, quotes, ? # &, non-ASCII, astral plane).
PROBE_KEYS = ("x", "a b/c+d%e=f~g//h/\"'?#&;:@$,!*()[]{}<>|^`\\/\t\u00fc\u6587\U0001f4c4")


class UrlSigner(Protocol):
    """Signs GET URLs for one bucket; synchronous because it is pure CPU work."""

    def presign_get(self, key: str) -> str: ...


@cache
def shared_loader() -> Any:
    """One botocore data loader per process: the S3 model and endpoint rules are parsed once."""
    return botocore.session.get_session().get_component("data_loader")


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    return session


@cache
def _process_session() -> botocore.session.Session:
    return _botocore_session()


# Reference clients by (region, endpoint, credentials): a warm invocation with the same
# credentials reuses one instead of paying ~20-50 ms for a new session and client.
_REFERENCE_CLIENTS: dict[tuple[Any, ...], Any] = {}
_REFERENCE_CLIENTS_MAX = 8


def _reference_client(region: str, endpoint_url: str | None, frozen: Any) -> Any:
    key = (region, endpoint_url, frozen.access_key, frozen.secret_key, frozen.token)
    client = _REFERENCE_CLIENTS.get(key)
    if client is None:
        if len(_REFERENCE_CLIENTS) >= _REFERENCE_CLIENTS_MAX:
            _REFERENCE_CLIENTS.clear()
        client = _process_session().create_client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=Config(signature_version="s3v4"),
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
        )
        _REFERENCE_CLIENTS[key] = client
    return client


class BotocoreUrlSigner:
    """botocore's own presigner, on a plain (sync) client.

    ``signature_version="s3v4"``: without it botocore still signs SigV2 in some regions.
    """

    def __init__(
        self,
        bucket: str,
        expires_in: int,
        *,
        region: str,
        endpoint_url: str | None,
        session: botocore.session.Session | None = None,
        client: Any = None,
    ) -> None:
        if client is None:
            session = session or _botocore_session()
            kwargs: dict[str, Any] = {"region_name": region, "config": Config(signature_version="s3v4")}
            if endpoint_url:
                kwargs["endpoint_url"] = endpoint_url
            client = session.create_client("s3", **kwargs)
        self._client = client
        self.bucket = bucket
        self.expires_in = expires_in

    def presign_get(self, key: str) -> str:
        return str(
            self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.expires_in
            )
        )


def fast_signer_from(reference: BotocoreUrlSigner, credentials: Any) -> SigV4GetSigner | None:
    """A :class:`SigV4GetSigner` equivalent to ``reference``, or None if one cannot be proven.

    botocore decides the endpoint (virtual-hosted or path style, global or regional,
    custom endpoint, dotted bucket names); we read its decision off a probe URL, then
    require byte-for-byte equality on every probe key at botocore's own timestamp.
    """
    if credentials is None:
        return None
    try:
        expected = [reference.presign_get(key) for key in PROBE_KEYS]
        base, _, query = expected[0].partition("?")
        if not base.endswith("/x"):
            return None
        params = parse_qs(query, keep_blank_values=True)
        scope = params["X-Amz-Credential"][0].split("/")  # AKID/date/region/service/aws4_request
        if params.get("X-Amz-Algorithm") != ["AWS4-HMAC-SHA256"] or len(scope) != 5:
            return None
        signer = SigV4GetSigner(
            base[:-1],
            region=scope[2],
            service=scope[3],
            expires_in=reference.expires_in,
            credentials=credentials,
        )
        for key, url in zip(PROBE_KEYS, expected, strict=True):
            stamp = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
            if signer.presign_get_at(key, parse_timestamp(stamp)) != url:
                return None
    except Exception:  # any surprise means "use botocore"
        log.debug("fast presigner unavailable", exc_info=True)
        return None
    return signer


def new_url_signer(
    bucket: str,
    expires_in: int,
    *,
    region: str,
    endpoint_url: str | None,
    credentials: FrozenCredentials | None = None,
) -> UrlSigner:
    """The signer to use for ``bucket``: the fast one when proven identical, else botocore.

    ``credentials`` (a signing identity, ``s3fanout.signing_identity``) signs with that
    identity; by default botocore's credential chain is resolved afresh on
    every call - once per invocation - and a refreshable set is re-read by the fast signer
    while it runs.
    """
    if credentials is not None:
        # botocore's own type, for its reference client (the fast signer is proven against it).
        resolved: Any = Credentials(credentials.access_key, credentials.secret_key, getattr(credentials, "token", None))
    else:
        resolved = _process_session().get_component("credential_provider").load_credentials()
    if resolved is None:  # no credentials: whatever botocore does about it
        return BotocoreUrlSigner(bucket, expires_in, region=region, endpoint_url=endpoint_url)
    client = _reference_client(region, endpoint_url, resolved.get_frozen_credentials())
    reference = BotocoreUrlSigner(bucket, expires_in, region=region, endpoint_url=endpoint_url, client=client)
    fast = fast_signer_from(reference, resolved)
    if fast is None:
        log.warning("using botocore's presigner (slow path) for bucket %s", bucket)
        return reference
    return fast
