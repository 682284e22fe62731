"""Where uploaded files and crawled pages live: the data directory (`STORAGE_TYPE=local`, the
embedded default) or any S3-compatible store (`STORAGE_TYPE=s3`: AWS S3, MinIO, Ceph, R2, ...), so
several API hosts and workers share them.

Files are content-addressed (`ab/abcdef….ext`) and written once. Uploads are always streamed to a
local temporary file first (the size limit and the hash are checked while the bytes arrive); S3 then
receives the file in multipart chunks, and reads come back as a stream, or as a temporary local copy
where a parser needs a path.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from core.settings import Settings

CHUNK_BYTES = 1024 * 1024
TEMP_DIR = "tmp"  # under the upload directory: uploads in progress, local copies of S3 files


class FileStorage(Protocol):
    def exists(self, key: str) -> bool: ...

    def save(self, key: str, finished: Path) -> None:
        """Takes a finished local file (moved or uploaded, then gone) as `key`."""

    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local path to the file for the block (a temporary download on S3)."""

    def chunks(self, key: str) -> Iterator[bytes]: ...

    def delete(self, key: str) -> None: ...

    def stored_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time (Unix seconds)."""


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def save(self, key: str, finished: Path) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(finished, target)  # identical content lands on the same key

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self.root / key

    def chunks(self, key: str) -> Iterator[bytes]:
        with open(self.root / key, "rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def stored_keys(self) -> Iterator[tuple[str, float]]:
        if not self.root.exists():
            return
        for path in self.root.glob("*/*"):
            if path.is_file() and path.parent.name != TEMP_DIR:
                yield path.relative_to(self.root).as_posix(), path.stat().st_mtime


class S3Storage:
    def __init__(self, settings: Settings):
        import boto3
        from botocore.config import Config

        self.bucket = settings.s3_bucket_name
        self.temp_dir = settings.upload_dir / TEMP_DIR
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key or None,  # else boto3's own chain (IAM roles, ...)
            aws_secret_access_key=settings.s3_secret_key or None,
            config=Config(s3={"addressing_style": settings.s3_address_style}, retries={"mode": "standard"}),
        )

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def save(self, key: str, finished: Path) -> None:
        try:
            self.client.upload_file(str(finished), self.bucket, key)  # multipart above 8 MB
        finally:
            finished.unlink(missing_ok=True)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.temp_dir, suffix=Path(key).suffix)
        os.close(handle)
        try:
            self.client.download_file(self.bucket, key, name)
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def chunks(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def stored_keys(self) -> Iterator[tuple[str, float]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"].timestamp()


# One client per store: boto3 clients are thread-safe and keep their connections.
_s3_stores: dict[tuple, S3Storage] = {}


def file_storage(settings: Settings) -> FileStorage:
    if settings.storage_type != "s3":
        return LocalStorage(settings.upload_dir)
    store = (settings.s3_endpoint, settings.s3_bucket_name, settings.s3_region, settings.s3_access_key)
    if store not in _s3_stores:
        _s3_stores[store] = S3Storage(settings)
    return _s3_stores[store]
