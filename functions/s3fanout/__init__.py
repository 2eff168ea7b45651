"""S3 prefix -> one shareable index of presigned-URL manifests (Lambda code)."""

from __future__ import annotations

__version__ = "0.1.0"
