"""Keep glibc's heap from growing without bound during CPU training.

glibc serves a request of `M_MMAP_THRESHOLD` bytes or more with its own mapping, returned to the
system when freed; below it, from the heap. The threshold starts at 128 KiB and rises (up to 32 MiB)
every time such a mapping is freed, so after the first training steps PyTorch's CPU activations of a
few MB come from the heap. Their sizes change from batch to batch (captions of different lengths, for
one), the heap fragments, and the process grows: a micro MuLaN run went from 2.6 GB resident after 30
updates to 4.2 GB after 230 with a 2.9 GB heap. Setting the threshold once fixes it (glibc then stops
adjusting it): large blocks go back to the system as soon as they are freed. That costs time (every
large block is a fresh mapping to fault in: a MuLaN step went from 1.2 s to 1.8 s), so the cheaper
remedy is `trim_heap_every`: a background thread calls `malloc_trim(0)` every few seconds, which hands
the free pages inside the heap back to the system whatever the fragmentation.
"""

import ctypes
import ctypes.util
import logging
import sys
import threading
import typing as tp

logger = logging.getLogger(__name__)
M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_trimmer: tp.Optional[threading.Thread] = None


def _libc() -> tp.Optional[ctypes.CDLL]:
    """glibc, or None where there is none (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018  (musl has neither)
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> bool:
    """Give the free pages of glibc's heap back to the system now (`malloc_trim(0)`); False without glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def trim_heap_every(seconds: float) -> tp.Optional[threading.Thread]:
    """Start a daemon thread that calls `malloc_trim(0)` every `seconds` (see the module docstring).

    Returns:
        The thread (one per process: a second call returns the first thread), or None without glibc.
    """
    global _trimmer
    libc = _libc()
    if libc is None:
        return None
    if _trimmer is not None:
        return _trimmer

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            libc.malloc_trim(0)  # ctypes releases the GIL: training threads run on meanwhile

    thread = threading.Thread(target=loop, name="beatlm-malloc-trim", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    _trimmer = thread
    return thread


def stop_trimming() -> None:
    """Stop the thread of `trim_heap_every`, if any."""
    global _trimmer
    if _trimmer is not None:
        _trimmer.stop.set()  # type: ignore[attr-defined]
        _trimmer.join()
        _trimmer = None


def limit_heap_growth(threshold: int = 1 << 20) -> bool:
    """Serve allocations of `threshold` bytes or more outside glibc's heap (see the module docstring).

    Args:
        threshold: Size in bytes from which a block gets its own mapping.
    Returns:
        True if set; False where there is no glibc (macOS, musl), which is then left as it is.
    """
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))
    if not ok:
        logger.debug("mallopt(M_MMAP_THRESHOLD, %d) was refused", threshold)
    return ok
