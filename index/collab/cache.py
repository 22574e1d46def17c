"""Fitted collaborative models kept under the data dir, keyed by what they were fitted from.

The key is a sha256 of the like matrix (users x movies, its sparse structure), the catalog's movie ids,
the model's name and its fit parameters: other ratings, another catalog or other parameters are another
file. `fitted` fits on a miss and stores the arrays (`<dir>/<name>-<key>.npz`); nothing fits per request.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from index.collab.itemknn import Collaborative


def fingerprint(collab: Collaborative, name: str, params: dict) -> str:
    likes = collab.likes.tocsc()
    digest = hashlib.sha256()
    digest.update(json.dumps({"model": name, **params}, sort_keys=True).encode())
    for array in (collab.movie_ids, likes.indptr, likes.indices, likes.data):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(str(likes.shape).encode())
    return digest.hexdigest()[:20]


def fitted(model_cls, collab: Collaborative, directory: Path | None, **params):
    """`model_cls.fit(collab, **params)`, read from `directory` when fitted before (no directory: no cache)."""
    if directory is None:
        return model_cls.fit(collab, **params)
    defaults = {name: p.default for name, p in inspect.signature(model_cls.fit).parameters.items()
                if p.default is not inspect.Parameter.empty}  # a changed default is another model too
    key = fingerprint(collab, model_cls.name, {**defaults, **params})
    path = Path(directory) / f"{model_cls.name}-{key}.npz"
    if path.is_file():
        with np.load(path) as arrays:
            return model_cls.from_arrays({k: arrays[k] for k in arrays.files})
    model = model_cls.fit(collab, **params)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(handle, "wb") as out:  # written whole, then renamed: a crash leaves no half file
        np.savez(out, **model.arrays())
    os.replace(scratch, path)
    return model
