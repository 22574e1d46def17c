"""The `movierec` command line (contract: ../shared/DESIGN.md, "Command line")."""

from __future__ import annotations

import argparse
import sys

from index.llm.backends import CHOICES
from index.config import DEFAULT_LIMIT
from index.errors import UserError

ENRICHERS_HELP = ("comma-separated enrichers behind the 'enriched' collection: critic, grounded, tags, co-liked "
                  "(default $MOVIEREC_ENRICHERS, else every one available)")
NO_WAIT_HELP = "if another index or enrich run holds the data dir, exit 2 at once instead of waiting for it"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except UserError as exc:
        print(f"movierec: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("movierec: interrupted", file=sys.stderr)
        return 130


def workspace(args):
    from index.workspace import Workspace

    return Workspace.open(args.data_dir, llm_choice=args.llm, chroma_host=args.chroma_host,
                          source=getattr(args, "source", None), limit=getattr(args, "limit", None))


def _recommend(args) -> int:
    from eval.commands import recommend_command

    return recommend_command(workspace(args), args.transcript, args.pipeline, args.id, args.json)


def _eval(args) -> int:
    from eval.commands import eval_command

    return eval_command(workspace(args), args.transcripts, args.pipelines, args.out, args.json, not args.no_judge)


def _audit(args) -> int:
    from eval.commands import audit_command

    return audit_command(workspace(args), args.transcripts, args.out, args.json)


def _index(args) -> int:
    from index.build import build_baseline, report
    from index.buildlock import build_lock
    from index.enrich.collection import build_enriched
    from index.config import embedder_name
    from index.enrich.enrichers import chosen_names

    ws = workspace(args)
    names = chosen_names(args.enrichers)
    with build_lock(ws.root, "movierec index", wait=not args.no_wait):
        catalog = ws.catalog
        print(f"catalog: {catalog.source} - {len(catalog)} movies, {len(catalog.ratings)} training ratings")
        print(f"embedder: {embedder_name()}")
        print(f"llm: {ws.backend.describe()}")
        print(f"store: {args.chroma_host or ws.root / 'chroma'}")
        print(report(build_baseline(ws)))
        enriched, enrichment = build_enriched(ws, names)  # calls no LLM: uses rows already in enriched.jsonl
        print(enrichment.describe())
        print(report(enriched))
        ws.remember_catalog()  # last: until then readers keep opening the catalog the old collections hold
    return 0


def _enrich(args) -> int:
    from index.buildlock import build_lock
    from index.enrich.command import enrich_command

    ws = workspace(args)
    with build_lock(ws.root, "movierec enrich", wait=not args.no_wait):
        return enrich_command(ws, args.enrich_limit, args.enrichers, args.concurrency)


def _chat(args) -> int:
    import asyncio

    from tools.services import MovieServices
    from ui.terminal import chat

    ws = workspace(args)
    print(f"catalog: {ws.catalog.source}; llm: {ws.backend.describe()}; collection: {args.collection}")
    services = MovieServices.from_workspace(ws)
    services.warm_up(args.collection)  # fail now, with a clear message, if the index is not built
    asyncio.run(chat(services, args.collection))
    return 0


def _ui(args) -> int:
    from tools.services import MovieServices
    from ui.app import serve

    ws = workspace(args)
    source, limit = ws.catalog_spec()
    print(f"catalog: {source}, {limit} most-rated movies; llm: {ws.backend.describe()}", flush=True)
    serve(MovieServices.from_workspace(ws), args.host, args.port, share=args.share)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movierec", description="Conversational movie recommender on MovieLens.")
    parser.add_argument("--llm", choices=CHOICES, default="auto",
                        help="LLM backend (auto: OpenAI key, else MOVIEREC_LLM_BASE_URL, else local GGUF, else none)")
    parser.add_argument("--data-dir", help="where indexes and caches live (default $MOVIEREC_DATA_DIR or .movierec)")
    parser.add_argument("--chroma-host", metavar="HOST:PORT", help="use a Chroma server instead of the local store")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="load the catalog and build both collections")
    index.add_argument("--source", help="bundled (default), ml-latest-small, ml-25m, or a MovieLens zip/folder")
    index.add_argument("--limit", type=int, help=f"keep the N most-rated movies (default {DEFAULT_LIMIT})")
    index.add_argument("--enrichers", help=ENRICHERS_HELP)
    index.add_argument("--no-wait", action="store_true", help=NO_WAIT_HELP)
    index.set_defaults(run=_index)

    enrich = commands.add_parser("enrich", help="LLM descriptions into enriched.jsonl, then re-embed 'enriched'")
    enrich.add_argument("--limit", dest="enrich_limit", type=int, metavar="N",
                        help="describe only the N most-rated movies of the catalog (default: all)")
    enrich.add_argument("--enrichers", help=ENRICHERS_HELP)
    enrich.add_argument("--concurrency", type=int, help="parallel LLM calls (default: 8 remote, 1 local)")
    enrich.add_argument("--no-wait", action="store_true", help=NO_WAIT_HELP)
    enrich.set_defaults(run=_enrich)

    recommend = commands.add_parser("recommend", help="replay one transcript through a pipeline")
    recommend.add_argument("--transcript", required=True, help="a transcript file (JSON object or list)")
    recommend.add_argument("--id", help="which transcript of a list (default: the first)")
    recommend.add_argument("--pipeline", default="enriched+rerank",
                           help="a pipeline of eval/pipelines.py (default enriched+rerank)")
    recommend.add_argument("--json", action="store_true", help="print the JSON contract only")
    recommend.set_defaults(run=_recommend)
    evaluate = commands.add_parser("eval", help="evaluate pipelines over transcripts; writes report.md")
    evaluate.add_argument("--transcripts", help="transcript file (default: the project's 20 fixed transcripts)")
    evaluate.add_argument("--pipelines", help="comma-separated pipeline names (default: all that can run)")
    evaluate.add_argument("--out", help="where report.md and the chart go (default: the data dir)")
    evaluate.add_argument("--json", action="store_true", help="print the JSON contract only")
    evaluate.add_argument("--no-judge", action="store_true",
                          help="skip the LLM judge of the reasons (the rule check still runs)")
    evaluate.set_defaults(run=_eval)
    audit = commands.add_parser("audit", help="hallucination and prompt-injection audit")
    audit.add_argument("--transcripts", help="transcript file (default: the project's 20 fixed transcripts)")
    audit.add_argument("--out", help="where audit.md goes (default: the data dir)")
    audit.add_argument("--json", action="store_true", help="print JSON only")
    audit.set_defaults(run=_audit)

    chat = commands.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--collection", choices=("enriched", "baseline"), default="enriched")
    chat.set_defaults(run=_chat)

    ui = commands.add_parser("ui", help="the Gradio chat in a browser")
    ui.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    ui.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    ui.set_defaults(run=_ui)
    return parser


if __name__ == "__main__":
    sys.exit(main())
