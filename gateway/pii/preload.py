"""What the PII pool's fork server imports once, before it forks any worker (``gateway.pii.pool``).

spaCy, Presidio and the detector's own modules: about 4 of a spawned worker's 6 s of start on 2 cores, which
every forked worker, and every replacement of a dead one, then skips. torch and transformers are kept out first,
as in every worker; none of these imports starts a Python thread or loads torch (a test checks it), so forking the
server is safe: the reason the gateway's own process is never forked does not apply.
"""

from gateway.pii.worker import keep_out_unused_modules

keep_out_unused_modules()

import gateway.pii.detector  # noqa: E402, F401  # the point of this module: imported, never used here
