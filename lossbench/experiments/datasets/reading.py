"""A table file's bytes, bounded before pandas sees them: the file (or what a gzip file
expands to) must fit in the memory available, and no line may be longer than a row can
sensibly be, so that a 6 GB file, a gzip bomb or 100 MB without a newline is one line saying
which limit, not a MemoryError or a parser running for a quarter of an hour."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np

from lossbench import system
from lossbench.errors import LossbenchError

__all__ = ["MAX_LINE_BYTES", "MEMORY_PER_BYTE", "check_parquet", "table_bytes"]

MAX_LINE_BYTES = 1_000_000  # a row of a million characters: some 50,000 numeric columns
# resident memory per byte of CSV text while pandas parses it and lossbench fits on it
# (measured: a 192 MB CSV peaked at 0.92 GB, 4.8 per byte; 1 GB of gzip-ed CSV at 8 GB)
MEMORY_PER_BYTE = 8
_GZIP = b"\x1f\x8b"
_CHUNK = 1 << 20


def table_bytes(path: Path, where: tuple) -> tuple[str, bytes]:
    """(SHA-256 of the file, its text bytes) for a CSV/TSV file, gzip-compressed or not,
    within the limits."""
    budget = system.available_memory() // MEMORY_PER_BYTE
    try:
        size = path.stat().st_size
        if size > budget:
            raise _too_big(path, f"{size / 1e9:.2g} GB", budget, where)
        with open(path, "rb") as handle:
            raw = handle.read(budget + 1)  # a FIFO or /dev/zero has no size: read at most this
    except OSError as error:
        raise LossbenchError(f"cannot read {path} ({error.strerror})", where=where) from None
    if len(raw) > budget:
        raise _too_big(path, "more than that", budget, where)
    digest = hashlib.sha256(raw).hexdigest()
    if raw[:2] == _GZIP:
        raw = _gunzip(raw, path, budget, where)
    _check_lines(raw, path, where)
    return digest, raw


def check_parquet(path: Path, where: tuple) -> None:
    """Refuse a Parquet file whose values would not fit in the memory available."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as error:  # pyarrow's own kinds: all mean unreadable
        raise LossbenchError(f"cannot read {path.name} as Parquet ({error})", where=where) from None
    needed = meta.num_rows * meta.num_columns * 8 * 3  # float64 values, pandas' copies
    if needed > system.available_memory():
        raise LossbenchError(
            f"{path.name} holds {meta.num_rows:,} rows × {meta.num_columns} columns, about "
            f"{needed / 1e9:.2g} GB to read; {system.available_memory() / 1e9:.2g} GB is "
            "available: use a sample of the rows, or a bigger machine",
            where=where,
        )


def _too_big(path: Path, size: str, budget: int, where: tuple) -> LossbenchError:
    return LossbenchError(
        f"{path.name} is {size}; reading it could take {MEMORY_PER_BYTE}× that in memory and "
        f"{system.available_memory() / 1e9:.2g} GB is available (at most "
        f"{budget / 1e9:.2g} GB of text here): use a sample of the rows, or a bigger machine",
        where=where,
    )


def _gunzip(raw: bytes, path: Path, budget: int, where: tuple) -> bytes:
    """Decompress in bounded steps: a gzip bomb stops at the budget, not at the last byte."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    parts, total, pending = [], 0, raw
    try:
        while pending and not inflate.eof:
            part = inflate.decompress(pending, _CHUNK)
            total += len(part)
            if total > budget:
                raise LossbenchError(
                    f"{path.name} expands to more than {budget / 1e9:.2g} GB of text, more "
                    "than fits in the memory available to read it",
                    where=where,
                )
            parts.append(part)
            pending = inflate.unconsumed_tail
    except zlib.error as error:
        raise LossbenchError(
            f"{path.name}: not a readable gzip file ({error})", where=where
        ) from None
    return b"".join(parts)


def _check_lines(raw: bytes, path: Path, where: tuple) -> None:
    ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == ord("\n"))
    edges = np.concatenate(([-1], ends, [len(raw)]))
    lengths = np.diff(edges) - 1
    if len(lengths) and lengths.max() > MAX_LINE_BYTES:
        line = int(lengths.argmax()) + 1
        raise LossbenchError(
            f"{path.name}: line {line} is {int(lengths.max()):,} bytes long, more than a table "
            f"row can be ({MAX_LINE_BYTES:,}); is it a CSV file with one row per line?",
            where=where,
        )
