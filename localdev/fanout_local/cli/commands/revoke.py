"""``fanout revoke RUN_ID`` / ``--expired``: delete a share's page, index, parts and run
documents - and say plainly what that cannot take back."""

from __future__ import annotations

import argparse

from fanout_fetch import interrupts
from fanout_fetch.reporting import waiting
from fanout_local.cli import aws
from fanout_local.cli.console import console


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def command(args: argparse.Namespace) -> int:
    from fanout_local.shares import Revoked, revoke, revoke_expired, what_revoke_cannot_do

    bucket = aws.manifest_bucket(args)
    s3 = aws.client("s3", endpoint=args.s3_endpoint, region=args.region)

    def said(done: Revoked) -> None:
        share = done.share
        what = f"s3://{share.bucket}/{share.prefix or ''}" if share.bucket else "unknown source"
        _say(f"revoked {share.run_id} ({share.state}, {what}): deleted {done.deleted} objects")

    if args.expired:
        with waiting(console, f"revoking the expired shares in s3://{bucket}/manifests/"):
            revoked = interrupts.call(lambda: revoke_expired(s3, bucket))
        for done in revoked:
            said(done)
        if not revoked:
            _say(f"no expired shares in s3://{bucket}/manifests/")
    else:
        with waiting(console, f"revoking {args.run_id} in s3://{bucket}/manifests/"):
            revoked = [interrupts.call(lambda: revoke(s3, bucket, args.run_id))]
        said(revoked[0])
        _say("the share page and its link lists no longer open.")
    for line in what_revoke_cannot_do([done.share for done in revoked]):
        _say(line)
    return 0
