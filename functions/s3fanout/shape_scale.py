"""A key scale for the keys of one shape: their numbers as numbers, between the smallest and
largest seen.

The planner's :class:`~s3fanout.planner.KeyScale` gives each character position the room of
every character of its class (a digit seen: all ten). Where keys do not use that room, they
bunch in runs with empty stretches between: ``user-0042/photo-0417.jpg`` in folders of 1,000
photos uses a tenth of the room ``photo-0000`` to ``photo-9999`` gives each folder; hours run
to 23, not 99; ids of digits among names of hex letters use 10 of 16 characters at each of
their positions. A page's density then says little about the gap after it.

Keys of one *shape* - the same string with each digit as ``0`` and each letter as ``a``
(:func:`shape_of`) - are made of the same tokens: literal characters, letters, and numbers of
a fixed number of digits. :class:`ShapeScale` numbers the strings of a shape in key order, a
number token taking the values between the smallest and largest seen, a letter those between
the smallest and largest seen at its position (:class:`ShapeLearner`). Keys that use those
values evenly - a folder per user, a file per photo, a log per second - spread evenly on it.
"""

from __future__ import annotations

import bisect
import string
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter

_SHAPES = str.maketrans(string.digits + string.ascii_letters, "0" * 10 + "a" * 52)
_DIGITS = frozenset(string.digits)
_LETTERS = frozenset(string.ascii_letters)

# A number's smallest or largest seen under this many heads is its bound under any.
BOUNDED_UNDER = 2
# Folders whose numbers all end within this share of their range count as filled to it.
FILLED = 0.9
# Token kinds.
LITERAL, LETTER, NUMBER = 0, 1, 2


def shape_of(key: str) -> str:
    """``key`` with each ASCII digit as 0 and each ASCII letter as a (``user-0042/photo-0417.jpg``:
    ``aaaa-0000/aaaaa-0000.aaa``)."""
    return key.translate(_SHAPES)


@dataclass(frozen=True)
class _Token:
    kind: int
    offset: int
    length: int


def tokens_of(shape: str) -> tuple[_Token, ...]:
    """A shape's tokens: runs of other characters, single letters, runs of digits."""
    tokens: list[_Token] = []
    i = 0
    while i < len(shape):
        char = shape[i]
        j = i + 1
        if char == "a":
            tokens.append(_Token(LETTER, i, 1))
        else:
            kind = NUMBER if char == "0" else LITERAL
            while j < len(shape) and (shape[j] == "0") == (kind == NUMBER) and shape[j] != "a":
                j += 1
            tokens.append(_Token(kind, i, j - i))
        i = j
    return tuple(tokens)


def digits_below(text: str, length: int) -> int:
    """How many ``length``-digit strings (``0...0`` up) sort before ``text``."""
    count = 0
    for j in range(length):
        if j >= len(text):
            return count  # (a prefix of them sorts before them)
        char = text[j]
        below: int = 10 ** (length - j - 1)
        if char < "0":
            return count
        if char > "9":
            return count + 10 * below
        count += (ord(char) - 48) * below
    # (text's own number sorts before it where text goes on past it)
    return count + (1 if len(text) > length else 0)


class CachedValues:
    """A scale's ``value`` of a string, computed once: the planner values the same pages'
    ends every round, and a scale outlives rounds that teach it nothing new."""

    _values: dict[str, int]

    def value(self, point: str | None) -> int:
        if point is None:
            return 0
        total = self._values.get(point)
        if total is None:
            total = self._values[point] = self._value(point)
        return total

    def _value(self, point: str) -> int:
        raise NotImplementedError


