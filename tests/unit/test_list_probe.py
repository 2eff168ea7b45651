"""The lean probe's pieces without S3: its ListObjectsV2 signer against botocore's own
presigned URLs, byte for byte at frozen times, and its page reader against the probe's
parse through botocore (tests/integration/test_list_probe_moto.py runs it against moto)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from botocore.compat import unquote_str
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3fanout import list_probe
from s3fanout.list_probe import CHECKS, list_params, list_query, list_signer_from, read_page
from s3fanout.listing import ProbePage
from s3fanout.s3 import PLANNING_CLIENT_CONFIG, new_session
from s3fanout.sigv4 import FrozenCredentials, SigV4QuerySigner
from tests.unit.conftest import FROZEN, FROZEN_EPOCH
from tests.unit.test_listing_parse import full_parse, keys_only_parse, listing_xml
from tests.unit.test_sigv4 import (
    ENDPOINTS,
    ODD_KEYS,
    STATIC,
    TEMPORARY,
    botocore_client,
)

pytestmark = pytest.mark.usefixtures("pure_python_botocore")


Request = tuple[str, str | None, int]


def botocore_list_url(client: Any, bucket: str, request: Request, expires_in: int = 300) -> str:
    return str(
        client.generate_presigned_url("list_objects_v2", Params=list_params(bucket, *request), ExpiresIn=expires_in)
    )


def proven_signer(client: Any, bucket: str, creds: FrozenCredentials, expires_in: int = 300) -> SigV4QuerySigner:
    """What list_probe.list_signer_for does with the client's own URLs (a sync client here)."""
    references = [(request, botocore_list_url(client, bucket, request, expires_in)) for request in CHECKS]
    signer = list_signer_from(references, creds, expires_in)
    assert isinstance(signer, SigV4QuerySigner), "the self-check should accept this configuration"
    return signer


REQUESTS: list[Request] = [
    ("", None, 1000),
    ("", "", 1),
    ("docs/", "docs/a", 250),
    *[(key, None, 7) for key in ODD_KEYS],
    *[("", key, 1000) for key in ODD_KEYS],
    *[(key, key + "\U0001f4c4", 999) for key in ODD_KEYS],
]


@pytest.mark.parametrize("creds", [STATIC, TEMPORARY], ids=["static", "temporary"])
@pytest.mark.parametrize(("region", "endpoint_url", "bucket"), ENDPOINTS)
def test_list_urls_identical_to_botocore(
    frozen_botocore: Any, region: str, endpoint_url: str | None, bucket: str, creds: FrozenCredentials
) -> None:
    client = botocore_client(region, endpoint_url, creds)
    signer = proven_signer(client, bucket, creds)
    for request in REQUESTS:
        assert signer.presign_at(list_query(*request), FROZEN_EPOCH) == botocore_list_url(client, bucket, request)


# Prefix / StartAfter text: anything (non-ASCII, astral, controls), and runs of the
# characters that need escaping.
_ANY = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
_ESCAPED = st.text(st.sampled_from(list(" +%=~/?#&\\\"'.-_aZ09é文📄\t\n")), max_size=40)
_CASES = [
    ("us-west-2", None, "my-bucket", TEMPORARY),  # virtual hosted, AWS
    ("eu-central-1", None, "my-bucket", STATIC),
    ("us-east-1", "http://127.0.0.1:5000", "bucket", STATIC),  # path style, custom endpoint
    ("ap-southeast-2", "https://s3.example.com:8443", "bucket", TEMPORARY),
]
_CLIENTS: dict[int, tuple[Any, SigV4QuerySigner]] = {}


def _case(index: int) -> tuple[Any, SigV4QuerySigner, str]:
    region, endpoint_url, bucket, creds = _CASES[index]
    if index not in _CLIENTS:
        client = botocore_client(region, endpoint_url, creds)
        _CLIENTS[index] = (client, proven_signer(client, bucket, creds))
    client, signer = _CLIENTS[index]
    return client, signer, bucket


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    case=st.integers(0, len(_CASES) - 1),
    prefix=_ANY | _ESCAPED,
    start_after=st.none() | _ANY | _ESCAPED,
    max_keys=st.integers(1, 1000),
)
def test_any_list_request_identical_to_botocore(
    frozen_botocore: Any, case: int, prefix: str, start_after: str | None, max_keys: int
) -> None:
    client, signer, bucket = _case(case)
    request = (prefix, start_after, max_keys)
    assert signer.presign_at(list_query(*request), FROZEN_EPOCH) == botocore_list_url(client, bucket, request)


def test_the_clock_moves_the_signature(frozen_botocore: list[dt.datetime]) -> None:
    client = botocore_client("eu-west-1", None, TEMPORARY)
    signer = proven_signer(client, "bkt", TEMPORARY)
    clock = [FROZEN_EPOCH]
    signer._clock = lambda: clock[0] + 0.5
    for offset in (0, 1, 86_400):  # crosses midnight: a new signing key
        clock[0] = FROZEN_EPOCH + offset
        frozen_botocore[0] = FROZEN + dt.timedelta(seconds=offset)
        assert signer.presign(list_query("p/", "p/x", 5)) == botocore_list_url(client, "bkt", ("p/", "p/x", 5))


