"""`python -m eval.bench enrich`: what the enrichment layer costs on this machine.

- LLM pass throughput against the fake OpenAI-compatible server of tests/fake_openai.py (in its own process)
  answering every call after `--latency` (200 ms), through the real `EnrichmentPass` (LlamaIndex OpenAILike,
  fsync per row), at concurrency 8 and at 1 in the same run, each after a warm-up of `concurrency` rows
  (the first calls import the SDK's modules and open connections); goal >= 6x rows/s.
- Tokens and gpt-4o-mini cost for 5000 rows, extrapolated from the real prompts: every bundled movie's chat
  messages are rendered and counted with LlamaIndex's bundled cl100k tokenizer (gpt-4o-mini uses o200k, which
  counts English within a few percent), plus OpenAI's chat framing (3 tokens per message, 3 to prime the
  reply). Replies are taken at 60 words times the tokens per word of sample critic paragraphs.
- Wall time of the grounded enrichers (`open` + `text` for every movie, co-liked statistics included) on the
  bundled catalog, and on ../shared/data/ml-latest-small.zip when present (the bundled copy has no tags).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_ZIP = REPO.parent / "shared" / "data" / "ml-latest-small.zip"
SPEEDUP_GOAL = 6.0
FRAMING_PER_MESSAGE, FRAMING_REPLY = 3, 3
REPLY_WORDS = 60
SAMPLE_REVIEWS = (  # written for this benchmark, ~60 words each, to measure tokens per word of critic prose
    "Michael Mann's crime epic moves with the cool precision of a heist planned to the second, yet its real "
    "subject is loneliness: two driven men, a detective and a thief, who recognise themselves in each other. "
    "The downtown shootout remains a landmark of staged chaos, but the quiet diner scene lingers longer, "
    "a duet of weary professionals.",
    "A gentle, bittersweet comedy about growing up in a small seaside town, carried by a warm ensemble and an "
    "eye for the small humiliations of adolescence. It never reaches for big drama, preferring stolen glances, "
    "long summer evenings and jokes that land softly; viewers who cherish coming-of-age stories will find it "
    "tender, funny and quietly wise.",
    "Part space opera, part swashbuckler, this adventure throws farm boys, smugglers and princesses into a "
    "galaxy-sized chase and somehow keeps every thread taut. The effects still dazzle, the score swells at just "
    "the right moments, and the villain's breathing has become cinema shorthand for dread. Pure, unembarrassed "
    "fun that launched a thousand imitators.",
)


def add_parser(commands) -> None:
    enrich = commands.add_parser("enrich", help="enrichment throughput, token cost and grounded-enricher time")
    enrich.add_argument("--latency", type=float, default=0.2, help="fake server latency in seconds (default 0.2)")
    enrich.add_argument("--rows", type=int, default=160, help="rows at concurrency 8 (default 160; 1/4 at 1)")
    enrich.add_argument("--limit", type=int, default=5000, help="bundled catalog size (default 5000)")
    enrich.set_defaults(run=bench_enrich)


def bench_enrich(args) -> int:
    from index.catalog import load_catalog

    catalog = load_catalog("bundled", limit=args.limit)
    print(f"catalog: bundled, {len(catalog)} movies")
    _throughput(catalog, args.latency, args.rows)
    _token_cost(catalog)
    _grounded_enrichers(catalog, "bundled")
    if SHARED_ZIP.is_file():
        started = time.perf_counter()
        shared = load_catalog(str(SHARED_ZIP), limit=args.limit)
        print(f"\n{SHARED_ZIP.name}: {len(shared)} movies, loaded in {time.perf_counter() - started:.2f} s")
        _grounded_enrichers(shared, SHARED_ZIP.name)
    else:
        print(f"\n{SHARED_ZIP} not found: tags timing on a source with tags skipped")
    return 0


@contextmanager
def _fake_server(latency: float):
    """tests/fake_openai.py in its own process, as a real API would be: its CPU is not the pass's."""
    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--latency", str(latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _server_stats(url: str) -> dict:
    import httpx

    return httpx.get(url + "/_stats", timeout=5).json()


