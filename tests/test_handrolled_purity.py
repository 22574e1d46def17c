"""No LlamaIndex in handrolled/ at run time: what importing every module loads (the source is checked by
import-linter, tests/test_layers.py), and the line counter behind docs/comparison.md."""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import handrolled
from handrolled.loc import Counter, code_lines, symbol_span

MODULES = sorted(f"handrolled.{m.name}" for m in pkgutil.iter_modules(handrolled.__path__))


def is_llama_index(name: str) -> bool:
    return name == "llama_index" or name.startswith("llama_index.")


def test_importing_every_handrolled_module_loads_no_llama_index():
    assert {"handrolled.pipeline", "handrolled.chat", "handrolled.rerank", "handrolled.retrieve"} <= set(MODULES)
    script = ("import importlib, json, sys\n"
              f"for name in {MODULES!r}: importlib.import_module(name)\n"
              "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(handrolled.__file__).parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "chromadb" in loaded and "openai" in loaded and "handrolled.pipeline" in loaded
    assert [m for m in loaded if is_llama_index(m)] == []


def test_code_lines_skip_blanks_comments_and_docstrings():
    source = '"""Module doc."""\n\nimport os  # a comment\n# only a comment\n\ndef f(x):\n    """Doc\n    more."""\n' \
             '    return (x +\n            1)\n\nTEXT = """not a\ndocstring"""\n'
    assert code_lines(source) == {3, 6, 9, 10, 12, 13}
    tree = ast.parse(source)
    assert symbol_span(tree, "f") == range(6, 11) and symbol_span(tree, "TEXT") == range(12, 14)
    assert symbol_span(tree, "missing") is None


def test_named_specs_are_not_counted_twice(tmp_path):
    (tmp_path / "m.py").write_text("import os\n\n\nclass A:\n    def run(self):\n        return 1\n\n\ndef g():\n"
                                   "    return 2\n")
    counter = Counter(tmp_path)
    counter.claim([{"x": ["m.py:A.run", "m.py:g"]}, ["m.py"]])
    assert (counter.count("m.py:A.run"), counter.count("m.py:g"), counter.count("m.py")) == (2, 2, 2)
    assert counter.count("gone.py") == 0 and "gone.py" in counter.notes[-1]