def test_new_credentials_sign_as_botocore_would(frozen_botocore: Any) -> None:
    """An owner of async credentials hands rotated ones over with set_credentials."""
    signer = proven_signer(botocore_client("us-east-1", None, STATIC), "bkt", STATIC)
    signer.set_credentials(TEMPORARY)
    expected = botocore_list_url(botocore_client("us-east-1", None, TEMPORARY), "bkt", ("", None, 9))
    assert signer.presign_at(list_query("", None, 9), FROZEN_EPOCH) == expected


def test_an_unproven_signer_is_refused(frozen_botocore: Any) -> None:
    client = botocore_client("us-east-1", None, STATIC)
    references = [(request, botocore_list_url(client, "bkt", request)) for request in CHECKS]
    assert list_signer_from(references, STATIC, 300) is not None
    # Any disagreement - one URL, other credentials, another expiry - means no lean probe.
    tampered = [
        *references[:-1],
        (references[-1][0], references[-1][1].replace("X-Amz-Expires=300", "X-Amz-Expires=30")),
    ]
    assert list_signer_from(tampered, STATIC, 300) is None
    assert list_signer_from(references, FrozenCredentials(STATIC.access_key, "other-secret"), 300) is None
    assert list_signer_from(references, STATIC, 301) is None
    # A URL botocore would write with a parameter the signer does not know.
    odd = [(r, u.replace("list-type=2&", "list-type=2&fetch-owner=true&")) for r, u in references]
    assert list_signer_from(odd, STATIC, 300) is None
    assert list_signer_from([(r, u) for r, u in references if r[1] is None], STATIC, 300) is None  # no full URL


def test_the_aiobotocore_clients_credentials_are_found() -> None:
    """list_probe reads the client's credentials where aiobotocore keeps them (no public
    accessor): a change there must fail here, not silently turn the lean probe off."""

    async def run() -> Any:
        async with new_session().client(
            "s3",
            region_name="us-east-1",
            config=PLANNING_CLIENT_CONFIG,
            aws_access_key_id="AKIDLEAN",
            aws_secret_access_key="lean-secret",
        ) as client:
            return await list_probe._frozen(list_probe.client_credentials(client))

    assert asyncio.run(run()) == FrozenCredentials("AKIDLEAN", "lean-secret", None)


# --- the page reader ----------------------------------------------------------------------


def probe_page_answer(body: bytes) -> ProbePage:
    """What listing.probe_page makes of ``body``: the keys-only parse through botocore (its
    Contents when that parse is not taken), URL-decoded when EncodingType says url."""
    parsed, raw = keys_only_parse(body)
    if raw is None:
        raw = [obj["Key"] for obj in full_parse(body).get("Contents", ())]
    keys = tuple(unquote_str(k) for k in raw) if parsed.get("EncodingType") == "url" else tuple(raw)
    return ProbePage(keys, bool(parsed.get("IsTruncated")) and bool(keys))


key_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(key_text, max_size=40), truncated=st.booleans(), order=st.sampled_from(["s3", "other"]))
def test_read_page_is_probe_pages_answer(keys: list[str], truncated: bool, order: str) -> None:
    body = listing_xml(keys, url=True, truncated=truncated, order=order)
    assert read_page(body) == probe_page_answer(body)
    assert read_page(body).keys == tuple(keys)


def _unsure(body: bytes) -> bool:
    try:
        read_page(body)
    except list_probe._Unsure:
        return True
    return False


PAGE = listing_xml(["a b", "c+d", "文件"], url=True, truncated=True)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>no</Message></Error>',
            id="error-document",
        ),
        pytest.param(listing_xml(["a"], url=False), id="not-url-encoded"),
        pytest.param(PAGE[: len(PAGE) // 2], id="cut-short"),
        pytest.param(PAGE[:-5], id="no-end-tag"),
        pytest.param(PAGE.replace(b"<Key>a%20b</Key>", b"<Key><![CDATA[a%20b]]></Key>"), id="cdata"),
        pytest.param(PAGE.replace(b"</Contents><Contents>", b"</Contents>\n<Contents>", 1), id="contents-apart"),
        pytest.param(PAGE.replace(b"<IsTruncated>true</IsTruncated>", b""), id="no-is-truncated"),
        pytest.param(PAGE.replace(b"<IsTruncated>true", b"<IsTruncated>yes"), id="odd-is-truncated"),
        pytest.param(PAGE.replace(b"<Name>", b"<Key>x</Key><Name>"), id="key-outside-contents"),
        pytest.param(PAGE.replace(b"<Name>", b"<Contents/><Name>"), id="empty-contents-element"),
        pytest.param(PAGE.replace(b"</ListBucketResult>", b"</ListBucketResult>\n<Error/>"), id="error-appended"),
        pytest.param(PAGE.replace(b"<ListBucketResult", b"<ListBucketResultX"), id="another-root"),
        pytest.param(PAGE.replace(b"a%20b", b"a\xff"), id="not-utf-8"),
        pytest.param(
            PAGE.replace(b"<EncodingType>url", b"<EncodingType>url</EncodingType><EncodingType>url"), id="two"
        ),
    ],
)
def test_anything_unplain_is_asked_again(body: bytes) -> None:
    assert _unsure(body)


def test_plain_pages_are_read() -> None:
    assert read_page(PAGE) == ProbePage(("a b", "c+d", "文件"), True)
    empty = listing_xml([], url=True, truncated=True)
    assert read_page(empty) == probe_page_answer(empty) == ProbePage((), False)
