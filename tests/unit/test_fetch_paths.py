"""Where fetch writes each key: the mapping (collapse ``//``, drop ``.``, resolve ``..``
inside the key) and the claims (two keys never share a path; a name is never both a file
and a folder), key by key."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from fanout_fetch.paths import PathClaims, UnsafeKey, ignores_case, local_path

# (key, where it goes under DIR)
MAPPED = [
    ("a.pdf", "a.pdf"),
    ("with space.pdf", "with space.pdf"),
    ("ünï/文件 📄.pdf", "ünï/文件 📄.pdf"),
    ("a+b.pdf", "a+b.pdf"),
    ("100%.pdf", "100%.pdf"),
    ("k=v&x=y.pdf", "k=v&x=y.pdf"),
    ("~tilde/x.pdf", "~tilde/x.pdf"),
    ("a..b/..c.pdf", "a..b/..c.pdf"),
    ("...", "..."),
    ("a//b.pdf", "a/b.pdf"),
    ("a///b//c", "a/b/c"),
    ("/x", "x"),
    ("//x/y", "x/y"),
    ("./a", "a"),
    ("a/./b", "a/b"),
    ("a/x/../c.pdf", "a/c.pdf"),
    ("a/x/y/../../c.pdf", "a/c.pdf"),
    ("a/../b", "b"),
    ("dir/", "dir"),
    ("dir/sub//", "dir/sub"),
    # POSIX: a backslash is a character and C: is a name, not a separator or a drive.
    ("C:\\x.pdf", "C:\\x.pdf"),
    ("C:x.pdf", "C:x.pdf"),
    ("a\\..\\b", "a\\..\\b"),
    ("..\\..\\evil.pdf", "..\\..\\evil.pdf"),
]


@pytest.mark.parametrize(("key", "path"), MAPPED)
def test_a_key_maps_to_a_path_inside_dir(key: str, path: str) -> None:
    assert local_path(key).as_posix() == path


# (key, what the refusal says)
REFUSED = [
    ("", "empty key"),
    ("..", "'..' would leave DIR"),
    ("../x", "'..' would leave DIR"),
    ("a/../../x", "'..' would leave DIR"),
    ("/../x", "'..' would leave DIR"),
    ("./../x", "'..' would leave DIR"),
    ("a/b/../../../x", "'..' would leave DIR"),
    ("/", "maps to no file name"),
    ("//", "maps to no file name"),
    (".", "maps to no file name"),
    ("./", "maps to no file name"),
    ("a/..", "maps to no file name"),
    ("a/b/../..//", "maps to no file name"),
    ("nul\x00.pdf", "NUL"),
    ("new\nline.pdf", "control character"),
    ("esc\x1b[2J", "control character"),
    ("tab\there", "control character"),
    ("del\x7f", "control character"),
]


@pytest.mark.parametrize(("key", "says"), REFUSED)
def test_a_key_that_cannot_stay_inside_dir_is_refused(key: str, says: str) -> None:
    with pytest.raises(UnsafeKey, match=says):
        local_path(key)


def claim_all(keys: list[tuple[str, int]]) -> list[tuple[str, str | None]]:
    """Each ``(key, size)`` claimed in order: ``(key, None)`` kept, ``(key, reason)`` refused."""
    claims = PathClaims()
    outcome: list[tuple[str, str | None]] = []
    for key, size in keys:
        try:
            claims.claim(key, local_path(key), folder=size == 0 and key.endswith("/"))
        except UnsafeKey as exc:
            outcome.append((key, str(exc)))
        else:
            outcome.append((key, None))
    return outcome


CLAIMS = [
    pytest.param(
        [("a/b", 1), ("a//b", 1), ("./a/b", 1), ("a/x/../b", 1)],
        [
            ("a/b", None),
            ("a//b", "maps to 'a/b', already the file of key 'a/b' (listed earlier)"),
            ("./a/b", "maps to 'a/b', already the file of key 'a/b' (listed earlier)"),
            ("a/x/../b", "maps to 'a/b', already the file of key 'a/b' (listed earlier)"),
        ],
        id="same path: the first key keeps it",
    ),
    pytest.param(
        [("a//b", 1), ("a/b", 1)],
        [("a//b", None), ("a/b", "maps to 'a/b', already the file of key 'a//b' (listed earlier)")],
        id="index order decides, not which key looks plainer",
    ),
    pytest.param(
        [("a", 1), ("a/b", 1), ("a/c/d", 1)],
        [
            ("a", None),
            ("a/b", "needs 'a' as a folder, already the file of key 'a' (listed earlier)"),
            ("a/c/d", "needs 'a' as a folder, already the file of key 'a' (listed earlier)"),
        ],
        id="a file, then a key below it",
    ),
    pytest.param(
        [("a/b/c", 1), ("a/b", 1), ("a", 1)],
        [
            ("a/b/c", None),
            ("a/b", "'a/b' is already a folder for key 'a/b/c' (listed earlier), cannot be a file"),
            ("a", "'a' is already a folder for key 'a/b/c' (listed earlier), cannot be a file"),
        ],
        id="a folder, then a file of its name",
    ),
    pytest.param(
        [("d/", 0), ("d/x", 1), ("d/", 0), ("d", 1)],
        [
            ("d/", None),
            ("d/x", None),
            ("d/", None),
            ("d", "'d' is already a folder for key 'd/' (listed earlier), cannot be a file"),
        ],
        id="a folder marker claims a folder; markers may repeat",
    ),
    pytest.param(
        [("d", 1), ("d/", 0), ("e/", 3), ("e", 1)],
        [
            ("d", None),
            ("d/", "needs 'd' as a folder, already the file of key 'd' (listed earlier)"),
            ("e/", None),
            ("e", "maps to 'e', already the file of key 'e/' (listed earlier)"),
        ],
        id="a marker after a file; a non-empty key ending in / is a file",
    ),
    pytest.param(
        [("x/a", 1), ("x/b", 1), ("x/y/z", 1), ("xy", 1), ("x.", 1)],
        [("x/a", None), ("x/b", None), ("x/y/z", None), ("xy", None), ("x.", None)],
        id="siblings and look-alike names are independent",
    ),
]


@pytest.mark.parametrize(("keys", "outcome"), CLAIMS)
def test_claims_keep_the_first_key_and_name_it_in_the_refusal(
    keys: list[tuple[str, int]], outcome: list[tuple[str, str | None]]
) -> None:
    assert claim_all(keys) == outcome


def test_claims_hold_one_entry_per_file_and_per_folder() -> None:
    claims = PathClaims()
    for n in range(1000):
        claims.claim(f"k{n}", PurePosixPath("deep/er/folder", f"{n}.pdf"))
    assert (len(claims._files), len(claims._folders)) == (1000, 3)


def test_on_a_file_system_that_ignores_case_names_differing_only_in_case_collide() -> None:
    claims = PathClaims(fold=True)
    claims.claim("Report.pdf", PurePosixPath("Report.pdf"))
    claims.claim("Docs/a.pdf", PurePosixPath("Docs/a.pdf"))
    refusals = {}
    for key in ("report.PDF", "cafe\u0301.pdf", "caf\u00e9.pdf", "docs"):
        try:
            claims.claim(key, PurePosixPath(key))
        except UnsafeKey as exc:
            refusals[key] = str(exc)
    assert refusals == {
        "report.PDF": "maps to 'report.PDF', already the file of key 'Report.pdf' (listed earlier)",
        "caf\u00e9.pdf": "maps to 'caf\u00e9.pdf', already the file of key 'cafe\u0301.pdf' (listed earlier)",
        "docs": "'docs' is already a folder for key 'Docs/a.pdf' (listed earlier), cannot be a file",
    }
    # ... and where case matters, they are different files.
    exact = PathClaims()
    exact.claim("Report.pdf", PurePosixPath("Report.pdf"))
    exact.claim("report.PDF", PurePosixPath("report.PDF"))


def test_ignores_case_tells_the_file_system_apart(tmp_path: Path) -> None:
    (tmp_path / "probe").write_text("x")
    assert ignores_case(tmp_path) is (tmp_path / "PROBE").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe"]  # its own probe is gone