class ShapeScale(CachedValues):
    """The strings of one shape, numbered in key order (see the module's docstring).

    ``value`` is the number of such strings before a point, for any string; ``string`` the
    string of a value. ``choices[i]`` is token ``i``'s: the literal, the sorted letters, or
    the smallest and largest number.
    """

    def __init__(
        self,
        shape: str,
        choices: list[str | list[str] | tuple[int, int]],
        bounded: dict[int, tuple[bool, bool]] | None = None,
        filled: frozenset[int] = frozenset(),
    ) -> None:
        self.shape = shape
        # Number tokens whose smallest / largest seen is theirs under any head (see ShapeLearner).
        self.bounded = bounded or {}
        # Number tokens that end near their largest in every folder whose end was seen.
        self.filled = filled
        self.tokens = tokens_of(shape)
        self.choices = choices
        radices = [self._radix(i) for i in range(len(self.tokens))]
        weights = [1] * len(radices)
        size = 1
        for i in range(len(radices) - 1, -1, -1):
            weights[i] = size
            size *= radices[i]
        self.radices = radices
        self.weights = weights
        self.size = size
        self.top = size - 1
        self._values = {}

    def _radix(self, i: int) -> int:
        token, choice = self.tokens[i], self.choices[i]
        if token.kind == NUMBER:
            assert isinstance(choice, tuple)
            return choice[1] - choice[0] + 1
        if token.kind == LETTER:
            return len(choice)
        return 1

    def _value(self, point: str) -> int:
        total = 0
        for i, token in enumerate(self.tokens):
            weight, choice = self.weights[i], self.choices[i]
            part = point[token.offset : token.offset + token.length]
            if token.kind == LITERAL:
                assert isinstance(choice, str)
                if part == choice:
                    continue
                return total + (self.radices[i] * weight if part > choice else 0)
            if token.kind == LETTER:
                assert isinstance(choice, list)
                if not part:
                    return total
                index = bisect.bisect_left(choice, part)
                if index < len(choice) and choice[index] == part:
                    total += index * weight
                    continue
                return total + index * weight
            assert isinstance(choice, tuple)
            low, high = choice
            below = min(max(digits_below(part, token.length) - low, 0), high - low + 1)
            if len(part) == token.length and _DIGITS.issuperset(part) and low <= int(part) <= high:
                total += below * weight
                continue
            return total + below * weight
        # Every token matched: the shape's string itself, or a longer one just after it.
        return total + (1 if len(point) > len(self.shape) else 0)

    def covers(self, point: str) -> bool:
        """Whether ``point``'s value is where it lies among the keys: each of its tokens in
        the range seen - or past a bound that holds under any head (hour 45 after hours to
        23) - up to where it leaves the shape (``event-0932682`` where numbers up to 507,114
        were seen under one day lies at the end of its folder, with every key after it)."""
        for i, token in enumerate(self.tokens):
            part = point[token.offset : token.offset + token.length]
            inside = self._inside(i, part)
            if inside is not None:
                return inside
        return True

    def _inside(self, i: int, part: str) -> bool | None:
        """For :meth:`covers`: whether a point whose token ``i`` is ``part`` is covered, or
        None where that depends on the tokens after."""
        token, choice = self.tokens[i], self.choices[i]
        if token.kind == LITERAL:
            return None if part == choice else True
        if token.kind == LETTER:
            assert isinstance(choice, list)
            if not part or part not in _LETTERS:
                return True
            return None if part in choice else False
        assert isinstance(choice, tuple)
        if len(part) < token.length or not _DIGITS.issuperset(part):
            return True  # (it leaves the shape here)
        number, (low, high) = int(part), choice
        if low <= number <= high:
            return None
        below, above = self.bounded.get(i, (False, False))
        return below if number < low else above

    def bounded_from(self, offset: int) -> bool:
        """Whether every number from ``offset`` on ends at its largest seen under any head,
        and near it in every folder whose end a page showed: a folder's keys then end about
        where the scale's do (not for folders of 60 to 3,000 photos each)."""
        return all(
            self.bounded.get(i, (False, False))[1] and i in self.filled
            for i, token in enumerate(self.tokens)
            if token.kind == NUMBER and token.offset >= offset
        )

    def weight_before(self, offset: int) -> int:
        """The values of one string's token ending at ``offset`` (a folder's ``/``): how many
        strings each of its values holds."""
        for i, token in enumerate(self.tokens):
            if token.offset + token.length == offset:
                weight: int = self.weights[i]
                return weight
        return 0

    def string(self, value: int) -> str:
        """The string of the shape numbered ``value`` (clamped to the scale)."""
        value = max(0, min(value, self.top))
        parts: list[str] = []
        for i, token in enumerate(self.tokens):
            code, value = divmod(value, self.weights[i])
            choice = self.choices[i]
            if token.kind == LITERAL:
                assert isinstance(choice, str)
                parts.append(choice)
            elif token.kind == LETTER:
                assert isinstance(choice, list)
                parts.append(choice[code])
            else:
                assert isinstance(choice, tuple)
                parts.append(str(choice[0] + code).zfill(token.length))
        return "".join(parts)


@dataclass
class _Seen:
    tokens: tuple[_Token, ...]
    literals: list[str]
    numbers: dict[int, list[int]]  # token index: [smallest, largest]
    letters: dict[int, set[str]]
    pages: int = 0
    # Token index: the heads (the key before the token) the smallest and largest were seen
    # under, two at most: a number bounded under two heads (hours to 23 on two days) is so
    # under any; one seen under one head (the most events of one day) may grow.
    lowest_under: dict[int, tuple[int, set[str]]] = field(default_factory=dict)
    highest_under: dict[int, tuple[int, set[str]]] = field(default_factory=dict)
    # Token index: the smallest value it ended a folder at, and how many folder ends showed it.
    folder_ends: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass
