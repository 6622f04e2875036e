"""The model registry file (``<policy dir>/models.yaml``) and the audit of its changes.

The packaged all-MiniLM-L6-v2 at embedding-space version 1.0.0 is always declared; the file adds versions
and models, each with its extraction (pooling, normalization, max_seq_length), dimension and the sha256 of its
weights file (verified at load: nothing is ever downloaded). ``retired: true`` keeps a version on record while
taking it out of service. An entry with an ``engine:`` block is served by a remote engine instead (its
fingerprint a behavioural probe). The gateway serves one version per name, every name at once: for the default
model's name the one ``model_name`` in the settings chooses (a name: the packaged default for its name, else the
highest version; or ``name@version``), for every other name its highest active version.

At start the declared set is compared with the one recorded at the previous start (``<data>/models.json``):
every newly declared version is audited as ``model.register``, every retired or removed one as
``model.retire``; the same file records the remote models' fingerprints. See ``docs/models.md``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.auditing.auditor import Auditor
from gateway.embedding.engines import EngineSpec
from gateway.embedding.fingerprint import is_probe
from gateway.embedding.specs import DEFAULT_MODEL, ModelRegistry, ModelSpec
from gateway.errors import ConfigurationError, PolicyError
from gateway.policy.located import Located, load_located
from gateway.settings import Secret

FILE_NAME = "models.yaml"
STATE_FILE = "models.json"
_KEYS = frozenset({"name", "version", "dimension", "pooling", "normalized", "max_seq_length", "weights",
                   "fingerprint", "retired", "engine"})
_ENGINE_KEYS = frozenset({"kind", "base_url", "model", "api_key_file", "api_key_env", "timeout_s", "max_batch",
                          "ca_file", "client_cert", "client_key", "api_version"})
_SEMVER = re.compile(r"^\d+\.\d+\.\d+\Z")
_POOLING = frozenset({"mean", "cls", "max"})


def _engine(block: Any, where: str) -> EngineSpec:
    """The ``engine:`` block of a remote model; its API key is read here, from a file or the environment."""
    if not isinstance(block, dict):
        raise ConfigurationError(f"{where}: engine must be a mapping of {sorted(_ENGINE_KEYS)}")
    if unknown := set(block) - _ENGINE_KEYS:  # named, as a model entry's unknown keys are: a typo must be findable
        raise ConfigurationError(f"{where}: engine: unknown keys {sorted(unknown)} (allowed: {sorted(_ENGINE_KEYS)})")
    kind, model = block.get("kind"), block.get("model")
    urls = block.get("base_url")
    urls = [urls] if isinstance(urls, str) else urls
    if kind not in ("openai", "azure_openai") or not isinstance(model, str) or not model:
        raise ConfigurationError(f"{where}: engine needs kind (openai or azure_openai) and model")
    if not isinstance(urls, list) or not urls or not all(
            isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        raise ConfigurationError(f"{where}: engine base_url must be an http(s) URL or a list of them")
    try:
        timeout, max_batch = float(block.get("timeout_s", 30)), int(block.get("max_batch", 64))
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where}: engine timeout_s and max_batch must be numbers") from None
    if not 0 < timeout <= 600 or not 1 <= max_batch <= 4096:
        raise ConfigurationError(f"{where}: engine timeout_s must be in (0, 600] and max_batch in [1, 4096]")
    ca_file, client_cert, client_key = _engine_tls(block, urls, where)
    return EngineSpec(
        kind=str(kind), urls=tuple(urls), model=model, api_key=_engine_key(block, where), timeout_s=timeout,
        max_batch=max_batch, ca_file=ca_file, client_cert=client_cert, client_key=client_key,
        api_version=str(block.get("api_version", "2024-10-21")),
    )


def _engine_tls(block: Mapping[str, Any], urls: list[str], where: str) -> tuple[str, str, str]:
    """``ca_file``, ``client_cert`` and ``client_key``, loaded once here as the engine's client will load them: a
    missing or unusable file stops the start (and ``gateway policy check``) naming the key, instead of a traceback
    when the client is built; TLS settings beside an ``http://`` URL are refused, as they would protect nothing."""
    ca_file, cert, key = (str(block.get(k, "")) for k in ("ca_file", "client_cert", "client_key"))
    if not (ca_file or cert or key):
        return "", "", ""
    if bool(cert) != bool(key):
        raise ConfigurationError(f"{where}: engine client_cert and client_key go together (mutual TLS needs both)")
    if plain := [u for u in urls if not u.startswith("https://")]:
        raise ConfigurationError(f"{where}: engine ca_file, client_cert and client_key apply to https only, but "
                                 f"{len(plain)} base_url(s) are http://: the engine would be called without TLS")
    for name, path in (("ca_file", ca_file), ("client_cert", cert), ("client_key", key)):
        if path and not Path(path).is_file():
            raise ConfigurationError(f"{where}: engine {name} is not a readable file")
    which = "ca_file"
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
        if cert:
            which = "client_cert and client_key"
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"{where}: engine {which} cannot be loaded as PEM ({type(exc).__name__})") from None
    return ca_file, cert, key


