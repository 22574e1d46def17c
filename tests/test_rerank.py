"""JustifiedRerank with a scripted LLM: valid picks, invented ids, malformed output, too few picks, timeouts."""

import asyncio
from types import SimpleNamespace

import pytest
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from tools.rerank import REASON_CHARS, JustifiedRerank, Picks, one_sentence


def candidates(n=8):
    return [NodeWithScore(node=TextNode(id_=str(i), text=f"Film {i} ({1990 + i}) | Drama\nA quiet drama.",
                                        metadata={"movie_id": i, "title": f"Film {i} ({1990 + i})",
                                                  "genres": "Drama", "evidence_reason": f"Evidence for {i}."}),
                          score=1.0 - i / 10) for i in range(1, n + 1)]


def scripted(tool_kwargs):
    """An LLM whose structured output is whatever `tool_kwargs` says (dict, or a raw string)."""
    seen = []

    def respond(messages, **kwargs):
        seen.append(messages[-1].content)
        return ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="Picks",
                                                                   tool_kwargs=tool_kwargs)])
    llm = MockFunctionCallingLLM(response_generator=respond)
    return llm, seen


def picks(*ids):
    return {"picks": [{"id": i, "reason": f"You asked for quiet dramas, and film {i} is one."} for i in ids]}


def ids(nodes):
    return [n.node.metadata["movie_id"] for n in nodes]


def test_llm_order_and_reasons_are_kept():
    llm, seen = scripted(picks(7, 3, 5, 1, 2))
    outcome = JustifiedRerank(llm=llm).rerank(candidates(), "mood: quiet; genres: Drama")
    assert ids(outcome.nodes) == [7, 3, 5, 1, 2]
    assert outcome.nodes[0].node.metadata["reason"] == "You asked for quiet dramas, and film 7 is one."
    assert {n.node.metadata["reason_source"] for n in outcome.nodes} == {"llm"}
    assert not outcome.fallback and outcome.invented_ids == [] and outcome.filled == 0
    # one call that carries the conversation and every candidate
    assert len(seen) == 1 and "mood: quiet" in seen[0] and all(f"Film {i} (" in seen[0] for i in range(1, 9))


def test_invented_ids_are_dropped_counted_and_filled_from_retrieval_order():
    llm, _ = scripted(picks(99, 4, 1234, 2))
    outcome = JustifiedRerank(llm=llm).rerank(candidates(), "x")
    assert outcome.invented_ids == [99, 1234]
    assert ids(outcome.nodes) == [4, 2, 1, 3, 5]  # LLM picks first, then retrieval order
    assert outcome.filled == 3
    assert [n.node.metadata["reason_source"] for n in outcome.nodes] == ["llm", "llm", "evidence", "evidence",
                                                                         "evidence"]
    assert outcome.nodes[2].node.metadata["reason"] == "Evidence for 1."


def test_duplicates_do_not_take_two_slots():
    llm, _ = scripted(picks(3, 3, 3, 6))
    outcome = JustifiedRerank(llm=llm).rerank(candidates(), "x")
    assert ids(outcome.nodes) == [3, 6, 1, 2, 4]


@pytest.mark.parametrize("garbage", ["{not json at all", {"picks": "none"}, {"choices": [1, 2]},
                                     {"picks": [{"id": "seven", "reason": 3}]}])
def test_malformed_output_falls_back_to_retrieval_order(garbage):
    llm, _ = scripted(garbage)
    outcome = JustifiedRerank(llm=llm).rerank(candidates(), "x")
    assert outcome.fallback and outcome.error
    assert ids(outcome.nodes) == [1, 2, 3, 4, 5]
    assert [n.node.metadata["reason"] for n in outcome.nodes] == [f"Evidence for {i}." for i in range(1, 6)]


def test_an_llm_error_falls_back():
    def boom(messages, **kwargs):
        raise ConnectionError("server down")
    outcome = JustifiedRerank(llm=MockFunctionCallingLLM(response_generator=boom)).rerank(candidates(), "x")
    assert outcome.fallback and "server down" in outcome.error
    assert ids(outcome.nodes) == [1, 2, 3, 4, 5]


def test_async_timeout_falls_back():
    class Slow(MockFunctionCallingLLM):
        async def astructured_predict(self, *args, **kwargs):
            await asyncio.sleep(5)

    outcome = asyncio.run(JustifiedRerank(llm=Slow(), timeout=0.05).arerank(candidates(), "x"))
    assert outcome.fallback and "Timeout" in outcome.error
    assert ids(outcome.nodes) == [1, 2, 3, 4, 5]


