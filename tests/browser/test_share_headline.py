"""The share page's headline in a real browser: the sender's title and message (execution
input), shown as text only, or a plain "Files from BUCKET / PREFIX"; and the link to the
recipient's tool as one file (fanout-fetch.pyz)."""

from __future__ import annotations

import json
from typing import Any

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import Browser
from tests.support.flow import run_handlers
from tests.support.s3_helpers import put_keys

KEYS = ["shared/reports/q1.pdf", "shared/scans/a.pdf"]
TITLE = "Q4 <script>window.__pwned=1</script> & <b>bold</b> \u2014 R\u00e9sum\u00e9s"
MESSAGE = 'Hello,\n<img src=x onerror="window.__pwned=2">\n\nAsk Dana if one is missing.'


def share(s3: Any, bucket: str, **execution: Any) -> dict[str, Any]:
    put_keys(s3, bucket, KEYS)
    return run_handlers(s3, {"bucket": bucket, "prefix": "shared/", "suffix": "", **execution})["index"]


def open_page(browser: Browser, url: str) -> None:
    browser.driver.get(url)
    WebDriverWait(browser.driver, 30).until(
        lambda d: d.execute_script("return document.body.dataset.state") in {"ready", "expired", "failed"}
    )


def header(browser: Browser) -> dict[str, Any]:
    return browser.driver.execute_script(
        """const m = document.getElementById('message');
           return {title: document.title, headline: document.getElementById('headline').textContent,
                   message: m.hidden ? null : m.innerText, markup: document.querySelectorAll('header *').length,
                   pwned: window.__pwned === undefined ? null : window.__pwned,
                   overflow: document.documentElement.scrollWidth - window.innerWidth};"""
    )


def test_the_senders_title_and_message_are_text_in_the_tab_and_the_headline(
    s3: Any, bucket: str, page: Browser
) -> None:
    result = share(s3, bucket, title=TITLE, message=MESSAGE)
    open_page(page, result["page_url"])

    shown = header(page)
    assert (shown["title"], shown["headline"]) == (TITLE, TITLE)
    # Line breaks kept (white-space: pre-line), markup shown as typed, never run or parsed.
    assert shown["message"] == MESSAGE
    assert shown["pwned"] is None
    assert page.driver.find_elements(By.CSS_SELECTOR, "header script, header img, header b") == []
    assert page.console_errors() == []


def test_without_a_title_the_headline_says_where_the_files_are(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket)
    open_page(page, result["page_url"])

    shown = header(page)
    assert shown["headline"] == f"Files from {bucket} / shared"
    assert shown["title"] == shown["headline"]
    assert "s3://" not in shown["headline"]
    assert shown["message"] is None


def test_a_long_title_wraps_at_phone_width(s3: Any, bucket: str, page: Browser) -> None:
    title = "Quarterly-reports-for-the-whole-team-" * 5 + "end"  # 188 characters, no space to break at
    result = share(s3, bucket, title=title)
    page.width(390)
    open_page(page, result["page_url"])

    shown = header(page)
    assert shown["headline"] == title
    assert shown["overflow"] <= 0


def test_the_page_links_the_recipients_tool_as_one_file(s3: Any, bucket: str, page: Browser) -> None:
    result = share(s3, bucket, title="Reports")
    index = json.loads(requests.get(result["index_url"], timeout=10).content)
    open_page(page, result["page_url"])

    link = page.driver.find_element(By.ID, "fetch-tool-link")
    assert link.get_attribute("href") == index["fetch_tool_url"]
    assert link.get_attribute("download") == "fanout-fetch.pyz"
    command = page.driver.find_element(By.ID, "fetch-pyz-command").get_attribute("textContent")
    assert command == f"python3 fanout-fetch.pyz '{result['page_url']}' --to DIR"
    tool = requests.get(index["fetch_tool_url"], timeout=10)
    assert tool.status_code == 200
    assert tool.content.startswith(b"#!/usr/bin/env python3\n")
