"""The share page in a real browser (headless Chromium) against the moto server.

Runs are built the real way (the three handlers); the 100,000-object page is made of parts
written straight to moto (the page cannot tell), so the test does not list 100k keys.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from s3fanout.folder_summary import FOLDER_LIMIT, summarize
from s3fanout.presign import new_url_signer
from s3fanout.share_page import render_share_page, script_json
from tests.browser.conftest import Browser
from tests.support.flow import run_handlers
from tests.support.s3_helpers import body_of, put_keys

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".fanout" / "screenshots"
KEYS = [
    "shared/reports/2024/q1.pdf",
    "shared/reports/2024/q2.pdf",
    "shared/reports/2025/q1.pdf",
    "shared/scans/a.pdf",
    "shared/scans/deep/er/b.pdf",
    "shared/root.pdf",
    "shared/a//double.pdf",
    "shared/a/x/../dots.pdf",
]
HOSTILE = [
    "shared/<img src=x onerror=window.__pwned=1>.pdf",
    'shared/"><script>window.__pwned=2</script>.pdf',
    "shared/</script><script>window.__pwned=3</script>.pdf",
    "shared/invoice\u202efdp.exe",
    "shared/" + "long-name-" * 29 + "end.pdf",
]
# Names a person sorts naturally: case and accents aside, numbers by value.
NATURAL = ["shared/README.md", "shared/budget.xlsx", "shared/file10.txt", "shared/file2.txt", "shared/Résumé.pdf"]
MODIFIED = "2026-11-20T09:14:03.000Z"
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def share(s3: Any, bucket: str, keys: list[str]) -> dict[str, Any]:
    put_keys(s3, bucket, keys)
    return run_handlers(s3, {"bucket": bucket, "prefix": "shared/", "suffix": "", "expires_in": 604800})["index"]


def wait_ready(browser: Browser, timeout: float = 30) -> None:
    try:
        WebDriverWait(browser.driver, timeout).until(
            lambda d: d.execute_script("return document.body.dataset.state") in {"ready", "expired", "failed"}
        )
    except TimeoutException:
        # Say where the page stood (seen once, on a machine also running 100M-key benchmarks).
        where = browser.driver.execute_script(
            "return [document.body.dataset.state, document.getElementById('status').textContent,"
            " document.getElementById('range').textContent]"
        )
        raise AssertionError(
            f"page not ready after {timeout} s: state, status, range = {where};"
            f" console errors: {browser.console_errors()}"
        ) from None


def open_page(browser: Browser, url: str) -> None:
    browser.driver.get(url)
    wait_ready(browser)


def rows(browser: Browser) -> list[tuple[str, str, str]]:
    """(shown path, size text, href or "") of every row on screen; a folder's path ends "/",
    a file shown with its folder ("in reports/2024/") reads as that folder + its name."""
    return browser.driver.execute_script(
        """return [...document.querySelectorAll('#rows tr')].map(tr => {
             const file = tr.querySelector('.file'), where = tr.querySelector('.where .linkish');
             const open = tr.querySelector('.line .linkish');
             const name = file ? (where ? where.textContent : '') + file.textContent : open.textContent;
             return [name, tr.cells[1].textContent, file && file.href ? file.href : ''];
           });"""
    )


def names(browser: Browser) -> list[str]:
    return [name for name, _, _ in rows(browser)]


def text_of(browser: Browser, element_id: str) -> str:
    return browser.driver.find_element(By.ID, element_id).text


def click(browser: Browser, element_id: str) -> None:
    browser.driver.find_element(By.ID, element_id).click()


def open_folder(browser: Browser, name: str) -> None:
    browser.driver.find_element(By.XPATH, f"//tbody//button[.//span[text()='{name}']]").click()
    wait_ready(browser)


def fragment(browser: Browser) -> str:
    return browser.driver.execute_script("return decodeURIComponent(location.hash)")


def wait_names(browser: Browser, expected: list[str], timeout: float = 10) -> None:
    WebDriverWait(browser.driver, timeout).until(lambda _d: names(browser) == expected)


def search(browser: Browser, text: str) -> None:
    box = browser.driver.find_element(By.ID, "search")
    box.clear()
    box.send_keys(text)
    WebDriverWait(browser.driver, 10).until(lambda _d: ("q=" + text) in fragment(browser))
    wait_ready(browser)


def saved(browser: Browser, button: str, name: str) -> str:
    browser.driver.execute_script("document.getElementById('other').open = true")
    click(browser, button)
    path = browser.downloads / name
    WebDriverWait(browser.driver, 10).until(lambda _d: path.exists() and path.stat().st_size > 0)
    return path.read_text(encoding="utf-8")


def aria2_paths(text: str) -> set[str]:
    lines = text.splitlines()
    return {lines[i + 1].strip().removeprefix("out=") for i in range(0, len(lines), 2)}


def test_the_page_shows_what_was_shared_and_every_link_gives_the_exact_bytes(
    s3: Any, bucket: str, page: Browser, moto_endpoint: str
) -> None:
    result = share(s3, bucket, KEYS)
    served = requests.get(result["page_url"], timeout=10)
    assert served.headers["Content-Type"] == "text/html; charset=utf-8"
    index = json.loads(requests.get(result["index_url"], timeout=10).content)
    assert index["page_url"] == result["page_url"]

    open_page(page, result["page_url"])
    assert text_of(page, "headline") == f"Files from {bucket} / shared"
    assert page.driver.title == f"Files from {bucket} / shared"
    what = text_of(page, "what")
    assert f"s3://{bucket}/shared/" in what
    assert "8 files" in what
    assert "Links work for" in text_of(page, "expiry")
    # Folders first, each with its file count and size; then the files.
    assert names(page) == ["a/", "reports/", "scans/", "root.pdf"]
    reports = page.driver.find_element(By.XPATH, "//tbody/tr[2]").text
    assert "3 files" in reports
    assert f"{len(body_of(KEYS[0])) + len(body_of(KEYS[1])) + len(body_of(KEYS[2]))} bytes" in reports

    open_page(page, result["page_url"] + "#view=list")
    shown = rows(page)
    assert len(shown) == len(KEYS)
    assert text_of(page, "range") == "1\u20138 of 8 files"
    for name, _size, href in shown:
        if name == "a/x/../dots.pdf":  # a browser would resolve the ".." and ask for another key
            assert href == ""
            continue
        assert requests.get(href, timeout=10).content == body_of("shared/" + name)
    assert sorted("shared/" + name for name, _, _ in shown) == sorted(KEYS)
    # A Modified column, in the browser's own words.
    assert page.driver.execute_script(
        "return [...document.querySelectorAll('#rows td.date')].every(td => /\\d/.test(td.textContent))"
    )
    page.driver.execute_script("document.getElementById('other').open = true")
    command = text_of(page, "fetch-command")
    assert command == f"fanout-fetch '{result['page_url']}' --to DIR"

    # Self-contained: every request went to the manifest bucket's origin, and the CSP held.
    origin = urlsplit(moto_endpoint).netloc
    assert {urlsplit(url).netloc for url in page.requested_urls() if not url.startswith(("data:", "blob:"))} == {origin}
    assert page.console_errors() == []
    open_page(page, result["page_url"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.driver.save_screenshot(str(SCREENSHOTS / "share-page.png"))


def test_search_starts_from_the_fragment_and_writes_it_back(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"] + "#q=q1")
    assert page.driver.find_element(By.ID, "search").get_attribute("value") == "q1"
    assert sorted(names(page)) == ["reports/2024/q1.pdf", "reports/2025/q1.pdf"]

    search(page, "SCANS")
    wait_names(page, ["scans/a.pdf", "scans/deep/er/b.pdf"])
    # The signature is untouched: the URL before the fragment is the page URL itself.
    assert page.driver.current_url.split("#")[0] == result["page_url"]

    page.driver.execute_script("location.hash = '#q=' + encodeURIComponent('root')")
    wait_names(page, ["root.pdf"])
    page.driver.execute_script("location.hash = '#q=nothing-like-this'")
    wait_names(page, [])
    wait_ready(page)
    assert "Nothing matches." in text_of(page, "status")
    # An empty result saves nothing.
    page.driver.execute_script("document.getElementById('other').open = true")
    click(page, "save-aria2")
    WebDriverWait(page.driver, 10).until(lambda _d: "Nothing to save" in text_of(page, "save-status"))
    assert list(page.downloads.iterdir()) == []


def test_search_in_a_folder_finds_what_lies_below_it_and_save_saves_exactly_that(
    s3: Any, bucket: str, page: Browser
) -> None:
    keys = [*KEYS, "shared/reports/2024/deep/q1-notes.txt", "shared/other/q1.pdf"]
    result = share(s3, bucket, keys)
    open_page(page, result["page_url"])
    open_folder(page, "reports/")
    search(page, "q1")
    # Every match below the folder, each with its folder; nothing outside it.
    assert sorted(names(page)) == ["reports/2024/deep/q1-notes.txt", "reports/2024/q1.pdf", "reports/2025/q1.pdf"]
    assert "folder=reports/" in fragment(page)
    assert text_of(page, "range") == "1\u20133 of 3 matches"
    paths = aria2_paths(saved(page, "save-aria2", "fanout-links.aria2"))
    assert paths == {
        "shared/reports/2024/deep/q1-notes.txt",
        "shared/reports/2024/q1.pdf",
        "shared/reports/2025/q1.pdf",
    }
    assert "Saved fanout-links.aria2: 3 links." in text_of(page, "save-status")

    # A path with its folders finds the file, from the top folder too.
    page.driver.find_element(By.ID, "crumbs").find_element(By.TAG_NAME, "button").click()
    wait_ready(page)
    search(page, "2024/q1")
    assert names(page) == ["reports/2024/q1.pdf"]
    # The match's folder opens with one click.
    page.driver.find_element(By.CSS_SELECTOR, "#rows .where button").click()
    wait_ready(page)
    assert names(page) == ["deep/", "q1.pdf", "q2.pdf"]
    assert page.driver.find_element(By.ID, "search").get_attribute("value") == ""

    # Without a search, Save in a folder saves every file below it: what the folder holds.
    page.downloads.joinpath("fanout-links.aria2").unlink()
    paths = aria2_paths(saved(page, "save-aria2", "fanout-links.aria2"))
    assert paths == {
        "shared/reports/2024/deep/q1-notes.txt",
        "shared/reports/2024/q1.pdf",
        "shared/reports/2024/q2.pdf",
    }


def seven_deep(n: int) -> str:
    """3,000 keys in a 7-deep tree, a quarter of them named report-…"""
    kind = "report" if n % 4 == 0 else "scan"
    return f"shared/projects/{2020 + n % 5}/q{1 + n % 4}/team-{n % 3}/x{n % 2}/y/z/{kind}-{n:04d}.pdf"


def test_folders_and_list_find_the_same_matches_and_save_exactly_them(s3: Any, bucket: str, page: Browser) -> None:
    keys = sorted(seven_deep(n) for n in range(3000))
    result = share(s3, bucket, keys)
    wanted = {k for k in keys if "report" in k.removeprefix("shared/")}
    for fragment_ in ("#q=report", "#view=list&q=report"):
        open_page(page, result["page_url"] + fragment_)
        assert text_of(page, "range") == f"1\u2013100 of {len(wanted):,} matches"
        for stale in page.downloads.iterdir():
            stale.unlink()
        assert aria2_paths(saved(page, "save-aria2", "fanout-links.aria2")) == wanted
    in_q1 = {k for k in keys if k.startswith("shared/projects/2024/q1/")}
    for fragment_ in ("#q=projects/2024/q1", "#view=list&q=projects/2024/q1"):
        open_page(page, result["page_url"] + fragment_)
        assert text_of(page, "range").endswith(f" of {len(in_q1):,} matches")


def test_the_view_lives_in_the_fragment_with_history(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"])
    open_folder(page, "reports/")
    assert names(page) == ["2024/", "2025/"]
    assert fragment(page) == "#folder=reports/"
    open_folder(page, "2024/")
    click(page, "sort-size")
    wait_ready(page)
    assert fragment(page) == "#folder=reports/2024/&sort=size"
    # Reload: the same folder and sort.
    page.driver.refresh()
    wait_ready(page)
    assert names(page) == ["q1.pdf", "q2.pdf"]
    assert page.driver.find_element(By.ID, "th-size").get_attribute("aria-sort") == "ascending"
    # Back walks the views, not out of the page.
    page.driver.back()
    wait_names(page, ["q1.pdf", "q2.pdf"])
    assert fragment(page) == "#folder=reports/2024/"
    page.driver.back()
    wait_names(page, ["2024/", "2025/"])
    page.driver.back()
    wait_names(page, ["a/", "reports/", "scans/", "root.pdf"])
    assert page.driver.current_url == result["page_url"]
    page.driver.forward()
    wait_names(page, ["2024/", "2025/"])
    # The list view and a search, too.
    click(page, "view-list")
    wait_ready(page)
    assert "view=list" in fragment(page)
    page.driver.back()
    wait_names(page, ["2024/", "2025/"])


def test_paging_controls_sit_above_the_list_and_next_lands_on_its_top(s3: Any, bucket: str, page: Browser) -> None:
    keys = [f"shared/many/file-{n:03d}.txt" for n in range(250)]
    result = share(s3, bucket, keys)
    page.width(1280, 700)
    open_page(page, result["page_url"] + "#folder=many/")
    above = page.driver.execute_script(
        "const top = (id) => document.getElementById(id).getBoundingClientRect().top;return top('next') < top('files')"
    )
    assert above
    assert text_of(page, "range") == "1\u2013100 of 250 items"
    assert names(page)[0] == "file-000.txt"
    # From the bottom of the page, Next (the one below the list) shows page 2 from its top.
    page.driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    click(page, "next-bottom")
    wait_ready(page)
    assert names(page)[0] == "file-100.txt"
    assert "page=2" in fragment(page)
    top = page.driver.execute_script("return document.getElementById('browse-title').getBoundingClientRect().top")
    assert 0 <= top < 50
    click(page, "next")
    wait_ready(page)
    assert text_of(page, "range") == "201\u2013250 of 250 items"
    assert page.driver.find_element(By.ID, "next").get_attribute("disabled") == "true"


def test_skip_link_and_keyboard_keep_the_fragment(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"] + "#q=q1")
    body = page.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    skip = page.driver.switch_to.active_element
    assert skip.get_attribute("id") == "skip"
    skip.send_keys(Keys.ENTER)
    assert fragment(page) == "#q=q1"
    assert page.driver.find_element(By.ID, "search").get_attribute("value") == "q1"
    assert page.driver.switch_to.active_element.get_attribute("id") == "files"
    assert sorted(names(page)) == ["reports/2024/q1.pdf", "reports/2025/q1.pdf"]


def test_focus_follows_a_folder_opened_by_keyboard_and_a_breadcrumb(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"])
    opener = page.driver.find_element(By.XPATH, "//tbody//button[.//span[text()='reports/']]")
    opener.send_keys(Keys.ENTER)
    wait_names(page, ["2024/", "2025/"])
    wait_ready(page)
    active = page.driver.switch_to.active_element
    assert active.get_attribute("aria-current") == "location"
    assert active.text == "reports/"
    # Tab goes on into the list.
    active.send_keys(Keys.TAB)
    WebDriverWait(page.driver, 5).until(lambda d: d.switch_to.active_element.tag_name != "body")
    crumb = page.driver.find_element(By.CSS_SELECTOR, "#crumbs button")
    crumb.send_keys(Keys.ENTER)
    wait_names(page, ["a/", "reports/", "scans/", "root.pdf"])
    wait_ready(page)
    active = page.driver.switch_to.active_element
    assert active.tag_name == "button"
    assert active.get_attribute("aria-current") == "location"


def test_icons_are_drawn_in_the_page_not_emoji(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, [*KEYS, "shared/photo.JPG", "shared/data.csv", "shared/noext"])
    open_page(page, result["page_url"])
    assert not EMOJI.search(page.driver.find_element(By.TAG_NAME, "body").text)
    assert not EMOJI.search(page.driver.execute_script("return document.documentElement.outerHTML"))
    icons = page.driver.execute_script(
        """return [...document.querySelectorAll('#rows tr')].map(tr => {
             const i = tr.querySelector('svg.icon'); return i ? i.getAttribute('class') : null; })"""
    )
    assert icons[:3] == ["icon folder-icon"] * 3
    assert "icon file-icon kind-csv" not in icons
    assert "icon file-icon kind-sheet" in icons
    assert "icon file-icon kind-image" in icons
    assert "icon file-icon kind-file" in icons
    # Drawn: a visible size, and no request made for it.
    size = page.driver.execute_script(
        "const r = document.querySelector('#rows svg').getBoundingClientRect();return [r.width, r.height]"
    )
    assert size == [20, 20]


def test_names_sort_naturally_and_search_ignores_accents(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, NATURAL)
    open_page(page, result["page_url"])
    assert names(page) == ["budget.xlsx", "file2.txt", "file10.txt", "README.md", "Résumé.pdf"]
    click(page, "sort-name")
    wait_ready(page)
    assert names(page) == ["Résumé.pdf", "README.md", "file10.txt", "file2.txt", "budget.xlsx"]
    search(page, "resume")
    assert names(page) == ["Résumé.pdf"]
    search(page, "RÉSUMÉ")
    assert names(page) == ["Résumé.pdf"]


def test_numbers_sizes_and_dates_share_one_locale(s3: Any, bucket: str, page: Browser) -> None:
    keys = [f"shared/d/f{n:04d}.bin" for n in range(1200)]
    put_keys(s3, bucket, keys, body=b"x" * 1400)
    result = run_handlers(s3, {"bucket": bucket, "prefix": "shared/", "suffix": "", "expires_in": 3600})["index"]
    page.driver.execute_cdp_cmd("Emulation.setLocaleOverride", {"locale": "de-DE"})
    try:
        open_page(page, result["page_url"])
        row = page.driver.find_element(By.XPATH, "//tbody/tr[1]").text
        assert "1.200 files" in row  # German grouping
        assert "1,7 MB" in row  # and a German decimal comma beside it
        assert "1.200 files" in text_of(page, "what")
    finally:
        page.driver.execute_cdp_cmd("Emulation.setLocaleOverride", {})


def test_copy_buttons_say_copied_then_reset(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    page.driver.execute_cdp_cmd(
        "Browser.grantPermissions", {"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}
    )
    open_page(page, result["page_url"] + "#view=list")
    page.driver.execute_script("document.getElementById('other').open = true")
    click(page, "copy-fetch")
    WebDriverWait(page.driver, 5).until(lambda _d: text_of(page, "copy-fetch") == "Copied")
    WebDriverWait(page.driver, 5).until(lambda _d: text_of(page, "copy-fetch") == "Copy")
    copy_link = page.driver.find_element(By.CSS_SELECTOR, "#rows tr:nth-child(1) td.actions button")
    assert copy_link.get_attribute("aria-label").startswith("Copy the link to ")
    copy_link.click()
    WebDriverWait(page.driver, 5).until(lambda _d: copy_link.text == "Copied")
    copied = page.driver.execute_script("return navigator.clipboard.readText()")
    assert requests.get(copied, timeout=10).content == body_of("shared/" + names(page)[0])
    WebDriverWait(page.driver, 5).until(lambda _d: copy_link.text == "Copy link")


def test_copy_without_clipboard_permission_still_copies_and_keeps_the_focus(
    s3: Any, bucket: str, page: Browser
) -> None:
    result = share(s3, bucket, KEYS)
    page.driver.execute_cdp_cmd("Browser.resetPermissions", {})
    page.driver.execute_cdp_cmd(
        "Browser.setPermission", {"permission": {"name": "clipboard-write"}, "setting": "denied"}
    )
    try:
        open_page(page, result["page_url"])
        page.driver.execute_script("document.getElementById('other').open = true")
        button = page.driver.find_element(By.ID, "copy-fetch")
        button.send_keys(Keys.ENTER)
        WebDriverWait(page.driver, 5).until(lambda _d: button.text in {"Copied", "Could not copy"})
        assert page.driver.switch_to.active_element.get_attribute("id") == "copy-fetch"
        WebDriverWait(page.driver, 5).until(lambda _d: button.text == "Copy")
    finally:
        page.driver.execute_cdp_cmd("Browser.resetPermissions", {})


def test_download_button_saves_the_file_when_page_and_files_share_an_origin(
    s3: Any, bucket: str, page: Browser
) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"])
    download = page.driver.find_element(By.XPATH, "//tbody//tr[.//a[text()='root.pdf']]//a[text()='Download']")
    assert download.get_attribute("download") == "root.pdf"
    download.click()
    path = page.downloads / "root.pdf"
    WebDriverWait(page.driver, 10).until(lambda _d: path.exists() and path.read_bytes() == body_of("shared/root.pdf"))
    # The page did not navigate away.
    assert page.driver.current_url == result["page_url"]


def test_download_this_folder_saves_each_file_one_after_another(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"] + "#folder=reports/")
    button = page.driver.find_element(By.ID, "download-all")
    assert button.is_displayed()
    assert button.text == "Download this folder"
    button.click()
    expected = {"shared_reports_2024_q1.pdf", "shared_reports_2024_q2.pdf", "shared_reports_2025_q1.pdf"}
    WebDriverWait(page.driver, 20).until(
        lambda _d: {p.name for p in page.downloads.iterdir() if not p.name.endswith(".crdownload")} == expected
    )
    for name in expected:
        key = name.replace("_", "/")
        assert (page.downloads / name).read_bytes() == body_of(key)
    WebDriverWait(page.driver, 10).until(
        lambda _d: "Asked the browser to save 3 files" in text_of(page, "download-status")
    )
    assert page.driver.current_url == result["page_url"] + "#folder=reports/"  # the page stayed


def test_a_title_and_message_in_the_page_data_are_shown_as_text(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    html = requests.get(result["page_url"], timeout=10).text
    block = re.search(r'(<script id="[^"]+" type="application/json">)(.*?)(</script>)', html, re.S)
    assert block
    data = json.loads(block.group(2))
    data.update(title="Q1 <b>reports</b>", message="For the audit.\n<img src=x onerror=window.__pwned=1>")
    page_html = html[: block.start(2)] + script_json(data) + html[block.end(2) :]
    s3.put_object(Bucket=bucket, Key="titled.html", Body=page_html.encode(), ContentType="text/html; charset=utf-8")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "titled.html"}, ExpiresIn=600)
    open_page(page, url)
    assert text_of(page, "headline") == "Q1 <b>reports</b>"
    assert page.driver.title == "Q1 <b>reports</b>"
    assert "<img src=x onerror=window.__pwned=1>" in text_of(page, "message")
    assert page.driver.execute_script(
        "return window.__pwned === undefined && !document.querySelector('header img, header b')"
    )


def test_hostile_keys_stay_inert_and_readable(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, HOSTILE)
    open_page(page, result["page_url"] + "#view=list")
    assert page.driver.execute_script("return window.__pwned === undefined")
    assert page.driver.execute_script("return document.querySelectorAll('#rows img, #rows script').length") == 0
    shown = {name: href for name, _, href in rows(page)}
    assert "<img src=x onerror=window.__pwned=1>.pdf" in shown
    assert '"><script>window.__pwned=2</script>.pdf' in shown
    assert "</script><script>window.__pwned=3</script>.pdf" in shown
    # A right-to-left override is shown as a visible code, not obeyed.
    assert "invoice⟨U+202E⟩fdp.exe" in shown
    assert "long-name-" * 29 + "end.pdf" in shown
    for name, href in shown.items():
        key = "shared/" + name.replace("⟨U+202E⟩", "\u202e")
        assert requests.get(href, timeout=10).content == body_of(key)
    # A 300-character name wraps instead of widening the page.
    assert page.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert page.console_errors() == []


def test_folder_view_sorting_and_paging_controls(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"])
    assert names(page) == ["a/", "reports/", "scans/", "root.pdf"]
    open_folder(page, "reports/")
    wait_names(page, ["2024/", "2025/"])
    crumbs = page.driver.find_element(By.ID, "crumbs").text
    assert "shared/" in crumbs
    assert "reports/" in crumbs

    click(page, "view-list")
    wait_ready(page)
    assert sorted(names(page)) == ["reports/2024/q1.pdf", "reports/2024/q2.pdf", "reports/2025/q1.pdf"]
    click(page, "crumbs")
    page.driver.find_element(By.CSS_SELECTOR, "#crumbs button").click()
    wait_ready(page)
    click(page, "sort-size")
    wait_ready(page)
    assert page.driver.find_element(By.ID, "th-size").get_attribute("aria-sort") == "ascending"
    sizes = [len(body_of("shared/" + name)) for name in names(page)]
    assert sizes == sorted(sizes)
    click(page, "sort-name")
    click(page, "sort-name")  # name, descending
    wait_ready(page)
    shown = names(page)
    assert shown[0] == "scans/deep/er/b.pdf"
    assert page.driver.find_element(By.ID, "prev").get_attribute("disabled") == "true"
    assert page.driver.find_element(By.ID, "next").get_attribute("disabled") == "true"


def test_saved_aria2c_list_has_every_link_with_a_path_inside_dir(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"])
    text = saved(page, "save-aria2", "fanout-links.aria2")
    lines = text.splitlines()
    pairs = {lines[i + 1].strip().removeprefix("out="): lines[i] for i in range(0, len(lines), 2)}
    # Empty segments collapsed, as fanout fetch maps them; not a/x/../dots.pdf: aria2c would
    # resolve the ".." in its URL (the curl list keeps it).
    expected = {key.replace("//", "/") for key in KEYS if "/../" not in key}
    assert "shared/a/double.pdf" in expected
    assert set(pairs) == expected
    for path, url in pairs.items():
        assert requests.get(url, timeout=10).content == body_of(path.replace("a/double", "a//double"))
    assert "Saved fanout-links.aria2: 7 links (1 left out" in text_of(page, "save-status")

    config = saved(page, "save-curl", "fanout-links.curl")
    assert "\npath-as-is\n" in config
    assert config.count("url = ") == 8
    assert 'output = "shared/a/dots.pdf"' in config


def test_links_past_their_expiry_give_way_to_a_clear_message(
    s3: Any, bucket: str, page: Browser, moto_endpoint: str
) -> None:
    result = share(s3, bucket, KEYS)
    index = json.loads(requests.get(result["index_url"], timeout=10).content)

    def page_expiring(at: float, name: str) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        s3.put_object(
            Bucket=bucket,
            Key=name,
            Body=render_share_page({**index, "expires_at": stamp}, result["index_url"]),
            ContentType="text/html; charset=utf-8",
        )
        return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": name}, ExpiresIn=600)

    open_page(page, page_expiring(time.time() - 60, "past.html"))
    assert page.driver.find_element(By.ID, "expired").is_displayed()
    assert "These links have expired" in text_of(page, "expired")
    assert "Ask the sender for a new one." in text_of(page, "expired")
    assert not page.driver.find_element(By.ID, "browse").is_displayed()
    assert page.driver.execute_script("return document.querySelectorAll('a[href*=\"X-Amz\"]').length") == 0

    open_page(page, page_expiring(time.time() + 3, "soon.html") + "#view=list")
    assert len(rows(page)) == len(KEYS)
    WebDriverWait(page.driver, 10).until(lambda d: d.find_element(By.ID, "expired").is_displayed())
    assert rows(page) == []
    assert not page.driver.find_element(By.ID, "get").is_displayed()


def test_phone_width_and_keyboard(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS + HOSTILE[-1:] + NATURAL)
    page.width(390, 844)
    open_page(page, result["page_url"])
    assert page.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.driver.save_screenshot(str(SCREENSHOTS / "share-page-phone.png"))
    # Every control is labelled.
    unlabelled = page.driver.execute_script(
        """return [...document.querySelectorAll('button, input, a[href]')]
             .filter(e => !(e.labels && e.labels.length) && !e.textContent.trim() && !e.getAttribute('aria-label'))
             .map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    # The keyboard alone: to the search box, then into the list; a folder opens with Enter.
    body = page.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    focused = []
    for _ in range(14):
        active = page.driver.switch_to.active_element
        focused.append(active.get_attribute("id") or active.tag_name)
        if (active.get_attribute("aria-label") or "").startswith("Open folder reports/"):
            break
        active.send_keys(Keys.TAB)
    assert "search" in focused
    page.driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_names(page, ["2024/", "2025/"])
    assert page.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    # Opened at phone width, a search's results still fit.
    search(page, "q")
    assert page.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def big_share(
    s3: Any,
    bucket: str,
    endpoint: str,
    keys: list[str],
    part_lines: int,
    limit: int = FOLDER_LIMIT,
    *,
    empty_parts: bool = False,
) -> str:
    """A share of many objects: parts written as BuildManifest would, with the folder summary
    (of at most ``limit`` folders); ``empty_parts``: an empty part (a unit with nothing to
    share, as MergeIndex lists it: no first or last key) before and after every part."""
    signer = new_url_signer(bucket, 3600, region="us-east-1", endpoint_url=endpoint)
    parts = []

    def empty() -> None:
        part_key = f"manifests/big/parts/empty-{len(parts):05d}.jsonl"
        s3.put_object(Bucket=bucket, Key=part_key, Body=b"")
        parts.append(
            {"key": part_key, "count": 0, "first_key": None, "last_key": None, "url": signer.presign_get(part_key)}
        )

    for number in range(0, len(keys), part_lines):
        if empty_parts:
            empty()
        chunk = keys[number : number + part_lines]
        body = "".join(
            json.dumps(
                {
                    "key": k,
                    "size": 1000 + i,
                    "etag": "e",
                    "last_modified": MODIFIED,
                    "url": signer.presign_get(k),
                }
            )
            + "\n"
            for i, k in enumerate(chunk)
        ).encode()
        part_key = f"manifests/big/parts/{number // part_lines:05d}.jsonl"
        s3.put_object(Bucket=bucket, Key=part_key, Body=body)
        parts.append(
            {
                "key": part_key,
                "count": len(chunk),
                "first_key": chunk[0],
                "last_key": chunk[-1],
                "url": signer.presign_get(part_key),
            }
        )
    if empty_parts:
        empty()
    sizes = {k: 1000 + i % part_lines for i, k in enumerate(keys)}
    folders = summarize(((k, sizes[k], MODIFIED, i // part_lines) for i, k in enumerate(keys)), "shared/", limit)
    index = {
        "run_id": "big",
        "bucket": bucket,
        "prefix": "shared/",
        "suffix": "",
        "created_at": "2026-11-28T00:00:00Z",
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
        "count": len(keys),
        "object_bytes": sum(sizes.values()),
        "parts": parts,
    }
    s3.put_object(
        Bucket=bucket,
        Key="manifests/big/index.html",
        Body=render_share_page(index, signer.presign_get("manifests/big/index.json"), folders),
        ContentType="text/html; charset=utf-8",
    )
    return signer.presign_get("manifests/big/index.html")


@pytest.fixture
def hundred_thousand(s3: Any, bucket: str, moto_endpoint: str) -> tuple[str, list[str]]:
    """A 100,000-object share: 20 parts of 5,000 lines, 20 folders of 50 folders of 100 files."""
    keys = [f"shared/batch-{n // 5000:02d}/folder-{n // 100:04d}/file-{n:06d}.bin" for n in range(100_000)]
    return big_share(s3, bucket, moto_endpoint, keys, 5000), keys


def parts_asked(browser: Browser) -> list[str]:
    return [u for u in browser.requested_urls() if "/parts/" in u]


def test_a_hundred_thousand_objects_load_only_the_parts_on_screen(
    page: Browser, hundred_thousand: tuple[str, list[str]]
) -> None:
    url, keys = hundred_thousand
    open_page(page, url)
    # The top folders come from the folder summary: no part at all.
    assert names(page)[:2] == ["batch-00/", "batch-01/"]
    assert text_of(page, "range") == "1\u201320 of 20 items"
    assert parts_asked(page) == []
    # A deep folder: the one part that holds it.
    open_page(page, url + "#folder=batch-13/folder-0670/")
    assert names(page)[:2] == ["file-067000.bin", "file-067001.bin"]
    assert text_of(page, "range") == "1\u2013100 of 100 items"
    assert len(parts_asked(page)) == 1
    # The flat list in key order: the parts of the page shown.
    open_page(page, url + "#view=list&page=501")
    assert names(page)[0] == keys[50_000].removeprefix("shared/")
    assert text_of(page, "range") == "50,001\u201350,100 of 100,000 files"
    assert len(parts_asked(page)) == 1
    # Jump to a name: one part.
    box = page.driver.find_element(By.ID, "jump-to")
    box.send_keys("batch-15/folder-0777/file-077750")
    box.send_keys(Keys.ENTER)
    WebDriverWait(page.driver, 10).until(lambda _d: "file-077750.bin" in page.driver.switch_to.active_element.text)
    assert len(parts_asked(page)) == 1


def test_a_folder_the_bounded_summary_left_out_is_listed_from_its_own_parts(
    s3: Any, bucket: str, page: Browser, moto_endpoint: str
) -> None:
    # 10 batches of 20 folders of 50 files, 1,000 lines a part; the summary keeps 12 folders:
    # the top, the batches and one leaf - every other leaf is left out.
    keys = [f"shared/batch-{n // 1000}/leaf-{n // 50:03d}/f-{n:05d}.txt" for n in range(10_000)]
    url = big_share(s3, bucket, moto_endpoint, keys, 1000, limit=12)
    open_page(page, url + "#folder=batch-7/")
    assert names(page)[:2] == ["leaf-140/", "leaf-141/"]
    assert text_of(page, "range") == "1\u201320 of 20 items"
    asked = parts_asked(page)
    assert [u.split("/parts/")[1].split("?")[0] for u in asked] == ["00007.jsonl"]  # keys 7,000-7,999
    page.driver.get("about:blank")  # a fresh page: nothing cached
    open_page(page, url + "#folder=batch-7/leaf-155/")
    assert names(page)[:2] == ["f-07750.txt", "f-07751.txt"]
    assert text_of(page, "range") == "1\u201350 of 50 items"
    assert len(parts_asked(page)) == 1


def test_empty_parts_among_the_parts_hide_nothing(s3: Any, bucket: str, page: Browser, moto_endpoint: str) -> None:
    """Units with nothing to share give empty parts: the binary search over the parts' key
    ranges once landed on one and skipped every part before it (folders, search, jump)."""
    keys = [f"shared/batch-{n // 1000}/leaf-{n // 50:03d}/f-{n:05d}.txt" for n in range(5_000)]
    url = big_share(s3, bucket, moto_endpoint, keys, 1000, limit=3, empty_parts=True)
    for folder, first in (("batch-0/leaf-003/", "f-00150.txt"), ("batch-4/leaf-099/", "f-04950.txt")):
        open_page(page, url + f"#folder={folder}")
        assert names(page)[:1] == [first], folder
        assert text_of(page, "range") == "1\u201350 of 50 items", folder
    # A search of the whole share finds a file of the first part and one of the last.
    for query, expected in (("f-00007", "batch-0/leaf-000/f-00007.txt"), ("f-04998", "batch-4/leaf-099/f-04998.txt")):
        page.driver.get("about:blank")
        open_page(page, url + f"#view=list&q={query}")
        wait_names(page, [expected], timeout=20)
    # Jump to a name in the first part of the flat list.
    page.driver.get("about:blank")
    open_page(page, url + "#view=list&page=4")
    box = page.driver.find_element(By.ID, "jump-to")
    box.send_keys("batch-0/leaf-001/f-00060")
    box.send_keys(Keys.ENTER)
    WebDriverWait(page.driver, 10).until(lambda _d: "f-00060.txt" in page.driver.switch_to.active_element.text)


def test_a_search_over_every_part_streams_with_progress_and_can_be_stopped(
    page: Browser, hundred_thousand: tuple[str, list[str]]
) -> None:
    url, keys = hundred_thousand
    open_page(page, url + "#view=list")
    page.requested_urls()
    seen_bad = page.driver.execute_script(
        """window.__bad = [];
           new MutationObserver(() => {
             const r = document.getElementById('range').textContent;
             if (/^0.0 of 0\\+/.test(r) && !document.getElementById('next').disabled) window.__bad.push(r);
           }).observe(document.getElementById('range'), {childList: true, characterData: true, subtree: true});
           return window.__bad"""
    )
    assert seen_bad == []
    started = time.monotonic()
    page.driver.execute_script("location.hash = '#view=list&q=file-0499'")
    WebDriverWait(page.driver, 60).until(
        lambda d: (
            d.execute_script("return document.body.dataset.state") == "ready"
            and d.find_element(By.ID, "range").text.endswith(" of 100 matches")
        )
    )
    search_s = time.monotonic() - started
    assert names(page) == [k.removeprefix("shared/") for k in keys if "file-0499" in k]
    assert page.driver.execute_script("return window.__bad") == []
    assert page.driver.execute_script("return 1") == 1
    print(f"100k objects: search over all parts {search_s:.2f} s")

    # A search stopped half-way says so, and keeps what it found.
    # (on a slow network, so that it is still running when asked to stop; with the HTTP
    # cache off, or the parts the first search fetched come back unthrottled and a busy
    # machine saw the search end between the Stop button showing and the click)
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    page.driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 200, "downloadThroughput": 1_000_000, "uploadThroughput": -1},
    )
    try:
        page.driver.execute_script("location.hash = '#view=list&q=file-0999'")
        WebDriverWait(page.driver, 10).until(lambda d: d.find_element(By.ID, "cancel").is_displayed())
        assert "Searching:" in text_of(page, "status")
        click(page, "cancel")
        WebDriverWait(page.driver, 10).until(lambda _d: "Stopped after" in text_of(page, "status"))
        assert page.driver.execute_script("return document.body.dataset.state") == "ready"
        assert not page.driver.find_element(By.ID, "cancel").is_displayed()
    finally:
        unthrottled = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        page.driver.execute_cdp_cmd("Network.emulateNetworkConditions", unthrottled)
        page.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})


