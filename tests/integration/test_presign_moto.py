"""URLs from the fast SigV4 signer fetch the exact objects from moto (over HTTP)."""

from __future__ import annotations

from typing import Any

import requests

from s3fanout.presign import new_url_signer
from s3fanout.sigv4 import SigV4GetSigner
from tests.unit.test_sigv4 import ODD_KEYS


def test_fast_urls_fetch_objects_from_moto(s3: Any, bucket: str, moto_endpoint: str) -> None:
    # requests itself removes dot segments from URLs and moto will not store NUL or CR keys.
    keys = [key for key in ODD_KEYS if "\x00" not in key and "\r" not in key and key not in {".", "..", "./a/../b"}]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=f"body of {key}".encode())
    signer = new_url_signer(bucket, 300, region="us-east-1", endpoint_url=moto_endpoint)
    assert isinstance(signer, SigV4GetSigner)
    for key in keys:
        response = requests.get(signer.presign_get(key), timeout=30)
        assert response.status_code == 200, (key, response.text[:300])
        assert response.content == f"body of {key}".encode(), key
