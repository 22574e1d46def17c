"""The LLM enrichment pass against a scripted OpenAI-compatible server on 127.0.0.1: retries and backoff on
429 / 5xx / timeouts / garbage with no hidden retries underneath, validation, token counts, bounded
concurrency, resuming, and runs that must stop (bad key, no quota, server down) without losing rows."""

import asyncio
import socket
import time

import pytest
from llama_index.core.utils import get_tokenizer
from llama_index.llms.openai_like import OpenAILike

from fake_openai import FakeOpenAI, critic_text, error, garbage, reply, slow
from index.catalog import load_catalog
from index.enrich.cache import ERROR, INVALID, OK, EnrichedCache
from index.enrich.llm_pass import EnrichmentPass, LLMStopped, RetryPolicy
from index.enrich.prompts import CRITIC, GROUNDED, MAX_WORDS, MIN_WORDS, FactSource, clean, rejection

FAST = RetryPolicy(attempts=4, base_delay=0.05, max_delay=1.0, timeout=2.0)  # generous: CI machines are busy
GOOD = critic_text("Heat", 60)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog("bundled", limit=40)


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.latency = 0.0
    return server


def llm_for(url: str) -> OpenAILike:
    """max_retries=3 on purpose: the pass must switch LlamaIndex's and the SDK's retries off."""
    return OpenAILike(model="fake-model", api_base=url, api_key="k", is_chat_model=True, max_retries=3, timeout=30)


def make_pass(tmp_path, catalog, url, **options) -> EnrichmentPass:
    options = {"concurrency": 1, "policy": FAST, "progress": False, **options}
    return EnrichmentPass(llm_for(url), "fake-model", EnrichedCache(tmp_path / "enriched.jsonl"),
                          FactSource(catalog), **options)


def first(catalog, n=1):
    return list(catalog)[:n]


def only_row(run):
    rows = list(run.cache.read().rows.values())
    assert len(rows) == 1
    return rows[0]


# --- retries ---

def test_429_with_retry_after_then_5xx_then_a_reply(tmp_path, catalog, fake):
    fake.push(error(429, retry_after=0.3), error(500), error(503))
    run = make_pass(tmp_path, catalog, fake.url)
    summary = run.run(first(catalog), [CRITIC])
    row = only_row(run)
    assert (row.status, row.attempts, summary.retries, summary.done) == (OK, 4, 3, 1)
    assert len(fake.requests) == 4  # one request per attempt: nothing retried underneath
    assert fake.arrivals[1] - fake.arrivals[0] >= 0.3  # Retry-After honoured


def test_a_call_slower_than_the_timeout_is_abandoned_and_retried(tmp_path, catalog, fake):
    fake.push(slow(8.0))
    run = make_pass(tmp_path, catalog, fake.url)
    started = time.perf_counter()
    run.run(first(catalog), [CRITIC])
    assert time.perf_counter() - started < 6.0
    row = only_row(run)
    assert (row.status, row.attempts, len(fake.requests)) == (OK, 2, 2)


@pytest.mark.parametrize("body", [b"<html>502 upstream hiccup</html>", b'{"hello": "world"}', b""])
def test_a_body_that_is_not_a_completion_is_retried(tmp_path, catalog, fake, body):
    fake.push(garbage(body))
    run = make_pass(tmp_path, catalog, fake.url)
    run.run(first(catalog), [CRITIC])
    row = only_row(run)
    assert (row.status, row.attempts) == (OK, 2)


def test_backoff_grows_and_a_row_that_keeps_failing_is_written_as_an_error(tmp_path, catalog, fake):
    fake.push(*[error(500)] * FAST.attempts)
    run = make_pass(tmp_path, catalog, fake.url)
    summary = run.run(first(catalog), [CRITIC])
    row = only_row(run)
    assert (row.status, row.attempts, row.text) == (ERROR, FAST.attempts, "")
    assert "InternalServerError" in row.error and summary.errors == 1
    assert len(fake.requests) == FAST.attempts
    gaps = [b - a for a, b in zip(fake.arrivals, fake.arrivals[1:])]
    for retry, gap in enumerate(gaps, start=1):  # each wait is at least half its doubling step
        assert gap >= FAST.base_delay * 2 ** (retry - 1) / 2
    assert run.cache.read().texts("fake-model", CRITIC.version) == {}
    todo, skipped = run.plan(first(catalog), [CRITIC])
    assert (len(todo), skipped) == (1, 0)  # a failed row is tried again on the next run


