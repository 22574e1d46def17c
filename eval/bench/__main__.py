"""`python -m eval.bench <command>`: the commands of eval/bench/."""

from __future__ import annotations

import argparse

import eval.bench
from eval.bench import compare, ease, enrich, guard, index_layer, llama_speed, load, turns


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=eval.bench.__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (index_layer, enrich, turns, compare, ease, guard, load, llama_speed):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
