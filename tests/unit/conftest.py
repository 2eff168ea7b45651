"""Fixtures the signing tests share (test_sigv4, test_list_probe): botocore's pure-Python
signer at a frozen clock, the reference our signers must reproduce byte for byte."""

from __future__ import annotations

import datetime as dt

import botocore.auth
import pytest

# Naive UTC, like botocore's get_current_datetime; the last seconds of a leap day (rollovers).
FROZEN = dt.datetime(2024, 2, 29, 23, 59, 58)  # noqa: DTZ001
FROZEN_EPOCH = int(FROZEN.replace(tzinfo=dt.UTC).timestamp())


@pytest.fixture
def pure_python_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore without awscrt: its pure-Python SigV4 is the reference."""
    monkeypatch.setenv("BOTO_DISABLE_CRT", "true")


@pytest.fixture
def frozen_botocore(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """botocore signs at now[0]."""
    now = [FROZEN]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: now[0])
    return now
