"""The application each worker process of ``gateway serve`` (with ``workers`` above 1) builds for itself.

uvicorn starts its worker processes from an import string; each one calls ``app()``, which reads the settings from
the environment and the config file, loads its own model and PII detector and returns the app. One Python process
spends its requests' CPU work on one core at a time (the GIL), which on a GPU host leaves the GPU idle
(``docs/performance.md``); several processes lift that. The PostgreSQL backend shares keys, policy, privacy
ledger, audit log and collections between processes; the embedded SQLite backend shares its data dir: each worker
follows the others' index changes through the store's change feed and one worker at a time signs the audit log's
checkpoints (``docs/operations.md``, "Several workers on SQLite"). The
parent process holds the data directory's run lock; the workers do not take it.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from litestar import Litestar

if TYPE_CHECKING:
    from gateway.settings import Settings


def freeze_heap() -> None:
    """The model, spaCy and Presidio leave millions of long-lived objects; a full collection walks them all (tens
    of milliseconds, charged to whichever request triggered it). Freezing moves them out of the collector's reach."""
    gc.collect()
    gc.freeze()


def build_app(settings: Settings) -> Litestar:
    """Services (model, PII detector, stores, audit log) and the app over them, the heap frozen after loading.

    The PII stage starts first: a pool's workers load spaCy while this process imports the composition root and
    loads the model (``gateway.pii.stage``).

    The cyclic collector is off while loading: the imports and loads allocate about a million objects that all
    live on, and each collection they trigger walks the ones before, only to find them alive (about a fifth of the
    imports' CPU time, 6.5 s against 5.1 s on 2 cores). The one collection before the freeze then frees whatever
    cycles loading left; the collector is on again after it, or after a failed start."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        from gateway.pii.stage import start_detection
        from gateway.pipeline.cpus import available_cpus

        detection = start_detection(settings, available_cpus())
        from gateway.bootstrap import build_services  # heavy: torch, transformers, sentence-transformers, opacus
        from gateway.http.app import create_app

        services = build_services(settings, detection=detection)
        freeze_heap()
        return create_app(services)
    finally:
        if enabled:
            gc.enable()


def app() -> Litestar:
    from gateway.observability.logs import configure_logging
    from gateway.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    return build_app(settings)
