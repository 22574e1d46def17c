"""enriched.jsonl: one JSON object per LLM-enriched movie, appended as each one finishes.

A row is keyed by (movie_id, model, prompt version). `RowWriter` appends each row as one complete line in a
single write, then flushes and fsyncs it, so a killed run loses no finished row. It holds an exclusive lock
on the file while open, so two runs never interleave, and on opening it cuts a torn last line (what a crash
in the middle of a write leaves) rather than appending after it. The reader trusts only lines that parse
into a complete row, and keeps one row per key: the first "ok" row, else the newest failed one.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from index.errors import UserError

OK, INVALID, ERROR = "ok", "invalid", "error"  # invalid: the reply failed validation; error: the call failed
STATUSES = (OK, INVALID, ERROR)

RowKey = tuple[int, str, str]


class CacheLocked(UserError):
    """Another process is appending to the same enriched.jsonl."""


@dataclass(frozen=True)
class EnrichedRow:
    movie_id: int
    model: str
    prompt: str  # prompt version, e.g. "critic-v1"
    status: str
    text: str
    tokens_in: int
    tokens_out: int
    tokens_from: str  # "usage": reported by the response; "estimate": counted with the cl100k tokenizer
    seconds: float  # wall time of the row, retries and backoff included
    attempts: int  # LLM calls made for the row
    at: str  # UTC time the row finished, ISO 8601
    error: str | None = None  # why a row failed

    @property
    def key(self) -> RowKey:
        return self.movie_id, self.model, self.prompt

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_line(self) -> bytes:
        return (json.dumps(asdict(self), ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_line(cls, line: str | bytes) -> "EnrichedRow | None":
        """The row a line holds, or None for anything that is not one whole, well-typed row."""
        try:
            data = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        types = {"movie_id": int, "model": str, "prompt": str, "status": str, "text": str, "tokens_in": int,
                 "tokens_out": int, "tokens_from": str, "seconds": (int, float), "attempts": int, "at": str}
        if any(not isinstance(data.get(name), kind) or isinstance(data.get(name), bool) for name, kind in types.items()):
            return None
        if data["status"] not in STATUSES:
            return None
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class CacheContents:
    rows: dict[RowKey, EnrichedRow]  # one per key
    untrusted_lines: int  # lines that are not a whole row (a torn tail, a hand edit)
    duplicate_lines: int  # rows whose key an earlier row already settled

    def texts(self, model: str, prompt: str) -> dict[int, str]:
        return {r.movie_id: r.text for r in self.rows.values() if r.ok and r.model == model and r.prompt == prompt}

    def done(self) -> set[RowKey]:
        return {key for key, row in self.rows.items() if row.ok}

    def models(self, prompt: str) -> Counter[str]:
        """Finished rows per model for one prompt version."""
        return Counter(r.model for r in self.rows.values() if r.ok and r.prompt == prompt)


class EnrichedCache:
    def __init__(self, path: Path):
        self.path = Path(path)

    def read(self) -> CacheContents:
        rows: dict[RowKey, EnrichedRow] = {}
        untrusted = duplicates = 0
        if not self.path.exists():
            return CacheContents(rows, 0, 0)
        with open(self.path, "rb") as lines:
            for line in lines:
                if not line.strip():
                    continue
                row = EnrichedRow.from_line(line)
                if row is None:
                    untrusted += 1
                    continue
                kept = rows.get(row.key)
                if kept is not None:
                    duplicates += 1
                    if kept.ok:
                        continue
                rows[row.key] = row
        return CacheContents(rows, untrusted, duplicates)

    def writer(self) -> "RowWriter":
        return RowWriter(self.path)


class RowWriter:
    """Appends rows durably; use as a context manager."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self.repaired_bytes = 0  # a torn tail cut on opening

    def __enter__(self) -> "RowWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CacheLocked(f"another `movierec enrich` is writing {self.path}; let it finish first") from None
        self._fd = fd
        self._repair_tail()
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def append(self, row: EnrichedRow) -> None:
        assert self._fd is not None, "RowWriter used outside its with block"
        data = memoryview(row.to_line())
        while data:  # O_APPEND: each write lands at the current end of the file
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)

    def _repair_tail(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        content = os.pread(self._fd, size, 0)
        if content.endswith(b"\n"):
            return
        tail = content[content.rfind(b"\n") + 1:]
        if EnrichedRow.from_line(tail) is not None:  # whole row, only its newline missing
            os.write(self._fd, b"\n")
        else:
            os.ftruncate(self._fd, size - len(tail))
            self.repaired_bytes = len(tail)
        os.fsync(self._fd)
