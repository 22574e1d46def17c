"""The LLM enrichment pass: one description per (movie, prompt) into enriched.jsonl, concurrently, resumably.

Calls go through the backend's LlamaIndex LLM (`achat`), so OpenAI, OpenAI-compatible servers and the local
model all work. Up to `concurrency` calls are open at once (the backend's: 8 remote, 1 local).

Retries are owned here, in one place. LlamaIndex's OpenAI class retries twice over: a tenacity decorator
makes `max_retries` attempts (1-20 s random-exponential waits, up to 60 s) and each attempt is an openai SDK
call that itself retries `max_retries` times on 408/409/429/5xx and connection errors, so `max_retries=3`
can mean 12 requests for one row. The pass uses a copy of the LLM with `max_retries=0` (both layers off)
and retries transient failures itself (429, 5xx, timeouts, dropped connections, replies that are not a
completion) with exponential backoff and jitter, honouring `Retry-After`. A reply that fails validation
(empty, a refusal, under 30 or over 100 words) is asked for once more, then written as `invalid`. A bad
key, a missing model or an exhausted quota stop the run at once; so do `max(5, concurrency)` rows in a row
whose calls all failed (the server is down). Rows finished before that are on disk; a rerun skips them.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence

import openai
from llama_index.core.llms import LLM, ChatMessage
from llama_index.core.utils import get_tokenizer
from tqdm import tqdm

from index.catalog import Movie
from index.enrich.cache import ERROR, INVALID, OK, EnrichedCache, EnrichedRow, RowWriter
from index.enrich.prompts import EnrichPrompt, FactSource, clean, rejection
from index.errors import UserError

PRICE_IN, PRICE_OUT = 0.15, 0.60  # gpt-4o-mini, US$ per 1M tokens
MAX_TOKENS = 220  # a 60-word reply is ~80 tokens; the cap stops a runaway reply from costing more
FATAL = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
ROW_FAILS = (openai.BadRequestError, openai.UnprocessableEntityError)  # the same request would fail again


class LLMStopped(UserError):
    """The LLM cannot go on; the message says why, and that finished rows are kept."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # calls per reply for transient failures
    base_delay: float = 1.0  # seconds before the first retry; doubles each time
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    timeout: float = 60.0  # seconds per call

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Wait before retry number `retry` (1, 2, ...): the server's Retry-After when it gave one, else
        half the exponential step plus a random half (never less than half, so waits keep growing)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        step = min(self.base_delay * 2 ** (retry - 1), self.max_delay)
        return step / 2 + random.uniform(0, step / 2)


@dataclass
class EnrichSummary:
    model: str
    done: int = 0
    skipped: int = 0  # already finished in enriched.jsonl
    invalid: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    retries: int = 0  # calls repeated after a transient failure
    reasked: int = 0  # replies asked for again after failing validation
    seconds: float = 0.0
    estimated_rows: int = 0  # rows whose token counts were estimated (no usage in the response)

    @property
    def failed(self) -> int:
        return self.invalid + self.errors

    @property
    def cost(self) -> float:
        return (self.tokens_in * PRICE_IN + self.tokens_out * PRICE_OUT) / 1e6

    def add(self, row: EnrichedRow) -> None:
        self.done += row.status == OK
        self.invalid += row.status == INVALID
        self.errors += row.status == ERROR
        self.tokens_in += row.tokens_in
        self.tokens_out += row.tokens_out
        self.estimated_rows += row.tokens_from == "estimate" and row.attempts > 0

    def describe(self) -> str:
        rows = self.done + self.failed
        rate = ""
        if rows and self.seconds > 0:
            rate = f", {rows / self.seconds:.1f} rows/s" if rows >= self.seconds else f", {self.seconds / rows:.0f} s/row"
        estimated = f" ({self.estimated_rows} rows estimated with the tokenizer)" if self.estimated_rows else ""
        return (f"enrich ({self.model}): {self.done} done, {self.skipped} skipped (already in enriched.jsonl), "
                f"{self.failed} failed ({self.invalid} invalid, {self.errors} errors); {self.retries} retried calls, "
                f"{self.reasked} re-asked replies; "
                f"tokens {self.tokens_in:,} in + {self.tokens_out:,} out{estimated}; "
                f"cost at gpt-4o-mini prices ${self.cost:.4f}; {self.seconds:.1f} s{rate}")