def _throughput(catalog, latency: float, rows: int) -> None:
    from llama_index.llms.openai_like import OpenAILike

    from index.enrich.cache import EnrichedCache
    from index.enrich.llm_pass import EnrichmentPass, RetryPolicy
    from index.enrich.prompts import CRITIC, FactSource

    movies = list(catalog)
    facts = FactSource(catalog)
    print(f"\nLLM pass throughput: fake server (own process) answering after {latency * 1000:.0f} ms, critic prompt, "
          "fsync per row")
    print(f"  {'concurrency':<13}{'rows':>6}{'seconds':>9}{'rows/s':>9}{'max in flight':>15}{'CPU ms/row':>12}")
    rates = {}
    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as tmp:
        for concurrency, n in ((8, rows), (1, max(rows // 4, 8))):
            with _fake_server(latency) as url:
                llm = OpenAILike(model="fake-model", api_base=url, api_key="k", is_chat_model=True, timeout=30)
                run = EnrichmentPass(llm, "fake-model", EnrichedCache(Path(tmp) / f"c{concurrency}.jsonl"), facts,
                                     concurrency=concurrency, policy=RetryPolicy(timeout=30), progress=False)
                warm = run.run(movies[-concurrency:], [CRITIC])  # first calls import and connect: not throughput
                cpu = time.process_time()
                summary = run.run(movies[:n], [CRITIC])
                cpu = time.process_time() - cpu
                stats = _server_stats(url)
            assert summary.done == n == stats["requests"] - warm.done, summary.describe()
            rates[concurrency] = n / summary.seconds
            print(f"  {concurrency:<13}{n:>6}{summary.seconds:>9.2f}{rates[concurrency]:>9.1f}"
                  f"{stats['max_in_flight']:>15}{cpu / n * 1000:>12.1f}")
    speedup = rates[8] / rates[1]
    print(f"  speedup 8 vs 1: {speedup:.1f}x (goal >= {SPEEDUP_GOAL:.0f}x) {'OK' if speedup >= SPEEDUP_GOAL else 'MISSED'};"
          f" the latency alone allows {1 / latency:.1f} rows/s per connection, {8 / latency:.0f} at 8")


def _token_cost(catalog) -> None:
    from llama_index.core.utils import get_tokenizer

    from index.enrich.llm_pass import PRICE_IN, PRICE_OUT
    from index.enrich.prompts import CRITIC, GROUNDED, FactSource

    tokenize = get_tokenizer()
    per_word = sum(len(tokenize(r)) for r in SAMPLE_REVIEWS) / sum(len(r.split()) for r in SAMPLE_REVIEWS)
    reply = REPLY_WORDS * per_word + FRAMING_REPLY
    facts = FactSource(catalog)
    rows = 5000
    print(f"\ntokens and cost for {rows} rows at gpt-4o-mini prices (${PRICE_IN}/1M in, ${PRICE_OUT}/1M out)")
    print(f"  reply: {REPLY_WORDS} words x {per_word:.2f} tokens/word (sample critic prose) = {reply:.0f} tokens")
    print(f"  {'prompt':<14}{'in/row':>8}{'out/row':>9}{'in total':>11}{'out total':>11}{'cost':>9}{'measured on':>14}")
    for prompt in (CRITIC, GROUNDED):
        started = time.perf_counter()
        counts = [sum(len(tokenize(m.content or "")) + FRAMING_PER_MESSAGE for m in prompt.messages(movie, facts))
                  for movie in catalog]
        mean_in = sum(counts) / len(counts)
        total_in, total_out = mean_in * rows, reply * rows
        cost = (total_in * PRICE_IN + total_out * PRICE_OUT) / 1e6
        print(f"  {prompt.version:<14}{mean_in:>8.0f}{reply:>9.0f}{total_in:>11,.0f}{total_out:>11,.0f}{cost:>9.3f}"
              f"{len(counts):>8} movies  ({time.perf_counter() - started:.1f} s)")
    print("  (a re-asked reply costs its row once more; the summary of a real run reports measured usage)")


def _grounded_enrichers(catalog, label: str) -> None:
    from index.enrich.cache import EnrichedCache
    from index.enrich.enrichers import CoLikedEnricher, EnrichmentSources, NotAvailable, TagsEnricher

    print(f"\ngrounded enrichers on {label} ({len(catalog)} movies): open + text() for every movie")
    print(f"  {'enricher':<10}{'seconds':>9}{'movies with text':>18}")
    for kind in (CoLikedEnricher, TagsEnricher):
        sources = EnrichmentSources(catalog, EnrichedCache(Path(tempfile.gettempdir()) / "none.jsonl"))
        started = time.perf_counter()
        try:
            enricher = kind.open(sources)
        except NotAvailable as why:
            print(f"  {kind.name:<10}{'-':>9}  not available: {why}")
            continue
        with_text = sum(1 for movie in catalog if enricher.text(movie))
        print(f"  {kind.name:<10}{time.perf_counter() - started:>9.2f}{with_text:>18}")

