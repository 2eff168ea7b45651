"""A Step Functions endpoint over HTTP, standing in for Step Functions Local in tests.

moto's interpreter, as the embedded engine runs it, behind a moto server: the aws CLI (and
``localdev/sfn-local.sh``) can create state machines and start executions on it, and Lambda
tasks go to ``--lambda-endpoint`` (``fanout serve-lambda``), as Step Functions Local's would.

    python -m tests.support.sfn_stand_in --port 8083 --lambda-endpoint http://127.0.0.1:3001

moto's server mode alone would send Lambda tasks to itself: the interpreter only honours
AWS_ENDPOINT_URL_LAMBDA while moto's in-process mock is on, so it is turned on here.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-endpoint", required=True)
    args = parser.parse_args()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_LAMBDA": args.lambda_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
        server.start()
        print(f"stepfunctions on http://127.0.0.1:{args.port}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()


if __name__ == "__main__":
    main()
