"""Backend resolution: what `auto` picks, and one clear BackendError for every backend that cannot work."""

import hashlib
import http.server
import json
import socket
import threading
import time

import pytest

import index.llm.gguf as gguf
from index.llm.backends import BackendError, resolve_backend
from index.llm.gguf import GGUFModel, assemble, resolve_gguf

LLM_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MOVIEREC_OPENAI_MODEL", "MOVIEREC_LLM_BASE_URL", "MOVIEREC_LLM_MODEL",
           "MOVIEREC_LLM_API_KEY", "MOVIEREC_GGUF")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No LLM settings from the machine running the tests."""
    for name in LLM_ENV:
        monkeypatch.delenv(name, raising=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 that only answers GET /v1/models."""

    def __init__(self, models=("tiny-model", "other-model"), key=None):
        self.seen_keys = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                fake.seen_keys.append(self.headers.get("Authorization"))
                if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
                    return self.reply(401, {"error": "bad key"})
                if self.path != "/v1/models":
                    return self.reply(404, {"error": "not found"})
                self.reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --- openai ---

def test_openai_without_a_key_says_which_variable_to_set():
    with pytest.raises(BackendError, match="--llm openai needs OPENAI_API_KEY"):
        resolve_backend("openai")


def test_openai_with_a_key_builds_without_network_when_not_probing(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("MOVIEREC_OPENAI_MODEL", "gpt-test")
    backend = resolve_backend("openai", probe=False)
    assert (backend.name, backend.model, backend.llm.model) == ("openai", "gpt-test", "gpt-test")
    assert backend.describe() == "openai (gpt-test)"


def test_openai_with_a_refused_key_is_one_line(monkeypatch):
    with FakeOpenAI(key="right") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        with pytest.raises(BackendError, match=r"refused the API key \(HTTP 401\)"):
            resolve_backend("openai")
    assert server.seen_keys == ["Bearer wrong"]


# --- openai-like ---

def test_openai_like_without_a_base_url_says_which_variable_to_set():
    with pytest.raises(BackendError, match="--llm openai-like needs MOVIEREC_LLM_BASE_URL"):
        resolve_backend("openai-like")


def test_openai_like_with_nothing_listening_fails_fast_in_one_line(monkeypatch):
    monkeypatch.setenv("MOVIEREC_LLM_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    started = time.perf_counter()
    with pytest.raises(BackendError) as error:
        resolve_backend("openai-like")
    assert time.perf_counter() - started < 3
    message = str(error.value)
    assert message.startswith("cannot reach the OpenAI-compatible server at http://127.0.0.1:")
    assert "is it running?" in message and "\n" not in message


def test_openai_like_picks_the_servers_first_model(monkeypatch):
    with FakeOpenAI(models=("tiny-model", "other-model"), key="k1") as server:
        monkeypatch.setenv("MOVIEREC_LLM_BASE_URL", server.url)
        monkeypatch.setenv("MOVIEREC_LLM_API_KEY", "k1")
        backend = resolve_backend("openai-like")
    assert (backend.name, backend.model) == ("openai-like", "tiny-model")
    assert backend.describe() == "openai-like (tiny-model)"


def test_openai_like_model_can_be_named(monkeypatch):
    with FakeOpenAI() as server:
        monkeypatch.setenv("MOVIEREC_LLM_BASE_URL", server.url)
        monkeypatch.setenv("MOVIEREC_LLM_MODEL", "other-model")
        assert resolve_backend("openai-like").model == "other-model"


def test_openai_like_server_without_models_asks_for_one(monkeypatch):
    with FakeOpenAI(models=()) as server:
        monkeypatch.setenv("MOVIEREC_LLM_BASE_URL", server.url)
        with pytest.raises(BackendError, match="set MOVIEREC_LLM_MODEL"):
            resolve_backend("openai-like")


# --- auto ---

def test_auto_prefers_openai_when_a_key_is_set(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("MOVIEREC_LLM_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    assert resolve_backend("auto", probe=False).name == "openai"


def test_auto_uses_the_compatible_server_without_an_openai_key(monkeypatch):
    with FakeOpenAI() as server:
        monkeypatch.setenv("MOVIEREC_LLM_BASE_URL", server.url)
        assert resolve_backend("auto").name == "openai-like"


def test_auto_with_nothing_configured_and_no_local_model_is_none(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: False)
    backend = resolve_backend("auto", tmp_path)
    assert (backend.name, backend.llm) == ("none", None)
    assert backend.describe().startswith("none")


def test_auto_chooses_local_when_a_local_model_is_available(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf, "local_model_available", lambda data_dir: True)
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: False)  # so choosing local ends in its own message
    with pytest.raises(BackendError, match="--llm local needs llama-cpp-python"):
        resolve_backend("auto", tmp_path)


def test_local_model_available_follows_movierec_gguf(monkeypatch, tmp_path):
    model = tmp_path / "model.gguf"
    monkeypatch.setenv("MOVIEREC_GGUF", str(model))
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: True)
    assert not gguf.local_model_available(tmp_path)
    model.write_bytes(b"GGUF")
    assert gguf.local_model_available(tmp_path)
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: False)
    assert not gguf.local_model_available(tmp_path)


def test_an_unknown_choice_lists_the_valid_ones():
    with pytest.raises(BackendError, match="auto, openai, openai-like, local, none"):
        resolve_backend("gpt5")


# --- local GGUF ---

def test_local_without_llama_cpp_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: False)
    with pytest.raises(BackendError, match=r"pip install -e '\.\[local\]'"):
        resolve_backend("local", tmp_path)


