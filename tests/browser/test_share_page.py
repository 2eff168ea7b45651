"""The share page in a real browser (headless Chromium) against the moto server.

Runs are built the real way (the three handlers); the 100,000-object page is made of parts
written straight to moto (the page cannot tell), so the test does not list 100k keys.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from s3fanout.presign import new_url_signer
from s3fanout.share_page import render_share_page
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


def share(s3: Any, bucket: str, keys: list[str]) -> dict[str, Any]:
    put_keys(s3, bucket, keys)
    return run_handlers(s3, {"bucket": bucket, "prefix": "shared/", "suffix": "", "expires_in": 604800})["index"]


def wait_ready(browser: Browser, timeout: float = 30) -> None:
    WebDriverWait(browser.driver, timeout).until(
        lambda d: d.execute_script("return document.body.dataset.state") in {"ready", "expired", "failed"}
    )


def open_page(browser: Browser, url: str) -> None:
    browser.driver.get(url)
    wait_ready(browser)


def rows(browser: Browser) -> list[tuple[str, str, str]]:
    """(shown name, size text, href or "") of every row on screen."""
    return browser.driver.execute_script(
        """return [...document.querySelectorAll('#rows tr')].map(tr => {
             const a = tr.querySelector('a'), b = tr.querySelector('button');
             return [(a || b || tr.cells[0].firstChild).textContent, tr.cells[1].textContent, a ? a.href : ''];
           });"""
    )


def text_of(browser: Browser, element_id: str) -> str:
    return browser.driver.find_element(By.ID, element_id).text


def test_the_page_shows_what_was_shared_and_every_link_gives_the_exact_bytes(
    s3: Any, bucket: str, page: Browser, moto_endpoint: str
) -> None:
    result = share(s3, bucket, KEYS)
    served = requests.get(result["page_url"], timeout=10)
    assert served.headers["Content-Type"] == "text/html; charset=utf-8"
    index = json.loads(requests.get(result["index_url"], timeout=10).content)
    assert index["page_url"] == result["page_url"]

    open_page(page, result["page_url"])
    what = text_of(page, "what")
    assert f"s3://{bucket}/shared/" in what
    assert "8 files" in what
    assert "Links work for" in text_of(page, "expiry")
    shown = rows(page)
    assert len(shown) == len(KEYS)
    assert text_of(page, "range") == "1\u20138 of 8 files"
    for name, _size, href in shown:
        if name == "a/x/../dots.pdf":  # a browser would resolve the ".." and ask for another key
            assert href == ""
            continue
        assert requests.get(href, timeout=10).content == body_of("shared/" + name)
    assert sorted("shared/" + name for name, _, _ in shown) == sorted(KEYS)
    command = text_of(page, "fetch-command")
    assert command == f"fanout-fetch '{result['page_url']}' --to DIR"

    # Self-contained: every request went to the manifest bucket's origin, and the CSP held.
    origin = urlsplit(moto_endpoint).netloc
    assert {urlsplit(url).netloc for url in page.requested_urls() if not url.startswith(("data:", "blob:"))} == {origin}
    assert page.console_errors() == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.driver.save_screenshot(str(SCREENSHOTS / "share-page.png"))


def test_search_starts_from_the_fragment_and_writes_it_back(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"] + "#q=q1")
    assert page.driver.find_element(By.ID, "search").get_attribute("value") == "q1"
    assert sorted(name for name, _, _ in rows(page)) == ["reports/2024/q1.pdf", "reports/2025/q1.pdf"]

    box = page.driver.find_element(By.ID, "search")
    box.clear()
    box.send_keys("SCANS")
    WebDriverWait(page.driver, 10).until(lambda d: d.execute_script("return location.hash") == "#q=SCANS")
    wait_ready(page)
    WebDriverWait(page.driver, 10).until(lambda _d: len(rows(page)) == 2)
    assert sorted(name for name, _, _ in rows(page)) == ["scans/a.pdf", "scans/deep/er/b.pdf"]
    # The signature is untouched: the URL before the fragment is the page URL itself.
    assert page.driver.current_url.split("#")[0] == result["page_url"]

    page.driver.execute_script("location.hash = '#q=' + encodeURIComponent('root')")
    WebDriverWait(page.driver, 10).until(lambda _d: [r[0] for r in rows(page)] == ["root.pdf"])
    page.driver.execute_script("location.hash = '#q=nothing-like-this'")
    WebDriverWait(page.driver, 10).until(lambda _d: rows(page) == [])
    assert "Nothing matches." in text_of(page, "status")


def test_hostile_keys_stay_inert_and_readable(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, HOSTILE)
    open_page(page, result["page_url"])
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
    page.driver.find_element(By.ID, "view-folders").click()
    wait_ready(page)
    assert [name for name, _, _ in rows(page)] == ["a/", "reports/", "scans/", "root.pdf"]
    page.driver.find_element(By.XPATH, "//tbody//button[.//span[text()='reports/']]").click()
    WebDriverWait(page.driver, 10).until(lambda _d: [r[0] for r in rows(page)] == ["2024/", "2025/"])
    crumbs = page.driver.find_element(By.ID, "crumbs").text
    assert "shared/" in crumbs
    assert "reports/" in crumbs

    page.driver.find_element(By.ID, "view-list").click()
    page.driver.find_element(By.ID, "sort-size").click()
    wait_ready(page)
    assert page.driver.find_element(By.ID, "th-size").get_attribute("aria-sort") == "ascending"
    sizes = [len(body_of("shared/" + name)) for name, _, _ in rows(page)]
    assert sizes == sorted(sizes)
    page.driver.find_element(By.ID, "sort-name").click()
    page.driver.find_element(By.ID, "sort-name").click()  # name, descending
    wait_ready(page)
    names = [name for name, _, _ in rows(page)]
    assert names == sorted(names, reverse=True)
    assert page.driver.find_element(By.ID, "prev").get_attribute("disabled") == "true"
    assert page.driver.find_element(By.ID, "next").get_attribute("disabled") == "true"


def test_saved_aria2c_list_has_every_link_with_a_path_inside_dir(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS)
    open_page(page, result["page_url"])
    page.driver.find_element(By.ID, "save-aria2").click()
    saved = page.downloads / "fanout-links.aria2"
    WebDriverWait(page.driver, 10).until(lambda _d: saved.exists() and saved.stat().st_size > 0)
    lines = saved.read_text(encoding="utf-8").splitlines()
    pairs = {lines[i + 1].strip().removeprefix("out="): lines[i] for i in range(0, len(lines), 2)}
    # Empty segments collapsed, as fanout fetch maps them; not a/x/../dots.pdf: aria2c would
    # resolve the ".." in its URL (the curl list keeps it).
    expected = {key.replace("//", "/") for key in KEYS if "/../" not in key}
    assert "shared/a/double.pdf" in expected
    assert set(pairs) == expected
    for path, url in pairs.items():
        assert requests.get(url, timeout=10).content == body_of(path.replace("a/double", "a//double"))
    assert "Saved fanout-links.aria2: 7 links (1 left out" in text_of(page, "save-status")

    page.driver.find_element(By.ID, "save-curl").click()
    saved = page.downloads / "fanout-links.curl"
    WebDriverWait(page.driver, 10).until(lambda _d: saved.exists() and saved.stat().st_size > 0)
    config = saved.read_text(encoding="utf-8")
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

    open_page(page, page_expiring(time.time() + 3, "soon.html"))
    assert len(rows(page)) == len(KEYS)
    WebDriverWait(page.driver, 10).until(lambda d: d.find_element(By.ID, "expired").is_displayed())
    assert rows(page) == []
    assert not page.driver.find_element(By.ID, "get").is_displayed()


def test_phone_width_and_keyboard(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, KEYS + HOSTILE[-1:])
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
    # The keyboard reaches the search box and then a file link.
    body = page.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    focused = []
    for _ in range(12):
        active = page.driver.switch_to.active_element
        focused.append(active.get_attribute("id") or active.tag_name)
        active.send_keys(Keys.TAB)
    assert "search" in focused
    assert "a" in focused[focused.index("search") :]


@pytest.fixture
def hundred_thousand(s3: Any, bucket: str, moto_endpoint: str) -> tuple[str, list[str]]:
    """A 100,000-object share: 20 parts of 5,000 lines, written as BuildManifest would."""
    signer = new_url_signer(bucket, 3600, region="us-east-1", endpoint_url=moto_endpoint)
    keys = [f"shared/batch-{n // 5000:02d}/file-{n:06d}.bin" for n in range(100_000)]
    parts = []
    for number in range(20):
        chunk = keys[number * 5000 : (number + 1) * 5000]
        body = "".join(
            json.dumps({"key": k, "size": 1000 + i, "etag": "e", "last_modified": "t", "url": signer.presign_get(k)})
            + "\n"
            for i, k in enumerate(chunk)
        ).encode()
        part_key = f"manifests/big/parts/{number:05d}.jsonl"
        s3.put_object(Bucket=bucket, Key=part_key, Body=body)
        parts.append({"key": part_key, "count": len(chunk), "url": signer.presign_get(part_key)})
    index = {
        "run_id": "big",
        "bucket": bucket,
        "prefix": "shared/",
        "suffix": "",
        "created_at": "2026-11-28T00:00:00Z",
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
        "count": 100_000,
        "object_bytes": sum(1000 + i for i in range(5000)) * 20,
        "parts": parts,
    }
    s3.put_object(
        Bucket=bucket,
        Key="manifests/big/index.html",
        Body=render_share_page(index, signer.presign_get("manifests/big/index.json")),
        ContentType="text/html; charset=utf-8",
    )
    return signer.presign_get("manifests/big/index.html"), keys


def test_a_hundred_thousand_objects_first_rows_from_one_part_then_search_over_all(
    page: Browser, hundred_thousand: tuple[str, list[str]]
) -> None:
    url, keys = hundred_thousand
    open_page(page, url)
    first_rows_ms = int(page.driver.execute_script("return document.body.dataset.firstRowsMs"))
    assert [name for name, _, _ in rows(page)] == [k.removeprefix("shared/") for k in keys[:100]]
    assert text_of(page, "range") == "1\u2013100 of 100,000 files"
    # The first rows needed the first part only.
    parts_fetched = [u for u in page.requested_urls() if "/parts/" in u]
    assert len(parts_fetched) == 1

    page.driver.find_element(By.ID, "next").click()
    WebDriverWait(page.driver, 10).until(lambda _d: rows(page)[0][0] == keys[100].removeprefix("shared/"))

    started = time.monotonic()
    page.driver.execute_script("location.hash = '#q=file-0499'")  # 100 keys, spread over one part
    WebDriverWait(page.driver, 60).until(
        lambda d: (
            d.execute_script("return document.body.dataset.state") == "ready"
            and d.find_element(By.ID, "range").text.endswith(" of 100 matches")
        )
    )
    search_s = time.monotonic() - started
    assert [name for name, _, _ in rows(page)] == [k.removeprefix("shared/") for k in keys if "file-0499" in k]
    # Responsive while it loaded: a script round trip answers at once.
    assert page.driver.execute_script("return 1") == 1
    print(f"100k objects: first rows {first_rows_ms} ms, search over all parts {search_s:.2f} s")


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
    page.driver.find_element(By.ID, "retry").click()
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
