"""`python -m eval.redial build|reading --split dev|test`: ReDial dialogues as transcripts, and the reading check.

    build    writes a transcripts file (`movierec eval --transcripts FILE`, `movierec recommend --transcript
             FILE`) from the split's dialogues on the data dir's catalog; prints what converted and why the rest
             dropped
    reading  runs a reader over the seeker's turns and compares it with the gold labels
             (eval/redial/labels_<split>.jsonl): precision and recall per signal

The test split is reported once, never tuned on (eval/redial/split.json). ReDial (Li et al., 2018, NeurIPS;
CC BY 4.0); files written from it keep that license and attribution.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.redial.convert import convert_all
from eval.redial.dialogues import SPLITS, dialogues_of, source_differs, source_path
from eval.transcripts.files import save_transcripts
from index.errors import UserError
from index.matching import TitleMatcher
from index.workspace import Workspace


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", choices=SPLITS, required=True)
    parser.add_argument("--data-dir", help="a data dir whose catalog to use (default $MOVIEREC_DATA_DIR or .movierec)")
    parser.add_argument("--dialogues", help="redial_iard_dev.json (default $MOVIEREC_REDIAL or "
                                            "../shared/data/redial_iard/redial_iard_dev.json)")


def _open(args, llm: str = "none") -> tuple[Workspace, list]:
    path = source_path(args.dialogues)
    dialogues = dialogues_of(args.split, path)
    if source_differs(path):
        print(f"warning: {path} is not the file eval/redial/split.json was frozen on (sha256 differs)",
              file=sys.stderr)
    return Workspace.open(args.data_dir, llm_choice=llm), dialogues


def build(args) -> int:
    ws, dialogues = _open(args)
    catalog = ws.catalog
    conversion = convert_all(dialogues, TitleMatcher(catalog), max(m.year or 0 for m in catalog))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_transcripts(conversion.transcripts, out)
    print(f"catalog: {catalog.source} ({len(catalog)} movies)")
    print(conversion.summary(args.split, len(dialogues)))
    print(f"{len(conversion.transcripts)} transcripts written to {out} (derived from ReDial, Li et al. 2018, "
          f"CC BY 4.0)")
    return 0


def reading(args) -> int:
    from eval.redial.reading import READERS, make_reader, reading_check

    ws, dialogues = _open(args, args.llm)
    reader = make_reader(args.reader, ws)
    dialogues = dialogues[: args.first] if args.first else dialogues
    result = reading_check(dialogues, args.split, reader, TitleMatcher(ws.catalog), progress=sys.stderr)
    if args.json:
        print(json.dumps({"split": args.split, "dialogues": len(dialogues), "reader": args.reader,
                          "catalog": ws.catalog.source, **result.to_json()}))
    else:
        print(f"reader: {args.reader} (of {', '.join(READERS)}); catalog: {ws.catalog.source}; split: {args.split} "
              f"({len(dialogues)} dialogues)")
        print(result.to_markdown())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.redial", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="write the split's dialogues as a transcripts file")
    _common(build_cmd)
    build_cmd.add_argument("--out", required=True, help="the transcripts file to write")
    build_cmd.set_defaults(run=build)
    reading_cmd = commands.add_parser("reading", help="a reader's precision and recall against the gold labels")
    _common(reading_cmd)
    reading_cmd.add_argument("--reader", default="rules", help="which reader (default rules)")
    reading_cmd.add_argument("--llm", default="auto", help="backend for an LLM reader, as movierec --llm "
                                                          "(the rules use none)")
    reading_cmd.add_argument("--first", type=int, metavar="N", help="only the split's first N dialogues (an LLM "
                                                                   "reader takes seconds per utterance)")
    reading_cmd.add_argument("--json", action="store_true", help="print the result as one JSON object")
    reading_cmd.set_defaults(run=reading)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"python -m eval.redial: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
