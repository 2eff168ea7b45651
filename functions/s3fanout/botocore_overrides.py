"""Every override of botocore / aiobotocore internals, in one place (as aiobotocore's own
``parsers.py`` overrides botocore's). tests/unit/test_patches.py guards each internal named
here by a hash of its source in the pinned versions.

The fast ListObjectsV2 path: botocore's generic XML parser costs ~25-50 us per key even
without timestamp parsing (it builds an element tree and walks the shape model for every
field of every object), and its 200-error check parses every body with ElementTree again.
For requests made by s3fanout.listing (``FAST_LISTING`` set), :func:`split_listing_body`
cuts the ``<Contents>`` run out of the raw body and reads five fields per object - Key,
Size, LastModified, ETag, StorageClass (and a restored archive's RestoreStatus) - with one
regular expression each; botocore parses the rest (top-level fields, CommonPrefixes), runs
its handlers (EncodingType=url decoding of keys) and its retries as usual, and
:class:`ListingParser` puts the objects back. Anything unexpected in the body sends the
whole page to botocore's parser instead. Timestamps everywhere stay strings
(:class:`ParserFactory`).

A planner's probe needs only the keys (``keys_only`` on its request): they are cut out
with one regular expression and handed to the request (its ``keys``) instead of
``Contents``; the probe asks for EncodingType=url itself (botocore then leaves decoding to
it) and decodes the page's keys in one call (:func:`url_decoded`) - ~1 us per key where
the five fields and botocore's per-key decoding cost ~6 us.
"""

from __future__ import annotations

import codecs
import re
from contextvars import ContextVar
from typing import Any, Protocol

import botocore.handlers
from aiobotocore.parsers import AioResponseParserFactory, AioRestXMLParser
from botocore.compat import unquote_str


class Prefetcher(Protocol):
    """What a fast-path request carries (s3fanout.listing.PageRun): read-ahead of the next
    page; a keys-only request (``keys_only``, a probe) also receives its page's keys."""

    keys: list[str] | None

    async def prefetch(self, token: str) -> None: ...


# Set (only) around the ListObjectsV2 calls that s3fanout.listing makes: the hook and the
# parser take the fast path only then, so every other caller of list_objects_v2 on the
# same client still gets botocore's complete output.
FAST_LISTING: ContextVar[Prefetcher | None] = ContextVar("s3fanout_fast_listing", default=None)

_NEXT_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")


def next_token_of(body: bytes) -> str | None:
    """The NextContinuationToken of a raw ListObjectsV2 body, if it is plainly truncated.

    Only a guess to start the next request early: the page's parsed token decides.
    """
    if b"<IsTruncated>true</IsTruncated>" not in body:
        return None
    found = _NEXT_TOKEN.findall(body)
    if len(found) != 1:
        return None
    try:
        return _xml_text(found[0].decode("utf-8")) or None
    except ValueError:
        return None


_KEY = re.compile(r"<Key>([^<]*)</Key>")
_SIZE = re.compile(r"<Size>([^<]*)</Size>")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_OPEN, _CLOSE = "<Contents>", "</Contents>"
_STORAGE_CLASS = re.compile(r"<StorageClass>([^<]*)</StorageClass>")
_MODIFIED = re.compile(r"<LastModified>([^<]*)</LastModified>")
_ETAG = re.compile(r"<ETag>([^<]*)</ETag>")
# A restored archived object: its RestoreStatus says the restore is no longer in progress.
_RESTORED = "<IsRestoreInProgress>false</IsRestoreInProgress>"


def _entity(match: re.Match[str]) -> str:
    name, dec, hexa = match.groups()
    if name:
        return _NAMED[name]
    return chr(int(dec) if dec else int(hexa, 16))


def _xml_text(raw: str) -> str:
    if "&" not in raw:
        return raw
    text, replaced = _ENTITY.subn(_entity, raw)
    if replaced != raw.count("&"):
        raise ValueError("unknown XML entity")
    return text


