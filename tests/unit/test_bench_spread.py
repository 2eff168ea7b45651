"""The planning benchmark's second modelled wall: BuildManifest's run-time spreading of a
unit far bigger than planned (``bench.planning.build`` and ``schedule_spread``), on small
synthetic key spaces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.keyspace import _bounds, count_range, flat
from bench.planning import MODELS, build, probe_sample, schedule, schedule_spread
from s3fanout import build_manifest
from s3fanout.listing import ProbePage
from s3fanout.records import WorkUnit

KEYS = flat(60_000)  # "flat/doc-00000000.pdf" ...
PREFIX = "flat/"
MIN_UNIT = 1_000


def _units(estimates: list[int | None]) -> list[tuple[str | None, str | None, int | None]]:
    """Four units of KEYS: three of 5,000 keys, the last of the other 45,000 (start_after,
    end_key, estimate)."""
    bounds = [None, KEYS[4_999], KEYS[9_999], KEYS[14_999], None]
    return [(bounds[i], bounds[i + 1], estimates[i]) for i in range(4)]


def _builds(estimates: list[int | None]) -> tuple[list[Any], list[int]]:
    builds, sizes = [], []
    for start_after, end_key, estimate in _units(estimates):
        builds.append(build(KEYS, PREFIX, start_after, end_key, estimate=estimate, min_unit=MIN_UNIT))
        sizes.append(count_range(KEYS, PREFIX, start_after, end_key))
    return builds, sizes


@pytest.mark.parametrize("model", sorted(MODELS))
def test_an_underestimated_unit_spreads_and_its_wall_falls(model: str) -> None:
    # The last unit holds 45,000 keys but was planned at 1,000: it stops after
    # 2 x max(1,000, MIN_UNIT) keys and lists the rest in pieces at once.
    builds, sizes = _builds([5_000, 5_000, 5_000, 1_000])
    assert sizes == [5_000, 5_000, 5_000, 45_000]
    assert [bool(b.pieces) for b in builds] == [False, False, False, True]
    unspread = schedule(sizes, 4, MODELS[model])
    spread = schedule_spread([b.ops for b in builds], 4, MODELS[model])
    # Unspread: 45 pages one after the other; spread: 3 pages, a few planning round
    # trips, then pieces of a couple of pages each.
    assert spread < 0.3 * unspread, (spread, unspread)
    # The slot holding the big unit still ends last, after its head's 3 pages at least.
    assert spread > 3 * MODELS[model].page_s(1_000)


def test_the_pieces_cover_exactly_the_rest_of_the_unit() -> None:
    builds, _ = _builds([5_000, 5_000, 5_000, 1_000])
    big = builds[-1]
    low, high = _bounds(KEYS, PREFIX, KEYS[14_999], None)
    # It stopped after 2,000 keys listed (a whole number of the listing's batches), when
    # the next batch came: the third page.
    assert big.spread_after == KEYS[low + 1_999]
    assert big.ops[:4] == [("list", 1_000)] * 3 + [("wave", [1_000])]
    assert 1 < len(big.pieces) <= build_manifest.MAX_PIECES
    # Chained from the last key listed to the unit's end: no gap, no overlap.
    assert big.pieces[0].start_after == big.spread_after
    assert big.pieces[-1].end_key is None
    for one, two in zip(big.pieces, big.pieces[1:], strict=False):
        assert one.end_key == two.start_after
        assert one.end_key is not None
        assert one.start_after is None or one.start_after < one.end_key
    counts = [count_range(KEYS, PREFIX, p.start_after, p.end_key) for p in big.pieces]
    assert counts == big.piece_sizes
    assert sum(counts) == count_range(KEYS, PREFIX, big.spread_after, None) == high - low - 2_000
    # The slot lists the pieces last, at once.
    assert big.ops[-1] == ("pieces", big.piece_sizes)
    assert {op[0] for op in big.ops[3:-1]} == {"wave"}


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("slots", [1, 2, 4, 100])
def test_without_an_underestimated_unit_the_spread_wall_is_the_schedule(model: str, slots: int) -> None:
    # Estimates at or above the sizes (or none, as an older planner's units): nothing
    # spreads, and the model is exactly schedule()'s - rate cap and all.
    for estimates in ([5_000, 5_000, 5_000, 45_000], [3_000, 2_500, 9_999, 22_500], [None] * 4):
        builds, sizes = _builds(estimates)
        assert not any(b.pieces for b in builds)
        assert schedule_spread([b.ops for b in builds], slots, MODELS[model]) == schedule(sizes, slots, MODELS[model])
    # Just past 2 x its estimate (in batches of 250 keys), the last unit stops, plans its
    # rest (250 keys) as one piece and lists on: no pieces, a probe and a page more.
    builds, sizes = _builds([5_000, 5_000, 5_000, 22_374])
    assert not builds[-1].pieces
    assert builds[-1].probes == 1
    assert builds[-1].ops[-1] == ("list", 250)
    assert schedule_spread([b.ops for b in builds], slots, MODELS[model]) > schedule(sizes, slots, MODELS[model])


def test_a_slot_is_held_until_its_longest_piece_is_listed() -> None:
    model = MODELS["flat50"]  # 50 ms a LIST, no rate cap: the arithmetic is exact
    spread = [("list", 1_000), ("list", 1_000), ("wave", [1_000, 250]), ("pieces", [3_000, 1_500, 0])]
    # Head 2 pages, one wave, then the 3-page piece: 6 LISTs' time; the next unit's
    # single page on the same (only) slot waits for it.
    assert schedule_spread([spread], 1, model) == pytest.approx(6 * 0.05)
    assert schedule_spread([spread, [("list", 10)]], 1, model) == pytest.approx(7 * 0.05)
    # With two slots the small unit runs beside the pieces.
    assert schedule_spread([spread, [("list", 10)]], 2, model) == pytest.approx(6 * 0.05)
    # Past MAX_PIECES, a piece waits for a place in the INLINE Map.
    many = [("pieces", [1_000] * (build_manifest.MAX_PIECES + 1))]
    assert schedule_spread([many], 1, model) == pytest.approx(2 * 0.05)


def test_the_pieces_are_the_ones_plan_pieces_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    # BuildManifest's own plan_pieces, its probes answered from the same key space: the
    # bench plans the same pieces (same RangePlanner parameters).
    async def probe_page(_client: Any, _bucket: str, prefix: str, point: str | None, *, max_keys: int) -> ProbePage:
        sample = probe_sample(KEYS, prefix, point, max_keys)
        return ProbePage(sample.keys, sample.truncated)

    monkeypatch.setattr(build_manifest, "probe_page", probe_page)
    for start_after, end_key, estimate in [(KEYS[14_999], None, 1_000), (KEYS[100], KEYS[30_000], 700)]:
        ours = build(KEYS, PREFIX, start_after, end_key, estimate=estimate, min_unit=MIN_UNIT)
        assert ours.pieces
        assert ours.spread_after is not None
        work = WorkUnit(unit=3, prefix=PREFIX, start_after=start_after, end_key=end_key, estimate=estimate)
        piece_size = max(estimate, MIN_UNIT)
        theirs = asyncio.run(
            build_manifest.plan_pieces(None, "bucket", work, ours.spread_after, piece_size=piece_size)  # type: ignore[arg-type]
        )
        assert ours.pieces == theirs
