"""The scale of one key shape (s3fanout.shape_scale): monotone on any string, exact on the
strings of its shape, and honest about numbers that may go on."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from s3fanout.shape_scale import (
    LETTER,
    LITERAL,
    NUMBER,
    ShapeLearner,
    ShapeScale,
    digits_below,
    shape_of,
    tokens_of,
)


def learned(keys: list[str], ends: tuple[str, ...] = ()) -> tuple[ShapeLearner, ShapeScale]:
    learner = ShapeLearner()
    learner.learn(keys, ends)
    scale = learner.scale(shape_of(keys[0]))
    assert scale is not None
    return learner, scale


def test_a_shape_is_literals_letters_and_numbers() -> None:
    assert shape_of("user-0042/photo-0417.jpg") == "aaaa-0000/aaaaa-0000.aaa"
    assert shape_of("é文 z/Ä2") == "é文 a/Ä0"  # (ASCII letters and digits only)
    kinds = [(t.kind, t.offset, t.length) for t in tokens_of("aa-00/0.a")]
    assert kinds == [(LETTER, 0, 1), (LETTER, 1, 1), (LITERAL, 2, 1), (NUMBER, 3, 2), (LITERAL, 5, 1),
                     (NUMBER, 6, 1), (LITERAL, 7, 1), (LETTER, 8, 1)]  # fmt: skip


@given(st.text(alphabet="0123456789/.a\U0010ffff", max_size=6), st.integers(1, 5))
def test_digits_below_counts_the_numbers_that_sort_before_a_string(text: str, length: int) -> None:
    expected = sum(f"{n:0{length}d}" < text for n in range(10**length))
    assert digits_below(text, length) == expected


# Keys of a few shapes: folders of numbered files, dates, letters.
numbered = st.builds(lambda u, p: f"user-{u:04d}/photo-{p:04d}.jpg", st.integers(0, 9999), st.integers(0, 9999))
dated = st.builds(
    lambda m, d, h: f"logs/2024-{m:02d}-{d:02d}T{h:02d}.gz", st.integers(1, 12), st.integers(1, 31), st.integers(0, 23)
)
named = st.builds(
    lambda a, b, n: f"{a}{b}-{n:03d}", st.sampled_from("bcxy"), st.sampled_from("kmq"), st.integers(0, 999)
)
points = st.text(alphabet="0123456789/.-_abkmqxyzABZ\U0010ffff", max_size=30)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), family=st.sampled_from([numbered, dated, named]))
def test_the_scale_is_monotone_on_any_strings_and_exact_on_its_own(data: st.DataObject, family) -> None:
    keys = data.draw(st.lists(family, min_size=1, max_size=40, unique=True))
    _, scale = learned(keys)
    others = data.draw(st.lists(points, max_size=30))
    # Strings that share a key's head and leave it anywhere (past a folder, mid-number).
    others += [key[:cut] + tail for key in keys[:5] for cut in (3, 6, 9) for tail in ("", "\U0010ffff", "0", "/")]
    strings = sorted({*keys, *others})
    values = [scale.value(s) for s in strings]
    assert values == sorted(values), "a string sorted after another has a smaller value"
    for key in keys:
        assert scale.string(scale.value(key)) == key
    assert all(0 <= v <= scale.top + 1 for v in values)


def test_every_value_names_a_string_of_the_shape_in_order() -> None:
    _, scale = learned(["a1/x-3", "a2/z-5", "a1/y-4"])
    assert scale.top + 1 == 2 * 3 * 3  # folders 1-2, letters x-z, numbers 3-5
    strings = [scale.string(v) for v in range(scale.top + 1)]
    assert strings == sorted(strings)
    assert [scale.value(s) for s in strings] == list(range(scale.top + 1))
    assert strings[0] == "a1/x-3"
    assert strings[-1] == "a2/z-5"


def test_numbers_between_the_smallest_and_largest_seen_are_all_there() -> None:
    """user-0003 and user-0042 seen: the 38 folders from 3 to 42, each of photos 0-999."""
    _, scale = learned(["user-0003/photo-0000.jpg", "user-0042/photo-0999.jpg"])
    folders = scale.value("user-0043/") - scale.value("user-0003/")
    assert folders == 40 * 1000
    assert scale.value("user-0010/photo-0500.jpg") == 7 * 1000 + 500


def test_a_number_past_the_largest_seen_under_one_head_is_not_covered() -> None:
    """The most events of one day may grow (a probe past them has not found the day's end);
    hours that end at 23 on two days end there on any."""
    _, scale = learned(["d01/e-0100", "d02/e-0020", "d03/e-0005"])
    assert scale.covers("d01/e-0050")
    assert not scale.covers("d01/e-0300")  # (only d01 reached 100)
    assert scale.covers("d01/e-\U0010ffff")  # (leaves the shape: its value is where it sorts)
    assert not scale.covers("d01/f")  # (a letter no key had there: names may go on)
    _, hours = learned(["d01/T00", "d01/T23", "d02/T00", "d02/T23"], ends=("d01/T23", "d02/T23"))
    assert hours.covers("d01/T45")
    assert hours.bounded_from(3)
    assert not scale.bounded_from(3)


def test_folders_count_as_full_only_where_every_end_seen_is_near_the_largest() -> None:
    """Folders of 60 to 3,000 numbered files: the largest number is reached in two, but a
    folder that ends at 59 is not that full (its keys end far before the scale's)."""
    keys = ["a/0000", "a/2999", "b/0000", "b/2999", "c/0000", "c/0059"]
    _, uneven = learned(keys, ends=("a/2999", "b/2999", "c/0059"))
    assert not uneven.bounded_from(2)
    _, even = learned([*keys[:4], "c/0000", "c/2950"], ends=("a/2999", "b/2999", "c/2950"))
    assert even.bounded_from(2)  # (within FILLED of the range)
    _, unseen = learned(keys[:4])
    assert not unseen.bounded_from(2)  # (no folder end seen: not known to be full)


def test_a_page_of_many_shapes_teaches_nothing() -> None:
    """Hex ids mix letters and digits at random: every key would be a shape of its own."""
    learner = ShapeLearner()
    ids = [f"{n:08x}" for n in range(1, 10**9, 10**8)]
    assert len({shape_of(i) for i in ids}) > 4
    learner.learn(ids)
    assert all(learner.pages(shape_of(i)) == 0 for i in ids)


def test_pages_count_per_shape_and_new_characters_rebuild_the_scale() -> None:
    learner = ShapeLearner()
    learner.learn(["k-01", "k-02"])
    first = learner.scale("a-00")
    learner.learn(["k-01", "k-02"])
    assert learner.scale("a-00") is first  # (nothing new)
    learner.learn(["k-09"])
    assert learner.pages("a-00") == 3
    rebuilt = learner.scale("a-00")
    assert rebuilt is not first
    assert rebuilt is not None
    assert rebuilt.top == 8


def test_the_last_string_of_each_folder() -> None:
    _, scale = learned([f"u{u}/p-{p}" for u, p in itertools.product(range(3, 6), range(2, 8))])
    last = scale.string(scale.value("u4/\U0010ffff") - 1)
    assert last == "u4/p-7"
    assert scale.weight_before(len("u4")) == 6
