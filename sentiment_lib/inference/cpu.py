"""This machine's CPU as Linux describes it (``/proc/cpuinfo``): the back-end choice depends on its vector
extensions, and every benchmark names them, since the speed ratios differ between them."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# the extensions int8 and bfloat16 speed depends on, as cpuinfo spells them and as a reader knows them
EXTENSIONS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
}


def cpu_field(name: str, cpuinfo: Path = CPUINFO) -> str:
    """The value of the first ``name`` line of ``cpuinfo``; "" when there is none or it cannot be read."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        key, colon, value = line.partition(":")
        if colon and key.strip() == name:
            return value.strip()
    return ""


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    return set(cpu_field("flags", cpuinfo).split())


def cpu_summary(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name and which of :data:`EXTENSIONS` it has, e.g. ``Intel Xeon ...; AVX2, AVX-512``."""
    flags = cpu_flags(cpuinfo)
    present = [label for flag, label in EXTENSIONS.items() if flag in flags]
    return f"{cpu_field('model name', cpuinfo) or platform.machine()}; {', '.join(present) or 'no AVX2'}"


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask: a container or taskset may allow fewer than exist)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