@dataclass(frozen=True)
class Job:
    movie: Movie
    prompt: EnrichPrompt


@dataclass
class _Reply:
    text: str
    tokens_in: int
    tokens_out: int
    tokens_from: str


class _CallFailed(Exception):
    def __init__(self, cause: BaseException, attempts: int):
        super().__init__(f"{type(cause).__name__}: {cause}"[:300])
        self.attempts = attempts


@dataclass
class EnrichmentPass:
    llm: LLM
    model: str  # the name rows are keyed by
    cache: EnrichedCache
    facts: FactSource
    concurrency: int = 8
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool = True

    def __post_init__(self) -> None:
        given = self.llm
        self.llm = without_inner_retries(given)
        self._owns_llm = self.llm is not given
        self._tokenizer = get_tokenizer()

    def plan(self, movies: Iterable[Movie], prompts: Sequence[EnrichPrompt]) -> tuple[list[Job], int]:
        """Jobs still to do, and how many are already done in enriched.jsonl."""
        done = self.cache.read().done()
        jobs = [Job(m, p) for p in prompts for m in movies]
        todo = [j for j in jobs if (j.movie.movie_id, self.model, j.prompt.version) not in done]
        return todo, len(jobs) - len(todo)

    def run(self, movies: Iterable[Movie], prompts: Sequence[EnrichPrompt]) -> EnrichSummary:
        return asyncio.run(self.arun(list(movies), prompts))

    async def arun(self, movies: Sequence[Movie], prompts: Sequence[EnrichPrompt]) -> EnrichSummary:
        started = time.perf_counter()
        summary = EnrichSummary(self.model)
        jobs, summary.skipped = self.plan(movies, prompts)
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        self._failed_in_a_row = 0
        self._stop_after = max(5, self.concurrency)
        bar = tqdm(total=len(jobs), desc=f"enrich ({self.model})", unit="row", disable=not self.progress,
                   dynamic_ncols=True)
        try:
            with self.cache.writer() as writer:
                async with asyncio.TaskGroup() as group:
                    for _ in range(min(self.concurrency, len(jobs)) or 0):
                        group.create_task(self._worker(queue, writer, summary, bar))
        except* LLMStopped as stopped:
            raise stopped.exceptions[0] from None
        finally:
            bar.close()
            summary.seconds = time.perf_counter() - started
            if self._owns_llm:
                await close_async_client(self.llm)
        return summary

    async def _worker(self, queue: asyncio.Queue[Job], writer: RowWriter, summary: EnrichSummary, bar: tqdm) -> None:
        while not queue.empty():
            job = queue.get_nowait()
            row = await self._row(job, summary)
            writer.append(row)
            summary.add(row)
            bar.update(1)
            bar.set_postfix(failed=summary.failed, tokens=summary.tokens_in + summary.tokens_out, refresh=False)
            self._failed_in_a_row = self._failed_in_a_row + 1 if row.status == ERROR else 0
            if self._failed_in_a_row >= self._stop_after:
                raise LLMStopped(f"the LLM stopped answering: {self._failed_in_a_row} rows in a row failed "
                                 f"(last: {row.error}); {summary.done} new rows are saved in {self.cache.path}; "
                                 "fix the server and rerun `movierec enrich` to continue")

    async def _row(self, job: Job, summary: EnrichSummary) -> EnrichedRow:
        started = time.perf_counter()
        messages = job.prompt.messages(job.movie, self.facts)
        tokens_in = tokens_out = attempts = 0
        tokens_from = "usage"
        text, reason = "", None
        for round_ in range(2):  # a reply that fails validation is asked for once more
            summary.reasked += round_
            try:
                reply, calls = await self._call(messages, summary)
            except _CallFailed as failed:
                return self._result(job, ERROR, "", tokens_in, tokens_out, tokens_from, started,
                                    attempts + failed.attempts, str(failed))
            attempts += calls
            tokens_in += reply.tokens_in
            tokens_out += reply.tokens_out
            tokens_from = "estimate" if reply.tokens_from == "estimate" else tokens_from
            text = clean(reply.text)
            reason = rejection(text)
            if reason is None:
                break
        status = OK if reason is None else INVALID
        return self._result(job, status, text, tokens_in, tokens_out, tokens_from, started, attempts, reason)

    def _result(self, job: Job, status: str, text: str, tokens_in: int, tokens_out: int, tokens_from: str,
                started: float, attempts: int, error: str | None) -> EnrichedRow:
        return EnrichedRow(movie_id=job.movie.movie_id, model=self.model, prompt=job.prompt.version, status=status,
                           text=text, tokens_in=tokens_in, tokens_out=tokens_out, tokens_from=tokens_from,
                           seconds=round(time.perf_counter() - started, 3), attempts=attempts,
                           at=datetime.now(timezone.utc).isoformat(timespec="seconds"), error=error)

    async def _call(self, messages: list[ChatMessage], summary: EnrichSummary) -> tuple[_Reply, int]:
        """One reply, retrying transient failures; (reply, calls made)."""
        for attempt in range(1, self.policy.attempts + 1):
            try:
                response = await asyncio.wait_for(self.llm.achat(messages, max_tokens=MAX_TOKENS),
                                                  self.policy.timeout)
                text = response.message.content
                if not isinstance(text, str):
                    raise TypeError(f"the reply has no text content ({type(text).__name__})")
                return self._reply(messages, text, response.raw), attempt
            except asyncio.CancelledError:
                raise
            except FATAL as exc:
                raise LLMStopped(_stopped(exc)) from exc
            except ROW_FAILS as exc:
                raise _CallFailed(exc, attempt) from exc
            except openai.RateLimitError as exc:
                if _quota_exhausted(exc):
                    raise LLMStopped(_stopped(exc)) from exc
                failure: Exception = exc
            except Exception as exc:  # 5xx, timeouts, dropped connections, bodies that are not a completion
                failure = exc
            if attempt == self.policy.attempts:
                raise _CallFailed(failure, attempt)
            summary.retries += 1
            await asyncio.sleep(self.policy.delay(attempt, _retry_after(failure)))
        raise AssertionError("unreachable")

    def _reply(self, messages: list[ChatMessage], text: str, raw: object) -> _Reply:
        usage = reported_usage(raw)
        if usage is not None:
            return _Reply(text, *usage, "usage")
        prompt = sum(len(self._tokenizer(m.content or "")) for m in messages)
        return _Reply(text, prompt, len(self._tokenizer(text)), "estimate")


