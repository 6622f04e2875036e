"""The protection stage: keyed noise, keyed transforms, and privacy accounting (docs/privacy.md).

Modules: ``noise`` (keyed Gaussian noise), ``transform`` (keyed, versioned vector transforms), ``accountant``
(opacus RDP accounting and the per-tenant ledger), ``calibrate`` (sigma from the measured attack curve),
``stage`` (the two applied in order).
"""
