"""A scriptable OpenAI-compatible server on 127.0.0.1, for tests and benchmarks (stdlib only).

    with FakeOpenAI(latency=0.05) as fake:       # a free port; fake.url == "http://127.0.0.1:PORT/v1"
        fake.push(error(429, retry_after=0.2), slow(2.0), garbage(), reply("A taut heist ..."))
        ...                                      # each chat request takes the next scripted step

API
- `FakeOpenAI(models=("fake-model",), default=critic_reply, latency=0.0)`: `GET /v1/models` lists `models`;
  `POST /v1/chat/completions` answers with the next step pushed, or `default(body)` when none is queued
  (`critic_reply`: a valid ~60-word text naming the movie of the prompt's `Title:` line). `latency` seconds
  are added before every chat answer; requests are served concurrently, one thread each, keep-alive on.
- `push(*steps)` queues steps, consumed one per chat request in arrival order.
- Steps (`Step` dataclass, or the helpers):
  `reply(text, usage=AUTO)`: a chat.completion whose `usage` counts words of the request and reply
  (`usage=(prompt, completion)` fixes them; `usage=None` leaves the field out);
  `error(status, retry_after=None, code=None)`: an OpenAI-style error body with that HTTP status and, for
  429, optional `Retry-After` (seconds) and error `code` (e.g. "insufficient_quota");
  `slow(seconds, then=None)`: waits, then answers `then` (default: `default(body)`);
  `garbage(body=b"<html>oops", status=200)`: a body that is not a chat completion.
- Records: `requests` (chat request bodies, as dicts, in arrival order), `arrivals` (time.perf_counter() of
  each), `max_in_flight` (most chat requests open at once). `reset()` clears script and records.
- `close()`, or leave the `with` block, to stop it.
- `GET /v1/_stats` answers `{"requests": n, "max_in_flight": m}`, for a server in another process:
  `python tests/fake_openai.py [--latency S] [--model NAME]` prints its URL on one line and serves until killed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

AUTO = "auto"
FILLER = ("a patient, confident film that trusts its audience with mood and detail, rewarding attention with "
          "sharp performances, a steady sense of place and a finale that lands with real feeling; it is the "
          "kind of picture critics return to, generous and precise, and viewers who like its genre will find "
          "plenty to savour long after the credits roll, whatever else they watched that week").split()


@dataclass(frozen=True)
class Step:
    status: int = 200
    text: str | None = None  # the completion's content (status 200, no body)
    usage: tuple[int, int] | str | None = AUTO
    body: bytes | None = None  # sent as is instead of a completion
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    then: "Step | None" = None  # for slow(): what to answer after the delay


def reply(text: str, usage: tuple[int, int] | str | None = AUTO) -> Step:
    return Step(text=text, usage=usage)


def error(status: int, retry_after: float | None = None, code: str | None = None) -> Step:
    body = json.dumps({"error": {"message": f"scripted HTTP {status}", "type": "fake_error", "code": code}})
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Step(status=status, body=body.encode(), headers=headers)


def slow(seconds: float, then: Step | None = None) -> Step:
    return Step(delay=seconds, then=then)


def garbage(body: bytes = b"<html>502 upstream hiccup</html>", status: int = 200) -> Step:
    return Step(status=status, body=body)


def prompt_title(body: dict) -> str:
    """The `Title:` line of the last user message, or "this film"."""
    content = next((m.get("content") for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    match = re.search(r"^Title: (.+)$", str(content or ""), re.M)
    return match.group(1).strip() if match else "this film"


def critic_text(title: str, words: int = 60) -> str:
    lead = f"{title} is".split()
    filler = (FILLER * (words // len(FILLER) + 1))[: max(words - len(lead), 0)]
    return " ".join(lead + filler).rstrip(",;") + "."


def critic_reply(body: dict) -> Step:
    return reply(critic_text(prompt_title(body)))


class FakeOpenAI:
    def __init__(self, models=("fake-model",), default: Callable[[dict], Step] = critic_reply, latency: float = 0.0):
        self.models = tuple(models)
        self.default = default
        self.latency = latency
        self.script: list[Step] = []
        self.requests: list[dict] = []
        self.arrivals: list[float] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def push(self, *steps: Step) -> "FakeOpenAI":
        with self._lock:
            self.script.extend(steps)
        return self

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.arrivals.clear()
            self.max_in_flight = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeOpenAI":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _arrive(self, body: dict) -> Step:
        with self._lock:
            self.requests.append(body)
            self.arrivals.append(time.perf_counter())
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return self.script.pop(0) if self.script else self.default(body)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _usage(step: Step, body: dict) -> dict | None:
    if step.usage is None:
        return None
    if step.usage == AUTO:
        words = sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))
        prompt, completion = words * 4 // 3 + 7, len((step.text or "").split()) * 4 // 3
    else:
        prompt, completion = step.usage
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion(step: Step, body: dict) -> bytes:
    payload = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
               "model": body.get("model", "fake-model"),
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": step.text}}]}
    usage = _usage(step, body)
    if usage is not None:
        payload["usage"] = usage
    return json.dumps(payload).encode()


def _handler(fake: FakeOpenAI):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the openai SDK's httpx pool expects
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/_stats"):
                self._send(200, json.dumps({"requests": len(fake.requests),
                                            "max_in_flight": fake.max_in_flight}).encode())
            elif self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [
                    {"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]}).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            step = fake._arrive(body)
            try:
                time.sleep(fake.latency + step.delay)
                if step.delay and step.then is None and step.text is None and step.body is None:
                    step = fake.default(body)
                elif step.then is not None:
                    step = step.then
                data = step.body if step.body is not None else _completion(step, body)
                self._send(step.status, data, step.headers)
            finally:
                fake._leave()

        def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up first (a timeout)
                self.close_connection = True

    return Handler


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="serve a fake OpenAI-compatible API on 127.0.0.1 until killed")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every chat answer")
    parser.add_argument("--model", default="fake-model", help="the model GET /v1/models lists")
    args = parser.parse_args(argv)
    fake = FakeOpenAI(models=(args.model,), latency=args.latency)
    print(fake.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()


if __name__ == "__main__":
    main()
