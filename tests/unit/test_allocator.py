"""The serving process keeps freed memory for the next large reply: counted in page faults, not in time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sessionplane.ops.allocator import keep_freed_memory

# In a fresh interpreter (the allocator's settings are the process's): a request's two megabyte buffers,
# the reply copied out of the stream and its decoded text, ten times before the settings and ten after.
_SCRIPT = textwrap.dedent(
    """
    import resource
    from sessionplane.ops.allocator import keep_freed_memory

    received = bytearray(b"x" * (2 << 20))

    def faults_of_ten_requests():
        for _ in range(3):
            bytes(received).decode()  # warm
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            bytes(received).decode()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    default = faults_of_ten_requests()
    taken = keep_freed_memory(64)
    print(default, taken, faults_of_ten_requests())
    """
)


def test_a_megabyte_reply_reuses_freed_memory_instead_of_faulting_in_fresh_pages():
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True).stdout
    default, taken, kept = out.split()
    pages = (2 << 20) // 4096
    assert int(default) >= 10 * pages  # the case under test: glibc's defaults fault in every buffer anew
    assert taken == "True"
    assert int(kept) < pages  # not one buffer's worth of fresh pages in ten requests


def test_zero_leaves_the_allocator_alone():
    assert keep_freed_memory(0) is False
