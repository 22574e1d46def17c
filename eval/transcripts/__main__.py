"""`python -m eval.transcripts build|show`: write the evaluation transcripts, or describe a transcript file."""

from __future__ import annotations

import argparse
from pathlib import Path

import eval.transcripts.build
from eval.transcripts.build import N_TRANSCRIPTS, build_eval_transcripts, describe
from eval.transcripts.files import DEFAULT_FILE, load_transcripts, save_transcripts
from index.catalog import load_catalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.transcripts", description=eval.transcripts.build.__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the transcripts from evaluation users")
    build_cmd.add_argument("--source", default="bundled", help="catalog source (as `movierec index --source`)")
    build_cmd.add_argument("--limit", type=int, default=5000)
    build_cmd.add_argument("--n", type=int, default=N_TRANSCRIPTS)
    build_cmd.add_argument("--all", action="store_true", help="every eligible evaluation user (overrides --n)")
    build_cmd.add_argument("--out", type=Path, default=Path(__file__).with_name(DEFAULT_FILE))
    show = sub.add_parser("show", help="describe a transcript file")
    show.add_argument("--source", default="bundled")
    show.add_argument("--limit", type=int, default=5000)
    show.add_argument("--file", type=Path)
    args = parser.parse_args(argv)
    catalog = load_catalog(args.source, limit=args.limit)
    if args.command == "show":
        print(describe(load_transcripts(args.file), catalog))
        return 0
    build = build_eval_transcripts(catalog, None if args.all else args.n)
    save_transcripts(build.transcripts, args.out)
    print(describe(build, catalog))
    print(f"\n{len(build.transcripts)} transcripts written to {args.out}; {build.eligible} eligible users tried, "
          f"{len(build.no_profile)} without two nameable loved films in their profile part")
    for miss in build.misses:
        print(f"reader miss (user {miss.user_id}): {' / '.join(miss.turns)}\n    " + "\n    ".join(miss.problems))
    for movie_id, name in dict(build.unnameable).items():
        print(f"name not resolved: {name!r} (movie {movie_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
