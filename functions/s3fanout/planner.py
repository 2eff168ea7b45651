"""Plan one key space into balanced key ranges from a few sampled listing pages.

S3 has no count and no "skip n keys": the only question it answers is "the first (up to)
1,000 keys after this string" (ListObjectsV2 StartAfter/MaxKeys). The planner asks it at
well-chosen strings and estimates the rest:

* :class:`KeyScale` maps a key to an integer, one mixed-radix digit per character
  position, each position's radix learned from the characters sampled keys use there
  (a digit seen means all ten digits, a letter all 26). Keys made of numbers, dates,
  hex ids or words then spread evenly over the integers, so key density is nearly
  constant and a page's span predicts how many keys lie between two strings.
* A *gap* is the key range between two probed strings. Its count is exact when the
  first probe's page reaches the second string (or the listing ended); otherwise it is
  the page plus the density of the pages at both ends times the unlisted width.
* Rounds (:meth:`RangePlanner.next_round`): first the start; then strings beyond the
  last key, spaced geometrically up to the top of the scale, to find where the key
  space ends; then every gap estimated above 1.5 x the target unit size is cut where
  its cumulative estimate reaches multiples of the target - inside a page already
  seen the cut is an exact key and costs no request. Each round's probes run
  concurrently, so planning takes a handful of round trips and a number of requests
  proportional to the number of units, whatever the number of keys.
* A scale is a model, and keys in folders defeat it: a page's density (one folder's
  keys, a few scale units apart) extrapolated to the next probe (another folder, far
  away on the scale) predicts billions of keys where there are a few. A probe answers
  that: its page starts after an empty stretch where the model predicted many keys.
  Such a gap is *walked* instead of cut: the next probe is at its page's last key, a
  listing continuation, exact whatever the scale says; until then it is estimated at
  what was seen plus one page. Where the space ends inside a walked gap, the walk also
  probes just past each folder its last key lies in (:func:`folder_ends`): in a deep
  tree each deeper folder sits in a sliver of the scale, found only that way, a level
  a round or two. No estimate ever exceeds :data:`MAX_ESTIMATE`.
* A scale learned from a few pages is blind where later keys use characters those pages
  did not: the leading characters of time-ordered ids (ULID, KSUID, XID, UUIDv7) are a
  timestamp, one value on the first pages, so every later key fell at one point of the
  scale. Two things answer it. Positions where one page's keys use many characters
  (:data:`RICH_ALPHABET`: the ids' random part) show which characters the keys use at
  all, and other positions are completed with those (Crockford's base32 has no I, L, O
  or U). And a gap whose page ends on a character that is the last of its position's
  alphabet, or that skips such characters where its ends differ, probes just past it
  (:meth:`RangePlanner._blind_spots`): the answer's page teaches the scale the rest. So
  does a gap whose ends differ in a number not padded: ``tenant-10/`` to ``tenant-19/``
  sort after ``tenant-1/``, past the ``/`` the first pages show there.
* Keys of one shape (``user-0042/photo-0417.jpg``: digits and letters as classes) that
  use a fraction of that room - photos 0000-0999 of 0000-9999, hours to 23 - are estimated
  on the scale of their shape (:mod:`s3fanout.shape_scale`), where both pages around a gap
  are of it and nothing it expects is missing; across folders only where every folder's
  numbers end near the largest seen, each folder in between probed just past its end
  (:meth:`RangePlanner._local_estimate`, :meth:`RangePlanner._folders_inside`).
* Gaps are then joined in key order into units of about the target size, on estimates
  made for the plan: where a page straddles an empty stretch between runs of keys (the
  scale spends room on characters a level never uses, like folder numbers with a digit
  to spare), a gap counts the runs' density less one such stretch per boundary of that
  level it crosses, instead of the denser end's density over all of it.

A range is ``(start_after, end_key]``: keys ``k`` with ``k > start_after`` (or any, if
None) and ``k <= end_key`` (or any, if None). Units are built from consecutive gaps, so
they chain - disjoint and covering every key by construction; estimates only decide
where the boundaries go. Boundaries need not be existing keys: StartAfter takes any
string.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from s3fanout.shape_scale import CachedValues, ShapeLearner, ShapeScale

PAGE = 1000
# Keys compare on at most this many characters past the listed prefix: all of any key (a
# key is at most 1,024 bytes). The scale stops where its size passes _MAX_SCALE (densities
# are floats), but positions every key shares (a long common path) cost it nothing, and
# past its last position keys tie: ties make gaps unsplittable.
MAX_POSITIONS = 1024
_MAX_SCALE = 1e280
# Learn a page's characters from every n-th key (and its first and last): enough to
# see each position's alphabet, at a fraction of the CPU of reading every key.
_LEARN_STRIDE = 10
# And its keys' shapes (s3fanout.shape_scale) from every n-th key, its last and the keys
# around its first changes of folder, this many at most.
_SHAPE_STRIDE = 40
_SHAPE_EDGES = 8
_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("abcdef")
_CLASSES = (_DIGITS, _LOWER, _UPPER)
# Positions that must look hex (see KeyScale.from_positions) before every digit may be one.
HEX_POSITIONS = 4
# A position where one page's sampled keys used this many characters shows its alphabet as
# it is (ids' random characters: Crockford's base32 has no I, L, O or U, RFC 4648's no 0, 1,
# 8 or 9; a completed alphabet counts room for them), and its characters are those the
# others are completed with (see _complete). Not over all pages: the leading characters of
# time-ordered ids change a few per page, and add up to many with gaps the later pages fill.
RICH_ALPHABET = 16
# A plan that looks this many pages small or less is listed once before it is final (see
# RangePlanner._checks), whatever planning has cost so far: 5,000 folders of 10 keys and
# one of 950,000 among them planned in 21 requests as 10 units, one 9.6 x the mean.
CHECK_PAGES = 100
# ... and this many where the pages show folders of fewer than SMALL_FOLDER_KEYS keys
# (``u/<id>/f3``): each gap then holds hundreds of folders no probe saw, any of them a huge
# one, which a probe finds only by landing in its sliver of the scale. 15,000 folders of 10
# keys and one of 850,000 looked like 150 pages: 31 units, one 26 x the mean (40,000 of
# them, 400 pages: 50 x). Where folders are small, the listing goes in pieces of
# CHECK_PIECE_PAGES, side by side (a page a round, 300,000 content-hash names in 20 units
# took 43 rounds; the 100,000 keys of 5,000 folders of 10 and one big, 30).
SMALL_FOLDER_CHECK_PAGES = 1000
SMALL_FOLDER_KEYS = 100
CHECK_PIECE_PAGES = 4
# Probes past numbers ending at one position, at most (_past_number): a page past the
# first digits shows whether the numbers grow one there; snowflake ids (19 digits, then
# ".json") end on a different number in every gap, and never grow one.
NUMBER_PROBES = 9
# Strings beyond the last key probed at once while looking for the end of the space.
GALLOP_POINTS = 16
# A gap is cut (into pieces of half that) when its estimate exceeds this many target
# units: unit boundaries are placed inside gaps at no cost (``ranges``), so gaps need not
# be unit-sized, only measured often enough to catch a change in density.
SPLIT_ABOVE = 4
MAX_CUTS_PER_GAP = 64
# Rounds of probes at most (walking a deep tree takes a round or two per level), and
# rounds that only listed (continuations) at most this many more.
MAX_ROUNDS = 80
MAX_LISTING_ROUNDS = 40
# A probe whose page starts after a stretch where the gap's density predicted more than
# this many keys proves the scale wrong there (on evenly spread keys an empty stretch
# this long has odds of e^-50).
WALK_EVIDENCE = 50.0
# No gap is estimated at more than this many times the keys seen in all pages so far:
# a gap claiming more is cut until it does not (and held to it if the rounds run out).
SEEN_FACTOR = 4
# A gap's ends are also measured on the part of their pages next to it: this fraction.
EDGE_PART = 4
# A page's keys next to a gap this many times denser than those at its other end: a step up.
EDGE_CHANGE = 4
# Units under this many pages are planned to the last key of the space: counting half of
# the page it ends in (see RangePlanner._extrapolated_gaps) left a last unit of 1,500 keys
# 1.3 x the mean.
SMALL_UNIT_PAGES = 4
# Two pages holding fewer keys than this measure a density too roughly to tell a change
# in it from chance.
SMALL_PAGES = 64
# The most keys any estimate may claim: BuildManifest refuses more (s3fanout.inputs).
MAX_ESTIMATE = 10**12
# A boundary is a StartAfter: no longer than a key (1,024 bytes of UTF-8).
MAX_BOUNDARY_BYTES = 1024
# Pages listed one after the other before looking for the end of the space: a space of
# that many pages is then listed whole, never probed (probing costs more requests).
LIST_FIRST_PAGES = 3


@dataclass(frozen=True)
class KeyRange:
    start_after: str | None
    end_key: str | None
    # Planned number of keys: exact when ``exact``, else an estimate.
    estimate: int = 0
    exact: bool = False

    def contains(self, key: str) -> bool:
        return (self.start_after is None or key > self.start_after) and (self.end_key is None or key <= self.end_key)


@dataclass(frozen=True)
class Sample:
    """A probe's answer: the first keys after ``point`` (None: from the start)."""

    point: str | None
    keys: tuple[str, ...]
    truncated: bool


