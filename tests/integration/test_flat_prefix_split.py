"""A flat prefix with many keys is planned as several disjoint key-range units."""

from __future__ import annotations

from typing import Any

from tests.integration.test_manifest_keys import manifest_keys
from tests.support.flow import run_handlers
from tests.support.s3_helpers import put_keys


def test_flat_prefix_is_split_into_ranges_that_list_every_key_once(s3: Any, bucket: str) -> None:
    keys = [f"flat/doc-{i:05d}.pdf" for i in range(6000)] + ["flat/zz-last.pdf", "flat/ünïcode.pdf"]
    put_keys(s3, bucket, keys, body=b"x")

    result = run_handlers(s3, {"bucket": bucket, "prefix": "flat/", "max_concurrency": 4})

    units = result["units"]
    assert len(units) >= 3
    assert all(u["prefix"] == "flat/" and u["delimited"] for u in units)
    got = manifest_keys(s3, result)
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(keys)


def test_one_big_sub_prefix_among_small_ones_is_split(s3: Any, bucket: str) -> None:
    big = [f"big/{i:05d}.pdf" for i in range(3500)]
    small = ["a/1.pdf", "c/2.pdf"]
    put_keys(s3, bucket, big + small, body=b"x")

    result = run_handlers(s3, {"bucket": bucket, "max_concurrency": 2})

    big_units = [u for u in result["units"] if u["prefix"] == "big/"]
    assert len(big_units) >= 2
    assert sorted(manifest_keys(s3, result)) == sorted(big + small)


def test_manifests_in_the_source_bucket_are_not_listed_by_a_later_run(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a/1.pdf", "b/2.txt"])
    run_handlers(s3, {"bucket": bucket, "suffix": ""}, run_id="first")
    second = run_handlers(s3, {"bucket": bucket, "suffix": ""}, run_id="second")
    assert sorted(manifest_keys(s3, second)) == ["a/1.pdf", "b/2.txt"]
