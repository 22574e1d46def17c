"""load_catalog on synthetic MovieLens folders and zips, the bundled copy, downloads, and broken sources."""

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import index.catalog as catalog_module
from index.catalog import MAX_TAGS, CatalogError, bundled_path, load_catalog
from index.errors import UserError
from ui.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED_ZIP = REPO.parent / "shared" / "data" / "ml-latest-small.zip"

# Users 5 and 10 are the evaluation population (user_id % 5 == 0); everyone else trains.
MOVIES = [
    (1, "American President, The (1995)", "Comedy|Drama|Romance"),
    (2, "Seven (a.k.a. Se7en) (1995)", "Mystery|Thriller"),
    (3, "Babylon 5", "Sci-Fi"),
    (4, "", "Drama"),  # no title: dropped
    (5, "Unlisted Documentary (2015)", "(no genres listed)"),
    (6, "Postman, The (Postino, Il) (1994)", "Comedy|Drama|Romance"),
    (7, "   ", "Comedy"),  # blank title: dropped
]
RATINGS = [
    (1, 1, 4.0), (2, 1, 5.0), (5, 1, 1.0), (10, 1, 1.0),  # movie 1: 2 training ratings, mean 4.5
    (1, 2, 3.0), (2, 2, 4.0), (3, 2, 5.0),  # movie 2: 3 training ratings, mean 4.0
    (3, 3, 2.0), (5, 3, 5.0), (10, 3, 5.0),  # movie 3: 1 training rating (the eval users add 2)
    (4, 4, 5.0), (6, 4, 5.0), (7, 4, 5.0), (8, 4, 5.0),  # movie 4 is the most rated but has no title
    (5, 5, 4.0),  # movie 5: only an evaluation user rated it
    (1, 6, 3.5), (4, 6, 2.5),  # movie 6: 2 training ratings, mean 3.0
]


@pytest.fixture(scope="module")
def small(movielens_folder):
    return load_catalog(str(movielens_folder(MOVIES, RATINGS)))


def test_titles_read_in_reading_order_with_year_apart(small):
    president = small[1]
    assert (president.title, president.name, president.year) == ("The American President (1995)",
                                                                  "The American President", 1995)
    assert president.ml_title == "American President, The (1995)"
    assert president.genres == ("Comedy", "Drama", "Romance")


def test_aliases_and_original_titles(small):
    assert small[2].title == "Seven (1995)" and small[2].aliases == ("Se7en",)
    postman = small[6]
    assert postman.name == "The Postman" and postman.aliases == ("Il Postino",)
    assert postman.original_title == "Il Postino"


def test_a_title_without_year_keeps_its_name_and_no_year(small):
    assert (small[3].title, small[3].name, small[3].year) == ("Babylon 5", "Babylon 5", None)


def test_no_genres_listed_becomes_an_empty_genre_list(small):
    assert small[5].genres == ()


def test_movies_without_titles_are_dropped_with_their_ratings(small):
    assert 4 not in small and 7 not in small
    assert 4 not in set(small.ratings["movie_id"]) | set(small.eval_ratings["movie_id"])


def test_counts_and_means_come_from_training_users_only(small):
    assert (small[1].n_ratings, small[1].mean_rating) == (2, 4.5)
    assert (small[2].n_ratings, small[2].mean_rating) == (3, 4.0)
    assert (small[3].n_ratings, small[3].mean_rating) == (1, 2.0)
    assert (small[5].n_ratings, small[5].mean_rating) == (0, None)
    assert (small[6].n_ratings, small[6].mean_rating) == (2, 3.0)


def test_catalog_order_is_most_rated_first_then_movie_id(small):
    assert list(small.movies) == [2, 1, 6, 3, 5]


def test_ratings_hold_training_users_and_eval_ratings_only_evaluation_users(small):
    assert len(small.ratings) > 0 and len(small.eval_ratings) > 0
    assert (small.ratings["user_id"] % 5 != 0).all()
    assert (small.eval_ratings["user_id"] % 5 == 0).all()
    assert sorted(small.eval_ratings["movie_id"]) == [1, 1, 3, 3, 5]
    assert len(small.ratings) + len(small.eval_ratings) == sum(1 for r in RATINGS if r[1] not in (4, 7))


def test_a_zip_reads_the_same_as_its_folder(movielens_folder, small):
    zipped = load_catalog(str(movielens_folder(MOVIES, RATINGS, as_zip=True)))
    assert zipped.movies == small.movies
    assert zipped.fingerprint == small.fingerprint
    pd.testing.assert_frame_equal(zipped.ratings, small.ratings)


def test_an_empty_genres_field_means_no_genres(movielens_folder):
    catalog = load_catalog(str(movielens_folder([(1, "Heat (1995)", "")], [(1, 1, 4.0)])))
    assert catalog[1].genres == ()


