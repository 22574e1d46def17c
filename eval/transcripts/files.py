"""The transcript file format: a JSON list of {id, user_id, turns, held_out}; the project's own files live
beside this module (fixed.json, the 20 quick transcripts; all.json, every eligible evaluation user; the same
two for the 2018 file)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable

DEFAULT_FILE = "fixed.json"


@dataclass(frozen=True)
class Transcript:
    id: str
    user_id: int
    turns: tuple[str, ...]
    held_out: tuple[int, ...]

    def to_json(self) -> dict:
        return {"id": self.id, "user_id": self.user_id, "turns": list(self.turns), "held_out": list(self.held_out)}

    @classmethod
    def from_json(cls, data: dict) -> "Transcript":
        return cls(id=str(data["id"]), user_id=int(data.get("user_id", -1)), turns=tuple(data["turns"]),
                   held_out=tuple(int(m) for m in data["held_out"]))


def load_transcripts(path: str | Path | None = None) -> list[Transcript]:
    """A transcript file (a JSON list, or one object); default: the project's 20 fixed transcripts."""
    if path is None:
        text = resources.files("eval.transcripts").joinpath(DEFAULT_FILE).read_text()
    else:
        text = Path(path).read_text()
    data = json.loads(text)
    return [Transcript.from_json(d) for d in (data if isinstance(data, list) else [data])]


def save_transcripts(transcripts: Iterable[Transcript], path: Path) -> None:
    rows = [json.dumps(t.to_json(), ensure_ascii=False) for t in transcripts]
    path.write_text("[\n" + ",\n".join(rows) + "\n]\n")
