"""A moto ThreadedMotoServer seeded with a realistic small bucket, for the bench's sanity run.

python -m bench.motoserver --objects 1000   # prints "PORT <n>" when ready
"""

from __future__ import annotations

import argparse
import socket
import time

from bench.processes import entry
from bench.server import key_at

SOURCE_BUCKET = "realistic"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args()
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for name in (SOURCE_BUCKET, "manifests", "n1000"):
        backend.create_bucket(name, "us-east-1")
    for i in range(args.objects):
        key = key_at(i)
        backend.put_object(SOURCE_BUCKET, key, f"body of {key}".encode())
    print("PORT", port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    entry(main, "bench.motoserver")
