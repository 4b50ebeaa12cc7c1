"""The allocator setting the command line applies must take on glibc Linux (CI's machine)
and be harmless to apply twice."""

import platform
import sys

import pytest

from feint.engine.allocator import tune_allocator


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's"
)
def test_thresholds_are_raised_on_glibc():
    assert tune_allocator() is True
    assert tune_allocator() is True
