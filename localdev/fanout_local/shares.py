"""``fanout shares`` and ``fanout revoke``: the shares in a manifest bucket, and taking one back.

A share is what one run left under ``manifests/{run_id}/`` (``s3fanout.layout.RunLayout``):
its page (``index.html``), its index (``index.json``), the parts and the run's own documents.
Its index says what it shares and until when. Revoking deletes all of it - the page first, then
the index, so the link a person was given stops working at once.

What revoking cannot do: the object URLs in the parts are presigned GETs of the *source*
objects. A recipient who already copied one (opened the page, saved a part) can use it until
it expires; S3 checks only the signature and the signer's rights. The one way to end them
sooner is to take the signer's rights away - :func:`what_revoke_cannot_do` says how for the
kind of credentials the index records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from s3fanout.layout import RunLayout

from .errors import EXIT_FAILED, UserError

MANIFEST_ROOT = "manifests"  # template.yaml's MANIFEST_PREFIX
READ_THREADS = 16  # index documents read at once when listing
DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys

LIVE, EXPIRED, INCOMPLETE = "live", "expired", "incomplete"
# The Distributed Map's ResultWriter writes under {root}/_map-results/ (statemachine/fanout.asl.json):
# not a run.
MAP_RESULTS = "_map-results"


@dataclass(frozen=True)
class Share:
    """One run in the manifest bucket, as its index (or, unpublished, its run record) says."""

    run_id: str
    state: str  # live | expired | incomplete (no index: running, failed or stopped)
    bucket: str | None = None
    prefix: str | None = None
    objects: int | None = None
    created_at: str | None = None  # ISO 8601, UTC
    expires_at: str | None = None
    page_url: str | None = None  # only while live: an expired link is no use to anyone
    url_credentials: str | None = None  # signing-identity | temporary | long-term

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_iso(now: float | None) -> str:
    return _iso(datetime.now(tz=UTC).timestamp() if now is None else now)


def _get_json(s3: Any, bucket: str, key: str) -> Any | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        return None  # not a document this code wrote: reported as incomplete


def run_ids(s3: Any, bucket: str, root: str = MANIFEST_ROOT) -> list[str]:
    """Every ``{root}/{run_id}/`` in the bucket."""
    found: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{root}/", Delimiter="/"):
        found += [p["Prefix"][len(root) + 1 : -1] for p in page.get("CommonPrefixes", ())]
    return [run_id for run_id in found if run_id != MAP_RESULTS]


def read_share(s3: Any, bucket: str, run_id: str, *, root: str = MANIFEST_ROOT, now: float | None = None) -> Share:
    layout = RunLayout(root, run_id)
    index = _get_json(s3, bucket, layout.index_key)
    if isinstance(index, dict):
        expires_at = index.get("expires_at")
        # ISO 8601 UTC strings of one format compare as text.
        live = isinstance(expires_at, str) and expires_at > _now_iso(now)
        return Share(
            run_id=run_id,
            state=LIVE if live else EXPIRED,
            bucket=index.get("bucket"),
            prefix=index.get("prefix"),
            objects=index.get("count"),
            created_at=index.get("created_at"),
            expires_at=expires_at,
            page_url=index.get("page_url") if live else None,
            url_credentials=index.get("url_credentials"),
        )
    run = _get_json(s3, bucket, layout.run_key)
    if isinstance(run, dict):
        created = run.get("created_at")
        return Share(
            run_id=run_id,
            state=INCOMPLETE,
            bucket=run.get("bucket"),
            prefix=run.get("prefix"),
            created_at=_iso(created) if isinstance(created, int | float) else None,
        )
    return Share(run_id=run_id, state=INCOMPLETE)


def list_shares(s3: Any, bucket: str, *, root: str = MANIFEST_ROOT, now: float | None = None) -> list[Share]:
    """Every share in the bucket, newest first (incomplete ones without a date last)."""
    ids = run_ids(s3, bucket, root)
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        shares = list(pool.map(lambda run_id: read_share(s3, bucket, run_id, root=root, now=now), ids))
    return sorted(shares, key=lambda share: (share.created_at or "", share.run_id), reverse=True)


@dataclass(frozen=True)
class Revoked:
    share: Share
    deleted: int  # objects deleted: page, index, parts, run documents


def _keys_under(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", ())]
    return keys


def _delete(s3: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if errors := answer.get("Errors"):
            first = errors[0]
            raise UserError(
                f"S3 refused to delete {len(errors)} of the share's objects, e.g. {first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message', '')} - these credentials may not delete in s3://{bucket}",
                EXIT_FAILED,
            )


def revoke(s3: Any, bucket: str, run_id: str, *, root: str = MANIFEST_ROOT, now: float | None = None) -> Revoked:
    """Delete everything the run left: the page first, then the index, then the rest."""
    layout = RunLayout(root, run_id)
    share = read_share(s3, bucket, run_id, root=root, now=now)
    keys = _keys_under(s3, bucket, layout.base)
    if not keys:
        raise UserError(
            f"no share '{run_id}' in s3://{bucket}/{layout.base}: see fanout shares for the run ids there", EXIT_FAILED
        )
    first = [key for key in (layout.page_key, layout.index_key) if key in keys]
    _delete(s3, bucket, first)
    _delete(s3, bucket, [key for key in keys if key not in first])
    return Revoked(share, len(keys))


def revoke_expired(
    s3: Any,
    bucket: str,
    *,
    root: str = MANIFEST_ROOT,
    now: float | None = None,
    on_revoked: Callable[[Revoked], None] = lambda _: None,
) -> list[Revoked]:
    """Every share whose links have expired (incomplete runs are left: one may be running)."""
    revoked = []
    for share in list_shares(s3, bucket, root=root, now=now):
        if share.state == EXPIRED:
            revoked.append(revoke(s3, bucket, share.run_id, root=root, now=now))
            on_revoked(revoked[-1])
    return revoked


def what_revoke_cannot_do(shares: Iterable[Share]) -> list[str]:
    """Plain words on the object URLs a recipient may already hold, for these shares' signers."""
    live = [share for share in shares if share.state == LIVE]
    if not live:
        return []  # expired or never published: no object URL of theirs works any more
    latest = max(share.expires_at or "" for share in live)
    kinds = {share.url_credentials for share in live}
    lines = [
        (
            f"The page and link lists are gone, but an object URL already copied from them works until it expires "
            f"(at the latest {latest}): S3 checks only its signature and the signer's rights."
        )
    ]
    if "signing-identity" in kinds:
        lines.append(
            "To end those now, deactivate the signing identity's access key - every share it signed stops working: "
            "aws iam update-access-key --user-name USER --access-key-id KEY_ID --status Inactive, "
            "then put a new key in the SigningSecretArn secret for new shares."
        )
    if "temporary" in kinds:
        lines.append(
            "They were signed with the BuildManifest function's temporary role credentials: to end them now, "
            "revoke that role's active sessions (IAM console: Roles > the BuildManifestFunctionRole > "
            "Revoke active sessions); the functions get new credentials on their next start."
        )
    if kinds - {"signing-identity", "temporary"}:
        lines.append(
            "To end those now, deactivate or delete the access key that signed them "
            "(aws iam update-access-key --access-key-id KEY_ID --status Inactive): every URL it signed stops working."
        )
    return lines
