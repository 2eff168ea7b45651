"""Lazy sorted key spaces for the planning benchmark: millions of keys, none stored.

A space is a sorted sequence (``__len__`` / ``__getitem__``) so ``bisect`` finds any
position in O(log n) key computations. Keys sort by code point, as S3 sorts by UTF-8 bytes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import random
import string
from collections.abc import Callable, Sequence
from typing import overload

_EXTENSIONS = (".pdf", ".PDF", " copy.pdf", "-été 文件.pdf", ".txt", "+plus=eq.pdf")


class _Computed(Sequence[str]):
    """A sorted sequence whose i-th key is computed: indexing and slicing in one place."""

    def __len__(self) -> int:
        raise NotImplementedError

    def key_at(self, index: int) -> str:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        size = len(self)
        if isinstance(index, slice):
            return [self.key_at(i) for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        return self.key_at(index)


class Lazy(_Computed):
    """``count`` keys, the i-th computed by ``key_of(i)`` (which must be increasing)."""

    def __init__(self, count: int, key_of: Callable[[int], str]) -> None:
        self.count = count
        self.key_of = key_of

    def __len__(self) -> int:
        return self.count

    def key_at(self, index: int) -> str:
        return self.key_of(index)


class Concat(_Computed):
    """Sorted spaces laid end to end (each one's keys all below the next one's)."""

    def __init__(self, parts: list[Sequence[str]]) -> None:
        self.parts = parts
        self.starts: list[int] = []
        total = 0
        for part in parts:
            self.starts.append(total)
            total += len(part)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def key_at(self, index: int) -> str:
        part = bisect.bisect_right(self.starts, index) - 1
        return self.parts[part][index - self.starts[part]]


def flat(count: int, digits: int = 8) -> Lazy:
    """``count`` keys directly under ``flat/``: numbered documents, mixed extensions."""
    return Lazy(count, lambda i: f"flat/doc-{i:0{digits}d}{_EXTENSIONS[i % len(_EXTENSIONS)]}")


def skewed() -> Concat:
    """100 sub-prefixes of 100 keys and, between them, one sub-prefix of 1,000,000 keys."""
    small = [Lazy(100, lambda i, d=d: f"dir-{d:03d}/k{i:03d}.pdf") for d in range(100)]
    big = Lazy(1_000_000, lambda i: f"dir-050-big/{i:07d}.pdf")
    # "dir-050-big/" sorts before "dir-050/" ("-" < "/"): the big one sits in the middle.
    return Concat([*small[:50], big, *small[50:]])


def tree(width: int = 3, depth: int = 6, files: int = 5) -> list[str]:
    """``width`` folders per level, ``depth`` levels, ``files`` keys in every folder:
    3 x 6 x 5 = (3 + 9 + ... + 729) x 5 = 5,460 keys."""
    keys: list[str] = []

    def walk(path: str, level: int) -> None:
        for i in range(width):
            folder = f"{path}d{i}/"
            keys.extend(f"{folder}f{k}.pdf" for k in range(files))
            if level < depth:
                walk(folder, level + 1)

    walk("", 1)
    return sorted(keys)


def hexnames(count: int) -> Lazy:
    """Random-looking 16-hex-digit names, increasing by construction (i-th step + jitter)."""
    step = (1 << 64) // count

    def key_at(i: int) -> str:
        jitter = (i * 0x9E3779B97F4A7C15) % step
        return f"{i * step + jitter:016x}.bin"

    return Lazy(count, key_at)


def dated(count: int = 1_000_000, hot: float = 0.9) -> Concat:
    """``yyyy/mm/dd/event-n.json`` over the days of 2024; ``hot`` of the keys on one day
    (2024/06/15), the rest spread evenly over the other 365."""
    days = [dt.date(2024, 1, 1) + dt.timedelta(d) for d in range(366)]
    hot_day = dt.date(2024, 6, 15)
    in_hot = round(count * hot)
    others = len(days) - 1
    parts: list[Sequence[str]] = []
    rest = count - in_hot
    for n, day in enumerate(d for d in days if d != hot_day):
        parts.append(_day(day, rest // others + (1 if n < rest % others else 0)))
    parts.insert(days.index(hot_day), _day(hot_day, in_hot))
    return Concat(parts)


def _day(day: object, count: int) -> Lazy:
    path = f"{day:%Y/%m/%d}/"
    return Lazy(count, lambda i: f"{path}event-{i:07d}.json")


def content_hashes(count: int) -> Lazy:
    """Content-addressed names: ``ab/cd/<40 hex digits>`` (the first four digits as two
    folder levels, as git and many caches store objects), increasing by construction."""
    step = (1 << 160) // count

    def key_at(i: int) -> str:
        digest = f"{i * step + (i * 0x9E3779B97F4A7C15) % step:040x}"
        return f"{digest[:2]}/{digest[2:4]}/{digest}"

    return Lazy(count, key_at)


def deep(count: int = 1_000_000, levels: int = 40) -> Concat:
    """A deep, narrow tree: one folder per level, ``levels`` deep, the keys spread evenly
    over the levels (``l00/l01/.../f-n.dat``); deeper folders sort after their parent's files."""
    per = count // levels
    parts = []
    for level in range(levels):
        path = "".join(f"l{d:02d}/" for d in range(level + 1))
        parts.append(
            Lazy(per + (count - per * levels if level == levels - 1 else 0), lambda i, p=path: f"{p}f-{i:06d}.dat")
        )
    # "l00/f-..." < "l00/l01/..." ("f" < "l"): each level's files come before the next level.
    return Concat(parts)


