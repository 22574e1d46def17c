"""CompatibleOpenAILike against a recording OpenAI-protocol server on 127.0.0.1: what it sends to a
llama-cpp-python server (quirks on) and to any other server (quirks off), and what it makes of the answers."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.bridge.pydantic import BaseModel
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool

from index.llm.errors import MalformedOutputError
from index.llm.openai_compat import QUIRK_MAX_TOKENS, QUIRKS_ENV, CompatibleOpenAILike


class RecordingServer:
    """/v1/models lists one model `owned_by` the given owner; /v1/chat/completions answers the scripted
    replies in order (a str is the content; a dict is the whole message) as JSON or as SSE when asked to
    stream, and records each request body."""

    def __init__(self, owner: str):
        self.owner, self.replies, self.requests, self.model_lists = owner, [], [], 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.model_lists += 1
                self._send(json.dumps({"object": "list", "data": [
                    {"id": "m", "object": "model", "owned_by": fake.owner}]}).encode())

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                reply = fake.replies.pop(0)
                message = reply if isinstance(reply, dict) else {"role": "assistant", "content": reply}
                if body.get("stream"):
                    self._send(b"".join(_sse(piece) for piece in _pieces(message)) + b"data: [DONE]\n\n",
                               "text/event-stream")
                else:
                    self._send(json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                                           "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                           "usage": {"prompt_tokens": 11, "completion_tokens": 5,
                                                     "total_tokens": 16}}).encode())

            def _send(self, data, kind="application/json"):
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _pieces(message):
    text = message.get("content") or ""
    return [{"content": text[i:i + 4]} for i in range(0, len(text), 4)] or [{"content": ""}]


def _sse(delta) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


@pytest.fixture
def server(request):
    fake = RecordingServer(getattr(request, "param", "me"))
    yield fake
    fake.close()


def compat(server, **fields):
    return CompatibleOpenAILike(model="m", api_base=server.url, api_key="k", is_chat_model=True,
                                is_function_calling_model=True, max_retries=0, timeout=10, **fields)


def lookup_movie(title: str) -> str:
    """Look up a movie in the catalog by title."""
    return f"{title}: directed by Zelda Okonkwo in 1987"


TOOLS = [FunctionTool.from_defaults(lookup_movie)]


class Movie(BaseModel):
    title: str
    year: int


PROMPT = PromptTemplate("Name a film about {topic}.")


def roles_and_contents(request):
    return [(m["role"], m.get("content")) for m in request["messages"]]


# -- detection ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("server, expected", [("me", True), ("vllm", False), ("library", False)],
                         indirect=["server"])
def test_quirks_are_detected_from_the_model_list_once(server, expected, monkeypatch):
    monkeypatch.delenv(QUIRKS_ENV, raising=False)
    llm = compat(server)
    assert llm.quirky is expected and llm.quirky is expected
    assert server.model_lists == 1


def test_the_env_var_overrides_detection(server, monkeypatch):
    monkeypatch.setenv(QUIRKS_ENV, "none")
    assert compat(server).quirky is False and server.model_lists == 0
    monkeypatch.setenv(QUIRKS_ENV, "llama-cpp-python")
    assert compat(server).quirky is True


def test_an_unreachable_server_means_standard_behaviour(monkeypatch):
    monkeypatch.delenv(QUIRKS_ENV, raising=False)
    llm = CompatibleOpenAILike(model="m", api_base="http://127.0.0.1:9/v1", api_key="k", is_chat_model=True)
    assert llm.quirky is False


# -- quirks on: what llama-cpp-python's server is sent -------------------------------------------------------

def test_structured_output_is_sent_as_json_object_with_schema_and_validated(server):
    server.replies = ['{"title": "Jaws", "year": 1975}']
    assert compat(server).structured_predict(Movie, PROMPT, topic="sharks") == Movie(title="Jaws", year=1975)
    [sent] = server.requests
    assert sent["response_format"] == {"type": "json_object", "schema": Movie.model_json_schema()}
    assert "tools" not in sent and "tool_choice" not in sent
    assert "Name a film about sharks." in json.dumps(sent["messages"])


async def test_async_structured_output_that_does_not_fit_raises_malformed_output(server):
    server.replies = ['{"title": "Jaws"}']
    with pytest.raises(MalformedOutputError, match="year"):
        await compat(server).astructured_predict(Movie, PROMPT, topic="sharks")


def test_streamed_structured_output_works(server):
    server.replies = ['{"title": "Jaws", "year": 1975}']
    *_, last = compat(server).stream_structured_predict(Movie, PROMPT, topic="sharks")
    assert last == Movie(title="Jaws", year=1975)
    assert server.requests[0]["response_format"]["type"] == "json_object" and server.requests[0]["stream"]


def test_tools_go_in_the_prompt_and_a_written_call_is_parsed(server):
    server.replies = ['```json\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n```']
    llm = compat(server)
    response = llm.chat_with_tools(TOOLS, user_msg="Who directed Heat?")
    [call] = llm.get_tool_calls_from_response(response)
    assert (call.tool_name, call.tool_kwargs) == ("lookup_movie", {"title": "Heat"})
    [sent] = server.requests
    assert "tools" not in sent and "tool_choice" not in sent and "response_format" not in sent
    assert sent["max_tokens"] == QUIRK_MAX_TOKENS  # the server's own default is unlimited
    system = sent["messages"][0]
    assert system["role"] == "system" and '"name": "lookup_movie"' in system["content"]


def test_a_required_tool_is_forced_through_the_schema_not_tool_choice(server):
    server.replies = ['{"name": "lookup_movie", "arguments": {"title": "Alien"}}']
    llm = compat(server)
    response = llm.chat_with_tools(TOOLS, user_msg="anything", tool_required=True)
    assert llm.get_tool_calls_from_response(response)[0].tool_kwargs == {"title": "Alien"}
    [sent] = server.requests
    assert "tool_choice" not in sent
    schema = sent["response_format"]["schema"]
    assert sent["response_format"]["type"] == "json_object" and schema["properties"]["name"] == {"const": "lookup_movie"}


def test_history_reaches_the_server_without_tool_roles_or_null_contents(server):
    server.replies = ['```json\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n```',
                      "Zelda Okonkwo directed it."]
    llm = compat(server)
    first = llm.chat_with_tools(TOOLS, user_msg="Who directed Heat?")
    call = llm.get_tool_calls_from_response(first)[0]
    history = [ChatMessage(role="user", content="Who directed Heat?"), first.message,
               ChatMessage(role="tool", content=lookup_movie(**call.tool_kwargs),
                           additional_kwargs={"tool_call_id": call.tool_id})]
    second = llm.chat_with_tools(TOOLS, chat_history=history)
    assert second.message.content == "Zelda Okonkwo directed it."
    sent = roles_and_contents(server.requests[1])
    assert {role for role, _ in sent} <= {"system", "user", "assistant"}
    assert all(isinstance(content, str) and content for _, content in sent)
    assert any(role == "user" and "Heat: directed by Zelda Okonkwo in 1987" in content for role, content in sent)
    assert any(role == "assistant" and '"lookup_movie"' in content for role, content in sent)


async def test_a_streamed_agent_turn_gets_its_tool_call_and_final_answer(server):
    server.replies = ['<tool_call>\n{"name": "lookup_movie", "arguments": {"title": "Heat"}}\n</tool_call>',
                      "Zelda Okonkwo directed Heat.", "It came out in 1987."]
    agent = FunctionAgent(tools=TOOLS, llm=compat(server), system_prompt="Movie helper.")
    memory = Memory.from_defaults(session_id="s")
    first = await agent.run(user_msg="Who directed Heat?", memory=memory)
    second = await agent.run(user_msg="When was it made?", memory=memory)
    assert [c.tool_name for c in first.tool_calls] == ["lookup_movie"]
    assert str(first.response.content) == "Zelda Okonkwo directed Heat."
    assert str(second.response.content) == "It came out in 1987."
    assert all(r["stream"] for r in server.requests)  # the agent streams, and the server can stream text
    assert "Heat: directed by Zelda Okonkwo in 1987" in json.dumps(server.requests[2]["messages"])


# -- quirks off: a standard server keeps native tool calling ------------------------------------------------

@pytest.mark.parametrize("server", ["vllm"], indirect=True)
def test_standard_servers_get_native_tools_and_tool_calls(server, monkeypatch):
    monkeypatch.delenv(QUIRKS_ENV, raising=False)
    server.replies = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup_movie", "arguments": '{"title": "Heat"}'}}]}]
    llm = compat(server)
    response = llm.chat_with_tools(TOOLS, user_msg="Who directed Heat?", tool_required=True)
    assert llm.get_tool_calls_from_response(response)[0].tool_kwargs == {"title": "Heat"}
    [sent] = server.requests
    assert sent["tools"][0]["function"]["name"] == "lookup_movie" and sent["tool_choice"] == "required"
    assert sent["messages"] == [{"role": "user", "content": "Who directed Heat?"}]
