"""The PII stage's detector as the settings choose it, started before anything heavy is imported.

Why first: a pool's workers (``gateway.pii.pool``) load spaCy and Presidio in processes of their own, a few seconds
of CPU each. Started from the composition root, they began only once its imports (torch, transformers,
sentence-transformers, opacus: about 13 s on 2 cores) were done, so a core sat idle through the imports, and then
all the workers' loading competed with the model's. ``gateway.http.asgi.build_app`` starts the stage before it
imports the composition root, and hands it to ``build_services``; this module imports nothing heavy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.observability.logs import VettedName
from gateway.pii.detector_types import PIIDetector
from gateway.pii.spacy_pipeline import describe, pipeline_path
from gateway.policy.loader import PolicyHolder
from gateway.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectionStage:
    policy: PolicyHolder  # the policy file the detector was built on: the services serve the same holder
    detector: PIIDetector
    threads: int  # batches it screens at once (a pool's workers)
    ready: Callable[[], None]  # call before serving: waits for a pool's workers, raises if one failed to load


def start_detection(settings: Settings, cpus: int, policy: PolicyHolder | None = None) -> DetectionStage:
    """Presidio in this process (one batch), or a pool of worker processes (``pii_workers``; one batch per worker)
    that load spaCy while the caller goes on (imports, the model) until ``ready`` waits for them."""
    pipeline = pipeline_path(settings.spacy_model)  # refused at once, naming the setting (not after the model loads)
    name, _, version = describe(pipeline).partition(" ")  # two arguments: a logged name has no space
    log.info("PII detection: spaCy pipeline %s version %s (setting spacy_model %s)", VettedName(name),
             VettedName(version), VettedName(settings.spacy_model))
    policy = policy or PolicyHolder(settings.policy_dir / "gateway.yaml")
    workers = settings.pii_pool_size(cpus)
    if workers == 0:
        from gateway.pii.detector import PresidioDetector  # heavy: spaCy and Presidio

        return DetectionStage(policy, PresidioDetector(settings.spacy_model, policy=policy.current()), 1,
                              lambda: None)
    from gateway.pii.pool import PoolDetector

    pool = PoolDetector(workers, policy=policy.current(), spacy_model=settings.spacy_model, wait=False)
    return DetectionStage(policy, pool, workers, pool.ready)
