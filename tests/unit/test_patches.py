"""Guards every botocore / aiobotocore / aioboto3 internal that s3fanout.botocore_overrides
overrides or that s3fanout.s3 leans on (the model: aiobotocore's tests/test_patches.py).

s3fanout.botocore_overrides replaces botocore's 200-error check and extends the rest-xml
parser's payload step; s3fanout.s3 reaches aioboto3's botocore session. If the pinned versions change any of that
code, this test fails with the name of what changed: re-read it, check the override still
holds (tests/unit/test_listing_parse.py exercises it), then update the digest here.
"""

from __future__ import annotations

import aioboto3.session
import aiobotocore.parsers
import botocore.handlers
import botocore.parsers
import pytest

from tests.support.hash_guard import source_digest

# name -> (object, sha1 of its source) for the pinned versions (requirements-dev.txt).
GUARDED = {
    # replaced by s3fanout.botocore_overrides.split_listing_body, which calls it after cutting the Contents run
    "botocore.handlers._handle_200_error": (
        botocore.handlers._handle_200_error,
        "f2c6e1601b746dbc409182be7fa2117ba9aad84b",
    ),
    "botocore.handlers._should_handle_200_error": (
        botocore.handlers._should_handle_200_error,
        "d971c78598d5498ebf67abd98a00d26c303ae219",
    ),
    # s3fanout.botocore_overrides.ListingParser._parse_payload wraps it and sets Contents afterwards
    "botocore.parsers.BaseRestParser._parse_payload": (
        botocore.parsers.BaseRestParser._parse_payload,
        "629c28fddfeeeb6cffea6cc3c6650688887c7341",
    ),
    # subclassed: ParserFactory / ListingParser
    "botocore.parsers.ResponseParserFactory": (
        botocore.parsers.ResponseParserFactory,
        "fa73fd61e279ed7df6465453c37f656e9a8c4069",
    ),
    "aiobotocore.parsers.AioResponseParserFactory": (
        aiobotocore.parsers.AioResponseParserFactory,
        "7b21d64156e97e26a5ed3ae606fa4691fbcba464",
    ),
    "aiobotocore.parsers.AioRestXMLParser": (
        aiobotocore.parsers.AioRestXMLParser,
        "4b5a1ff7756ca3918679d9ec352522fdf3e05b13",
    ),
    # s3fanout.listing.probe_page asks for EncodingType=url itself so that botocore leaves
    # the keys encoded (it decodes only what it asked for) and decodes them per page
    "botocore.handlers.set_list_objects_encoding_type_url": (
        botocore.handlers.set_list_objects_encoding_type_url,
        "673aa452e9ba9c2a3311aa8f9fc3c4aeb79fb48a",
    ),
    "botocore.handlers._decode_list_object": (
        botocore.handlers._decode_list_object,
        "eed39dca36aa8988432c3df9828c7fb5101b1ff7",
    ),
    # s3fanout.s3.new_session reads Session._session (no public handle on the botocore session)
    "aioboto3.session.Session.__init__": (
        aioboto3.session.Session.__init__,
        "0c8cf6319b5d6dfac7341968f0e2870f3d0c132f",
    ),
}


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_guarded_library_code_is_unchanged(name: str) -> None:
    obj, expected = GUARDED[name]
    assert source_digest(obj) == expected, f"{name} changed in the pinned library: re-check s3fanout.botocore_overrides"


def test_the_200_error_check_is_still_registered_where_we_replace_it() -> None:
    registered = [
        entry for entry in botocore.handlers.BUILTIN_HANDLERS if entry[1] is botocore.handlers._handle_200_error
    ]
    assert [entry[0] for entry in registered] == ["before-parse.s3.*"]


def test_a_session_from_new_session_has_our_hook_instead_of_botocores() -> None:
    from s3fanout.botocore_overrides import ParserFactory, split_listing_body
    from s3fanout.s3 import new_session

    core = new_session()._session
    assert isinstance(core.get_component("response_parser_factory"), ParserFactory)
    handlers = list(core.get_component("event_emitter")._emitter._lookup_cache.get("before-parse.s3.ListObjectsV2", ()))
    if not handlers:  # the cache fills on first emit; ask the emitter for the handlers instead
        handlers = list(
            core.get_component("event_emitter")._emitter._handlers.prefix_search("before-parse.s3.ListObjectsV2")
        )
    assert split_listing_body in handlers
    assert botocore.handlers._handle_200_error not in handlers