# --- the limit: most-rated first, ties by movie id, whatever the file order ---

def tie_data():
    """Movies 10..15; 11, 12, 13 and 14 tie on two training ratings; 12 also has many evaluation ratings."""
    movies = [(mid, f"Film {mid} (2000)", "Drama") for mid in (14, 12, 15, 10, 13, 11)]
    ratings = [(u, 10, 4.0) for u in (1, 2, 3)]
    ratings += [(u, mid, 3.0) for mid in (11, 12, 13, 14) for u in (1, 2)]
    ratings += [(u, 12, 5.0) for u in (5, 10, 15, 20, 25)]
    ratings += [(1, 15, 2.0)]
    return movies, ratings


@pytest.mark.parametrize("limit, kept", [(1, [10]), (3, [10, 11, 12]), (5, [10, 11, 12, 13, 14]),
                                         (10, [10, 11, 12, 13, 14, 15])])
def test_limit_keeps_the_most_rated_with_ties_by_movie_id(movielens_folder, limit, kept):
    movies, ratings = tie_data()
    assert list(load_catalog(str(movielens_folder(movies, ratings)), limit=limit).movies) == kept


def test_limit_does_not_depend_on_file_order(movielens_folder):
    movies, ratings = tie_data()
    forward = load_catalog(str(movielens_folder(movies, ratings)), limit=3)
    backward = load_catalog(str(movielens_folder(movies[::-1], ratings[::-1])), limit=3)
    assert list(forward.movies) == list(backward.movies)
    assert forward.fingerprint == backward.fingerprint


def test_ratings_are_limited_to_the_kept_movies(movielens_folder):
    movies, ratings = tie_data()
    catalog = load_catalog(str(movielens_folder(movies, ratings)), limit=2)
    assert set(catalog.ratings["movie_id"]) == {10, 11}
    assert set(catalog.eval_ratings["movie_id"]) <= {10, 11}


# --- tags ---

def test_tags_are_the_training_users_most_used_lowercased(movielens_folder):
    names = [f"tag{i:02d}" for i in range(MAX_TAGS + 3)]
    tags = [(1, 1, name) for name in names]  # every tag once
    tags += [(2, 1, "Slow Burn"), (3, 1, " slow burn "), (4, 1, "SLOW BURN")]  # one tag, three spellings
    tags += [(2, 1, "tag14"), (3, 1, "tag14")]
    tags += [(u, 1, "eval only") for u in (5, 10, 15, 20, 25)]  # the most used, but by evaluation users
    tags += [(5, 1, "tag13")] * 5
    tags += [(1, 99, "not in catalog")]
    catalog = load_catalog(str(movielens_folder([(1, "Heat (1995)", "Action")], [(1, 1, 4.0)], tags)))
    assert catalog.has_tags
    assert catalog[1].tags == ("slow burn", "tag14", *names[:MAX_TAGS - 2])


def test_sources_without_tags_say_so(small):
    assert not small.has_tags
    assert all(movie.tags == () for movie in small)


# --- the bundled copy and the real 2018 release ---

@pytest.fixture(scope="module")
def bundled():
    return load_catalog("bundled")


def test_bundled_catalog_is_the_5000_most_rated(bundled):
    raw = pd.read_pickle(bundled_path(), compression="xz")
    train = raw[raw["userId"] % 5 != 0]
    counts = train.groupby("movieId").size()
    assert len(bundled) == 5000
    fewest_kept = min(movie.n_ratings for movie in bundled)
    assert all(counts.get(movie.movie_id) == movie.n_ratings for movie in bundled)
    titled = set(raw.loc[raw["title"].notna(), "movieId"])
    assert not any(count > fewest_kept for mid, count in counts.items() if mid not in bundled and mid in titled)
    assert not bundled.has_tags


def test_bundled_catalog_has_years_and_no_evaluation_users(bundled):
    heat = next(m for m in bundled if m.title == "Heat (1995)")
    assert heat.year == 1995 and "Crime" in heat.genres
    assert (bundled.ratings["user_id"] % 5 != 0).all() and (bundled.eval_ratings["user_id"] % 5 == 0).all()
    assert set(bundled.ratings["movie_id"]) <= set(bundled.movies)


@pytest.mark.skipif(not SHARED_ZIP.is_file(), reason="needs ../shared/data/ml-latest-small.zip")
def test_the_2018_release_reads_with_tags():
    catalog = load_catalog(str(SHARED_ZIP), limit=500)
    assert len(catalog) == 500 and catalog.has_tags
    assert any(movie.tags for movie in catalog)
    assert next(m for m in catalog if m.ml_title.startswith("Seven (a.k.a. Se7en)")).aliases == ("Se7en",)
    assert (catalog.ratings["user_id"] % 5 != 0).all()