def test_the_local_backend_is_not_asked_to_screen_turns_or_write_questions(monkeypatch, tmp_path):
    from index.llm import local, selfcheck

    monkeypatch.setattr(gguf, "resolve_gguf", lambda data_dir: (tmp_path / "model.gguf", "a local model"))
    monkeypatch.setattr(selfcheck, "check_local_model", lambda path, root: type("Verdict", (), {"ok": True})())
    monkeypatch.setattr(local, "shared_local_llm", lambda path, heads: object())
    backend = resolve_backend("local", tmp_path)
    assert (backend.name, backend.screens_turns, backend.writes_questions) == ("local", False, False)


def test_movierec_gguf_pointing_nowhere_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf, "llama_cpp_installed", lambda: True)
    monkeypatch.setenv("MOVIEREC_GGUF", str(tmp_path / "missing.gguf"))
    with pytest.raises(BackendError, match="which is not a file"):
        resolve_gguf(tmp_path)


def fake_model(tmp_path, contents, sha256=None):
    """A GGUFModel whose installed parts are small temp files; `_part_paths` is pointed at them by the caller."""
    parts = []
    for i, content in enumerate(contents):
        part = tmp_path / "parts" / f"part{i:02d}.bin"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(content)
        parts.append(part)
    digest = sha256 or hashlib.sha256(b"".join(contents)).hexdigest()
    model = GGUFModel(label="Fake 1B", filename="fake.gguf", sha256=digest,
                      files=tuple((f"fake-part{i}", f"fake/part{i:02d}.bin") for i in range(len(contents))))
    return model, parts


def test_assemble_joins_the_parts_in_order_and_verifies_once(monkeypatch, tmp_path):
    contents = [b"GGUF" + bytes(100), b"middle" * 50, b"end"]
    model, parts = fake_model(tmp_path, contents)
    monkeypatch.setattr(gguf, "_part_paths", lambda m: parts)
    target = assemble(model, tmp_path / "models")
    assert target.read_bytes() == b"".join(contents)
    assert sorted(p.name for p in target.parent.iterdir()) == ["fake.gguf", "fake.verified"]  # no .part left
    monkeypatch.setattr(gguf, "_part_paths", lambda m: pytest.fail("re-assembled a verified model"))
    assert assemble(model, tmp_path / "models") == target


def test_assemble_refuses_a_sha256_mismatch_and_leaves_nothing(monkeypatch, tmp_path):
    model, parts = fake_model(tmp_path, [b"GGUF", b"tampered"], sha256="0" * 64)
    monkeypatch.setattr(gguf, "_part_paths", lambda m: parts)
    with pytest.raises(BackendError, match="refusing Fake 1B: sha256 .* is not the published 0000000000000000"):
        assemble(model, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_verified_model_changed_on_disk_is_checked_again(monkeypatch, tmp_path):
    model, parts = fake_model(tmp_path, [b"GGUF", b"weights"])
    monkeypatch.setattr(gguf, "_part_paths", lambda m: parts)
    target = assemble(model, tmp_path / "models")
    target.write_bytes(b"GGUF-corrupted")
    monkeypatch.setattr(gguf, "_part_paths", lambda m: None)  # the part packages were uninstalled since
    with pytest.raises(BackendError, match="refusing Fake 1B"):
        assemble(model, tmp_path / "models")


def test_assemble_without_the_part_packages_says_what_to_install(monkeypatch, tmp_path):
    model, _ = fake_model(tmp_path, [b"a", b"b", b"c"])
    monkeypatch.setattr(gguf, "_part_paths", lambda m: None)
    with pytest.raises(BackendError, match=r"not installed \(fake-part0, fake-part1…\): pip install"):
        assemble(model, tmp_path / "models")
