"""Stream an object to S3 without holding it in memory: multipart once it outgrows a part."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .errors import AWS_CALL_ERRORS, translate_client_error

if TYPE_CHECKING:
    from collections.abc import Mapping

    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef


class StreamingUpload:
    """Buffered writer that uploads ``part_size`` chunks as multipart parts.

    Small objects (under one part) are a single PutObject. Memory stays at about one part
    whatever the object's size. On failure, ``abort()`` removes any multipart upload so
    nothing dangles.
    """

    def __init__(self, client: S3Client, bucket: str, key: str, *, content_type: str, part_size: int) -> None:
        self._client = client
        self.bucket = bucket
        self.key = key
        self._content_type = content_type
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self.bytes_written = 0
        # The finished object's ETag, as S3 answered it (None until ``close``).
        self.etag: str | None = None

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)

    @property
    def needs_flush(self) -> bool:
        return len(self._buffer) >= self._part_size

    async def flush(self) -> None:
        """Upload full parts from the buffer (call after ``write`` when ``needs_flush``)."""
        while len(self._buffer) >= self._part_size:
            chunk = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            await self._upload_part(chunk)

    async def _upload_part(self, chunk: bytes) -> None:
        try:
            if self._upload_id is None:
                created = await self._client.create_multipart_upload(
                    Bucket=self.bucket, Key=self.key, ContentType=self._content_type
                )
                self._upload_id = created["UploadId"]
            number = len(self._parts) + 1
            response = await self._client.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=chunk
            )
        except AWS_CALL_ERRORS as exc:
            raise translate_client_error(exc, bucket=self.bucket, operation="UploadPart") from exc
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    @property
    def single_put(self) -> bool:
        """Whether ``close`` writes the whole object (one PutObject, which can carry metadata
        known only at the end): nothing was uploaded in parts yet."""
        return self._upload_id is None

    async def close(self, metadata: Mapping[str, str] | None = None) -> int:
        """Finish the object; returns its size in bytes. ``metadata``: user metadata for a
        single PutObject (ignored once the object went up in parts; see ``single_put``)."""
        try:
            if self._upload_id is None:
                put = await self._client.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=bytes(self._buffer),
                    ContentType=self._content_type,
                    Metadata=dict(metadata or {}),
                )
                self.etag = put.get("ETag")
            else:
                if self._buffer:
                    await self._upload_part(bytes(self._buffer))
                completed = await self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self.etag = completed.get("ETag")
        except AWS_CALL_ERRORS as exc:
            raise translate_client_error(exc, bucket=self.bucket, operation="PutObject") from exc
        self._buffer.clear()
        return self.bytes_written

    async def abort(self) -> None:
        """Drop a started multipart upload; best effort (the original error matters more)."""
        self._buffer.clear()
        if self._upload_id is None:
            return
        upload_id, self._upload_id = self._upload_id, None
        with contextlib.suppress(*AWS_CALL_ERRORS):
            await self._client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
