"""Writes minimal Outlook .msg files (a Compound File Binary container with MAPI property streams),
so that the msg extractor is tested on real files without shipping binaries."""

import struct

SECTOR = 512
MINI_SECTOR = 64
FREE, END, FAT_MARK = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NO_STREAM = 0xFFFFFFFF


def _entry(
    name: str, kind: int, child: int = NO_STREAM, right: int = NO_STREAM, start: int = END, size: int = 0
):
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)
        + struct.pack("<III", NO_STREAM, right, child)
        + b"\0" * 16
        + struct.pack("<I", 0)
        + b"\0" * 16
        + struct.pack("<IQ", start, size)
    )


def _chain(start: int, count: int) -> list[int]:
    return [start + i + 1 for i in range(count - 1)] + [END]


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A CFB (version 3) whose root storage holds `streams`, each smaller than the 4096-byte cutoff."""
    names = list(streams)
    mini_stream = bytearray()
    mini_fat: list[int] = []
    starts = []
    for name in names:
        data = streams[name]
        sectors = max(1, -(-len(data) // MINI_SECTOR))
        starts.append(len(mini_fat))
        mini_fat += _chain(len(mini_fat), sectors)
        mini_stream += data.ljust(sectors * MINI_SECTOR, b"\0")
    entries = [_entry("Root Entry", 5, child=1, start=0, size=len(mini_stream))]
    for index, name in enumerate(names):
        right = index + 2 if index + 1 < len(names) else NO_STREAM
        entries.append(_entry(name, 2, right=right, start=starts[index], size=len(streams[name])))
    directory = b"".join(entries)
    directory += b"\0" * (-len(directory) % SECTOR)
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat)
    mini_fat_bytes += b"\xff" * (-len(mini_fat_bytes) % SECTOR)
    mini_stream += b"\0" * (-len(mini_stream) % SECTOR)

    dir_count, minifat_count = len(directory) // SECTOR, len(mini_fat_bytes) // SECTOR
    stream_count = len(mini_stream) // SECTOR
    fat_count = 1
    while fat_count * (SECTOR // 4) < fat_count + dir_count + minifat_count + stream_count:
        fat_count += 1
    dir_start = fat_count
    minifat_start = dir_start + dir_count
    stream_start = minifat_start + minifat_count
    fat = [FAT_MARK] * fat_count + _chain(dir_start, dir_count) + _chain(minifat_start, minifat_count)
    fat += _chain(stream_start, stream_count)
    fat += [FREE] * (fat_count * (SECTOR // 4) - len(fat))
    # The root entry's stream (the mini stream) starts at the first stream sector.
    directory = directory[:116] + struct.pack("<I", stream_start) + directory[120:]

    header = bytearray(SECTOR)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    fields = (0, fat_count, dir_start, 0, 4096, minifat_start, minifat_count, END, 0, 0)
    struct.pack_into("<10I", header, 40, *fields)
    difat = list(range(fat_count)) + [FREE] * (109 - fat_count)
    struct.pack_into("<109I", header, 76, *difat)
    return (
        bytes(header) + struct.pack(f"<{len(fat)}I", *fat) + directory + mini_fat_bytes + bytes(mini_stream)
    )


def outlook_message(subject: str, sender: str, to: str, body: str) -> bytes:
    def text(value: str) -> bytes:
        return value.encode("utf-16-le")

    properties = b"\0" * 32  # top-level message header: no recipients or attachments
    return compound_file(
        {
            "__properties_version1.0": properties,
            "__substg1.0_001A001F": text("IPM.Note"),
            "__substg1.0_0037001F": text(subject),
            "__substg1.0_0C1A001F": text(sender),
            "__substg1.0_0E04001F": text(to),
            "__substg1.0_1000001F": text(body),
        }
    )