def test_a_part_that_cannot_be_read_is_named_once_and_retried_only_when_asked(
    s3: Any, bucket: str, page: Browser
) -> None:
    result = share(s3, bucket, KEYS)
    index = json.loads(requests.get(result["index_url"], timeout=10).content)
    lost = index["parts"][-1]
    s3.delete_object(Bucket=bucket, Key=lost["key"])
    open_page(page, result["page_url"] + "#q=pdf")  # a search needs every part
    WebDriverWait(page.driver, 10).until(lambda d: d.find_element(By.ID, "retry").is_displayed())
    assert f"part {len(index['parts'])} answered HTTP 404 NoSuchKey" in text_of(page, "status")
    time.sleep(1.5)  # a page that retried by itself would ask again and again
    asked = [u for u in page.requested_urls() if lost["key"] in u]
    assert len(asked) == 1
    s3.put_object(Bucket=bucket, Key=lost["key"], Body=b"")  # the reader's "Try again" now succeeds
    click(page, "retry")
    WebDriverWait(page.driver, 10).until(lambda d: not d.find_element(By.ID, "retry").is_displayed())
    wait_ready(page)
    assert "Could not load" not in text_of(page, "status")


def test_an_empty_share_says_so(s3: Any, bucket: str, page: Browser) -> None:
    s3.put_object(Bucket=bucket, Key="elsewhere/a.pdf", Body=b"x")
    result = run_handlers(s3, {"bucket": bucket, "prefix": "shared/", "expires_in": 3600})["index"]
    open_page(page, result["page_url"])
    assert rows(page) == []
    assert "0 files" in text_of(page, "what")
    assert text_of(page, "status") == "Nothing was shared: the list is empty."
