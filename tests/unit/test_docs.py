"""The docs hold together: the study site's links and images exist, its viewer knows every
diagram, the README's links resolve and it stays a newcomer's length."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def targets(html: str) -> set[str]:
    return {t.split("#")[0] for t in re.findall(r'(?:href|src)="([^"]+)"', html)} - {""}


def test_the_study_site_links_only_to_files_that_exist() -> None:
    for page in ("index.html", "viewer.html"):
        html = (DOCS / page).read_text(encoding="utf-8")
        assert not re.search(r'(?:href|src)="(?:https?:)?//', html), f"{page} must load nothing from elsewhere"
        for target in targets(html):
            assert (DOCS / target).is_file(), f"{page} links to missing {target}"


def test_the_viewer_opens_every_diagram_and_the_site_shows_each() -> None:
    svgs = {p.name for p in DOCS.glob("*.svg")}
    viewer = (DOCS / "viewer.html").read_text(encoding="utf-8")
    allowed = set(re.findall(r'"([\w-]+\.svg)"', viewer.split("const ALLOWED", 1)[1].split(";", 1)[0]))
    assert allowed == svgs
    index = (DOCS / "index.html").read_text(encoding="utf-8")
    assert {f"viewer.html#{name}" for name in svgs} <= set(re.findall(r'href="([^"]+)"', index))


def test_every_diagram_has_its_source() -> None:
    for svg in DOCS.glob("*.svg"):
        assert svg.with_suffix(".dot").is_file(), svg.name


def test_the_readme_links_resolve_and_it_stays_short() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 220
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), f"README links to missing {link}"
    for page in DOCS.glob("*.md"):
        for link in re.findall(r"\]\(([^)#]+)\)", page.read_text(encoding="utf-8")):
            if not link.startswith("http"):
                assert (page.parent / link).exists(), f"{page.name} links to missing {link}"
