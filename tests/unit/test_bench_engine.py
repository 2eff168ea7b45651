"""bench.engine's pieces that need no engine: its synthetic key spaces and per-item workflow."""

from __future__ import annotations

import json
from urllib.parse import quote

from bench.engine import per_item_definition, prefixed_keys


def test_prefixed_keys_are_in_key_order_and_spread_over_the_prefixes() -> None:
    key_at, quoted_key_at = prefixed_keys(1_000)
    keys = [key_at(i) for i in range(200_000)]

    assert keys == sorted(keys, key=lambda k: k.encode())  # S3 (UTF-8 byte) order: the server bisects
    assert len({k.rsplit("/", 1)[0] for k in keys}) == 200
    assert all(quoted_key_at(i) == quote(key_at(i), safe="/") for i in range(0, 200_000, 997))


def test_the_per_item_workflow_maps_over_n_items_one_at_a_time() -> None:
    definition = json.loads(per_item_definition(7))
    items = definition["States"]["Items"]["Result"]
    mapped = definition["States"]["Map"]

    assert [item["i"] for item in items] == list(range(7))
    assert mapped["MaxConcurrency"] == 1
    assert mapped["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    # a failing task still ends its item: the figure is the engine's time, whatever the handler says
    assert mapped["ItemProcessor"]["States"]["Task"]["Catch"][0]["ErrorEquals"] == ["States.ALL"]