def per_folder(folders: int = 1000, files: int = 1000) -> Lazy:
    """``folders`` folders of ``files`` keys each, numbered with one digit more than they
    use (``user-0042/photo-0417.jpg``): a tenth of every folder's scale holds keys."""
    return Lazy(folders * files, lambda i: f"user-{i // files:04d}/photo-{i % files:04d}.jpg")


def timestamps(count: int = 1_000_000) -> Lazy:
    """Log files named by ISO time and host over a month (``logs/2024-06-07T13:42:05Z-host07.gz``):
    dates, hours, minutes and seconds each use part of their digits' range."""
    per_day = -(-count // 28)

    def key_at(i: int) -> str:
        day, rest = divmod(i, per_day)
        second = rest * 86_400 // per_day
        clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        return f"logs/2024-06-{day + 1:02d}T{clock}Z-host{i % 28:02d}.gz"

    return Lazy(count, key_at)


def top_level(count: int = 1_000_000) -> Concat:
    """A bucket's top level: two files, a small folder, then two big folders (``README.md``,
    ``backup/db-0042.sql``, ``images/0123456.jpg``, ``index.html``, ``logs/0007/00042.log``):
    the page that reaches ``images/`` spans mostly sparse names."""
    images = count * 65 // 100
    logs = count - images - 2_002
    return Concat(
        [
            ["README.md"],
            Lazy(2_000, lambda i: f"backup/db-{i:04d}.sql"),
            Lazy(images, lambda i: f"images/{i:07d}.jpg"),
            ["index.html"],
            Lazy(logs, lambda i: f"logs/{i // 900:04d}/{i % 900:05d}.log"),
        ]
    )


def off_alphabet(count: int = 1_000_000, small: int = 10_000) -> Concat:
    """``small`` folders of one key named by hex ids, and ``big/`` holding the rest: ``i`` is
    no character of the ids' scale, so big/ sits at one point of it."""
    ids = sorted({hashlib.sha1(str(i).encode()).hexdigest()[:6] for i in range(small)})
    before = [f"{name}/one" for name in ids if name < "big"]
    after = [f"{name}/one" for name in ids if name > "big"]
    return Concat([before, Lazy(count - len(ids), lambda i: f"big/{i:07d}"), after])


# Base64url's characters in sort order: - 0-9 A-Z _ a-z.
BASE64URL = "".join(sorted("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


def base64_ids(count: int = 1_000_000) -> Lazy:
    """Ids of five base64url characters spread evenly over their range: the first pages
    all start with ``-``, the smallest character."""
    step = 64**5 // count
    return Lazy(count, lambda i: _numeral(i * step + 7, BASE64URL, 5))


def random_names(count: int = 1_000_000) -> Lazy:
    """Names of five random lowercase letters under one folder (``dict/kqzfa.txt``), spread
    evenly: the first pages all start ``dict/aa``."""
    step = 26**5 // count
    return Lazy(count, lambda i: f"dict/{_numeral(i * step + 11, string.ascii_lowercase, 5)}.txt")


def _numeral(number: int, digits: str, width: int) -> str:
    """``number`` written in ``width`` of ``digits`` (sorted), most significant first."""
    chars = []
    for _ in range(width):
        number, digit = divmod(number, len(digits))
        chars.append(digits[digit])
    return "".join(reversed(chars))


# Ids' alphabets in sort order: ULID's (Crockford's base32: no I, L, O or U), KSUID's
# base62, XID's base32hex, RFC 4648's base32 (letters, then 2-7).
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
BASE32HEX = string.digits + "abcdefghijklmnopqrstuv"
BASE32 = "".join(sorted(string.ascii_uppercase + "234567"))
_EPOCH = 1_793_000_000  # 2026-10-27, in seconds
ID_KINDS = ("ulid", "ksuid", "xid", "uuid7")


def time_ordered_ids(kind: str, count: int = 1_000_000, span: int = 30 * 86_400, folder: str = "") -> Lazy:
    """``count`` ids of ``kind`` (:data:`ID_KINDS`) made evenly over ``span`` seconds, oldest
    first, under ``folder``: their leading characters are a timestamp (ULID and UUIDv7 in
    milliseconds, KSUID and XID in seconds), so the first pages all share them and later
    keys change them; the rest is random (XID: a machine id and a counter)."""
    step = span / count
    if kind in ("ksuid", "xid") and step < 1:
        raise ValueError(f"{kind} ids count seconds: {count} ids need a span of {count} s or more to sort")

    def ulid(i: int) -> str:
        return _numeral(int((_EPOCH + i * step) * 1000), CROCKFORD, 10) + _numeral(_noise(i, 80), CROCKFORD, 16)

    def ksuid(i: int) -> str:
        return _numeral((int(_EPOCH + i * step) - 1_400_000_000) << 128 | _noise(i, 128), BASE62, 27)

    def xid(i: int) -> str:
        return _numeral(int(_EPOCH + i * step) << 64 | 0x5EED_0042 << 24 | i & 0xFFFFFF, BASE32HEX, 20)

    def uuid7(i: int) -> str:
        h = f"{int((_EPOCH + i * step) * 1000):012x}7{_noise(i, 12):03x}{8 | _noise(~i, 2):x}{_noise(i, 62):016x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    make = {"ulid": ulid, "ksuid": ksuid, "xid": xid, "uuid7": uuid7}[kind]
    return Lazy(count, lambda i: folder + make(i))


def base32_hashes(count: int = 1_000_000) -> Lazy:
    """Content hashes written in RFC 4648's base32 (32 of A-Z and 2-7), spread evenly over
    their range: no key uses 0, 1, 8 or 9, which a scale completing every digit counts."""
    step = 32**32 // count
    return Lazy(count, lambda i: _numeral(i * step + _noise(i, 100), BASE32, 32))


def unpadded_counters(count: int = 1_000_000) -> list[str]:
    """``file1`` ... ``file1000000``: numbers of six lengths interleave in key order."""
    return sorted(f"file{i}" for i in range(1, count + 1))


def numbered_folders(count: int = 1_000_000, folders: int = 37, name: str = "tenant-", first: int = 0) -> list[str]:
    """``count`` keys in ``folders`` folders numbered without padding from ``first``
    (``tenant-0/`` ... ``tenant-36/``), each key a random hex id: ``tenant-10/`` to
    ``tenant-19/`` sort between ``tenant-1/`` and ``tenant-2/``, past the ``/`` the first
    pages show after a one-digit number."""
    return sorted(f"{name}{first + i % folders}/{_noise(i, 128):032x}" for i in range(count))


def pareto_folders(count: int = 1_000_000, folders: int = 300, alpha: float = 1.1) -> list[str]:
    """``count`` keys in ``folders`` folders numbered without padding (``batch_0/`` ...
    ``batch_299/``), folder ``n`` holding about ``(n + 1) ** -alpha`` of them (numbered by
    size: the small numbers hold the most): ``batch_11/`` and ``batch_12/`` sort among the
    sparse ``batch_1xx/``, each at a sliver of the scale."""
    keys = []
    for i in range(count):
        u = (_noise(i, 52) + 1) / 2**52  # (0, 1]
        folder = min(int(u ** (-1 / alpha)) - 1, folders - 1)
        keys.append(f"batch_{folder}/part-{i:07d}.gz")
    return sorted(keys)


def hidden_folder(count: int = 1_000_000, small: int = 5_000, files: int = 10) -> list[str]:
    """``small`` folders of ``files`` keys named by random hex ids (``u/<id>/f3``), and among
    them one more holding the rest (``u/<id>/x-0000042``): one sliver of the ids' scale, which
    no probe placed by the small folders' density lands in."""
    names = sorted({f"{_noise(i, 128):032x}" for i in range(small + 1)})
    big = names[len(names) // 2]
    keys = [f"u/{name}/f{j}" for name in names if name != big for j in range(files)]
    keys += [f"u/{big}/x-{i:07d}" for i in range(count - len(keys))]
    return sorted(keys)


def _noise(i: int, bits: int) -> int:
    """``bits`` pseudo-random bits for key ``i`` (the same every run)."""
    return int.from_bytes(hashlib.sha256(str(i).encode()).digest(), "big") >> (256 - bits)


def long_path(count: int = 1_000_000) -> Lazy:
    """Keys under a 287-character path every key shares (keys run to 1,024 bytes)."""
    path = ("x" * 40 + "/") * 7
    return Lazy(count, lambda i: f"{path}file-{i:07d}.bin")


def mixed() -> list[str]:
    """Issue 19's small bucket of mixed shapes, 2,497 keys: a few folders, content-hash
    names, a dated tree, a stray top-level folder."""
    keys = [
        f"reports/{team}/q{q}-{n:03d}.pdf" for team in ("ops", "sales", "hr") for q in range(1, 5) for n in range(60)
    ]
    keys += [f"blobs/{hashlib.sha1(str(i).encode()).hexdigest()}" for i in range(900)]
    keys += [
        f"logs/2026/{m:02d}/{d:02d}/app-{h:02d}.log" for m in range(1, 4) for d in range(1, 29) for h in (0, 6, 12, 18)
    ]
    keys += [f"tmp/upload-{i}.bin" for i in range(1, 1 + 2497 - len(keys) - 1)]
    keys.append("README.txt")
    return sorted(keys)


# Small mixed buckets (the planner's property tests, ``bench.planning --listing-cost``):
# a part is (shape, folder, count, salt).
SHAPES = ("counter", "hash", "dated", "folders", "text")
FOLDERS = ("", "a/", "logs/", "z z/", "data/x/", "dept 11 + misc/")


def shaped_keys(kind: str, base: str, count: int, salt: int) -> list[str]:
    """``count`` keys of one shape under ``base``: counters, hashes (of a length set by
    ``salt``), dates, folders, non-ASCII text."""
    if kind == "counter":
        return [f"{base}report-{i:06d}.pdf" for i in range(count)]
    if kind == "hash":
        return [base + hashlib.sha1(f"{salt}-{i}".encode()).hexdigest()[: 8 + salt % 30] for i in range(count)]
    if kind == "dated":
        return [f"{base}{2020 + i % 3}/{1 + i % 12:02d}/{1 + i % 28:02d}/{i}.json" for i in range(count)]
    if kind == "folders":
        return [f"{base}d{i % (2 + salt % 9)}/e{i % 3}/k{i}.txt" for i in range(count)]
    return [f"{base}{salt}-{i}~é文" for i in range(count)]


# Folder layouts (``bench.planning --folder-sweep``): folders of numbered files, of even or
# Zipf sizes, some empty, one huge, keys named otherwise, or a sub-folder beside a file.
LAYOUT_NAMES = ("user-{u:0%dd}/photo-{j:0%dd}.jpg", "{u:0%dd}/{j:0%dd}.log", "logs/2024/{u:0%dd}/ev-{j:0%dd}.json")
LAYOUT_KINDS = ("even", "huge", "zipf", "empty", "othername", "beside")


def folder_layout(rng: random.Random) -> tuple[list[str], str]:
    """One random folder layout and what it is (the sweep's generator: its draws, in order,
    define the layouts a seed gives)."""
    folders = rng.choice([20, 100, 400, 1500])
    per = rng.choice([10, 60, 300, 1000, 3000])
    width, folder_width = rng.choice([3, 4, 6]), rng.choice([4, 5])
    name = rng.choice(LAYOUT_NAMES) % (folder_width, width)
    kind = rng.choice(LAYOUT_KINDS)
    sizes = [per] * folders
    if kind == "zipf":
        sizes = [max(1, per * 3 // (1 + i % 50)) for i in range(folders)]
    if kind == "empty":
        sizes = [per if rng.random() < 0.6 else 0 for _ in range(folders)]
    keys = [name.format(u=u, j=j) for u, n in enumerate(sizes) for j in range(min(n, 10**width))]
    if kind == "huge":
        u = rng.randrange(folders)
        keys += [name.format(u=u, j=j) for j in range(per, min(10**width, per + rng.choice([50_000, 200_000])))]
    if kind == "othername":
        folder = name.format(u=rng.randrange(folders), j=0).rsplit("/", 1)[0]
        keys += [f"{folder}/{rng.choice(['A', 'zz', '_x'])}-{j:07d}" for j in range(rng.choice([20_000, 100_000]))]
    if kind == "beside":
        beside = name.format(u=rng.randrange(folders), j=per // 2)
        keys += [f"{beside}/{j:06d}" for j in range(rng.choice([20_000, 100_000]))]
    return sorted(set(keys)), f"{name} folders={folders} keys={per} {kind}"


SPACES: dict[str, Callable[[], Sequence[str]]] = {
    "flat100m": lambda: flat(100_000_000),
    "dated1m": dated,
    "hash1m": lambda: content_hashes(1_000_000),
    "deep1m": deep,
    "mixed2497": mixed,
    "flat100k": lambda: flat(100_000),
    "flat1m": lambda: flat(1_000_000),
    "flat3m": lambda: flat(3_000_000),
    "flat10m": lambda: flat(10_000_000),
    "skewed": skewed,
    "tenants1m": numbered_folders,
    "hidden1m": hidden_folder,
    "pareto1m": pareto_folders,
    "hidden100k": lambda: hidden_folder(100_000),
    # 40,000 folders of 10 keys and one of 600,000: a plan that looks like 400 pages.
    "tiny1m": lambda: hidden_folder(1_000_000, 40_000),
    "hash300k": lambda: content_hashes(300_000),
    "tree36": tree,
    "hex1m": lambda: hexnames(1_000_000),
    "folders1m": per_folder,
    "stamps1m": timestamps,
    "toplevel1m": top_level,
    "offalpha1m": off_alphabet,
    "b64ids1m": base64_ids,
    "longpath1m": long_path,
    "names1m": random_names,
    "ulid1m": lambda: time_ordered_ids("ulid"),
    "ksuid1m": lambda: time_ordered_ids("ksuid", span=3 * 365 * 86_400),
    "xid1m": lambda: time_ordered_ids("xid"),
    "b32hash1m": base32_hashes,
    "counters1m": unpadded_counters,
}


def space(name: str) -> Sequence[str]:
    return SPACES[name]()


def _bounds(keys: Sequence[str], prefix: str, start_after: str | None, end_key: str | None) -> tuple[int, int]:
    """Index range ``[low, high)`` of the keys with ``prefix``, ``> start_after``, ``<= end_key``."""
    low = bisect.bisect_left(keys, prefix)
    if start_after is not None:
        low = max(low, bisect.bisect_right(keys, start_after))
    high = bisect.bisect_left(keys, prefix + "\U0010ffff") if prefix else len(keys)
    if end_key is not None:
        high = min(high, bisect.bisect_right(keys, end_key))
    return low, max(low, high)


def unit_intervals(
    keys: Sequence[str], prefix: str, start_after: str | None, end_key: str | None, *, delimited: bool = False
) -> list[tuple[int, int]]:
    """A unit's keys as index runs ``[start, stop)`` of ``keys``: one run for a key range; for a
    delimited unit, the runs of keys directly under ``prefix`` (folders jumped over by bisect)."""
    low, high = _bounds(keys, prefix, start_after, end_key)
    if not delimited:
        return [(low, high)] if high > low else []
    runs: list[tuple[int, int]] = []
    index, run_start = low, low
    while index < high:
        cut = keys[index].find("/", len(prefix))
        if cut < 0:
            index += 1
            continue
        if index > run_start:
            runs.append((run_start, index))
        # "0" is the character after "/": the first key past this folder.
        index = run_start = min(high, bisect.bisect_left(keys, keys[index][:cut] + "0"))
    if high > run_start:
        runs.append((run_start, high))
    return runs


def count_range(keys: Sequence[str], prefix: str, start_after: str | None, end_key: str | None) -> int:
    """Keys with ``prefix``, ``> start_after`` and ``<= end_key`` (None: unbounded)."""
    low, high = _bounds(keys, prefix, start_after, end_key)
    return high - low


def count_direct(keys: Sequence[str], prefix: str, start_after: str | None, end_key: str | None) -> int:
    """Like :func:`count_range`, but only keys with no "/" after ``prefix`` (jumps over folders)."""
    return sum(stop - start for start, stop in unit_intervals(keys, prefix, start_after, end_key, delimited=True))


def check_cover(keys: Sequence[str], prefix: str, units: list[list[tuple[int, int]]]) -> tuple[bool, bool]:
    """(disjoint, covers): no key in two units; every key under ``prefix`` in one.

    Sorting the units' runs and chaining them is enough: overlaps and gaps show up as a run
    starting before or after the previous one stopped (a count sum alone can hide both)."""
    low, high = _bounds(keys, prefix, None, None)
    runs = sorted(run for unit in units for run in unit)
    disjoint, covers, reached = True, True, low
    for start, stop in runs:
        if start < reached:
            disjoint = False
        elif start > reached:
            covers = False
        reached = max(reached, stop)
    return disjoint, covers and reached == high
