"""Keep glibc's heap from growing without bound during CPU training.

glibc serves a request of `M_MMAP_THRESHOLD` bytes or more with its own mapping, returned to the
system when freed; below it, from the heap. The threshold starts at 128 KiB and rises (up to 32 MiB)
every time such a mapping is freed, so after the first training steps PyTorch's CPU activations of a
few MB come from the heap. Their sizes change from batch to batch (captions of different lengths, for
one), the heap fragments, and the process grows: a micro MuLaN run went from 2.6 GB resident after 30
updates to 4.2 GB after 230 with a 2.9 GB heap. Setting the threshold once fixes it (glibc then stops
adjusting it): large blocks go back to the system as soon as they are freed.
"""

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)
M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


def limit_heap_growth(threshold: int = 1 << 20) -> bool:
    """Serve allocations of `threshold` bytes or more outside glibc's heap (see the module docstring).

    Args:
        threshold: Size in bytes from which a block gets its own mapping.
    Returns:
        True if set; False where there is no glibc (macOS, musl), which is then left as it is.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, int(threshold)))
    if not ok:
        logger.debug("mallopt(M_MMAP_THRESHOLD, %d) was refused", threshold)
    return ok
