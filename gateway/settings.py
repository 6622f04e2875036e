"""The one frozen settings object, read once at start.

Only this module reads the environment. Sources, later wins: defaults, the TOML file named by
``GATEWAY_CONFIG_FILE`` (keys are the field names), then ``GATEWAY_<FIELD>`` environment variables.
Every field is documented in ``docs/configuration.md`` (a test checks it).
"""

from __future__ import annotations

import dataclasses
import difflib
import hmac
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.errors import ConfigurationError
from gateway.pii.spacy_pipeline import DEFAULT_SPACY_MODEL, PRELOAD_ENV

if TYPE_CHECKING:
    from gateway.crypto.kek import KekOptions

ENV_PREFIX = "GATEWAY_"


class Secret:
    """A setting that must never be printed (a database URL holds a password): ``repr`` and ``str`` hide it, and
    the one caller that needs the value asks for it with ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    keys_dir: Path = Path("keys")
    kek_provider: str = "file"
    pkcs11_module: str = ""
    pkcs11_token_label: str = ""
    pkcs11_pin_file: str = ""
    policy_dir: Path = Path("policy")
    database_url: Secret = field(default_factory=Secret)
    host: str = "127.0.0.1"
    port: int = 8080
    device: str = "cpu"
    fp16: bool = False
    model_name: str = "all-MiniLM-L6-v2"
    spacy_model: str = DEFAULT_SPACY_MODEL
    max_body_bytes: int = 8 * 1024 * 1024
    max_inputs: int = 2048
    max_text_chars: int = 32_768
    max_documents_per_ingest: int = 256
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 40
    max_concurrent_per_key: int = 256
    batch_max_tokens: int = 8192
    batch_background_max_tokens: int = 400
    express_batch_size: int = 1
    batch_max_size: int = 0
    batch_max_wait_ms: float = 0.0
    encode_batch_size: int = 0
    traced_forward: bool = True
    model_runtime: str = "torch"
    onnx_threads: int = 0
    onnx_cache_dir: str = ""
    embed_workers: int = 0
    workers: int = 1
    queue_max_items: int = 8192
    request_timeout_s: float = 60.0
    request_body_timeout_s: float = 10.0
    pii_budget_s: float = 5.0
    pii_workers: str = "auto"
    policy_reload_interval_s: float = 0.5
    checkpoint_interval_s: float = 1.0
    retention_sweep_interval_s: float = 3600.0
    engine_probe_interval_s: float = 60.0
    vector_transform: str = "default"
    metrics_token: str = field(default="", repr=False)
    log_level: str = "INFO"
    origin: str = "governed-embedding-gateway"
    audit_witnesses: str = ""
    audit_syslog: str = ""
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks: str = ""
    oidc_discovery: str = ""
    oidc_tenant_claim: str = "tenant"
    oidc_subject_claim: str = "sub"
    oidc_roles_claim: str = "roles"
    oidc_console_client_id: str = ""
    oidc_console_client_secret_file: str = ""
    oidc_console_redirect_uri: str = ""
    oidc_console_scopes: str = "openid"
    audit_syslog_ca: str = ""
    audit_max_entry_bytes: int = 16 * 1024
    audit_unauthenticated_burst: int = 20
    audit_unauthenticated_window_s: float = 60.0
    jobs_inflight_items: int = 4
    jobs_lease_s: float = 30.0
    jobs_poll_s: float = 1.0
    files_max_bytes: int = 100 * 1024 * 1024
    files_expiry_days: int = 30
    files_max_tenant_bytes: int = 2 * 1024**3
    files_max_concurrent_uploads: int = 2
    files_max_tenant_uploads: int = 1
    batch_max_lines: int = 50_000
    batch_max_concurrent_creations: int = 2
    batch_max_tenant_creations: int = 1

    @property
    def model_batch_size(self) -> int:
        """Texts per forward pass: the setting, or by device (16 on a CPU, 256 on a GPU, as measured)."""
        if self.encode_batch_size:
            return self.encode_batch_size
        return 16 if self.device == "cpu" else 256

    @property
    def stage_batch_size(self) -> int:
        """Most texts in one detection or embedding batch: the setting, or by device (32 on a CPU, 128 on a GPU).

        A batch is not preempted, so a caller whose text arrives behind one waits for all of it: on 2 CPU cores,
        a light tenant beside a saturating one waited p50 3.0 s / p99 4.2 s behind batches of 128 and 0.7 s /
        1.2 s behind batches of 32, while the heavy tenant's throughput did not drop (132 and 168 texts/s;
        ``bench/fairness.py``). A GPU needs larger batches to be kept busy."""
        if self.batch_max_size:
            return self.batch_max_size
        return 32 if self.device == "cpu" else 128

    @property
    def onnx_cache_root(self) -> Path:
        """Where ``model_runtime = onnx`` keeps its exported graphs: ``onnx_cache_dir``, or ``<data_dir>/onnx``."""
        return Path(self.onnx_cache_dir) if self.onnx_cache_dir else self.data_dir / "onnx"

    def model_workers(self, cpus: int) -> int:
        """Embedding worker threads: the setting, or by device (one per core, at most 8, on a CPU; 1 on a GPU)."""
        if self.embed_workers:
            return self.embed_workers
        return max(1, min(8, cpus)) if self.device == "cpu" else 1

    def pii_pool_size(self, cpus: int) -> int:
        """PII detection worker processes (``gateway.pii.pool``): 0 screens in the gateway's own process; ``auto``
        (the default) one per core this gateway process may use (the cores shared among ``workers`` gateway
        processes, at most 8), plus one for the express worker when there is one, at least 2.

        Why a pool by default: screened in the gateway's process, a light caller's text waited for the interpreter
        lock beside a heavy tenant's detection (its p99 2.1-2.3x alone on 2 cores; with three processes 1.5-2.1x,
        median 1.7x, while one busy key's texts went about 8% slower; ``docs/performance.md``). The pool costs
        about 420 MB on 2 cores (its fork server holds the spaCy pipeline the workers share)."""
        if self.pii_workers == "auto":
            share = max(1, min(8, cpus // self.workers))
            return max(2, share + (1 if self.express_batch_size else 0))
        return int(self.pii_workers)

    @property
    def kek_options(self) -> KekOptions:
        """Where the key-encryption key lives (``gateway.crypto.kek``)."""
        from gateway.crypto.kek import KekOptions

        return KekOptions(self.kek_provider, self.pkcs11_module, self.pkcs11_token_label, self.pkcs11_pin_file)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "gateway.db"

    @property
    def audit_db_path(self) -> Path:
        return self.data_dir / "audit.db"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.reveal().startswith(("postgresql://", "postgres://"))


def _coerce(name: str, raw: Any, target: Any) -> Any:
    if target is bool or isinstance(target, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigurationError(f"setting {name}: expected a boolean, got {raw!r}")
    if isinstance(target, Secret):
        return raw if isinstance(raw, Secret) else Secret(str(raw))
    try:
        if isinstance(target, Path):
            return Path(str(raw))
        if isinstance(target, int):
            return int(raw)
        if isinstance(target, float):
            value = float(raw)
            if not math.isfinite(value):  # nan passes every range check below (nan > 0 is False): a limit lost
                raise ConfigurationError(f"setting {name}: must be a finite number, got {raw!r}")
            return value
    except ValueError as exc:
        raise ConfigurationError(f"setting {name}: cannot read {raw!r} as {type(target).__name__}") from exc
    return str(raw)


# Variables the gateway sets for its own child processes (and that its process keeps, so a later ``serve`` in the
# same process, a test's, sees them): not settings, and no typo.
INTERNAL_ENVIRONMENT = frozenset({PRELOAD_ENV})


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each ``GATEWAY_*`` variable that names no setting (a typo such as ``GATEWAY_PROT`` is otherwise
    ignored in silence, while the same typo in the file stops the start). Not refused: test suites and deployment
    tools keep variables of their own under the prefix (``GATEWAY_TEST_*``)."""
    env = os.environ if environ is None else environ
    known = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)} | {ENV_PREFIX + "CONFIG_FILE"}
    known |= INTERNAL_ENVIRONMENT
    warnings = []
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and name not in known and not name.startswith(ENV_PREFIX + "TEST_"):
            near = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            warnings.append(f"{name} is not a setting and is ignored{hint}; settings: docs/configuration.md")
    return warnings


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the optional TOML file, the environment and explicit overrides."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    fields = {f.name for f in dataclasses.fields(Settings)}
    config_file = env.get(ENV_PREFIX + "CONFIG_FILE")
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                loaded = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read config file {config_file}: {exc}") from exc
        for key, raw in loaded.items():
            if key not in fields:
                raise ConfigurationError(f"{config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, getattr(defaults, key))
    for name in fields:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw, getattr(defaults, name))
    for name, raw in overrides.items():
        if name not in fields:
            raise ConfigurationError(f"unknown setting {name!r}")
        values[name] = _coerce(name, raw, getattr(defaults, name))
    settings = dataclasses.replace(defaults, **values)
    if not 8 <= settings.chunk_tokens <= 254 or not 0 <= settings.chunk_overlap_tokens < settings.chunk_tokens // 2:
        raise ConfigurationError(
            "settings chunk_tokens/chunk_overlap_tokens: need 8 <= chunk_tokens <= 254 (the model reads 256 word "
            "pieces, 2 of them special) and 0 <= chunk_overlap_tokens < chunk_tokens / 2"
        )
    if settings.vector_transform not in {"default", "identity"}:
        raise ConfigurationError("setting vector_transform: must be 'default' or 'identity'")
    if settings.audit_max_entry_bytes < 2048 or settings.audit_unauthenticated_burst < 0:
        raise ConfigurationError("settings audit_max_entry_bytes (at least 2048) and audit_unauthenticated_burst "
                                 "(at least 0) are out of range")
    if settings.audit_syslog and not settings.audit_syslog.startswith(("tcp://", "tls://")):
        raise ConfigurationError("setting audit_syslog: must be tcp://host:port or tls://host:port")
    if (settings.oidc_jwks or settings.oidc_discovery) and not (
            settings.oidc_audience and (settings.oidc_issuer or settings.oidc_discovery)):
        raise ConfigurationError("settings oidc_*: bearer tokens need oidc_audience, and oidc_issuer with oidc_jwks "
                                 "(or oidc_discovery, which names both the issuer and the key set)")
    if settings.oidc_console_client_id and not settings.oidc_discovery:
        raise ConfigurationError("setting oidc_console_client_id: the console's sign-in needs oidc_discovery (the "
                                 "provider's authorization and token endpoints)")
    if "openid" not in settings.oidc_console_scopes.split():
        raise ConfigurationError("setting oidc_console_scopes: must include 'openid'")
    if settings.oidc_console_redirect_uri and not settings.oidc_console_redirect_uri.startswith(
            ("https://", "http://")):
        raise ConfigurationError("setting oidc_console_redirect_uri: must be an absolute http(s) URL")
    if settings.database_url.reveal() and not settings.uses_postgres:
        # Anything else was ignored in silence: the embedded SQLite store served instead (the URL holds a password)
        raise ConfigurationError("setting database_url: must be empty (the embedded SQLite store) or a "
                                 "postgresql:// URL")
    if settings.checkpoint_interval_s < 0 or settings.max_body_bytes < 1:
        raise ConfigurationError("settings checkpoint_interval_s (0 or more) and max_body_bytes (at least 1) are "
                                 "out of range")
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigurationError("setting log_level: must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if settings.workers < 1:
        raise ConfigurationError("setting workers: must be at least 1")
    if settings.batch_max_size < 0:
        raise ConfigurationError("setting batch_max_size: must be 0 (by device) or a positive number of texts")
    if settings.express_batch_size < 0:
        raise ConfigurationError("setting express_batch_size: must be 0 (no express worker) or a positive number of "
                                 "texts")
    if settings.batch_background_max_tokens < 0:
        raise ConfigurationError("setting batch_background_max_tokens: must be 0 (no cap) or a positive number of "
                                 "tokens")
    if settings.pii_workers != "auto" and not (settings.pii_workers.isdigit() and int(settings.pii_workers) <= 64):
        raise ConfigurationError("setting pii_workers: must be 'auto' (one per core, and one for the express "
                                 "worker), 0 (detection in the gateway's own process) or a number of worker "
                                 "processes up to 64")
    if settings.embed_workers < 0:
        raise ConfigurationError("setting embed_workers: must be 0 (by device) or a positive number of threads")
    if settings.encode_batch_size < 0:
        raise ConfigurationError("setting encode_batch_size: must be 0 (by device) or a positive number of texts")
    if settings.engine_probe_interval_s < 0:
        raise ConfigurationError("setting engine_probe_interval_s: must be 0 (probe at start only) or positive")
    if settings.retention_sweep_interval_s < 0:
        raise ConfigurationError("setting retention_sweep_interval_s: must be 0 (no scheduled sweep) or positive")
    if settings.jobs_inflight_items < 1 or settings.jobs_lease_s <= 0 or settings.jobs_poll_s <= 0:
        raise ConfigurationError("settings jobs_inflight_items (at least 1), jobs_lease_s and jobs_poll_s (positive) "
                                 "are out of range")
    if settings.files_max_bytes < 1 or settings.files_expiry_days < 1 or settings.batch_max_lines < 1:
        raise ConfigurationError("settings files_max_bytes, files_expiry_days and batch_max_lines must be positive")
    if min(settings.files_max_tenant_bytes, settings.files_max_concurrent_uploads,
           settings.files_max_tenant_uploads, settings.batch_max_concurrent_creations,
           settings.batch_max_tenant_creations) < 1:
        raise ConfigurationError("settings files_max_tenant_bytes, files_max_concurrent_uploads, "
                                 "files_max_tenant_uploads, batch_max_concurrent_creations and "
                                 "batch_max_tenant_creations must be positive")
    settings.kek_options  # noqa: B018 - validates kek_provider and the pkcs11_* settings it needs
    if settings.device not in {"cpu", "cuda", "mps"} and not settings.device.startswith("cuda:"):
        raise ConfigurationError(f"setting device: unsupported device {settings.device!r}")
    if settings.model_runtime not in {"torch", "onnx"}:
        raise ConfigurationError("setting model_runtime: must be 'torch' or 'onnx'")
    if settings.onnx_threads < 0:
        raise ConfigurationError("setting onnx_threads: must be 0 (the cores) or a positive number of "
                                 "threads")
    if settings.model_runtime == "onnx" and settings.device != "cpu":
        raise ConfigurationError("setting model_runtime: onnx runs the in-process model on the cpu only; with "
                                 f"device {settings.device!r} use 'torch'")
    return settings
