import os
import subprocess
import sys

from sentiment_lib.inference.cpu import cpu_field, cpu_flags, cpu_summary, usable_cores

CPUINFO = "processor\t: 0\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 avx512f avx512_vnni\n\nprocessor\t: 1\n"


def test_the_summary_names_the_model_and_the_extensions_speed_depends_on(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    assert cpu_summary(cpuinfo) == "Some Xeon; AVX2, AVX-512, AVX-512 VNNI"
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512f", "avx512_vnni"}
    assert cpu_field("processor", cpuinfo) == "0"


def test_a_machine_without_cpuinfo_has_no_flags(tmp_path):
    missing = tmp_path / "absent"
    assert cpu_flags(missing) == set() and cpu_field("model name", missing) == ""
    assert cpu_summary(missing).endswith("; no AVX2")


def test_usable_cores_follow_the_affinity_mask_not_the_machine():
    assert usable_cores() == len(os.sched_getaffinity(0)) >= 1
    if len(os.sched_getaffinity(0)) > 1:  # a child pinned to one core sees one
        pin = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})"
        code = f"{pin}; from sentiment_lib.inference.cpu import usable_cores; print(usable_cores())"
        assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "1"
