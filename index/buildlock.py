"""One build at a time per data dir: `movierec index` and `movierec enrich` hold `<data dir>/build.lock`.

The lock is a `filelock.FileLock` (flock: the operating system frees it when its holder dies, so a crashed
build never leaves the data dir locked). Beside it, `build.lock.json` says who holds it (pid, command, host,
since when), so a second build can say whom it waits for; that file is a note for people, never the lock.
Readers (chat, ui, eval) take no lock: builds replace collections whole (index/store.py), so a reader always
opens a complete one.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from index.errors import UserError

LOCK_NAME = "build.lock"
HOLDER_NAME = "build.lock.json"


class DataDirBusy(UserError):
    """Another build holds the data dir and the caller chose not to wait."""


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    host: str
    since: str  # UTC, ISO 8601

    def describe(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"`{self.command}` (pid {self.pid}{where}, since {self.since} UTC)"


def current_holder(root: Path) -> Holder | None:
    """Who holds the build lock of `root`, as its holder wrote it down; None when nobody (known) does."""
    try:
        holder = Holder(**json.loads((root / HOLDER_NAME).read_text()))
    except (OSError, ValueError, TypeError):  # absent, half-written or from another version: unknown
        return None
    if holder.host == socket.gethostname() and not _alive(holder.pid):
        return None  # left behind by a build that was killed
    return holder


def busy_line(root: Path) -> str:
    holder = current_holder(root)
    return f"the data dir {root} is being built by {holder.describe() if holder else 'another process'}"


def unbuilt_note(root: Path) -> str:
    """What to add to "not built yet" when a build is running right now, else nothing."""
    return f" ({busy_line(root)}: try again when it finishes)" if current_holder(root) else ""


@contextmanager
def build_lock(root: Path, command: str, wait: bool = True) -> Iterator[None]:
    """Hold the data dir's build lock for the block; a busy lock is one line on stderr, then a wait.

    With `wait=False` a busy lock raises DataDirBusy (the command exits 2 with that line) instead.
    """
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise DataDirBusy(f"{busy_line(root)}; try again when it finishes") from None
        print(f"movierec: {busy_line(root)}; waiting for it to finish", file=sys.stderr, flush=True)
        lock.acquire()
    holder_path = root / HOLDER_NAME
    try:
        holder = {"pid": os.getpid(), "command": command, "host": socket.gethostname(),
                  "since": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())}
        partial = holder_path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(holder) + "\n")
        partial.replace(holder_path)  # a waiter never reads half of it
        yield
    finally:
        holder_path.unlink(missing_ok=True)
        lock.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
