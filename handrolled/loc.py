"""`python -m handrolled.loc [--detail] [--json]`: lines of code per stage, for both paths.

A line counts when it holds code: blank lines, comment-only lines and docstrings do not count. A spec is
a file ("tools/rerank.py") or one top-level name in it ("tools/search.py:recommend", "Class.method"); a
whole-file spec counts the lines no named spec elsewhere in the table claims, so nothing counts twice.
Code both paths share (catalog, matching, preference rules, guard rules, collaborative filtering) is
listed apart and counted once.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingestion", "retrieval", "rerank", "chat/memory", "guards glue", "wiring")
LLAMAINDEX = {
    "ingestion": ["index/store.py", "index/build.py", "index/embeddings.py:load_embedder"],
    "retrieval": ["tools/candidates.py", "tools/search.py:request_from", "tools/search.py:_query_text",
                  "tools/search.py:_valid_genres", "tools/search.py:MOVIELENS_GENRES"],
    "rerank": ["tools/rerank.py", "tools/reasons.py", "tools/search.py:recommend", "tools/search.py:_nodes",
               "tools/search.py:_conversation"],
    "chat/memory": ["agent/session.py", "agent/dialogue.py", "agent/prompts.py", "tools/registry.py",
                    "tools/session.py", "tools/search.py", "ui/terminal.py"],
    "guards glue": ["agent/session.py:ChatSession._guard"],
    "wiring": ["tools/services.py", "index/llm/backends.py", "index/llm/openai_compat.py", "ui/cli.py:_index",
               "ui/cli.py:_chat", "eval/pipelines.py:AgentToolPath"],
}
HANDROLLED = {
    "ingestion": ["handrolled/ingest.py"],
    "retrieval": ["handrolled/retrieve.py", "handrolled/keyword.py"],
    "rerank": ["handrolled/rerank.py", "handrolled/reasons.py", "handrolled/pipeline.py:Handrolled.answer",
               "handrolled/pipeline.py:conversation"],
    "chat/memory": ["handrolled/chat.py"],
    "guards glue": ["handrolled/guarded.py"],
    "wiring": ["handrolled/pipeline.py", "handrolled/llm.py", "handrolled/__main__.py"],
}
SHARED = ["index/catalog.py", "index/titles.py", "index/population.py", "index/matching.py", "index/collab/itemknn.py",
          "index/recommendation.py", "index/embeddings.py:embedder_path", "tools/preferences/__init__.py",
          "tools/preferences/films.py", "tools/preferences/conditions.py", "tools/preferences/audience.py",
          "tools/preferences/vocabulary.py",
          "agent/guards/readings.py", "agent/guards/rules.py", "agent/guards/pushed.py", "agent/guards/screen.py",
          "agent/guards/output.py"]
NOT_COMPARED = {"index/llm/local.py": "in-process llama.cpp LLM for LlamaIndex (the hand-rolled path needs a server)",
                "index/llm/runtime.py": "the llama.cpp runtime behind it",
                "index/llm/turns.py": "tool calls as text for models without native tool calling",
                "index/llm/toolcalls.py": "parsing tool calls out of free-form replies",
                "index/llm/rendering.py": "conversations with tools as plain chat turns",
                "index/llm/structured.py": "grammar-constrained structured output",
                "index/llm/gguf.py": "finding and verifying the local model files",
                "agent/usage.py": "token metering, which the hand-rolled path does not do",
                "tools/lookup.py": "the lookup_movie agent tool, no hand-rolled counterpart",
                "tools/similar.py": "the similar_to agent tool, no hand-rolled counterpart"}


def code_lines(source: str) -> set[int]:
    """Line numbers holding code: not blank, not only a comment, not part of a docstring."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines - _docstring_lines(ast.parse(source))


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def symbol_span(tree: ast.Module, name: str) -> range | None:
    """The lines of a top-level def, class or assignment, or of `Class.method`."""
    body, *rest = name.split(".")
    for node in tree.body:
        names = [t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)]
        if getattr(node, "name", None) == body or body in names:
            if rest:
                inner = ast.Module(body=getattr(node, "body", []), type_ignores=[])
                return symbol_span(inner, ".".join(rest))
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            return range(start, node.end_lineno + 1)
    return None


class Counter:
    def __init__(self, root: Path = ROOT):
        self.root = root
        self.notes: list[str] = []
        self._claimed: dict[str, set[int]] = {}

    def claim(self, tables: list[dict[str, list[str]] | list[str]]) -> None:
        """Named specs take their lines away from whole-file specs of the same file."""
        for table in tables:
            for spec in (s for specs in (table.values() if isinstance(table, dict) else [table]) for s in specs):
                path, _, name = spec.partition(":")
                if name and (span := self._span(path, name)) is not None:
                    self._claimed.setdefault(path, set()).update(span)

    def count(self, spec: str) -> int:
        path, _, name = spec.partition(":")
        source = self._source(path)
        if source is None:
            self.notes.append(f"{path}: not in this checkout (counted 0)")
            return 0
        lines = code_lines(source)
        if not name:
            return len(lines - self._claimed.get(path, set()))
        span = self._span(path, name)
        if span is None:
            self.notes.append(f"{spec}: no such name (counted 0)")
            return 0
        return len(lines & set(span))

    def _source(self, path: str) -> str | None:
        file = self.root / path
        return file.read_text() if file.is_file() else None

    def _span(self, path: str, name: str) -> range | None:
        source = self._source(path)
        return symbol_span(ast.parse(source), name) if source is not None else None


def table(counter: Counter) -> dict:
    counter.claim([LLAMAINDEX, HANDROLLED, SHARED])
    stages = {stage: {"llamaindex": {s: counter.count(s) for s in LLAMAINDEX[stage]},
                      "handrolled": {s: counter.count(s) for s in HANDROLLED[stage]}} for stage in STAGES}
    return {"stages": stages, "shared": {s: counter.count(s) for s in SHARED},
            "not_compared": {p: counter.count(p) for p in NOT_COMPARED}, "notes": counter.notes}


def markdown(result: dict, detail: bool = False) -> str:
    rows = ["| stage | LlamaIndex path | hand-rolled |", "|---|---:|---:|"]
    totals = [0, 0]
    for stage, paths in result["stages"].items():
        li, hr = sum(paths["llamaindex"].values()), sum(paths["handrolled"].values())
        totals = [totals[0] + li, totals[1] + hr]
        rows.append(f"| {stage} | {li} | {hr} |")
    rows.append(f"| **total** | **{totals[0]}** | **{totals[1]}** |")
    rows.append(f"\nshared by both, counted once: {sum(result['shared'].values())} lines "
                f"({', '.join(result['shared'])})")
    rows.append("not compared: " + "; ".join(f"{p} {n} lines ({NOT_COMPARED[p]})"
                                             for p, n in result["not_compared"].items()))
    if detail:
        rows.append("\n| stage | path | file or name | lines |\n|---|---|---|---:|")
        for stage, paths in result["stages"].items():
            for side, specs in paths.items():
                rows += [f"| {stage} | {side} | `{spec}` | {n} |" for spec, n in specs.items()]
    rows += [f"note: {n}" for n in result["notes"]]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handrolled.loc", description=__doc__.splitlines()[0])
    parser.add_argument("--detail", action="store_true", help="one row per file or name")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = table(Counter())
    print(json.dumps(result, indent=2) if args.json else markdown(result, args.detail))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
