"""The one reader of /proc/cpuinfo (package init): the first processor's flags and model name, and what stands in
where the text has none."""

import platform

import thermbench

CPUINFO = ("processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU @ 3.0GHz\nflags\t\t: fpu avx2 fma\n\n"
           "processor\t: 1\nmodel name\t: Other CPU\nflags\t\t: fpu\n")


def test_the_first_processors_flags_and_model_name():
    assert thermbench.cpuinfo_flags(CPUINFO) == {"fpu", "avx2", "fma"}
    assert thermbench.cpuinfo_model(CPUINFO) == "Test CPU @ 3.0GHz"


def test_without_cpuinfo_no_flags_and_platforms_name():
    assert thermbench.cpuinfo_flags("") == set()
    assert thermbench.cpuinfo_model("") == (platform.processor() or platform.machine())


def test_a_missing_file_reads_as_empty(tmp_path):
    assert thermbench.read_cpuinfo(tmp_path / "absent") == ""
