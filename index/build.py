"""Building the raw `baseline` collection, and the one-line report of any collection build."""

from __future__ import annotations

from index.config import embedder_name
from index.store import BASELINE, BuildResult, baseline_text, build_collection, movie_nodes
from index.workspace import Workspace


def build_baseline(ws: Workspace, show_progress: bool = True) -> BuildResult:
    nodes = movie_nodes(ws.catalog, {m.movie_id: baseline_text(m) for m in ws.catalog})
    return build_collection(ws.client, BASELINE, nodes, embedder_name(), lambda: ws.embed_model, show_progress)


def report(result: BuildResult) -> str:
    how = "reused (unchanged)" if result.reused else f"built in {result.seconds:.1f} s"
    return f"collection {result.name!r}: {result.count} movies, {how}"