def test_picks_streamed_before_a_timeout_stay_first_and_the_evidence_fills_the_rest():
    from index.recommendation import Recommendation
    from tools.rerank import Pick, Picks
    from tools.search import render
    from tools.session import SearchResult

    class Stalls(MockFunctionCallingLLM):
        """Streams two picks, then hangs, as a slow local model does near the rerank's deadline."""
        @property
        def streams_partial_json(self):
            return True

        async def astream_structured_predict(self, *args, **kwargs):
            async def partials():
                yield Picks(picks=[Pick(id=6, reason="Streamed first pick.")])
                yield Picks(picks=[Pick(id=6, reason="Streamed first pick."),
                                   Pick(id=4, reason="Streamed second pick.")])
                third = [{"id": 6, "reason": "Streamed first pick."}, {"id": 4, "reason": "Streamed second pick."}]
                yield SimpleNamespace(picks=[*third, {"id": 8}])  # its id may still grow: 8, 81, ...
                yield SimpleNamespace(picks=[*third, {"id": 8, "reason": "Half wri"}])  # its id is whole now
                await asyncio.sleep(5)
            return partials()

    shown = []
    rerank = JustifiedRerank(llm=Stalls(), timeout=0.2)
    outcome = asyncio.run(rerank.arerank(candidates(), "x", on_pick=lambda n: shown.append(
        (n.node.metadata["movie_id"], n.node.metadata["reason"]))))
    # each film as soon as its id is whole, then with its reason; a half-written reason is never shown
    assert shown == [(6, ""), (6, "Streamed first pick."), (4, ""), (4, "Streamed second pick."), (8, "")]
    assert ids(outcome.nodes) == [6, 4, 8, 1, 2]  # what the person saw is not replaced
    assert outcome.nodes[2].node.metadata["reason"] == "Evidence for 8."
    assert outcome.fallback and "Timeout" in outcome.error and outcome.filled == 2
    shown_list = [Recommendation(n.node.metadata["movie_id"], f"Film {n.node.metadata['movie_id']}", 2000,
                                 n.node.metadata["reason"]) for n in outcome.nodes]
    text = render(SearchResult(shown_list, outcome, "x", 8, ()))
    assert "stopped after 3, so the last 2 are ranked by the evidence alone" in text


def test_without_llm_the_evidence_order_and_reasons_stand():
    outcome = JustifiedRerank(llm=None, top_n=3).rerank(candidates(), "x")
    assert ids(outcome.nodes) == [1, 2, 3] and not outcome.fallback and not outcome.used_llm
    assert outcome.nodes[0].node.metadata["reason"] == "Evidence for 1."


def test_postprocessor_interface_sync_and_async():
    llm, _ = scripted(picks(8, 7, 6, 5, 4))
    rerank = JustifiedRerank(llm=llm)
    assert ids(rerank.postprocess_nodes(candidates(), query_str="x")) == [8, 7, 6, 5, 4]
    nodes = asyncio.run(rerank.apostprocess_nodes(candidates(), query_bundle=QueryBundle("x")))
    assert ids(nodes) == [8, 7, 6, 5, 4]


def test_the_llm_sees_only_max_candidates():
    llm, seen = scripted(picks(12))
    outcome = JustifiedRerank(llm=llm, max_candidates=10).rerank(candidates(15), "x")
    assert "Film 10 (" in seen[0] and "Film 11 (" not in seen[0]
    assert outcome.invented_ids == [12]  # beyond what it was shown, so not a valid pick


def test_a_candidate_line_keeps_descriptions_and_tags_but_not_other_peoples_favourites():
    node = NodeWithScore(node=TextNode(id_="7", text="Heat (1995) | Action\nA heist drama. Viewers tag it: tense. "
                                                      "Fans also loved: Ronin (1998), Casino (1995).",
                                       metadata={"movie_id": 7, "title": "Heat (1995)", "genres": "Action|Crime",
                                                 "fans_of": "Collateral", "evidence_reason": "E."}), score=1.0)
    raw = NodeWithScore(node=TextNode(id_="9", text="Casino (1995) | Crime, Drama",
                                      metadata={"movie_id": 9, "title": "Casino (1995)", "genres": "Crime|Drama",
                                                "evidence_reason": "E."}), score=0.8)  # the baseline recipe
    bare = NodeWithScore(node=TextNode(id_="8", text="Ronin (1998) | Action\nFans also loved: Heat (1995).",
                                       metadata={"movie_id": 8, "title": "Ronin (1998)", "genres": "Action",
                                                 "evidence_reason": "E."}), score=0.9)
    llm, seen = scripted(picks(7, 8))
    JustifiedRerank(llm=llm).rerank([node, bare, raw], "x")
    lines = seen[0].split("Candidates:\n", 1)[1].splitlines()
    assert lines == ["7 | Heat (1995) | Action, Crime | fans of: Collateral | A heist drama. Viewers tag it: tense.",
                     "8 | Ronin (1998) | Action | fans of: - | -",
                     "9 | Casino (1995) | Crime, Drama | fans of: - | -"]


def test_one_sentence():
    assert one_sentence("A tense heist film. It also has Pacino.") == "A tense heist film."
    assert one_sentence('  "You wanted the 90s!"  ') == "You wanted the 90s!"
    assert one_sentence("ok") == ""


def test_a_reason_the_grammar_closed_loses_its_cut_word():
    written = ("Its slow-burning dread and grainy seventies look echo everything you loved about the films you "
               "named, unforgettable")[:REASON_CHARS]
    assert written.endswith("unforget")
    assert one_sentence(written).endswith("the films you named…")
    assert one_sentence("A short, complete reason without a full stop") == "A short, complete reason without a full stop"


def test_the_schema_caps_each_reason_for_constrained_decoding():
    reason = Picks.model_json_schema()["$defs"]["Pick"]["properties"]["reason"]
    assert reason["maxLength"] == REASON_CHARS
    Picks.model_validate({"picks": [{"id": 1, "reason": "x" * (REASON_CHARS * 2)}]})  # APIs may ignore the cap
