"""The cores this process may use: what sizes the stages' workers (embedding threads, PII worker processes).

Its own module, light to import: the PII stage is sized by it before the model's heavy imports begin
(``gateway.pii.stage``)."""

from __future__ import annotations

import math
import os
from pathlib import Path


def available_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """Cores this process may use: its CPU set (not the host's count), capped by a cgroup v2 CPU quota, rounded up.

    A container limited to 4 CPUs on a 64-core node sees all 64 in its CPU set; sizing threads by that would have
    the kernel throttle them."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 file, or not in the expected form: no quota known
        pass
    return cores