class ShapeLearner:
    """What keys of each shape were seen to use (see :class:`ShapeScale`), page by page."""

    _seen: dict[str, _Seen] = field(default_factory=dict)
    _scales: dict[str, ShapeScale] = field(default_factory=dict)

    def learn(self, keys: tuple[str, ...] | list[str], ends: tuple[str, ...] | list[str] = ()) -> str | None:
        """Add a page's keys (a sample of them: every n-th and the last do), of which
        ``ends`` are the last of their folder; the page's shape where they all have one,
        else None, and then it teaches nothing: keys of another shape may sort anywhere
        between those of one (``doc-7 copy.pdf`` before ``doc-7.pdf``), and random ids make
        every key a shape of its own."""
        shape = shape_of(keys[0]) if keys else None
        if shape is None or any(shape_of(key) != shape for key in keys[1:]):
            return None
        seen = self._seen.get(shape)
        if seen is None:
            tokens = tokens_of(shape)
            literals = [keys[0][t.offset : t.offset + t.length] if t.kind == LITERAL else "" for t in tokens]
            seen = self._seen[shape] = _Seen(tokens, literals, {}, {})
        seen.pages += 1
        changed = self._learn_columns(seen, list(keys))
        if ends:
            self._learn_ends(seen, ends)
            changed = True
        if changed:
            self._scales.pop(shape, None)
        return shape

    @staticmethod
    def _learn_ends(seen: _Seen, ends: tuple[str, ...] | list[str]) -> None:
        for i, token in enumerate(seen.tokens):
            if token.kind == NUMBER:
                values = [int(key[token.offset : token.offset + token.length]) for key in ends]
                low, count = seen.folder_ends.get(i, (min(values), 0))
                seen.folder_ends[i] = (min(low, *values), count + len(values))

    @staticmethod
    def _learn_columns(seen: _Seen, members: list[str]) -> bool:
        """Each token's column of ``members`` into ``seen`` (C-level maps: a page at a time
        costs a few microseconds a token); whether anything was new."""
        changed = False
        for i, token in enumerate(seen.tokens):
            if token.kind == LETTER:
                letters = seen.letters.setdefault(i, set())
                column = set(map(itemgetter(token.offset), members))
                if not column <= letters:
                    letters.update(column)
                    changed = True
            elif token.kind == NUMBER:
                numbers = list(map(int, map(itemgetter(slice(token.offset, token.offset + token.length)), members)))
                low, high = min(numbers), max(numbers)
                bounds = seen.numbers.get(i)
                if bounds is None:
                    bounds = seen.numbers[i] = [low, high]
                    changed = True
                elif low < bounds[0] or high > bounds[1]:
                    bounds[0], bounds[1] = min(bounds[0], low), max(bounds[1], high)
                    changed = True
                head = itemgetter(slice(0, token.offset))
                for bound, heads in ((bounds[0], seen.lowest_under), (bounds[1], seen.highest_under)):
                    known = heads.get(i)
                    if known is None or known[0] != bound:
                        known = heads[i] = (bound, set())
                    if len(known[1]) < BOUNDED_UNDER and bound in (low, high):
                        known[1].update(map(head, compress(members, map(bound.__eq__, numbers))))
        return changed

    def pages(self, shape: str) -> int:
        seen = self._seen.get(shape)
        return seen.pages if seen is not None else 0

    def scale(self, shape: str) -> ShapeScale | None:
        """The scale of ``shape``'s keys so far; None for a shape never seen."""
        scale = self._scales.get(shape)
        if scale is None:
            seen = self._seen.get(shape)
            if seen is None:
                return None
            choices: list[str | list[str] | tuple[int, int]] = []
            for i, token in enumerate(seen.tokens):
                if token.kind == NUMBER:
                    low, high = seen.numbers[i]
                    choices.append((low, high))
                elif token.kind == LETTER:
                    letters = seen.letters[i]
                    # (letters of one case between the smallest and largest seen: names go on)
                    choices.append(_between(letters))
                else:
                    choices.append(seen.literals[i])
            bounded = {i: (_under(seen.lowest_under, i), _under(seen.highest_under, i)) for i in seen.numbers}
            filled = frozenset(i for i in seen.numbers if _filled(seen, i))
            scale = self._scales[shape] = ShapeScale(shape, choices, bounded, filled)
        return scale


def _filled(seen: _Seen, token: int) -> bool:
    """Whether two folder ends or more showed ``token``, each within FILLED of its range
    from the smallest seen to the largest."""
    low, high = seen.numbers[token]
    end, count = seen.folder_ends.get(token, (low, 0))
    return count >= BOUNDED_UNDER and end - low >= FILLED * (high - low)


def _under(heads: dict[int, tuple[int, set[str]]], token: int) -> bool:
    known = heads.get(token)
    return known is not None and len(known[1]) >= BOUNDED_UNDER


def _between(letters: set[str]) -> list[str]:
    filled = set(letters)
    for case in (string.ascii_lowercase, string.ascii_uppercase):
        seen = [c for c in case if c in letters]
        if len(seen) > 1:
            filled.update(case[case.index(seen[0]) : case.index(seen[-1]) + 1])
    return sorted(filled)
