"""PII stages of the pipeline: normalize -> detect -> decide.

Kept import-free on purpose: ``gateway.policy.loader`` imports helpers from this package, and the heavy detector
(Presidio, spaCy) must only load when someone asks for it (``gateway.pii.detector``).
"""
