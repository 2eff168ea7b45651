"""An optional long-lived signing identity for presigned URLs.

A presigned URL is only valid while the credentials that signed it are. A Lambda role's
credentials are temporary: URLs signed with them stop working when that role session
ends, whatever ``expires_in`` says. With ``SIGNING_SECRET_ARN`` set, URLs are signed with
the access key pair of a narrowly scoped IAM user kept in Secrets Manager, so expiries up
to the SigV4 maximum of 7 days hold.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .errors import AWS_CALL_ERRORS, SigningIdentityUnavailable, error_code
from .sigv4 import FrozenCredentials

_CACHE_SECONDS = 300.0  # re-read now and then so a rotated key is picked up
_cache: dict[str, tuple[float, FrozenCredentials]] = {}

# What the index tells recipients about how long links really live.
TEMPORARY_CREDENTIALS_NOTE = (
    "URLs are signed with the function's temporary role credentials and may stop working "
    "before expires_at, when that role session ends (deploy with a SigningSecretArn for "
    "links that live as long as promised)."
)


def parse_secret(secret_id: str, secret_string: str) -> FrozenCredentials:
    """The IAM user's key pair (long-lived: no session token)."""
    shape = 'must be JSON {"aws_access_key_id": "...", "aws_secret_access_key": "..."}'
    try:
        data = json.loads(secret_string)
        access_key, secret_key = data["aws_access_key_id"], data["aws_secret_access_key"]
    except (ValueError, KeyError, TypeError):
        raise SigningIdentityUnavailable(secret_id, shape) from None
    # null, a number or a list would pass here and fail later, deep in signing.
    if not (isinstance(access_key, str) and access_key.strip() and isinstance(secret_key, str) and secret_key.strip()):
        raise SigningIdentityUnavailable(secret_id, shape + " with two non-empty strings")
    return FrozenCredentials(access_key=access_key, secret_key=secret_key)


async def load_signing_credentials(
    session: Any, secret_id: str, *, region: str, endpoint_url: str | None = None
) -> FrozenCredentials:
    """The key pair in ``secret_id``, cached for a few minutes per execution environment."""
    cached = _cache.get(secret_id)
    if cached is not None and time.monotonic() - cached[0] < _CACHE_SECONDS:
        return cached[1]
    try:
        async with session.client("secretsmanager", region_name=region, endpoint_url=endpoint_url) as client:
            response = await client.get_secret_value(SecretId=secret_id)
    except AWS_CALL_ERRORS as exc:
        raise SigningIdentityUnavailable(secret_id, f"cannot be read ({error_code(exc)})") from exc
    credentials = parse_secret(secret_id, response.get("SecretString") or "")
    _cache[secret_id] = (time.monotonic(), credentials)
    return credentials


def url_credentials_kind(credentials: FrozenCredentials | None) -> str:
    """How the URLs are signed: ``signing-identity``, ``temporary`` or ``long-term``."""
    if credentials is not None:
        return "signing-identity"
    import botocore.session  # noqa: PLC0415 - already loaded by the presigner

    resolved = botocore.session.get_session().get_credentials()
    return "temporary" if resolved is not None and resolved.token else "long-term"