def _etag_text(raw: str) -> str:
    # S3 writes ETags as &quot;...&quot;: the common case costs one replace, not the entity regex.
    text = raw.replace("&quot;", '"')
    return _xml_text(text) if "&" in text else text


def _contents_run(body: bytes) -> tuple[str, int, int, str, int] | None:
    """``(text, start, end, region, count)``: the body's one contiguous run of ``<Contents>``
    elements, ``text[start:end]``, holding ``count`` of them; None for an empty page or a body
    that is not plainly S3's shape (see :func:`split_list_objects_v2`)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = text.find(_OPEN)
    # ("!" in / "?" in first: one-character searches cost a tenth of "<!" / "<?" on a page.)
    if start < 0 or ("!" in text and "<!" in text) or "\r" in text:
        return None
    end = text.rfind(_CLOSE) + len(_CLOSE)
    region = text[start:end]
    count = region.count(_OPEN)
    if region.count(_CLOSE) != count or region.count(_CLOSE + _OPEN) != count - 1 or ("?" in region and "<?" in region):
        return None
    return text, start, end, region, count


def split_list_objects_v2(body: bytes) -> tuple[bytes, list[dict[str, Any]]] | None:
    """Cut the ``<Contents>`` run out of a ListObjectsV2 body.

    Returns ``(rest, contents)``: the document without its Contents elements (for
    botocore to parse) and ``[{"Key", "Size", "LastModified", "ETag", "StorageClass"}, ...]`` with
    keys exactly as botocore's XML parser would give them (before its EncodingType=url
    decoding); an archived object restored for now also has ``"Restored": True``.
    Returns None - parse it all with botocore - for an empty page or any body that is not
    plainly S3's shape: comments, CDATA, DOCTYPE, carriage returns (XML parsers normalise
    them), Contents not contiguous, or an object without exactly one Key and one Size.
    """
    cut = _contents_run(body)
    if cut is None or "/>" in cut[3]:  # a self-closing element: leave it to the real parser
        return None
    text, start, end, region, count = cut
    keys = _KEY.findall(region)
    sizes = _SIZE.findall(region)
    modified = _MODIFIED.findall(region)
    etags = _ETAG.findall(region)
    if len(keys) != count or len(sizes) != count or len(modified) != count or len(etags) not in (0, count):
        return None
    try:
        contents = [
            {"Key": _xml_text(key), "Size": int(size), "LastModified": stamp, "ETag": _etag_text(etag)}
            for key, size, stamp, etag in zip(keys, sizes, modified, etags or [""] * count, strict=True)
        ]
    except ValueError:
        return None
    classes = _STORAGE_CLASS.findall(region)
    if classes and (len(classes) != count or "<RestoreStatus>" in region):
        # Not one class per object, or restore states to attach: read object by object.
        elements = region[len(_OPEN) : -len(_CLOSE)].split(_CLOSE + _OPEN)
        for entry, element in zip(contents, elements, strict=True):
            found = _STORAGE_CLASS.search(element)
            if found:
                entry["StorageClass"] = found.group(1)
            if _RESTORED in element:
                entry["Restored"] = True
    else:
        for entry, storage_class in zip(contents, classes, strict=False):
            entry["StorageClass"] = storage_class
    return (text[:start] + text[end:]).encode("utf-8"), contents


def split_keys(body: bytes) -> tuple[bytes, list[str]] | None:
    """Like :func:`split_list_objects_v2`, the Keys only (XML entities decoded, URL
    encoding not), on the same conditions but one: self-closing elements (``<ETag/>``) do
    not matter to the keys - and a ``<Key/>`` leaves its object without a ``<Key>``, which
    the count of keys catches. (That search is a fifth of a 1,000-key page's split.)"""
    cut = _contents_run(body)
    if cut is None:
        return None
    text, start, end, region, count = cut
    keys = _KEY.findall(region)
    if len(keys) != count:
        return None
    try:
        return (text[:start] + text[end:]).encode("utf-8"), [_xml_text(key) for key in keys]
    except ValueError:
        return None


def _unquote_plus(text: str) -> str:
    """``unquote_str`` (urllib's ``unquote_plus``), in C for the usual S3 page: ASCII text
    (UTF-8 escaped, as S3 sends it) without backslashes - then ``%XX`` -> ``\\xXX`` is
    exactly what ``codecs.escape_decode`` decodes, and the bytes decode as unquote decodes
    them (UTF-8, errors replaced). A % that starts no escape (unquote keeps it) makes an
    invalid ``\\x`` escape_decode refuses: that page, and anything else, is urllib's."""
    if "%" not in text or not text.isascii() or "\\" in text:
        return unquote_str(text)
    escaped = text.replace("+", " ").replace("%", "\\x").encode("ascii")
    try:
        decoded = codecs.escape_decode(escaped)[0]
    except ValueError:  # invalid \x escape: a lone %
        return unquote_str(text)
    return decoded.decode("utf-8", "replace")


def url_decoded(keys: list[str]) -> list[str]:
    """``[unquote_str(key) for key in keys]`` (botocore's EncodingType=url decoding), in one
    call for the page: URL-encoded keys hold no line feed, and a decoded one holds one only
    from %0A - those pages are decoded key by key. (A line feed also ends any partial UTF-8
    sequence, so each key decodes as it would alone.)"""
    joined = "\n".join(keys)
    if joined.count("\n") != len(keys) - 1 or "%0a" in joined or "%0A" in joined:
        return [unquote_str(key) for key in keys]
    return _unquote_plus(joined).split("\n") if keys else []


def _identity(value: str) -> str:
    return value


_CONTENTS = "s3fanout_contents"
_KEYS = "s3fanout_keys"


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
        if getattr(run, "keys_only", False):
            run.keys = None  # (set by the parse of this attempt only)
            keys = split_keys(response_dict["body"])
            if keys is not None:
                response_dict["body"], response_dict.setdefault("context", {})[_KEYS] = keys
        else:
            split = split_list_objects_v2(response_dict["body"])
            if split is not None:
                response_dict["body"], response_dict.setdefault("context", {})[_CONTENTS] = split
    if _HANDLE_200_ERROR is not None:
        _HANDLE_200_ERROR(operation_model=operation_model, response_dict=response_dict, **kwargs)


class ListingParser(AioRestXMLParser):
    """botocore's rest-xml parser, plus the fast ListObjectsV2 path.

    Only requests made by s3fanout.listing (``FAST_LISTING`` set) take it; their pages
    carry the five fields of :func:`split_list_objects_v2` per object. Everything else is
    botocore's parse.
    """

    def _parse_payload(self, response: Any, shape: Any, member_shapes: Any, final_parsed: Any) -> None:
        context = response.get("context") or {}
        contents = context.pop(_CONTENTS, None)
        keys = context.pop(_KEYS, None)
        super()._parse_payload(response, shape, member_shapes, final_parsed)
        if shape.name != "ListObjectsV2Output":
            return
        if contents is not None:
            final_parsed["Contents"] = contents
        run = FAST_LISTING.get()
        if keys is not None and run is not None:
            run.keys = keys  # as the XML has them: URL-encoded if EncodingType says so


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


def install(core: Any) -> None:
    """Put the overrides into a botocore session (aioboto3's ``Session._session``)."""
    core.register_component("response_parser_factory", ParserFactory())
    if _HANDLE_200_ERROR is not None:  # (else: no fast listing path, botocore's parse throughout)
        events = core.get_component("event_emitter")
        events.unregister("before-parse.s3.*", _HANDLE_200_ERROR)
        events.register_first("before-parse.s3.*", split_listing_body)
