"""PII stages of the pipeline: normalize -> detect -> decide.

Kept import-free on purpose: ``gateway.policy.loader`` imports helpers from this package, and the heavy detector
(Presidio, spaCy) must only load when someone asks for it (``gateway.pii.detector``).

One thing it does on import: Presidio imports ``transformers.pipelines`` for its Hugging Face NER components (a
``try: from transformers import pipeline``), which this gateway never builds. Marked missing here, before any
Presidio import, that import fails at once and Presidio goes on without those components, as it does where
transformers is not installed; a process that imported the pipelines before is left as it is. Measured with
``-X importtime`` in ``gateway serve`` (PII in process, 2 cores): the detector's and the composition root's imports
6.4 s to 5.8 s of a start's 10-13 s of CPU; importing them alone, three alternated runs, 7.5-7.9 s to 5.8-6.8 s.
"""

import sys

sys.modules.setdefault("transformers.pipelines", None)  # type: ignore[arg-type]  # None: "import fails"