def _engine_key(block: Mapping[str, Any], where: str) -> Secret:
    if "api_key_file" in block:
        path = Path(str(block["api_key_file"]))
        try:
            return Secret(path.read_text("utf-8").strip())
        except OSError as exc:
            raise ConfigurationError(f"{where}: cannot read engine api_key_file ({type(exc).__name__})") from None
    if "api_key_env" in block:
        value = os.environ.get(str(block["api_key_env"]))
        if value is None:
            raise ConfigurationError(f"{where}: engine api_key_env names a variable that is not set")
        return Secret(value)
    return Secret()


def _spec(entry: Mapping[str, Any], where: str) -> tuple[ModelSpec, bool]:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    engine = _engine(entry["engine"], where) if "engine" in entry else None
    try:
        name, version = str(entry["name"]), str(entry["version"])
        fingerprint = str(entry.get("fingerprint", "" if engine else entry["fingerprint"]))
        dimension, max_len = int(entry["dimension"]), int(entry.get("max_seq_length", 256))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: name, version, dimension and fingerprint are required ({exc})") from None
    if not _SEMVER.match(version):
        raise ConfigurationError(f"{where}: version must be MAJOR.MINOR.PATCH")
    if engine is not None:
        if fingerprint and not is_probe(fingerprint):
            raise ConfigurationError(f"{where}: a remote model's fingerprint is a probe (gateway models probe NAME)")
        if "weights" in entry:
            raise ConfigurationError(f"{where}: a remote model has an engine, not weights")
    elif not re.fullmatch(r"[0-9a-f]{64}", fingerprint.lower()):
        raise ConfigurationError(f"{where}: fingerprint must be the sha256 (64 hex digits) of the weights file")
    pooling = str(entry.get("pooling", "mean"))
    if pooling not in _POOLING:
        raise ConfigurationError(f"{where}: pooling must be one of {sorted(_POOLING)}")
    weights = str(entry.get("weights", "packaged"))
    if engine is None and weights == "packaged" and name != DEFAULT_MODEL.name:
        raise ConfigurationError(f"{where}: only {DEFAULT_MODEL.name} is packaged; give a weights directory")
    spec = ModelSpec(
        name=name, version=version, dimension=dimension, pooling=pooling,
        normalized=bool(entry.get("normalized", True)), max_seq_length=max_len,
        weights_file="model.safetensors", fingerprint=fingerprint if engine else fingerprint.lower(),
        weights_dir="" if weights == "packaged" or engine else weights, engine=engine,
    )
    return spec, bool(entry.get("retired", False))


