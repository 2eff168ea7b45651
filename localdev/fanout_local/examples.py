"""`make invoke`: every example event in events/ through its function, like `sam local
invoke`, on an embedded S3 (a moto server) seeded with events/sample-data as demo-bucket.

    python -m fanout_local.examples

ListPrefixes plans the example run, BuildManifest builds its unit, MergeIndex publishes
the index: each result is printed as JSON; the exit code is the first failure's.
"""

from __future__ import annotations

import os
import sys

from moto.server import ThreadedMotoServer

from .cli import main as fanout
from .engine import free_port
from .template import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
BUCKET = "demo-bucket"
# (function, event file) in the order a run calls them.
CALLS = (
    ("ListPrefixesFunction", "list_prefixes.json"),
    ("BuildManifestFunction", "build_manifest.json"),
    ("MergeIndexFunction", "merge_index.json"),
)


def seed(endpoint: str) -> int:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    files = sorted(p for p in (EVENTS / "sample-data").rglob("*") if p.is_file())
    for path in files:
        s3.put_object(Bucket=BUCKET, Key=path.relative_to(EVENTS / "sample-data").as_posix(), Body=path.read_bytes())
    return len(files)


def main() -> int:
    # moto accepts any credentials; the workers inherit these.
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")  # noqa: S106
    # The example events describe a deployment's defaults (one unit for the sample data).
    os.environ.pop("MIN_UNIT_KEYS", None)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        print(f"== seeded s3://{BUCKET} with {seed(endpoint)} files from events/sample-data ({endpoint})", flush=True)
        for function, event in CALLS:
            print(f"== {function} < events/{event}", flush=True)
            code = fanout(["invoke", function, "--event", str(EVENTS / event), "--s3-endpoint", endpoint])
            if code:
                return code
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
