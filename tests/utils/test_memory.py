"""limit_heap_growth and trim_heap: blocks of a few MB of varying sizes no longer grow the process."""

import subprocess
import sys

import pytest

# Frees one big block (glibc then raises its mmap threshold), then allocates and frees blocks of 2-6 MB,
# each followed by a small block that stays: prints how much the process grew, in MB.
PROGRAM = """
import sys, torch
from beatlm.utils.memory import limit_heap_growth, trim_heap
if sys.argv[1] == "on":
    assert limit_heap_growth()
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
torch.empty(8 << 20, dtype=torch.uint8).fill_(1)
keep = []
base = rss()
for i in range(60):
    big = torch.empty((2 + i % 5) << 20, dtype=torch.uint8).fill_(1)
    keep.append(torch.empty(64 << 10, dtype=torch.uint8).fill_(1))
    del big
if sys.argv[1] == "trim":
    assert trim_heap()
print(rss() - base)
"""


def _growth_mb(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_freed_blocks_go_back_to_the_system():
    with_limit, without = _growth_mb("on"), _growth_mb("off")
    assert with_limit < 20  # only the 60 small blocks kept (4 MB)
    # glibc alone keeps some of the freed blocks (86 MB alone, 12 MB inside the full suite here)
    assert with_limit < without


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trimming_gives_free_heap_pages_back():
    trimmed, without = _growth_mb("trim"), _growth_mb("off")
    assert trimmed < 20 and trimmed < without


def test_the_trimmer_thread_is_started_once(monkeypatch):
    from beatlm.utils import memory
    monkeypatch.setattr(memory, "_trimmer", None)
    calls = []
    libc = type("Libc", (), {"malloc_trim": lambda self, pad: calls.append(pad)})()
    monkeypatch.setattr(memory, "_libc", lambda: libc)
    thread = memory.trim_heap_every(0.01)
    try:
        assert thread.daemon and memory.trim_heap_every(5.0) is thread
        thread.join(0.2)
        assert calls and set(calls) == {0}
    finally:
        memory.stop_trimming()
    assert not thread.is_alive()


def test_training_sets_the_limit(monkeypatch):
    from beatlm import train
    from beatlm.utils import memory
    calls = []
    monkeypatch.setattr(memory, "limit_heap_growth", lambda threshold: calls.append(threshold) or True)
    monkeypatch.setattr(memory, "trim_heap_every", lambda seconds: calls.append(seconds))
    cfg = train.main.get_xp(["solver=musiclm/mulan", "model_scale=micro", "malloc_mmap_threshold=1048576",
                             "malloc_trim_interval=2"]).cfg
    train.init_seed_and_system(cfg)
    assert calls == [1 << 20, 2.0]
