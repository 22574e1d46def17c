"""`python -m handrolled {index,chat,recommend}`: the hand-rolled path's own small command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from index.errors import UserError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["chat"]:
        from handrolled.chat import main as chat

        return chat(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m handrolled", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=".movierec")
    parser.add_argument("--llm", default="auto", help="auto, openai, openai-like, none")
    parser.add_argument("--collection", default="auto", help="auto, baseline, enriched")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("index", help="build (or reuse) the hand-rolled collection")
    commands.add_parser("chat", help="chat in the terminal")
    recommend = commands.add_parser("recommend", help="replay one transcript's user turns")
    recommend.add_argument("--transcript", type=Path, required=True, help="a transcript JSON object or list")
    recommend.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except UserError as exc:
        print(f"handrolled: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from handrolled.pipeline import Handrolled

    llm = "none" if args.command == "index" else args.llm
    pipeline = Handrolled.open(args.data_dir, llm=llm, recipe=args.collection, show_progress=True)
    if args.command == "index":
        return 0
    turns = transcript_turns(args.transcript)
    result = pipeline.recommend(turns)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"llm: {result.llm}; collection: {result.collection}; {result.seconds:.2f} s")
        for rec in result.recommendations:
            print(f"- {rec.title}: {rec.reason}")
    return 0


def transcript_turns(path: Path) -> list[str]:
    """The user turns of the first transcript in a file (the transcript contract of DESIGN.md)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read the transcript {path}: {exc}") from exc
    first = data[0] if isinstance(data, list) and data else data
    turns = first.get("turns") if isinstance(first, dict) else None
    if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
        raise UserError(f"{path} has no transcript with a 'turns' list of strings")
    return turns


if __name__ == "__main__":
    raise SystemExit(main())
