"""Hash guards for library internals we override (aiobotocore's test_patches.py pattern): a
pinned library whose guarded source changed fails the test naming the override to re-check."""

from __future__ import annotations

import hashlib
import inspect


def source_digest(obj: object) -> str:
    return hashlib.sha1(inspect.getsource(obj).encode()).hexdigest()