def _order(point: str | None) -> tuple[int, str]:
    return (0, "") if point is None else (1, point)


class KeyScale(CachedValues):
    """A monotone map from strings to integers, learned from sampled keys.

    Past ``stem`` (the listed prefix, shared by every key), position ``j`` is a digit of
    radix ``len(alphabet_j)``, the characters keys were seen to use there (plus "" when
    some key ended there, which takes one value: the key itself). No code is spent on
    characters no key uses, so where keys use their alphabets evenly (numbers, hex, dates)
    density is the same at every scale. A character outside the alphabet maps
    monotonically: below it, the smallest value of the rest; between or above, the largest
    value under the character before it.
    """

    def __init__(self, stem: str, alphabets: list[list[str]], palette: frozenset[str] = frozenset()) -> None:
        self.stem = stem
        self.alphabets = alphabets
        # The characters of the keys' random positions (see from_positions), if any.
        self.palette = palette
        # A key that ends at a position is one string, not a subtree: "" takes one value
        # there, a character the room of all that may follow it. Unpadded numbers (file7,
        # file70, file700...) end at six positions; the room of a digit at each put a unit
        # at 3 x the mean.
        self.ends = [bool(a) and a[0] == "" for a in alphabets]
        weights = [1] * len(alphabets)
        size = 1
        for j in range(len(alphabets) - 1, -1, -1):
            weights[j] = size
            size = self.ends[j] + (len(alphabets[j]) - self.ends[j]) * size
        self.weights = weights
        self.top = size - 1 if alphabets else 0
        # Runs of positions that hold one character (a path every key shares), compared as
        # one slice: keys of a few hundred characters mostly repeat their folders.
        self._runs: dict[int, tuple[int, str]] = {}
        j = 0
        while j < len(alphabets):
            end = j
            while end < len(alphabets) and len(alphabets[end]) == 1 and alphabets[end][0] != "":
                end += 1
            if end - j > 1:
                self._runs[j] = (end, "".join(a[0] for a in alphabets[j:end]))
            j = max(end, j + 1)
        self._values = {}  # (see CachedValues)

    @classmethod
    def learn(cls, stem: str, keys: list[str]) -> KeyScale:
        """The scale of strings under ``stem`` (the listed prefix) that ``keys`` suggest."""
        sets: list[set[str]] = []
        observe(sets, stem, keys)
        return cls.from_positions(stem, sets, rich_positions(sets))

    @classmethod
    def from_positions(cls, stem: str, sets: list[set[str]], rich: frozenset[int] = frozenset()) -> KeyScale:
        """The scale of the characters seen at each position (see :func:`observe`); at the
        ``rich`` positions (see :func:`rich_positions`) only those, at others, by class
        (see :func:`_complete`)."""
        alphabets: list[list[str]] = []
        size = 1.0
        # Hex ids: positions mixing digits with most of a-f (and no later letter) say the
        # keys are hex, and digit positions may hold a-f (the first ones sampled may all
        # start with a digit; the scale would end below the keys that do not) - not those
        # of a decimal number past them (``u/<hex id>/x-0042137``: a-f there would put 27 x
        # the room between the number's keys).
        hex_runs = _hex_runs(sets)
        palette = frozenset().union(*(sets[j] for j in rich if j < len(sets))) - {""}
        completed: list[set[str]] = []
        for j, seen in enumerate(sets):
            chars = set(seen)
            if j not in rich:
                if j in hex_runs and chars & _DIGITS:
                    chars.update(_HEX)
                _complete(chars, palette)
            completed.append(chars)
        if math.prod(map(len, completed)) > _MAX_SCALE:
            # Hundreds of positions every key shares (a number padded with 300 zeros, a long
            # path with digits in it), each completed, would end the scale before the part
            # that varies, and every key would tie: those positions stay the one character.
            completed = [set(seen) if len(seen) == 1 else chars for seen, chars in zip(sets, completed, strict=True)]
        for chars in completed:
            size *= len(chars)
            if size > _MAX_SCALE:
                break
            alphabets.append(sorted(chars))
        return cls(stem, alphabets, palette)

    def _value(self, point: str) -> int:
        head = point[: len(self.stem)]
        if head != self.stem:
            return 0 if head < self.stem else self.top
        tail = point[len(self.stem) :]
        total = 0
        j = 0
        while j < len(self.alphabets):
            run = self._runs.get(j)
            if run is not None:
                end, chars = run
                if tail[j:end] == chars:
                    j = end
                    continue
                # The first character off the run decides, as at any position below.
                j += _shared(tail[j:end], chars)
            alphabet = self.alphabets[j]
            char = tail[j] if j < len(tail) else ""
            i = bisect.bisect_left(alphabet, char)
            ends = self.ends[j]
            if i < len(alphabet) and alphabet[i] == char:
                if char == "":
                    break
                total += ends + (i - ends) * self.weights[j]
                j += 1
                continue
            if i > ends:  # just after alphabet[i - 1] and everything under it
                total += ends + (i - ends) * self.weights[j] - 1
            break
        return total

    def string(self, value: int) -> str:
        """The string of ``value``'s digits (exact for values of strings of known characters)."""
        value = max(0, min(value, self.top))
        chars: list[str] = []
        for j, weight in enumerate(self.weights):
            if self.ends[j]:
                if value == 0:
                    break
                value -= 1
            code, value = divmod(value, weight)
            chars.append(self.alphabets[j][code + self.ends[j]])
        return self.stem + "".join(chars)


def observe(sets: list[set[str]], stem: str, keys: list[str] | tuple[str, ...]) -> None:
    """Add the characters each key uses at each position past ``stem`` to ``sets``."""
    # Column by column, keys of one length at a time (a page's keys mostly share one):
    # set.update on a column runs in C, where a character at a time did not.
    by_length: dict[int, list[str]] = {}
    start = len(stem)
    for key in keys:
        tail = key[start : start + MAX_POSITIONS]
        by_length.setdefault(len(tail), []).append(tail)
    for length, tails in by_length.items():
        while len(sets) < length + 1:
            sets.append(set())
        for j, column in enumerate(zip(*tails, strict=True)):  # (one length)
            sets[j].update(column)
        sets[length].add("")  # the key ends here


def rich_positions(sets: list[set[str]]) -> frozenset[int]:
    """The positions where one page's keys used :data:`RICH_ALPHABET` characters or more."""
    return frozenset(j for j, chars in enumerate(sets) if len(chars - {""}) >= RICH_ALPHABET)


def _learned(sets: list[set[str]]) -> int:
    """How much ``sets`` holds: observing only ever adds, so a change means a new character."""
    return sum(map(len, sets)) + len(sets)


def _hex_runs(sets: list[set[str]]) -> frozenset[int]:
    """The positions that may hold a-f, where :data:`HEX_POSITIONS` look hex (else none): up
    to the last position that looks hex, and the runs of positions holding digits that
    reach one or hold letters (``upload-5.jpg`` ... ``upload-999999.jpg``: kept as they were
    planned before)."""
    hexes = [j for j, chars in enumerate(sets) if _looks_hex(chars)]
    if len(hexes) < HEX_POSITIONS:
        return frozenset()
    found = set(range(hexes[-1] + 1))
    run: list[int] = []
    for j, chars in enumerate([*sets, set()]):
        if chars & _DIGITS:
            run.append(j)
            continue
        if any(p in found or sets[p] & (_LOWER | _UPPER) for p in run):
            found.update(run)
        run = []
    return frozenset(found)