def test_a_bad_request_fails_its_row_without_retrying(tmp_path, catalog, fake):
    fake.push(error(400))
    run = make_pass(tmp_path, catalog, fake.url)
    run.run(first(catalog, 2), [CRITIC])
    rows = run.cache.read().rows
    assert sorted(r.status for r in rows.values()) == [ERROR, OK] and len(fake.requests) == 2


@pytest.mark.parametrize("step, words", [(error(401), "HTTP 401"), (error(404), "HTTP 404"),
                                         (error(429, code="insufficient_quota"), "HTTP 429")])
def test_a_refused_key_missing_model_or_empty_quota_stops_at_once(tmp_path, catalog, fake, step, words):
    fake.push(step)
    run = make_pass(tmp_path, catalog, fake.url)
    with pytest.raises(LLMStopped, match=words) as stopped:
        run.run(first(catalog, 5), [CRITIC])
    assert "rerun `movierec enrich`" in str(stopped.value) and "\n" not in str(stopped.value)
    assert len(fake.requests) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_goes_down_stops_the_run_and_loses_no_finished_row(tmp_path, catalog, fake):
    movies = first(catalog, 20)
    make_pass(tmp_path, catalog, fake.url).run(movies[:3], [CRITIC])
    down = make_pass(tmp_path, catalog, f"http://127.0.0.1:{free_port()}/v1", concurrency=2,
                     policy=RetryPolicy(attempts=2, base_delay=0.01, timeout=2))
    with pytest.raises(LLMStopped, match="stopped answering"):
        down.run(movies, [CRITIC])
    contents = down.cache.read()
    assert len(contents.texts("fake-model", CRITIC.version)) == 3
    errors = [r for r in contents.rows.values() if r.status == ERROR]
    assert 5 <= len(errors) < 17 and contents.untrusted_lines == 0  # stopped early, every line whole


# --- validation ---

def words(n):
    return " ".join(["word"] * n) + "."


@pytest.mark.parametrize("text, reason", [
    ("", "empty"), ("   \n ", "empty"),
    ("I'm sorry, but I can't write about a film I do not know. " + words(30), "refusal"),
    ("Sorry, I cannot help with that request.", "refusal"),
    ("As an AI language model, I have not seen this film. " + words(30), "refusal"),
    ("Unfortunately, I don't have any information about this movie. " + words(30), "refusal"),
    (words(MIN_WORDS - 1), f"too short ({MIN_WORDS - 1} words)"),
    (words(MAX_WORDS + 1), f"too long ({MAX_WORDS + 1} words)"),
])
def test_rejected_replies(text, reason):
    assert rejection(clean(text)) == reason


@pytest.mark.parametrize("text", [words(MIN_WORDS), words(MAX_WORDS), GOOD, '"' + GOOD + '"',
                                  "A sorry tale of greed, told with a cold eye and no mercy. " + words(30)])
def test_accepted_replies(text):
    assert rejection(clean(text)) is None


def test_a_bad_reply_is_asked_for_once_more(tmp_path, catalog, fake):
    fake.push(reply("I'm sorry, I can't help with that."))
    run = make_pass(tmp_path, catalog, fake.url)
    summary = run.run(first(catalog), [CRITIC])
    row = only_row(run)
    assert (row.status, row.attempts, summary.reasked) == (OK, 2, 1)
    assert row.text.startswith(f"{catalog[first(catalog)[0].movie_id].name} is")


