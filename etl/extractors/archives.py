"""Formats that are ZIP archives (docx, xlsx, pptx, epub) are read only after the whole archive has
been inflated once, chunk by chunk, within bounds: a small file whose members inflate to gigabytes (a
ZIP bomb) is refused while streaming, without trusting the sizes the archive declares and without
holding more than a chunk in memory. The libraries that read these formats then inflate members whole,
which is safe once the archive is known to stay within the bounds."""

import zipfile
from dataclasses import dataclass
from pathlib import Path

from etl.extractors.base import ExtractionError

ARCHIVE_FORMATS = {"docx": "DOCX", "xlsx": "XLSX", "pptx": "PPTX", "epub": "EPUB"}
CHUNK_BYTES = 2**20
# Below this a member's ratio is not judged: small, highly repetitive XML parts are normal.
RATIO_FLOOR_BYTES = 2**20


@dataclass(frozen=True)
class ArchiveLimits:
    max_expanded_bytes: int = 100 * 2**20  # all members together
    max_member_bytes: int = 100 * 2**20
    max_members: int = 10_000
    max_ratio: int = 200  # inflated bytes per compressed byte, for a member past RATIO_FLOOR_BYTES


def check_archive(path: Path, extension: str, limits: ArchiveLimits) -> None:
    """Raises ExtractionError, naming the limit, when the archive passes one of `limits`; a damaged
    archive is refused too."""
    kind = ARCHIVE_FORMATS[extension]
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > limits.max_members:
                count = len(members)
                raise _bomb(kind, f"it holds {count} files, more than the {limits.max_members} allowed")
            expanded = 0
            for member in members:
                expanded += _inflated_size(archive, member, kind, limits, expanded)
    except zipfile.BadZipFile as error:
        raise ExtractionError(f"The {kind} file is damaged or not a {kind} file: {error}") from error


def _inflated_size(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, kind: str, limits: ArchiveLimits, before: int
) -> int:
    size = 0
    with archive.open(member) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            size += len(chunk)
            if size > limits.max_member_bytes:
                limit = _mb(limits.max_member_bytes)
                raise _bomb(kind, f"{member.filename} expands past the {limit} allowed")
            if before + size > limits.max_expanded_bytes:
                raise _bomb(kind, f"it expands past the {_mb(limits.max_expanded_bytes)} allowed")
            if size > RATIO_FLOOR_BYTES and size > limits.max_ratio * max(member.compress_size, 1):
                raise _bomb(
                    kind, f"{member.filename} expands more than {limits.max_ratio} times its compressed size"
                )
    return size


def _bomb(kind: str, reason: str) -> ExtractionError:
    return ExtractionError(f"The {kind} file was not read: {reason} (a ZIP bomb?).")


def _mb(size: int) -> str:
    return f"{size // 2**20} MB"
