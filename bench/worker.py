"""One measured run in its own process (so peak RSS and CPU are its own).

    python -m bench.worker {ours,list,naive} --endpoint URL --bucket B --objects N

Prints one JSON object for one warm run (imports and the first, cold client creation
excluded): wall seconds and objects/s (client creation included), CPU of the work from a
ready client (``cpu_us_per_object``; the URL signer's creation is included, as it is made
per invocation) and of the whole run (``run_cpu_us_per_object``), and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from typing import Any

from botocore.config import Config

from bench.processes import entry

REGION = "us-east-1"
SUFFIX = ".pdf"
EXPIRES_IN = 3600
OUT_BUCKET = "manifests"
PART_SIZE = 8 * 1024 * 1024
NAIVE_KEY = "manifests/naive/part.jsonl"


def _client_kwargs(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "config": Config(signature_version="s3v4", max_pool_connections=32, retries={"mode": "standard"}),
    }


async def run_ours(endpoint: str, bucket: str, prefix: str) -> dict[str, Any]:
    """The BuildManifest path: s3fanout.build_manifest.build_manifest on a real aioboto3 client."""
    from s3fanout.build_manifest import build_manifest
    from s3fanout.layout import RunLayout
    from s3fanout.presign import new_url_signer
    from s3fanout.records import BuildRequest, WorkUnit
    from s3fanout.s3 import CLIENT_CONFIG, new_session

    request = BuildRequest(
        run_id="bench",
        attempt="a1",
        bucket=bucket,
        suffix=SUFFIX,
        expires_in=EXPIRES_IN,
        work=WorkUnit(unit=0, prefix=prefix),
        segment=0,
    )
    async with new_session().client("s3", endpoint_url=endpoint, region_name=REGION, config=CLIENT_CONFIG) as client:
        # The handlers keep their aioboto3 client for the life of the process; the signer
        # is made per invocation, so it is part of the measured work.
        cpu = time.process_time()
        signer = new_url_signer(bucket, EXPIRES_IN, region=REGION, endpoint_url=endpoint)
        result = await build_manifest(
            client,
            signer,
            request,
            RunLayout(root="manifests", run_id="bench"),
            OUT_BUCKET,
            queue_max=8,
            part_size=PART_SIZE,
        )
        cpu = time.process_time() - cpu
    return {
        "work_cpu_s": cpu,
        "listed": result.listed,
        "urls": result.count,
        "manifest_bytes": result.bytes,
        "signer": type(signer).__name__,
        "part_key": result.part_key,
    }


async def run_list(endpoint: str, bucket: str, prefix: str) -> dict[str, Any]:
    """The listing bound: our listing alone, nothing signed or written."""
    from s3fanout.listing import iter_object_pages
    from s3fanout.records import WorkUnit
    from s3fanout.s3 import CLIENT_CONFIG, new_session

    listed = 0
    async with new_session().client("s3", endpoint_url=endpoint, region_name=REGION, config=CLIENT_CONFIG) as client:
        cpu = time.process_time()
        async for page in iter_object_pages(client, bucket, WorkUnit(unit=0, prefix=prefix)):
            listed += len(page)
        cpu = time.process_time() - cpu
    return {"work_cpu_s": cpu, "listed": listed, "urls": 0, "manifest_bytes": 0}


async def run_naive(endpoint: str, bucket: str, prefix: str) -> dict[str, Any]:
    """The old approach, as written before issue 4.

    aioboto3's generate_presigned_url per key, botocore's default ListObjectsV2 parsing
    (timestamps included), one aiofiles write per line to a temp file, then the whole
    manifest read back into memory and sent with one put_object.
    """
    import tempfile

    import aioboto3
    import aiofiles

    listed = urls = 0
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        async with aioboto3.Session().client("s3", **_client_kwargs(endpoint)) as client:
            cpu = time.process_time()
            async with aiofiles.open(path, "w", encoding="utf-8") as out:
                paginator = client.get_paginator("list_objects_v2")
                async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                    for obj in page.get("Contents", []):
                        listed += 1
                        if not obj["Key"].lower().endswith(SUFFIX):
                            continue
                        url = await client.generate_presigned_url(
                            "get_object", Params={"Bucket": bucket, "Key": obj["Key"]}, ExpiresIn=EXPIRES_IN
                        )
                        await out.write(json.dumps({"key": obj["Key"], "size": obj["Size"], "url": url}) + "\n")
                        urls += 1
            async with aiofiles.open(path, "rb") as source:
                body = await source.read()
            await client.put_object(Bucket=OUT_BUCKET, Key=NAIVE_KEY, Body=body, ContentType="application/x-ndjson")
            cpu = time.process_time() - cpu
    finally:
        os.unlink(path)  # noqa: PTH108
    return {"work_cpu_s": cpu, "listed": listed, "urls": urls, "manifest_bytes": len(body), "part_key": NAIVE_KEY}


RUNNERS = {"ours": run_ours, "list": run_list, "naive": run_naive}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=sorted(RUNNERS))
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="data/")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    # Imports are not part of the measured run.
    import aioboto3  # noqa: F401
    import aiofiles  # noqa: F401

    import s3fanout.build_manifest
    import s3fanout.presign  # noqa: F401

    runner = RUNNERS[args.mode]
    # Warm up on a small bucket: a cold start (model loading, first client: ~0.3 s CPU) is
    # measured separately (python -m bench.coldstart); this run is a warm invocation.
    cold_cpu = time.process_time()
    asyncio.run(runner(args.endpoint, "n1000", args.prefix))
    cold_cpu = time.process_time() - cold_cpu
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = time.perf_counter(), time.process_time()
    result = asyncio.run(runner(args.endpoint, args.bucket, args.prefix))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    listed = max(result["listed"], 1)
    result.update(
        mode=args.mode,
        bucket=args.bucket,
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        # CPU of the work itself: from a ready aioboto3 client (the handlers keep theirs per
        # process) to the manifest in S3, signer creation included.
        work_cpu_s=round(result["work_cpu_s"], 3),
        cpu_us_per_object=round(result["work_cpu_s"] / listed * 1e6, 2),
        run_cpu_us_per_object=round(cpu / listed * 1e6, 2),
        objects_per_s=round(listed / wall, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        rss_before_run_mb=round(rss_before, 1),
        warmup_cpu_s=round(cold_cpu, 3),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    entry(main, "bench.worker")