def _looks_hex(chars: set[str]) -> bool:
    letters = chars & _LOWER
    return len(chars & _DIGITS) >= 4 and len(letters) >= 4 and letters <= _HEX


def _complete(chars: set[str], palette: frozenset[str] = frozenset()) -> None:
    """Assume a position holding a digit may hold any digit (counters and dates grow), and
    one holding two letters of a case any letter of that case - except letters up to f
    beside digits, which stay between the smallest and largest seen (hex stays hex) unless
    the keys' random positions use letters past f (base64, base32). The
    first pages of random names (``dict/aardvark``...) show one or two first letters; a
    scale ending there puts every later name at its top, as one point. Where ``palette``
    (the characters of the keys' random positions) holds some of a class, "any" is any of
    those: the leading characters of ULIDs never hold I, L, O or U, nor base32's 0 or 1."""
    if chars & _DIGITS:
        chars.update(palette & _DIGITS or _DIGITS)
    for case, last_hex in ((_LOWER, "f"), (_UPPER, "F")):
        seen = sorted(chars & case)
        if len(seen) > 1:
            # (where the keys' random positions use letters past f, these are no hex digits:
            # base64url ids' leading A, B ... would take a round each up to F)
            past_hex = sum(c > last_hex for c in palette & case)
            if seen[-1] <= last_hex and chars & _DIGITS and past_hex < HEX_POSITIONS:
                chars.update(chr(c) for c in range(ord(seen[0]), ord(seen[-1]) + 1))
            else:
                chars.update(palette & case or case)


@dataclass
class _Gap:
    start: str | None  # the probed point that opens the gap
    end: str | None  # the next probed point (None: the open end of the space)
    estimate: float | None  # None: unbounded (the end of the space is not found yet)
    exact: bool
    # The scale was proven wrong here: probe at the page's last key (a continuation).
    walk: bool = False
    # Extrapolated past SEEN_FACTOR x the keys seen (estimate held there): cut it.
    suspect: bool = False
    # The space ends inside it, narrowed to a page: counted as half of that page's room.
    narrowed: bool = False
    # Estimated on the scale of its keys' shape (see RangePlanner._local_estimate), not the space's.
    local: ShapeScale | None = None


