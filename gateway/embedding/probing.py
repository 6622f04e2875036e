"""Re-probing the remote models' behavioural fingerprints: at start and every ``engine_probe_interval_s``.

At start every remote model is probed before the registry's changes are audited, so a newly registered model is
recorded (``<data>/models.json``) and audited (``model.register``) with the fingerprint its engine answered; a
``fingerprint: probe:...`` in ``models.yaml`` pins it instead. A model is served only once a probe since the start
matched: a mismatch takes it out of service (``model.fingerprint_mismatch``), a later match puts it back
(``model.fingerprint_restored``); an engine answering vectors of another dimension is a mismatch too (observed as
``dimension:N``). An engine that does not answer leaves the model as it was (its requests get 503
from the circuit breaker anyway); one never verified since the start is probed again every few seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from gateway.auditing.auditor import Auditor
from gateway.embedding import fingerprint
from gateway.embedding.registry import audit_registry_changes, record_fingerprint, recorded_fingerprints
from gateway.embedding.served import UNVERIFIED_PROBE_S, ServedModel, ServedModels
from gateway.errors import DimensionMismatch, ModelUnavailable, UpstreamError
from gateway.observability.logs import Vetted, VettedName

log = logging.getLogger(__name__)
OTHER_DIMENSION = "dimension:"  # the observed "fingerprint" of an engine answering vectors of another dimension
Probe = Callable[[Callable[[Sequence[str]], np.ndarray]], str]


def probe_failure(exc: ModelUnavailable | UpstreamError) -> str:
    """Why a probe got no fingerprint, as the callers of a model not yet in service are told: what the engine did
    (its HTTP status and what it usually means), never its body, a URL or a credential."""
    status = exc.engine_status if isinstance(exc, UpstreamError) else 0
    if status in (401, 403):
        return f"its engine refused the gateway's credentials (HTTP {status})"
    if status in (404, 405):
        return f"its engine's URL has no embeddings endpoint (HTTP {status})"
    if 300 <= status < 400:
        return f"its engine answered the fingerprint probe with a redirect (HTTP {status}), which is not followed"
    if status:
        return f"its engine refused the fingerprint probe (HTTP {status})"
    if isinstance(exc, UpstreamError):
        return "its engine answered the fingerprint probe with something that is not a usable embeddings list"
    return "its engine has not answered the fingerprint probe"


class FingerprintWatch:
    def __init__(self, models: ServedModels, data_dir: Path, auditor: Auditor, interval_s: float,
                 probe: Probe = fingerprint.probe) -> None:
        self._models, self._data_dir, self._auditor = models, data_dir, auditor
        self._interval_s, self._probe = interval_s, probe
        self._thread: threading.Thread | None = None

    def observe(self) -> dict[str, str]:
        """Each remote model's fingerprint as its engine answers now (models whose engine did not answer: none)."""
        out: dict[str, str] = {}
        for model in self._models.remote():
            remote = model.remote
            assert remote is not None
            try:
                out[model.spec.ref] = self._probe(remote.raw)
                model.probe_failure = ""
            except DimensionMismatch as exc:  # another model behind the URL: a mismatch, not a silence
                out[model.spec.ref] = f"{OTHER_DIMENSION}{exc.observed_dimension}"
            except (ModelUnavailable, UpstreamError) as exc:
                model.probe_failure = probe_failure(exc)  # what its callers are told while it is not verified
                log.warning("model %s: the fingerprint probe failed: %s", VettedName(model.spec.name),
                            Vetted(exc.message))
        return out

    def start(self, policy_dir: Path) -> None:
        """The start: probe, audit the registry's changes (recording new fingerprints), judge every model."""
        observed = self.observe()
        probes = {ref: seen for ref, seen in observed.items() if fingerprint.is_probe(seen)}  # only these register
        audit_registry_changes(policy_dir, self._data_dir, self._auditor, probes)
        self.judge(observed)

    def judge(self, observed: dict[str, str]) -> None:
        recorded = recorded_fingerprints(self._data_dir) if self._models.remote() else {}
        for model in self._models.remote():
            seen = observed.get(model.spec.ref)
            if seen is None:
                continue
            if seen.startswith(OTHER_DIMENSION):  # never recorded as the model's fingerprint
                model.fingerprint = model.spec.fingerprint or recorded.get(model.spec.ref, "")
                self._judge(model, False, seen)
                continue
            expected = model.spec.fingerprint or recorded.get(model.spec.ref, "")
            if not expected:  # registered while its engine did not answer: recorded at its first answer
                expected = record_fingerprint(self._data_dir, model.spec.ref, seen)
                model.fingerprint = expected
                self._auditor.record_sync("model.fingerprint_recorded", "allow", tenant="*", model=model.describe())
            model.fingerprint = expected
            self._judge(model, fingerprint.matches(expected, seen), seen)

    def _judge(self, model: ServedModel, same: bool, seen: str) -> None:
        before = model.state
        if same and before != "verified":
            model.state = "verified"
            if before == "mismatch":
                self._auditor.record_sync("model.fingerprint_restored", "allow", tenant="*", model=model.describe())
                log.warning("model %s: its engine answers as the registered model again; back in service",
                            VettedName(model.spec.name))
        elif not same and before != "mismatch":
            model.state = "mismatch"
            self._auditor.record_sync("model.fingerprint_mismatch", "deny", tenant="*", model=model.describe(),
                                      observed_fingerprint=seen,
                                      reason="the engine no longer answers as the registered model")
            log.error("model %s: fingerprint mismatch; out of service until its engine answers as registered",
                      VettedName(model.spec.name))

    def run_once(self) -> None:
        self.judge(self.observe())

    def start_probing(self, stop: threading.Event) -> None:
        """Probe every ``interval_s`` (0: never), every few seconds while a model is not verified since the start."""
        if self._interval_s <= 0 or not self._models.remote():
            return

        def run() -> None:
            while True:
                unverified = any(m.state == "unverified" for m in self._models.remote())
                if stop.wait(min(self._interval_s, UNVERIFIED_PROBE_S) if unverified else self._interval_s):
                    return
                try:
                    self.run_once()
                except Exception:  # the watch must survive anything an engine answers
                    log.exception("fingerprint probe failed")

        self._thread = threading.Thread(target=run, name="fingerprint-probe", daemon=True)
        self._thread.start()
