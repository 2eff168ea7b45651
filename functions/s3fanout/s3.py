"""aioboto3 S3 clients configured for this workload, and the bucket facts a run needs first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aioboto3
import botocore.handlers
from aiobotocore.parsers import AioResponseParserFactory, AioRestXMLParser
from botocore.config import Config

from .errors import S3_CALL_ERRORS, BucketNotFound, error_code, translate_client_error
from .listing import FAST_LISTING, next_token_of, split_list_objects_v2
from .presign import shared_loader

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from .config import Settings

# Standard retry mode backs off with jitter on 5xx, SlowDown and dropped connections.
CLIENT_CONFIG = Config(
    signature_version="s3v4",
    retries={"mode": "standard", "total_max_attempts": 8},
    max_pool_connections=32,
    connect_timeout=5,
    read_timeout=30,
)


def _identity(value: str) -> str:
    return value


_CONTENTS = "s3fanout_contents"


# botocore's ``before-parse.s3.*`` check for errors inside 200 responses: it parses every
# body with ElementTree (~10 us per key) only to look at the root tag and well-formedness.
_HANDLE_200_ERROR = getattr(botocore.handlers, "_handle_200_error", None)


async def split_listing_body(operation_model: Any, response_dict: dict[str, Any], **kwargs: Any) -> None:
    """``before-parse.s3.*`` in place of botocore's 200-error check.

    For a fast-path ListObjectsV2 page, start the request for the next page (read-ahead,
    see s3fanout.listing.PageRun), then take the Contents run out of the body: the
    200-error check and the parser then see the page without it - still the whole
    document and its root, so truncated XML and ``<Error>`` roots are caught as before -
    and the objects wait in the response context for :class:`ListingParser`.
    """
    run = FAST_LISTING.get()
    if (
        run is not None
        and operation_model.name == "ListObjectsV2"
        and response_dict.get("status_code") == 200
        and response_dict.get("body")
    ):
        token = next_token_of(response_dict["body"])
        if token is not None:
            await run.prefetch(token)  # the next page's request goes out now
        split = split_list_objects_v2(response_dict["body"])
        if split is not None:
            response_dict["body"], response_dict.setdefault("context", {})[_CONTENTS] = split
    if _HANDLE_200_ERROR is not None:
        _HANDLE_200_ERROR(operation_model=operation_model, response_dict=response_dict, **kwargs)


class ListingParser(AioRestXMLParser):
    """botocore's rest-xml parser, plus the fast ListObjectsV2 path of s3fanout.listing.

    Only requests made by s3fanout.listing (``FAST_LISTING`` set) take it; their pages
    carry ``Key`` and ``Size`` per object. Everything else is botocore's parse.
    """

    def _parse_payload(self, response: Any, shape: Any, member_shapes: Any, final_parsed: Any) -> None:
        contents = (response.get("context") or {}).pop(_CONTENTS, None)
        super()._parse_payload(response, shape, member_shapes, final_parsed)
        if contents is not None and shape.name == "ListObjectsV2Output":
            final_parsed["Contents"] = contents


class ParserFactory(AioResponseParserFactory):
    """Response parsers that keep timestamps as strings and know the fast listing path."""

    def __init__(self) -> None:
        super().__init__()
        # botocore parses every LastModified into a datetime (~150 us per key); we never use it.
        self.set_parser_defaults(timestamp_parser=_identity)

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "rest-xml":
            return ListingParser(timestamp_parser=_identity)
        return super().create_parser(protocol_name)


def new_session() -> aioboto3.Session:
    """An aioboto3 session whose S3 clients parse responses with :class:`ParserFactory`."""
    session = aioboto3.Session()
    core = session._session  # noqa: SLF001 - aioboto3 exposes no other handle on its botocore session
    # The presigner's loader: the S3 model and endpoint rules are read once per process.
    core.register_component("data_loader", shared_loader())
    core.register_component("response_parser_factory", ParserFactory())
    if _HANDLE_200_ERROR is not None:  # (else: no fast listing path, botocore's parse throughout)
        events = core.get_component("event_emitter")
        events.unregister("before-parse.s3.*", _HANDLE_200_ERROR)
        events.register_first("before-parse.s3.*", split_listing_body)
    return session


def client_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"config": CLIENT_CONFIG, "region_name": settings.region}
    if settings.s3_endpoint_url:
        kwargs["endpoint_url"] = settings.s3_endpoint_url
    return kwargs


async def bucket_region(client: S3Client, bucket: str, default: str) -> str:
    """The bucket's region: presigned URLs are only valid when signed for it."""
    try:
        response = await client.head_bucket(Bucket=bucket)
    except S3_CALL_ERRORS as exc:
        if error_code(exc) in {"404", "NoSuchBucket"}:
            raise BucketNotFound(bucket) from exc
        raise translate_client_error(exc, bucket=bucket, operation="HeadBucket") from exc
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return response.get("BucketRegion") or headers.get("x-amz-bucket-region") or default