def _read(path: Path) -> Located:
    """The file's values with their lines; an empty file declares nothing. Its syntax errors and duplicate keys
    name their line, as the policy file's do."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the model registry ({type(exc).__name__})") from None
    if not raw.strip():
        return Located({}, 1)
    try:
        return load_located(raw, str(path))
    except PolicyError as exc:
        raise ConfigurationError(str(exc).replace("the policy file", "the model registry")) from None


def _plain(item: Located) -> Any:
    """A located value as plain dicts, lists and scalars."""
    if isinstance(item.value, dict):
        return {key: _plain(value) for key, value in item.value.items()}
    if isinstance(item.value, list):
        return [_plain(value) for value in item.value]
    return item.value


def declared_models(policy_dir: Path) -> tuple[list[ModelSpec], set[str]]:
    """(every declared spec, the refs of the retired ones); the packaged default first."""
    specs: list[ModelSpec] = [DEFAULT_MODEL]
    retired: set[str] = set()
    path = policy_dir / FILE_NAME
    if not path.exists():
        return specs, retired
    data = _read(path)
    models = data.value.get("models", Located([], data.line)) if isinstance(data.value, dict) else None
    if models is None or set(data.value) - {"models"} or not isinstance(models.value, list):
        raise ConfigurationError(f"{path}:{data.line}: expected a mapping with a 'models' list")
    for i, item in enumerate(models.value):
        where = f"{path}:{item.line}: models[{i}]"  # the line of the entry's first key
        if not isinstance(item.value, dict):
            raise ConfigurationError(f"{where} must be a mapping")
        spec, is_retired = _spec(_plain(item), where)
        if spec.ref == DEFAULT_MODEL.ref:
            if spec != DEFAULT_MODEL:
                raise ConfigurationError(f"{where} redeclares {spec.ref} differently")
        elif any(s.ref == spec.ref for s in specs):
            raise ConfigurationError(f"{where} declares {spec.ref} twice")
        else:
            specs.append(spec)
        if is_retired:
            retired.add(spec.ref)
    return specs, retired


def _version_key(spec: ModelSpec) -> tuple[int, ...]:
    return tuple(int(p) for p in spec.version.split("."))


def load_registry(policy_dir: Path, model_name: str) -> ModelRegistry:
    """The registry with ``model_name`` (``name`` or ``name@version``) as the served version of its name."""
    specs, retired = declared_models(policy_dir)
    active = [s for s in specs if s.ref not in retired]
    name, _, version = model_name.partition("@")
    candidates = [s for s in active if s.name == name and (not version or version in (s.version, s.space))]
    if not candidates:
        raise ConfigurationError(f"setting model_name: {model_name!r} is not a declared, active model")
    if not version and name == DEFAULT_MODEL.name and DEFAULT_MODEL in candidates:
        served = DEFAULT_MODEL
    else:
        served = max(candidates, key=_version_key)
    others = {}
    for s in sorted(active, key=_version_key):
        if s.name != served.name:
            others[s.name] = s  # the highest active version of every other name
    return ModelRegistry([served, *others.values()], known=specs)


def model_json(spec: ModelSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": spec.name, "version": spec.version, "dimension": spec.dimension, "pooling": spec.pooling,
        "normalized": spec.normalized, "max_seq_length": spec.max_seq_length, "fingerprint": spec.fingerprint}
    if spec.engine is not None:  # hosts only: never a path, a query or a credential
        doc["engine"] = {"kind": spec.engine.kind, "hosts": list(spec.engine.hosts()), "model": spec.engine.model}
    return doc


@contextmanager
def _locked_state(data_dir: Path) -> Iterator[dict[str, Any]]:
    """The recorded state (``models.json``) under its lock file; what the block leaves in it is written back
    atomically. The worker processes of one ``gateway serve`` start together on one data directory, and each
    change must be audited and recorded once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / (STATE_FILE + ".lock"), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        state_path = data_dir / STATE_FILE
        try:
            state = json.loads(state_path.read_text("utf-8"))
            state = state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            state = {}
        before = json.dumps(state, sort_keys=True)
        yield state
        if json.dumps(state, sort_keys=True) != before or not state_path.exists():
            partial = state_path.with_suffix(".tmp")
            partial.write_text(json.dumps(state, indent=1, sort_keys=True), "utf-8")
            partial.replace(state_path)  # atomic: a reader never sees half a file


def recorded_fingerprints(data_dir: Path) -> dict[str, str]:
    """The behavioural fingerprints recorded at registration, by model ref (remote models only)."""
    with _locked_state(data_dir) as state:
        return dict(state.get("fingerprints", {}))


def record_fingerprint(data_dir: Path, ref: str, fingerprint: str) -> str:
    """Record ``fingerprint`` for ``ref`` unless one is recorded already; returns the recorded one."""
    with _locked_state(data_dir) as state:
        recorded: dict[str, str] = state.setdefault("fingerprints", {})
        return recorded.setdefault(ref, fingerprint)


def audit_registry_changes(policy_dir: Path, data_dir: Path, auditor: Auditor,
                           observed: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Audit versions declared or retired since the last start; returns (registered, retired) refs.

    ``observed``: remote models' fingerprints probed at this start. A newly registered remote model without a
    pinned fingerprint is recorded (and audited) with the one observed, which later probes must match."""
    with _locked_state(data_dir) as state:
        return _audit_registry_changes(policy_dir, state, auditor, observed or {})


def _audit_registry_changes(policy_dir: Path, state: dict[str, Any], auditor: Auditor,
                            observed: Mapping[str, str]) -> tuple[list[str], list[str]]:
    specs, retired = declared_models(policy_dir)
    active = {s.ref: s for s in specs if s.ref not in retired}
    previous = set(state.get("active", []))
    registered = sorted(set(active) - previous)
    gone = sorted(previous - set(active))
    by_ref = {s.ref: s for s in specs}
    recorded: dict[str, str] = state.setdefault("fingerprints", {})
    for ref in registered:
        doc = model_json(active[ref])
        if active[ref].engine is not None and not active[ref].fingerprint and ref in observed:
            doc["fingerprint"] = recorded.setdefault(ref, observed[ref])
        auditor.record_sync("model.register", "allow", tenant="*", model=doc)
    for ref in gone:
        name, _, version = ref.partition("@")
        model = model_json(by_ref[ref]) if ref in by_ref else {"name": name, "version": version}
        auditor.record_sync("model.retire", "allow", tenant="*", model=model,
                            reason="retired" if ref in by_ref else "removed from the registry")
    state["active"] = sorted(active)
    return registered, gone
