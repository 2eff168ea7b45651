"""``fanout seed``: upload a local directory to a bucket."""

from __future__ import annotations

import argparse
from pathlib import Path

from fanout_fetch.reporting import waiting
from fanout_local.cli import argtypes
from fanout_local.cli.console import console
from fanout_local.cli.preflight import check_bucket, s3_client
from fanout_local.errors import UserError
from fanout_local.progress import add_phase, new_progress


def command(args: argparse.Namespace) -> int:
    from fanout_local.synthetic import upload_keys

    source = Path(args.source_dir)  # a readable directory (argtypes.source_dir)
    files = sorted(p for p in source.rglob("*") if p.is_file())
    prefix = args.prefix
    keys = {f"{prefix}{p.relative_to(source).as_posix()}": p for p in files}
    for key, path in keys.items():  # a key S3 would refuse fails the seed before any upload
        try:
            argtypes.key_prefix(key)
        except argparse.ArgumentTypeError as exc:
            raise UserError(f"{path} cannot be uploaded: its key {exc}") from None
    with waiting(console, f"checking s3://{args.bucket} at {args.s3_endpoint or 'AWS'}"):
        check_bucket(args.s3_endpoint, args.bucket)
    # Uploads retry like the engine's own calls: a throttled, failed or dropped PUT.
    s3 = s3_client(args.s3_endpoint, attempts=8)
    with new_progress(console) as progress:
        task = add_phase(progress, "seeding", total=len(keys), detail=f"s3://{args.bucket}/{prefix}")
        upload_keys(
            s3, args.bucket, list(keys), lambda key: keys[key].read_bytes(), on_done=lambda: progress.advance(task)
        )
    console.print(f"uploaded {len(keys)} file(s) to s3://{args.bucket}/{prefix}", markup=False, highlight=False)
    return 0