# --- downloads ---

def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_download_offline_fails_fast_naming_bundled_and_the_path_option(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_module, "GROUPLENS", f"http://127.0.0.1:{closed_port()}/{{name}}.zip")
    started = time.perf_counter()
    with pytest.raises(CatalogError) as error:
        load_catalog("ml-latest-small", cache_dir=tmp_path)
    assert time.perf_counter() - started < 5
    message = str(error.value)
    assert "--source bundled" in message and "--source /path/to/ml-latest-small.zip" in message
    assert list((tmp_path / "downloads").iterdir()) == []  # no partial file left behind


def test_download_is_cached_and_reused_offline(tmp_path, monkeypatch, movielens_folder):
    archive = movielens_folder(MOVIES, RATINGS, as_zip=True)
    requests = []

    class Serve(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(archive.parent), **kwargs)

        def translate_path(self, path):
            requests.append(path)
            return str(archive)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(catalog_module, "GROUPLENS", f"http://127.0.0.1:{server.server_port}/{{name}}.zip")
        first = load_catalog("ml-latest-small", cache_dir=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert requests == ["/ml-latest-small.zip"]
    assert (tmp_path / "downloads" / "ml-latest-small.zip").read_bytes() == archive.read_bytes()
    again = load_catalog("ml-latest-small", cache_dir=tmp_path)  # the server is gone: the cache answers
    assert again.movies == first.movies and list(first.movies) == [2, 1, 6, 3, 5]


# --- broken sources: a CatalogError that says what is wrong, and exit code 2 through the command line ---

def broken_sources(root: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, words the message must contain)."""
    def folder(name, files):
        path = root / name
        path.mkdir()
        for filename, content in files.items():
            (path / filename).write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    movies = "movieId,title,genres\n1,Heat (1995),Action\n"
    ratings = "userId,movieId,rating,timestamp\n1,1,4.0,0\n"
    (root / "not-a.zip").write_text("this is not a zip file")
    return {
        "bad zip": (root / "not-a.zip", "not a readable MovieLens zip"),
        "missing column": (folder("nocol", {"movies.csv": "movieId,title\n1,Heat (1995)\n", "ratings.csv": ratings}),
                           "lacks column(s) genres"),
        "missing ratings.csv": (folder("noratings", {"movies.csv": movies}), "has no ratings.csv"),
        "binary garbage": (folder("binary", {"movies.csv": movies, "ratings.csv": bytes(range(256)) * 8}),
                           "cannot parse"),
        "ragged rows": (folder("ragged", {"movies.csv": movies, "ratings.csv": ratings + "1,2,3,4,5,6,7\n"}),
                        "cannot parse"),
        "words for numbers": (folder("words", {"movies.csv": movies, "ratings.csv": ratings + "x,y,z,0\n"}),
                              "cannot parse"),
        "movie id not a number": (folder("badid", {"movies.csv": "movieId,title,genres\nabc,Heat (1995),Action\n",
                                                   "ratings.csv": ratings}), "cannot parse"),
        "tag user not a number": (folder("badtags", {"movies.csv": movies, "ratings.csv": ratings,
                                                     "tags.csv": "userId,movieId,tag,timestamp\nbob,1,tense,0\n"}),
                                  "cannot parse"),
        "empty ratings.csv": (folder("empty", {"movies.csv": movies, "ratings.csv": ""}), "cannot parse"),
        "no such path": (root / "nowhere", "'bundled'"),
    }


BROKEN = ["bad zip", "missing column", "missing ratings.csv", "binary garbage", "ragged rows", "words for numbers",
          "movie id not a number", "tag user not a number", "empty ratings.csv", "no such path"]


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_source_raises_a_one_line_catalog_error(tmp_path, case):
    path, words = broken_sources(tmp_path)[case]
    with pytest.raises(CatalogError) as error:
        load_catalog(str(path))
    message = str(error.value)
    assert isinstance(error.value, UserError)
    assert words in message and str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize("case", BROKEN)
def test_the_command_line_prints_one_line_and_exits_2_on_a_broken_source(tmp_path, capsys, case):
    path, words = broken_sources(tmp_path)[case]
    code = main(["--llm", "none", "--data-dir", str(tmp_path / "data"), "index", "--source", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("movierec: ") and words in err and err.count("\n") == 1


def test_a_broken_source_in_a_real_process_exits_2_without_traceback(tmp_path):
    path, words = broken_sources(tmp_path)["bad zip"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "ui.cli", "--llm", "none", "--data-dir", str(tmp_path / "data"),
                          "index", "--source", str(path)], capture_output=True, text=True, cwd=REPO, env=env,
                         timeout=120)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [f"movierec: {path} is not a readable MovieLens zip: "
                                               "File is not a zip file"]