def test_two_bad_replies_are_written_as_invalid_and_never_become_texts(tmp_path, catalog, fake):
    fake.push(reply("Too short."), reply(words(150)))
    run = make_pass(tmp_path, catalog, fake.url)
    summary = run.run(first(catalog), [CRITIC])
    row = only_row(run)
    assert (row.status, row.error, row.attempts) == (INVALID, "too long (150 words)", 2)
    assert summary.invalid == 1 and summary.done == 0
    assert run.cache.read().texts("fake-model", CRITIC.version) == {}


# --- tokens, concurrency, resuming ---

def test_tokens_come_from_usage_when_reported_else_from_the_tokenizer(tmp_path, catalog, fake):
    fake.push(reply(GOOD, usage=(123, 45)), reply(GOOD, usage=None))
    run = make_pass(tmp_path, catalog, fake.url)
    summary = run.run(first(catalog, 2), [CRITIC])
    rows = sorted(run.cache.read().rows.values(), key=lambda r: r.tokens_from)
    estimated, reported = rows
    assert (reported.tokens_in, reported.tokens_out, reported.tokens_from) == (123, 45, "usage")
    assert estimated.tokens_from == "estimate" and estimated.tokens_out == len(get_tokenizer()(GOOD))
    assert estimated.tokens_in > 20
    assert summary.tokens_out == 45 + estimated.tokens_out
    assert summary.cost == pytest.approx((summary.tokens_in * 0.15 + summary.tokens_out * 0.60) / 1e6)


def test_no_more_calls_open_at_once_than_the_concurrency(tmp_path, catalog):
    with FakeOpenAI(latency=0.1) as fresh:  # the shared one may still be sleeping on an abandoned request
        run = make_pass(tmp_path, catalog, fresh.url, concurrency=4)
        summary = run.run(first(catalog, 16), [CRITIC])
    assert summary.done == 16 and fresh.max_in_flight == 4


def test_a_rerun_skips_finished_rows_and_does_the_rest(tmp_path, catalog, fake):
    movies = first(catalog, 10)
    make_pass(tmp_path, catalog, fake.url).run(movies[:6], [CRITIC])
    fake.reset()
    summary = make_pass(tmp_path, catalog, fake.url, concurrency=3).run(movies, [CRITIC, GROUNDED])
    assert (summary.skipped, summary.done, len(fake.requests)) == (6, 14, 14)
    texts = EnrichedCache(tmp_path / "enriched.jsonl").read()
    assert set(texts.texts("fake-model", CRITIC.version)) == {m.movie_id for m in movies}
    assert set(texts.texts("fake-model", GROUNDED.version)) == {m.movie_id for m in movies}


def test_cancelling_mid_run_keeps_what_finished(tmp_path, catalog, fake):
    warm = tmp_path / "warm"  # the HTTP client's first-use cost (alone, over 0.4 s) stays out of the timed run
    warm.mkdir()
    asyncio.run(make_pass(warm, catalog, fake.url).arun(first(catalog), [CRITIC]))
    fake.latency = 0.05
    run = make_pass(tmp_path, catalog, fake.url, concurrency=2)

    async def cancel_soon():
        task = asyncio.ensure_future(run.arun(first(catalog, 40), [CRITIC]))
        await asyncio.sleep(0.4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_soon())
    contents = run.cache.read()
    assert 0 < len(contents.rows) < 40 and contents.untrusted_lines == 0
    assert all(r.status == OK for r in contents.rows.values())


@pytest.mark.llm
def test_a_real_local_model_writes_checked_rows_with_its_token_counts(tmp_path, catalog, smollm2_llm):
    run = EnrichmentPass(smollm2_llm, "smollm2", EnrichedCache(tmp_path / "enriched.jsonl"), FactSource(catalog),
                         concurrency=1, policy=RetryPolicy(attempts=2, timeout=300), progress=False)
    summary = run.run(first(catalog, 2), [CRITIC, GROUNDED])
    rows = list(run.cache.read().rows.values())
    assert len(rows) == 4 and summary.done + summary.invalid == 4 and summary.errors == 0
    for row in rows:
        assert row.tokens_from == "usage" and row.tokens_in > 20 and row.tokens_out > 0
        assert (rejection(row.text) is None) == (row.status == OK)