@dataclass
class RangePlanner:
    """The planning state machine; I/O free (the caller probes, see s3fanout.list_prefixes).

    ``initial()`` gives the first probe points; after every answer is ``record``-ed,
    ``next_round()`` gives the next points ([] = done); ``ranges()`` gives the plan.
    """

    prefix: str
    target_units: int
    # Plan only the keys in (start_after, end_key] (a unit's unlisted rest), not the prefix.
    start_after: str | None = None
    end_key: str | None = None
    min_unit: int = 5_000
    max_units: int = 10_000
    # The Map's MaxConcurrency: past it, the unit count is a whole number of rounds of it.
    slots: int = 0
    max_probes: int = 20_000
    page: int = PAGE
    # Later probes only measure density and place cuts: a quarter page parses 4x faster.
    refine_page: int = PAGE // 4
    samples: dict[str | None, Sample] = field(default_factory=dict)
    probes: int = 0
    rounds: int = 0
    # The most probe pages that waited for the planner at once (the pipeline's stats).
    queue_peak: int = 0
    _unsplittable: set[str | None] = field(default_factory=set)
    _continuations: set[str | None] = field(default_factory=set)
    _full: set[str | None] = field(default_factory=set)
    # Pages a walk has listed when it continues at this point.
    _walked: dict[str | None, int] = field(default_factory=dict)
    _positions: list[set[str]] = field(default_factory=list)
    # Positions where a page showed a rich alphabet (see rich_positions).
    _rich: frozenset[int] = frozenset()
    _scale: KeyScale | None = None
    # Rounds that listed (continuations only) because that was cheaper than probing.
    listing_rounds: int = 0
    # Pages the listing of the plan's gaps before it is final has read (see _checks).
    _check_pages: int = 0
    # Each probed page's keys over the folders they sit in (see _small_folders).
    _page_folder_sizes: list[float] = field(default_factory=list)
    # Gaps (their page's last key or None, their end) probed for blind spots (_blind_spots).
    _blind_probed: set[tuple[str | None, str]] = field(default_factory=set)
    # The points those probes asked at.
    _holes: set[str] = field(default_factory=set)
    # Continuations of gaps listed because their folders are smaller than a page
    # (_small_folders_listed): each goes on while its folders do, and a page more.
    _folders_listed: set[str | None] = field(default_factory=set)
    # Gaps (their page's last key, their end) probed past a folder (_past_folder).
    _folders_probed: set[tuple[str, str]] = field(default_factory=set)
    # Probes past a number (_past_number) by the position it ends at.
    _numbers_probed: dict[int, int] = field(default_factory=dict)
    # Probes at folders numbered with fewer digits (_shorter_numbers), by where they end.
    _shorter_probed: dict[int, int] = field(default_factory=dict)
    # What the keys of each shape use (see s3fanout.shape_scale).
    _shapes: ShapeLearner = field(default_factory=ShapeLearner)
    # The shape of the page ending at each key, where all of it has one (else None).
    _page_shapes: dict[str, str | None] = field(default_factory=dict)

    def initial(self) -> list[str | None]:
        return [self.start_after]

    def page_size(self, point: str | None) -> int:
        """Keys to ask for at ``point``: a full page first (a small space is then planned
        exactly by one request) and to walk, a smaller one for refinement."""
        if point == self.start_after or point in self._continuations or point in self._full:
            return self.page  # a walk lists: whole pages; a suspect gap's cuts see more keys
        return min(self.page, self.refine_page)

    def record(self, sample: Sample) -> None:
        self.samples[sample.point] = sample
        self.probes += 1
        self._learn(sample.keys)
        if len(sample.keys) >= self.refine_page:
            self._page_folder_sizes.append(_keys_per_folder(sample.keys))

    def _learn(self, keys: tuple[str, ...]) -> None:
        if keys:
            learned, rich = _learned(self._positions), len(self._rich)
            page: list[set[str]] = []
            observe(page, self.prefix, keys[::_LEARN_STRIDE])
            observe(page, self.prefix, keys[-1:])
            self._rich |= rich_positions(page)
            self._positions.extend(set() for _ in range(len(page) - len(self._positions)))
            for known, chars in zip(self._positions, page, strict=False):
                known.update(chars)
            if _learned(self._positions) != learned or len(self._rich) != rich:
                self._scale = None
            if len(keys) >= SMALL_PAGES:
                self._learn_shapes(keys)

    def _learn_shapes(self, keys: tuple[str, ...]) -> None:
        # (a page's part after a point - a derived sample - ends at its last key: one entry)
        picked, ends = _folder_edges(keys)
        self._page_shapes[keys[-1]] = self._shapes.learn(picked, ends)

    @property
    def scale(self) -> KeyScale:
        if self._scale is None:
            self._scale = KeyScale.from_positions(self.prefix, self._positions, self._rich)
        return self._scale

    # -- estimates ----------------------------------------------------------------------

    def _points(self) -> list[str | None]:
        return sorted(self.samples, key=_order)

    def _density(self, sample: Sample) -> float:
        """Keys per unit of the scale around ``sample``: its page over the page's own span
        (the empty stretch between the probed string and the first key says nothing about
        what follows the page)."""
        keys = sample.keys
        if len(keys) > 1:
            return (len(keys) - 1) / max(self.scale.value(keys[-1]) - self.scale.value(keys[0]), 1)
        return len(keys) / max(self.scale.value(keys[-1]) - self.scale.value(sample.point), 1)

    def _edge_density(self, sample: Sample, *, tail: bool) -> float:
        """The density of the page's last (``tail``) or first quarter: the keys next to the
        gap. A page that straddles a sparse stretch and the start of a dense folder has a
        low density over its span, and the folder's keys run on into the gap."""
        keys = sample.keys
        count = len(keys) // EDGE_PART
        if count < 2:
            return 0.0
        edge = keys[-count:] if tail else keys[:count]
        return (count - 1) / max(self.scale.value(edge[-1]) - self.scale.value(edge[0]), 1)

    def _pooled(self, first: Sample, second: Sample) -> float | None:
        """Both pages' keys over both spans, when their densities differ by no more than
        small pages do by chance (a real change in density is left to the denser end)."""
        if len(first.keys) < 2 or len(second.keys) < 2:
            return None
        one, two = self._density(first), self._density(second)
        # Pages of a few keys differ by any factor by chance: pool them whatever.
        if max(one, two) > SEEN_FACTOR * min(one, two) and len(first.keys) + len(second.keys) >= SMALL_PAGES:
            return None
        # A page whose keys next to the gap are far denser than those at its other end, and
        # about as dense as the other page, steps up in density (``run-13/...`` into
        # ``run-130/...``, a digit deeper): the step goes on into the gap. (Decimal keys in a
        # scale of letters are in runs: a quarter page may be in one, and the other page,
        # spanning runs and stretches, is far sparser than a run.)
        for page, tail, other in ((first, True, two), (second, False, one)):
            edge = self._edge_density(page, tail=tail)
            if (
                len(page.keys) >= SMALL_PAGES
                and edge > EDGE_CHANGE * self._edge_density(page, tail=not tail)
                and edge <= 2 * other
            ):
                return None
        return self._both(first, second)

    def _both(self, first: Sample, second: Sample) -> float:
        """Both pages' keys over both pages' spans."""
        value = self.scale.value
        spans = value(first.keys[-1]) - value(first.keys[0]) + value(second.keys[-1]) - value(second.keys[0])
        return (len(first.keys) + len(second.keys) - 2) / max(spans, 1)

    def _across_stretches(self, first: Sample, second: Sample) -> float | None:
        """The density of a gap whose sparser end page straddles an empty stretch (keys in
        runs the scale spaces apart: folders numbered with a digit to spare, minutes 60-99
        unused): the runs' density over the gap's width less one such stretch for every
        boundary of that level (a change of the character the stretch changes) the gap
        crosses, and no less than both pages' density. Neither end's own density is right
        there: the denser end's counts no stretch, the straddling page's counts its one
        stretch against part of a run. None when the sparser page straddles none."""
        if len(first.keys) < 2 or len(second.keys) < 2:
            return None
        sparser = first if self._density(first) < self._density(second) else second
        found = self._stretch(sparser)
        if found is None:
            return None
        position, stretch, runs = found
        value, weight = self.scale.value, self.scale.weights[position]
        low, high = value(first.keys[-1]), value(second.point)
        if high <= low:
            return None
        crossed = high // weight - low // weight
        return max(runs * max(high - low - crossed * stretch, 0) / (high - low), self._both(first, second))

    def _stretch(self, sample: Sample) -> tuple[int, int, float] | None:
        """The empty stretch ``sample``'s page straddles - its widest step between two keys,
        when that is more than half the page's span and the keys on both sides are about
        as dense (runs of one kind, not two kinds of keys) - as the scale position the
        step changes, its width and the runs' density; else None."""
        keys = sample.keys
        value = self.scale.value
        low, high = 0, len(keys) - 1
        span = value(keys[high]) - value(keys[low])
        # A step wider than half the span is wider than half of any stretch of keys holding
        # it: halving towards the wider half finds it with a few values, and finds none
        # (a wider half without it) on an even page.
        while high - low > 1:
            middle = (low + high) // 2
            left, right = value(keys[middle]) - value(keys[low]), value(keys[high]) - value(keys[middle])
            if 2 * max(left, right) <= span:
                return None
            low, high = (low, middle) if left >= right else (middle, high)
        before, after = low, high  # the keys around the stretch
        stretch = value(keys[after]) - value(keys[before])
        if 2 * stretch <= span or before < 1 or after > len(keys) - 2:
            return None
        one = before / max(value(keys[before]) - value(keys[0]), 1)
        two = (len(keys) - 1 - after) / max(value(keys[-1]) - value(keys[after]), 1)
        if max(one, two) > SEEN_FACTOR * min(one, two):
            return None
        position = _shared(keys[before], keys[after]) - len(self.prefix)
        if not 0 <= position < len(self.scale.weights):
            return None
        return position, stretch, (len(keys) - 2) / max(span - stretch, 1)

    def _shape_scale(self, *pages: tuple[str, ...]) -> ShapeScale | None:
        """The scale of ``pages``' shape (see :mod:`s3fanout.shape_scale`), where each is all
        of that one shape (keys of others may sort anywhere between) and two pages or more
        showed it; else None."""
        shape = self._page_shapes.get(pages[0][-1])
        if shape is None or any(self._page_shapes.get(page[-1]) != shape for page in pages[1:]):
            return None
        return self._shapes.scale(shape) if self._shapes.pages(shape) >= 2 else None

    def _local_estimate(self, sample: Sample, following: Sample, final: bool) -> tuple[float, ShapeScale] | None:
        """The gap from ``sample``'s page to ``following``'s point on the scale of its keys'
        shape, where both pages are of that shape, about as dense on it, and nothing is
        missing that it expects before ``following``'s page: the estimate and that scale;
        else None (the space's scale and walks tell more)."""
        pages = (sample, following)
        if len(sample.keys) < 2 or len(following.keys) < 2 or following.point is None:
            return None
        last, after = sample.keys[-1], following.keys[0]
        scale = self._shape_scale(sample.keys, following.keys)
        empty_from = self._empty_from(scale, last, following) if scale is not None else None
        if scale is None or empty_from is None:
            return None
        value = scale.value
        one, two = (_density_on(scale, page.keys) for page in pages)
        low, end, first = value(last), value(following.point), value(after)
        if (
            max(one, two) > SEEN_FACTOR * min(one, two)  # (a change in density)
            or end < low
            or first < empty_from
            or max(one, two) * (first - empty_from) > WALK_EVIDENCE  # (keys it expects are missing)
        ):
            return None
        if final:
            spans = sum(max(value(page.keys[-1]) - value(page.keys[0]), 1) for page in pages)
            density = (len(sample.keys) + len(following.keys) - 2) / spans
        else:
            density = max(one, two)  # (the denser end, as on the space's scale)
        return len(sample.keys) + density * (end - low), scale

    @staticmethod
    def _empty_from(scale: ShapeScale, last: str, following: Sample) -> int | None:
        """Where on ``scale`` the keys stop before ``following``'s page, whose probe is past
        ``last``: at its probe in ``last``'s folder, where its numbers are those seen; at
        the start of its first key's folder in another, where every folder's numbers end at
        the largest seen (each folder in between then holds as many as the scale gives,
        until _folders_inside has probed where each ends); None elsewhere."""
        assert following.point is not None
        folder, next_folder = _folder(last), _folder(following.keys[0])
        if folder == next_folder:
            return scale.value(following.point) if scale.covers(following.point) else None
        if folder and len(folder) == len(next_folder) and scale.bounded_from(len(folder)):
            return scale.value(next_folder)
        return None

    def gaps(self, *, final: bool = False) -> list[_Gap]:
        gaps = self._extrapolated_gaps(final)
        # Pages overlap, their parts inside each gap do not: the distinct keys seen.
        seen = sum(len(self.samples[g.start].keys) if not g.exact else g.estimate or 0 for g in gaps)
        cap = SEEN_FACTOR * max(seen, self.page)
        for gap in gaps:
            if gap.estimate is not None and gap.estimate > cap:
                gap.estimate, gap.suspect = float(cap), True
        return gaps

    def _extrapolated_gaps(self, final: bool = False) -> list[_Gap]:
        points = self._points()
        gaps: list[_Gap] = []
        for index, start in enumerate(points):
            end = points[index + 1] if index + 1 < len(points) else self.end_key
            sample = self.samples[start]
            keys = sample.keys
            inside = len(keys) if end is None else bisect.bisect_right(keys, end)
            if inside < len(keys) or not sample.truncated or (keys and keys[-1] == end):
                gaps.append(_Gap(start, end, float(inside), exact=True))
                continue
            if end is None:
                gaps.append(_Gap(start, end, None, exact=False))
                continue
            density = max(self._density(sample), self._edge_density(sample, tail=True))
            following = self.samples.get(end)
            if following is not None:
                # The denser end: the dense side of a change in density hidden in the gap
                # may reach anywhere across it, and an overestimate only costs probes.
                if following.keys:
                    density = max(density, self._density(following), self._edge_density(following, tail=False))
                    if final:
                        # The plan's own estimates: runs and the empty stretches between
                        # them where a page shows both, else both pages' keys over both
                        # spans (the denser of two small pages overestimates on average).
                        pooled = self._across_stretches(sample, following)
                        if pooled is None:
                            pooled = self._pooled(sample, following)
                        if (
                            pooled is not None
                            and density * (self.scale.value(following.keys[0]) - self.scale.value(end)) <= WALK_EVIDENCE
                        ):
                            density = pooled
                if not following.keys:
                    # Nothing after ``end`` at all: the space ends inside the gap. Once
                    # that is narrowed to a page, count half of it (at four pages, the
                    # last unit was off by up to 2,000 keys).
                    room = density * max(self.scale.value(end) - self.scale.value(keys[-1]), 0)
                    if room <= self.page:
                        gaps.append(_Gap(start, end, len(keys) + room / 2, exact=False, narrowed=True))
                        continue
                local = self._local_estimate(sample, following, final)
                if local is not None:
                    estimate, scale = local
                    gaps.append(_Gap(start, end, min(estimate, float(MAX_ESTIMATE)), exact=False, local=scale))
                    continue
                # Nothing after ``end`` up to its page's first key (or at all).
                first = self.scale.value(following.keys[0]) if following.keys else self.scale.top
                if density * (first - self.scale.value(end)) > WALK_EVIDENCE:
                    # What was seen, and one page more: walking it tells the rest.
                    gaps.append(_Gap(start, end, float(len(keys) + self.page), exact=False, walk=True))
                    continue
            width = self.scale.value(end) - self.scale.value(keys[-1])
            estimate = min(len(keys) + density * max(width, 0), float(MAX_ESTIMATE))
            gaps.append(_Gap(start, end, estimate, exact=False))
        return gaps

    def unit_size(self, gaps: list[_Gap]) -> float:
        known = sum(g.estimate if g.estimate is not None else self.page for g in gaps)
        units = max(1, min(self.target_units, self.max_units))
        return max(float(self.min_unit), known / units, known / self.max_units)

    # -- rounds ---------------------------------------------------------------------------

    def next_round(self) -> list[str | None]:
        """The next probe points; [] when the plan is final."""
        while self.rounds < MAX_ROUNDS + min(self.listing_rounds, MAX_LISTING_ROUNDS) and self.probes < self.max_probes:
            self.rounds += 1
            gaps = self.gaps()
            target = self.unit_size(gaps)
            wanted = [point for gap in gaps for point in self._wanted(gap, target)]
            if wanted:  # (with other probes: no round of its own)
                wanted += self._last_keys(gaps, target)
            points = [p for p in wanted if len(p.encode()) <= MAX_BOUNDARY_BYTES]
            listing = self._listing(gaps, len(set(points)))
            if listing is not None:
                self.listing_rounds += 1
                return listing[: max(1, self.max_probes - self.probes)]
            to_probe = self._derive_or_probe(points)
            if to_probe:
                return to_probe[: max(1, self.max_probes - self.probes)]
            if not wanted:
                return self._checks(gaps) or [*self._last_keys(gaps, target)]
            # Every cut fell inside pages already seen: re-estimate without a request.
        return []

    def _last_keys(self, gaps: list[_Gap], target: float) -> list[str]:
        """A continuation where the space ends inside a gap narrowed to a page (counted as
        half of it) and units are so small that half a page is a third of one: listing
        the space's last keys places the last unit on them."""
        if target >= SMALL_UNIT_PAGES * self.page:
            return []
        return [
            self._continue(gap)
            for gap in gaps
            if gap.narrowed and (gap.estimate or 0) - len(self.samples[gap.start].keys) > target / 10
        ]

    def _wanted(self, gap: _Gap, target: float) -> list[str]:
        """The points ``gap`` asks for this round: a walk's, the end of the space's, a big
        gap's cuts, and the strings inside it the scale has no value for."""
        wanted: list[str] = []
        folders, listed = self._folders_inside(gap) if not gap.exact and gap.estimate is not None else ([], False)
        if gap.start in self._folders_listed and not gap.exact and not folders:
            # (a page more where what is left of it lies in one folder: the scale of its
            # shape counts nothing there, between two numbers of the folder - or a big folder
            # begins there, and the rest of planning takes it from that page)
            return [self._continue(gap)]
        if gap.local is not None:
            # (listed page after page - see _listing - it counts as a walk does)
            last = self.samples[gap.start].keys[-1]
            self._walked[last] = self._walked.get(gap.start, 0) + 1
        if listed:
            return folders  # (a listing sees every key: nothing else to look for)
        if folders:
            # (the folders a walk would list page by page, probed at once)
            wanted += folders
        elif gap.walk:
            wanted += self._walk(gap)
        elif gap.estimate is None:
            wanted += [self._continue(gap)] if self.probes < LIST_FIRST_PAGES else self._beyond(gap)
        elif (
            gap.suspect
            or gap.estimate > SPLIT_ABOVE * target
            # (the rest of a folder up to where it ends: the scale's room there may be unused)
            or (gap.estimate > target and gap.end is not None and gap.end.endswith("\U0010ffff"))
        ) and gap.start not in self._unsplittable:
            cuts = self._cuts(gap, target)
            if not cuts:
                self._unsplittable.add(gap.start)
            if gap.suspect:  # held to SEEN_FACTOR x the keys seen: see more of them
                self._full.update(cuts)
            wanted += cuts
        if not gap.exact and gap.estimate is not None:
            wanted += self._blind_spots(gap)
            if gap.estimate > target and not gap.walk:  # (a walk lists the folder anyway)
                wanted += self._past_folder(gap)
        return wanted

    def _folders_inside(self, gap: _Gap) -> tuple[list[str], bool]:
        """Where the gap's page and the next are in different folders of one shape, the last
        string each folder from the first to the one before the next may hold on that
        shape's scale (``2024/06/14/event-0000273.json`` and ``2024/06/15/event-0000273.json``
        between ``2024/06/14/...`` and ``2024/06/16/...``; ``user-0042/photo-0999.jpg``):
        the answer at each tells whether the folder goes on past it (a big one: it teaches
        the scale its numbers) and where the next one starts. Spaced evenly,
        MAX_CUTS_PER_GAP at most a round. Or, where the folders are so small that listing the
        gap takes fewer requests, its listing (in pieces): True then."""
        following = self.samples.get(gap.end)
        keys = self.samples[gap.start].keys
        if gap.end is None or following is None or len(following.keys) < 2 or len(keys) < 2:
            return [], False
        last, after = keys[-1], following.keys[0]
        folder, next_folder = _folder(last), _folder(after)
        if not folder or folder == next_folder or len(folder) != len(next_folder):
            return [], False
        scale = self._shape_scale(keys, following.keys)
        if scale is None or not scale.bounded_from(len(folder)):
            return [], False  # (a folder's numbers may go on: the space's scale walks it)
        end = _folder_end(scale, folder)
        if gap.end <= end:
            return [], False  # (this folder's end is probed: its page went on to the next)
        weight = scale.weight_before(len(folder) - 1)
        low, high = scale.value(folder + "\U0010ffff"), scale.value(next_folder)
        count = (high - low) // weight if weight > 0 else 0
        listing = self._small_folders_listed(gap, count)
        if listing:
            return listing, True
        step = max(1, math.ceil(count / MAX_CUTS_PER_GAP))
        points = {*(scale.string(low + (k + 1) * weight - 1) for k in range(0, count, step))}
        # (its page ends where this folder's numbers seen end: the next page tells the rest)
        points.add(end if end > last else self._continue(gap))
        return sorted(p for p in points if last <= p < gap.end and p not in self.samples), False

    def _small_folders_listed(self, gap: _Gap, count: int) -> list[str]:
        """The listing of ``gap`` (a continuation, and pieces at once) where its ``count``
        folders are so small that listing it takes fewer requests than a probe a folder -
        and sees every key, a big folder among them too; else []. A held estimate (suspect)
        places pieces nowhere near: its folders as its page shows them tell the pages it
        takes, and it is listed from its start when that is a few."""
        if not gap.suspect:
            listed = count > 2 * self._pages_left(gap)
        else:
            pages = math.ceil(count * _keys_per_folder(self.samples[gap.start].keys) / self.page)
            listed = count > 2 * pages and pages <= CHECK_PIECE_PAGES
        if not listed:
            return []
        self._folders_listed.add(self.samples[gap.start].keys[-1])
        return [self._continue(gap), *(self._pieces(gap) if not gap.suspect else [])]

    def _walk(self, gap: _Gap) -> list[str]:
        """Its page continued (exact, and enough for a folder's few keys); a walk that did
        not end there also gets strings spaced out to the gap's end (where the keys around
        its start stop, for many)."""
        last = self.samples[gap.start].keys[-1]
        following = self.samples.get(gap.end)
        # Nothing after the gap at all: the space ends inside it; narrow that down evenly.
        ends_inside = following is not None and not following.keys
        points = self._beyond(gap, even=ends_inside) if gap.start in self._continuations or ends_inside else []
        if ends_inside:
            # Strings spaced on the scale say little past the last folder the keys reach (a
            # deeper folder's keys sit in a sliver of it): ask where each folder ends.
            ends = folder_ends(last, len(self.prefix))
            points += [p for p in ends if (gap.end is None or p < gap.end) and p not in self.samples]
        self._walked[last] = self._walked.get(gap.start, 0) + 1
        self._continuations.add(last)
        return [*points, last]

    def _blind_spots(self, gap: _Gap) -> list[str]:
        """Strings inside an estimated gap that the scale has no value for, asked once a gap
        (its page's last key and its end): where the space ends inside the gap, just past
        the last key's characters that end their position's alphabet (:meth:`_past_run`);
        else just past the first character missing where the key and the gap's end differ
        (:meth:`_past_hole`)."""
        last = self.samples[gap.start].keys[-1]
        if gap.end is None:
            return []
        following = self.samples.get(gap.end)
        ends_inside = following is not None and not following.keys
        done = (last, gap.end)
        # (a gap that ends at a probe past a hole: that probe's page taught the scale)
        if done in self._blind_probed or (not ends_inside and gap.end in self._holes):
            return []
        points = self._past_run(last, gap.end) if ends_inside else self._past_hole(last, gap.end)
        if not ends_inside:
            points += self._shorter_numbers(last, gap.end)
        points = [p for p in points if last < p < gap.end and p not in self.samples]
        if points:  # (else the scale may still change: a later round looks again)
            self._blind_probed.add(done)
            if not ends_inside:
                self._holes.update(points)
        return points

    def _past_folder(self, gap: _Gap) -> list[str]:
        """Just past the folder the gap's page ends in, at the level where the page's last key
        and the gap's end differ, where most of the scale's room at that folder's ``/`` is for
        longer names (``tenant-21/`` + the highest character, for ``tenant-21/...`` followed
        by ``tenant-22/...``, where hex ids under ``tenant-3/`` made room there for
        ``tenant-210`` to ``tenant-21f``: 16 of its 17 parts, which no key may fill). Once a
        gap, and only for a gap above a unit: the answer's page makes the folder's rest a gap
        of its own."""
        last = self.samples[gap.start].keys[-1]
        if gap.end is None or (last, gap.end) in self._folders_probed:
            return []
        start = len(self.prefix)
        slash = last.find("/", _shared(last, gap.end))
        # (both ends a folder of names as long: past ``u/10/``, ``u/100/`` may follow)
        if slash < start or slash - start >= len(self.scale.alphabets) or gap.end[slash : slash + 1] != "/":
            return []
        alphabet = self.scale.alphabets[slash - start]
        point = last[: slash + 1] + "\U0010ffff"
        if 2 * sum(c > "/" for c in alphabet) <= len(alphabet) or point >= gap.end or point in self.samples:
            return []
        self._folders_probed.add((last, gap.end))
        return [point]

    def _past_run(self, last: str, end: str) -> list[str]:
        """Just past each character of ``last`` from where it and ``end`` differ, while each
        is the last of its position's alphabet (``3L``, ``3LD``, ``3LDs`` + the highest
        character for ``3LDsZp...`` when the space ends before ``4``): where the space
        ends, past the characters the sampled keys have there."""
        alphabets = self.scale.alphabets
        start = len(self.prefix)
        first = _shared(last, end) - start
        points: list[str] = []
        for j in range(max(first, 0), min(len(alphabets), len(last) - start)):
            if alphabets[j][-1] == last[start + j]:
                points.append(last[: start + j + 1] + "\U0010ffff")
            elif j > first:
                break
        return points[:GALLOP_POINTS]

    def _past_hole(self, last: str, end: str) -> list[str]:
        """Just past the first character no sampled key used, at the position where ``last``
        and ``end`` differ, between their characters there (``0qn9`` + the highest
        character for ``0qn9...`` and ``0qnv...`` where only digits and ``v`` were seen:
        ``0qna`` to ``0qnu`` sit at one point); else just past the next character when it
        is the last of its position's alphabet and the alphabet lacks some of its class (a
        fixed letter may change later: the leading characters of time-ordered ids; past
        a 9, among all ten digits, is where every number carries). The answer's page
        teaches the scale the characters it lacked."""
        alphabets = self.scale.alphabets
        start = len(self.prefix)
        j = _shared(last, end) - start
        if not 0 <= j < min(len(alphabets), len(last) - start):
            return []
        alphabet, head = alphabets[j], last[: start + j]
        limit = end[start + j] if len(end) > start + j else ""
        palette = self.scale.palette
        # Only the characters of the keys' random positions can be missing (without any, a
        # gap in the characters - 9 to k beside k000 - says nothing).
        k = bisect.bisect_left(alphabet, last[start + j]) if palette else len(alphabet)
        while k < len(alphabet) and alphabet[k] < limit:
            char = alphabet[k]
            following = alphabet[k + 1] if k + 1 < len(alphabet) else "\U0010ffff"
            if char and any(char < c < min(following, limit) for c in palette):
                return [head + char + "\U0010ffff"]
            k += 1
        if j + 1 < min(len(alphabets), len(last) - start):
            char, alphabet = last[start + j + 1], alphabets[j + 1]
            classes = [c & palette or c for c in _CLASSES]
            if char == alphabet[-1] and any(char in c and not c <= set(alphabet) for c in classes):
                return [last[: start + j + 2] + "\U0010ffff"]
        return self._past_number(last, j)

    def _past_number(self, last: str, j: int) -> list[str]:
        """Just past the character that ends the unpadded number holding position ``j`` of
        ``last``, where no sampled key had a digit in its place (``tenant-1/`` + the highest
        character, for ``tenant-1/...`` followed by ``tenant-2/``: ``tenant-10/`` to
        ``tenant-19/`` sit past the ``/``, at one point of the scale). Numbers of one digit
        but 0; longer ones where no key had a 0 at their first digit (else padded, as
        ``IMG_0001``, ``day=07``); none at positions where keys had letters (hex)."""
        start = len(self.prefix)
        tail = last[start:]
        if not (j < len(tail) and tail[j] in _DIGITS):
            return []
        first, end = _digit_run(tail, j)
        seen = self._positions  # (before completion: hex keys complete digits with a-f)
        point = last[: start + end + 1] + "\U0010ffff"
        growable = (
            # (a number the key ends with: the scale's ends count that room)
            end < min(len(self.scale.alphabets), len(tail))
            and not set(self.scale.alphabets[end]) >= _DIGITS
            and tail[first:end] != "0"
            and (end - first == 1 or "0" not in seen[first])
            and not any(seen[p] & (_LOWER | _UPPER) for p in range(first, end + 1))
        )
        if not growable or point in self.samples or self._numbers_probed.get(end, 0) >= NUMBER_PROBES:
            return []
        self._numbers_probed[end] = self._numbers_probed.get(end, 0) + 1
        return [point]

    def _shorter_numbers(self, last: str, end: str) -> list[str]:
        """The folders numbered with fewer digits that sort between ``last`` and ``end``,
        where the two differ in a number and keys had its separator there (``batch_11/``
        and ``batch_12/`` between ``batch_104/...`` and ``batch_121/...``): each at a
        sliver of the scale beside its longer neighbours, and often far fuller (numbered
        by size or age, the small numbers hold the most)."""
        start = len(self.prefix)
        j = _shared(last, end)
        # (ASCII digits: str.isdigit also holds for ² and ⁰, which int() refuses)
        if not (j < len(last) and j < len(end) and last[j] in _DIGITS and end[j] in _DIGITS):
            return []
        first, stop = _digit_run(last, j, start)
        seen = self._positions
        if stop >= len(last) or last[first] == "0" or last[stop].isalnum():
            return []
        if any(_looks_hex(seen[p - start]) for p in range(first, min(stop, start + len(seen)))):
            return []  # (digits of a hex id)
        separator, head = last[stop], last[:first]
        points: list[str] = []
        for digits in range(stop - first - 1, max(j - first, 1) - 1, -1):
            at = first + digits - start  # where a number of ``digits`` digits ends
            if at >= len(seen) or separator not in seen[at]:
                continue
            low, high = last[first : first + digits], end[first : first + digits]
            if len(high) < digits or not _DIGITS.issuperset(high):
                continue
            # (every number strictly between low and high sorts inside: a few suffice)
            for number in range(int(low), min(int(high), int(low) + NUMBER_PROBES + 1) + 1):
                point = f"{head}{number}{separator}"
                if self._shorter_probed.get(at, 0) >= NUMBER_PROBES:
                    break
                if len(str(number)) == digits and last < point < end and point not in self.samples:
                    self._shorter_probed[at] = self._shorter_probed.get(at, 0) + 1
                    points.append(point)
        return points

    def _continue(self, gap: _Gap) -> str:
        """The gap's next listing page: a continuation at its page's last key."""
        last = self.samples[gap.start].keys[-1]
        self._continuations.add(last)
        return last

    def _listing(self, gaps: list[_Gap], probes: int) -> list[str | None] | None:
        """Continuations for every gap not yet exact, when listing what is left takes no
        more requests than this round's probes would (a small space is listed, not
        probed: probes would cost more than the listing, and estimates stay exact);
        None to probe."""
        open_gaps = [g for g in gaps if not g.exact]
        if probes == 0 or not open_gaps:
            return None
        pages = 0
        for gap in open_gaps:
            walked = gap.walk or gap.local is not None
            if gap.estimate is None or (walked and self._walked.get(gap.start, 0) >= LIST_FIRST_PAGES):
                # Its size is unknown: the end of the space, or a walk that went on for
                # pages (it counts one page ahead; walking a big folder page by page would
                # take a round trip per page) - or a gap on a shape's scale listed as long.
                return None
            pages += self._pages_left(gap)
            if pages > probes:
                return None
        return [self._continue(g) for g in open_gaps]

    def _pages_left(self, gap: _Gap) -> int:
        """The pages listing the rest of ``gap`` (past its page) takes, by its estimate."""
        return max(1, math.ceil(((gap.estimate or 0) - len(self.samples[gap.start].keys)) / self.page))

    def _checks(self, gaps: list[_Gap]) -> list[str | None]:
        """Before the plan is final: its estimated gaps listed to the end (a continuation
        each, a round at a time), when listing them takes no more than :data:`CHECK_PAGES`
        pages - or, for its first round, no more requests than planning has made; else
        those whose page shows folders of under SMALL_FOLDER_KEYS keys, when they take no
        more than :data:`SMALL_FOLDER_CHECK_PAGES` (in pieces). A space
        that looks this small is where a folder the scale cannot see - a name of characters
        no sampled key used there, or one between two probes whose pages do not reach it -
        hides at one point of the scale; the listing then finds it and planning goes on.
        (One page a gap found a big folder only within a page of the gap's start.)"""
        open_gaps = [g for g in gaps if not g.exact and g.estimate is not None]
        pages = sum(map(self._pages_left, open_gaps))
        # (gaps on a shape's scale count, but are listed only in a plan of up to CHECK_PAGES:
        # each folder's end was probed, and only a listing finds keys of another shape
        # inside a folder's run of numbers - ``ev-500.json/...`` after ``ev-500.json``)
        if pages > CHECK_PAGES:
            open_gaps = [g for g in open_gaps if g.local is None]
        # Past its first round, it goes on while the plan looks small: where it was only
        # cheaper than the probes made, the rounds it takes cost more than they find.
        first = not self._check_pages
        budget = max(self.probes, CHECK_PAGES) if first else CHECK_PAGES
        mostly_small = self._small_folders()
        small_gaps = [g for g in open_gaps if self._in_small_folders(g)]
        chosen = open_gaps
        if self._check_pages + pages > budget:
            most = max(self.probes, SMALL_FOLDER_CHECK_PAGES) if first else SMALL_FOLDER_CHECK_PAGES
            # (mostly small folders: all of it, the big folders' gaps too, as where it
            # looks small; else the gaps that open on small folders)
            if not mostly_small or self._check_pages + pages > most:
                chosen = small_gaps
                if self._check_pages + sum(map(self._pages_left, chosen)) > most:
                    return []
        if not chosen:
            return []
        self._check_pages += len(chosen)
        self.listing_rounds += 1
        checks: list[str | None] = [self._continue(g) for g in chosen]
        # (listed in pieces of a few pages, at once: a gap of 12 pages a page a round took 12)
        checks += [p for g in chosen for p in self._pieces(g)]
        return checks[: max(1, self.max_probes - self.probes)]

    def _pieces(self, gap: _Gap) -> list[str]:
        """Strings that cut ``gap``'s unlisted rest into pieces of CHECK_PIECE_PAGES pages
        (by its estimate), each then listed from its own start."""
        assert gap.estimate is not None
        keys = self.samples[gap.start].keys
        pieces = math.ceil(self._pages_left(gap) / CHECK_PIECE_PAGES)
        rest = gap.estimate - len(keys)
        points = (self._inside(gap, len(keys) + k * rest / pieces, gap.estimate)[0] for k in range(1, pieces))
        return sorted({p for p in points if p is not None and p > keys[-1] and p not in self.samples})

    def _small_folders(self) -> bool:
        """Whether most probed pages hold keys of folders of fewer than SMALL_FOLDER_KEYS keys."""
        ratios = sorted(self._page_folder_sizes)
        return bool(ratios) and ratios[len(ratios) // 2] < SMALL_FOLDER_KEYS

    def _in_small_folders(self, gap: _Gap) -> bool:
        """Whether the page that opens ``gap`` holds keys of folders of fewer than
        SMALL_FOLDER_KEYS keys (its keys over the folders of every n-th one: a folder of
        fewer keys than n still counts well under SMALL_FOLDER_KEYS)."""
        keys = self.samples[gap.start].keys
        return len(keys) >= SMALL_PAGES and _keys_per_folder(keys) < SMALL_FOLDER_KEYS

    def _beyond(self, gap: _Gap, count: int = GALLOP_POINTS - 1, *, even: bool = False) -> list[str]:
        """Strings past the last known key, spaced geometrically up to the top of the scale
        (the end of the space is unknown) or up to the gap's end (a walked gap: where the
        keys around its start stop is unknown)."""
        scale = self.scale
        keys = self.samples[gap.start].keys
        last = keys[-1]
        low = scale.value(last)
        high = scale.top if gap.end is None else scale.value(gap.end)
        step = max(2 * (low - scale.value(keys[0])), 1)
        room = high - low
        values = [] if gap.end is not None else [scale.top]
        if even:
            values += [low + room * j // (count + 1) for j in range(1, count + 1)]
        elif room > step:
            ratio = (room / step) ** (1 / max(1, count))
            values += [low + int(step * ratio**j) for j in range(count)]
        found = {scale.string(v) for v in values}
        if gap.end is None:
            found.update(self._past_alphabets(last))
        if gap.end is None and (scale.top <= low or last >= scale.string(scale.top)):
            # Past the learned scale: a string above any key that continues ``last``.
            found.add(last + "\U0010ffff")
        return sorted(p for p in found if p > last and (gap.end is None or p < gap.end) and p not in self.samples)

    def _past_alphabets(self, last: str) -> list[str]:
        """Strings just past each character of the head every sampled key shares and of the
        first character after it (``-`` + the highest character, ``-B`` + it, for ids that
        so far all start ``-``), where that character is the last of its position's
        alphabet: past the scale's top, keys may go on with characters no sampled key used
        there, which the scale has no string for. Further positions are left to the scale."""
        alphabets = self.scale.alphabets
        start = len(self.prefix)
        points: list[str] = []
        for j in range(min(len(alphabets), len(last) - start)):
            if alphabets[j][-1] == last[start + j]:
                points.append(last[: start + j + 1] + "\U0010ffff")
            if len(alphabets[j]) > 1:
                break
        # A long shared path (hundreds of characters) would ask as many times: its first
        # character and the ones nearest the keys' varying part say the most.
        return points if len(points) <= GALLOP_POINTS else [points[0], *points[1 - GALLOP_POINTS :]]

    def _cuts(self, gap: _Gap, target: float) -> list[str]:
        assert gap.estimate is not None
        sample = self.samples[gap.start]
        keys = sample.keys
        pieces = min(
            MAX_CUTS_PER_GAP, max(math.ceil(2 * gap.estimate / (SPLIT_ABOVE * target)), 4 if gap.suspect else 1)
        )
        step = gap.estimate / pieces
        cuts: set[str] = set()
        for k in range(1, pieces):
            position = k * step
            if position < len(keys):
                cuts.add(keys[max(0, int(position) - 1)])
            else:
                cuts.add(self._string_in(gap, gap.estimate, position))
        low = gap.start
        return sorted(
            c for c in cuts if (low is None or c > low) and (gap.end is None or c < gap.end) and c not in self.samples
        )

    def _string_in(self, gap: _Gap, size: float, position: float) -> str:
        """The string about ``position`` keys into ``gap`` (``size`` keys), past its page,
        the unlisted keys spread evenly on the gap's scale."""
        scale = gap.local or self.scale
        keys = self.samples[gap.start].keys
        base = scale.value(keys[-1])
        high = scale.top if gap.end is None else scale.value(gap.end)
        density = max(size - len(keys), 1.0) / max(high - base, 1)
        return scale.string(base + int((position - len(keys)) / density))

    def _derive_or_probe(self, points: list[str]) -> list[str | None]:
        """Points inside a page already seen get their sample from it; the rest need a probe."""
        probe: list[str | None] = []
        ordered = self._points()
        for point in sorted(set(points)):
            index = bisect.bisect_left(ordered, _order(point), key=_order) - 1
            holder = self.samples[ordered[index]] if index >= 0 else None
            if holder is not None and holder.keys and point < holder.keys[-1]:
                after = holder.keys[bisect.bisect_right(holder.keys, point) :]
                self.samples[point] = Sample(point, tuple(after), holder.truncated)
            else:
                probe.append(point)
        return probe

    # -- the plan -------------------------------------------------------------------------

    def ranges(self) -> list[KeyRange]:
        """Units of equal estimated size, in key order: their boundaries are placed where the
        cumulative estimate reaches each multiple of the unit size - an exact key inside a
        page seen, or a string interpolated on the scale past it (a boundary is a
        StartAfter: any string will do, and placing it costs no request)."""
        gaps = self.gaps(final=True)
        sizes = [g.estimate if g.estimate is not None else float(self.page) for g in gaps]
        total = sum(sizes)
        if total == 0 and all(g.exact for g in gaps):
            return []
        count = self.unit_count(total, self.unit_size(gaps))
        step = total / count
        units: list[KeyRange] = []
        start, reached, exact = self.start_after, 0.0, True
        before = 0.0
        k = 1
        for gap, size in zip(gaps, sizes, strict=True):
            exact = exact and gap.exact
            # The multiples of the unit size that fall inside this gap.
            while k < count and k * step <= before + size:
                point, offset = self._inside(gap, k * step - before, size)
                if point is not None and (start is None or point > start) and (gap.end is None or point <= gap.end):
                    units.append(KeyRange(start, point, _bounded(before + offset - reached), exact))
                    start, reached, exact = point, before + offset, gap.exact
                k += 1
            before += size
        units.append(KeyRange(start, self.end_key, _bounded(total - reached), exact))
        return units

    def unit_count(self, total: float, target: float) -> int:
        """About ``total / target`` units; past ``slots``, a whole number of rounds of them
        (the Map then ends with every slot busy to the last round)."""
        wanted = max(1.0, total / target)
        if self.slots and wanted > self.slots:
            rounds = max(1, round(wanted / self.slots))
            if rounds > 1 and total / (rounds * self.slots) < 0.75 * self.min_unit:
                rounds -= 1
            return min(rounds * self.slots, self.max_units)
        # Units of MAX_ESTIMATE keys at most: an estimate that BuildManifest accepts.
        return min(max(math.ceil(wanted - 1e-9), math.ceil(total / MAX_ESTIMATE)), self.max_units)

    def _inside(self, gap: _Gap, position: float, size: float) -> tuple[str | None, float]:
        """The string about ``position`` keys into ``gap`` (estimated ``size`` keys) and its
        position there (exact inside a page); None when no string fits."""
        keys = self.samples[gap.start].keys
        inside = (
            keys if gap.end is None or not keys or keys[-1] <= gap.end else keys[: bisect.bisect_right(keys, gap.end)]
        )
        if position >= size and gap.end is not None:
            return gap.end, size
        whole = math.floor(position)
        if whole < 1:
            return gap.start, 0.0
        if whole <= len(inside):
            return inside[whole - 1], float(whole)
        if gap.exact or not keys or gap.estimate is None:
            return None, position
        point = self._string_in(gap, size, position)
        at_end = gap.end is not None and point >= gap.end
        if at_end and gap.local is not None:
            return gap.end, size  # (on a shape's scale, its last string before the end: the end)
        fits = not at_end and point > keys[-1] and len(point.encode()) <= MAX_BOUNDARY_BYTES
        return (point if fits else None), position


def folder_ends(key: str, stem: int) -> list[str]:
    """The strings just past each folder ``key`` lies in below ``stem`` characters, past
    each folder name it starts with, and past the names starting as its own does (``a/b/cd``
    gives ``a~``, ``a/~``, ``a/b~``, ``a/b/~``, ``a/b/c~``; ~ above any character): a probe
    there answers what follows that folder, whatever it holds - and a sub-folder that sorts
    after the folder's files (``l05/f-...``, then ``l05/l06/``)."""
    ends = [key[:i] + "\U0010ffff" for i in range(stem + 1, len(key)) if key[i - 1] == "/" or key[i] == "/"]
    name = key.rfind("/") + 1
    if stem < name < len(key) - 1:
        ends.append(key[: name + 1] + "\U0010ffff")
    return ends


def _folder(key: str) -> str:
    """The folder ``key`` is in (with its ``/``; "" at the top)."""
    return key[: key.rfind("/") + 1]


def _folder_end(scale: ShapeScale, folder: str) -> str:
    """The last string of ``scale`` in ``folder`` (its numbers at the largest seen)."""
    return scale.string(scale.value(folder + "\U0010ffff") - 1)


def _folder_edges(keys: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Every :data:`_SHAPE_STRIDE`-th key of a page, its last, and the keys on both sides of
    each change of folder between them (found by halving): a folder's numbers then end at
    their largest (``photo-0999.jpg``) wherever the page cut them, at a tenth of the CPU of
    every key. And of those, the last keys of their folders."""
    picked = list(keys[::_SHAPE_STRIDE])
    edges: list[str] = []
    for index in range(len(picked) - 1):
        low, high = index * _SHAPE_STRIDE, (index + 1) * _SHAPE_STRIDE
        folder = _folder(keys[low])
        if _folder(keys[high]) == folder or len(edges) >= 2 * _SHAPE_EDGES:
            continue
        while high - low > 1:  # (the first key of another folder is in (low, high])
            middle = (low + high) // 2
            low, high = (middle, high) if _folder(keys[middle]) == folder else (low, middle)
        edges += [keys[low], keys[high]]
    return [*picked, *edges, keys[-1]], edges[::2]


def _density_on(scale: ShapeScale, keys: tuple[str, ...]) -> float:
    """``keys`` (a page) per unit of ``scale`` over their span."""
    return (len(keys) - 1) / max(scale.value(keys[-1]) - scale.value(keys[0]), 1)


def _keys_per_folder(keys: tuple[str, ...]) -> float:
    """Keys over the folders of every n-th one (a folder of fewer keys than n still counts
    well under SMALL_FOLDER_KEYS, at a tenth of the CPU)."""
    return len(keys) / len({key[: key.rfind("/") + 1] for key in keys[::_LEARN_STRIDE]})


def _digit_run(text: str, j: int, floor: int = 0) -> tuple[int, int]:
    """The run of ASCII digits holding ``text[j]``, as ``(first, stop)``, not before ``floor``."""
    first, stop = j, j
    while first > floor and text[first - 1] in _DIGITS:
        first -= 1
    while stop < len(text) and text[stop] in _DIGITS:
        stop += 1
    return first, stop


def _shared(one: str, two: str) -> int:
    """How many leading characters ``one`` and ``two`` share."""
    for i, (a, b) in enumerate(zip(one, two, strict=False)):
        if a != b:
            return i
    return min(len(one), len(two))


def _bounded(count: float) -> int:
    return min(round(count), MAX_ESTIMATE)
