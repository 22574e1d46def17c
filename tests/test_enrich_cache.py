"""enriched.jsonl: durable appends, a torn tail neither trusted nor appended after, one row per key, one writer."""

import json
from dataclasses import replace

import pytest

from index.enrich.cache import ERROR, INVALID, OK, CacheLocked, EnrichedCache, EnrichedRow


def row(movie_id, status=OK, text="A fine film.", model="m", prompt="critic-v1"):
    return EnrichedRow(movie_id=movie_id, model=model, prompt=prompt, status=status, text=text, tokens_in=50,
                       tokens_out=80, tokens_from="usage", seconds=0.2, attempts=1, at="2026-01-01T00:00:00+00:00",
                       error=None if status == OK else "why")


def write(cache, *rows):
    with cache.writer() as writer:
        for r in rows:
            writer.append(r)


def test_rows_round_trip_one_line_each(tmp_path):
    cache = EnrichedCache(tmp_path / "enriched.jsonl")
    write(cache, row(1), row(2, text="Ünïcode, \"quoted\"\nand a newline."))
    lines = cache.path.read_bytes().splitlines()
    assert len(lines) == 2
    contents = cache.read()
    assert contents.rows[(2, "m", "critic-v1")].text == "Ünïcode, \"quoted\"\nand a newline."
    assert (contents.untrusted_lines, contents.duplicate_lines) == (0, 0)


def test_a_torn_last_line_is_not_trusted_and_the_next_writer_cuts_it(tmp_path):
    cache = EnrichedCache(tmp_path / "enriched.jsonl")
    write(cache, row(1), row(2))
    whole = row(3).to_line()
    with open(cache.path, "ab") as out:
        out.write(whole[: len(whole) // 2])  # what a crash in the middle of a write leaves
    contents = cache.read()
    assert set(m for m, _, _ in contents.rows) == {1, 2} and contents.untrusted_lines == 1

    with cache.writer() as writer:
        assert writer.repaired_bytes == len(whole) // 2
        writer.append(row(3))
    lines = cache.path.read_bytes().splitlines()
    assert [json.loads(line)["movie_id"] for line in lines] == [1, 2, 3]  # every line whole again
    assert cache.read().untrusted_lines == 0


def test_a_whole_last_row_missing_only_its_newline_is_kept(tmp_path):
    cache = EnrichedCache(tmp_path / "enriched.jsonl")
    cache.path.write_bytes(row(1).to_line() + row(2).to_line().rstrip(b"\n"))
    assert len(cache.read().rows) == 2
    write(cache, row(3))
    assert [json.loads(line)["movie_id"] for line in cache.path.read_bytes().splitlines()] == [1, 2, 3]


@pytest.mark.parametrize("line", [b"{}", b"[1, 2]", b"not json", b'{"movie_id": "1"}',
                                  json.dumps({**json.loads(row(1).to_line()), "status": "maybe"}).encode(),
                                  json.dumps({**json.loads(row(1).to_line()), "tokens_in": True}).encode()])
def test_lines_that_are_not_whole_rows_are_skipped_anywhere(tmp_path, line):
    cache = EnrichedCache(tmp_path / "enriched.jsonl")
    cache.path.write_bytes(row(1).to_line() + line + b"\n" + row(2).to_line())
    contents = cache.read()
    assert sorted(m for m, _, _ in contents.rows) == [1, 2] and contents.untrusted_lines == 1


def test_one_row_per_key_the_first_ok_wins_over_later_duplicates_and_failures(tmp_path):
    cache = EnrichedCache(tmp_path / "enriched.jsonl")
    write(cache, row(1, INVALID, "short"), row(1, OK, "First good."), row(1, OK, "Second good."), row(1, ERROR, ""),
          row(2, ERROR, ""), row(2, INVALID, "newest failure"),
          row(1, OK, "Other model.", model="other"), row(1, OK, "Other prompt.", prompt="grounded-v1"))
    contents = cache.read()
    assert contents.rows[(1, "m", "critic-v1")].text == "First good."
    assert contents.rows[(2, "m", "critic-v1")].status == INVALID  # no ok row: the newest failure
    assert contents.duplicate_lines == 4
    assert contents.texts("m", "critic-v1") == {1: "First good."}  # failed rows are never texts
    assert contents.done() == {(1, "m", "critic-v1"), (1, "other", "critic-v1"), (1, "m", "grounded-v1")}
    assert contents.models("critic-v1") == {"m": 1, "other": 1}


def test_a_second_writer_is_refused_while_the_first_holds_the_file(tmp_path):
    cache = EnrichedCache(tmp_path / "enriched.jsonl")
    with cache.writer() as first:
        first.append(row(1))
        with pytest.raises(CacheLocked, match="another `movierec enrich` is writing"):
            with cache.writer():
                pass
    write(cache, replace(row(2)))  # released on close
    assert len(cache.read().rows) == 2