def without_inner_retries(llm: LLM) -> LLM:
    """A copy of `llm` with its own retry layers off and fresh clients (see the module docstring), or `llm`
    itself when it has no `max_retries` (the local model)."""
    if "max_retries" not in type(llm).model_fields:
        return llm
    copy = llm.model_copy(update={"max_retries": 0})
    for client in ("_client", "_aclient"):  # clients built before the copy carry the old setting
        if hasattr(copy, client):
            setattr(copy, client, None)
    return copy


async def close_async_client(llm: LLM) -> None:
    """Close the connection pool an OpenAI-style LLM opened on this event loop, while the loop still runs."""
    client = getattr(llm, "_aclient", None)
    if client is not None:
        await client.close()
        llm._aclient = None


def reported_usage(raw: object) -> tuple[int, int] | None:
    """(prompt, completion) tokens from a raw response: an openai object or a dict (llama.cpp)."""
    usage = raw.get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)
    if usage is None:
        return None
    read = usage.get if isinstance(usage, dict) else lambda name: getattr(usage, name, None)
    prompt, completion = read("prompt_tokens"), read("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return None


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _quota_exhausted(exc: openai.RateLimitError) -> bool:
    return getattr(exc, "code", None) == "insufficient_quota"


def _stopped(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    what = f"HTTP {status}" if status else type(exc).__name__
    return (f"the LLM refused the request ({what}: {str(exc)[:200]}); rows finished so far are kept in "
            "enriched.jsonl; fix the key, model or quota and rerun `movierec enrich`")
