"""The generation queue: bounded, first in first out, one job at a time, and freed on failure."""

import threading
import time

import pytest

from beatlm.app.queue import GenerationQueue, QueueFull
from beatlm.utils.errors import BeatLMError


def test_refuses_past_its_bound_and_admits_again_once_a_job_is_done():
    queue = GenerationQueue(2, poll=0.01)
    release = threading.Event()
    started = threading.Event()

    def first():
        with queue.turn():
            started.set()
            release.wait(10)

    def second():
        with queue.turn():
            pass

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert started.wait(10)
    threads.append(threading.Thread(target=second))
    threads[1].start()
    deadline = time.monotonic() + 10
    while len(queue) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(queue) == 2
    with pytest.raises(QueueFull, match="queue is full"):
        with queue.turn():
            pass
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(queue) == 0
    with queue.turn():  # room again
        assert len(queue) == 1


def test_jobs_run_one_at_a_time_in_arrival_order_and_waiters_hear_their_position():
    queue = GenerationQueue(8, poll=0.01)
    order, running, overlap = [], [0], []
    positions = {}
    gate = threading.Event()

    def job(i):
        with queue.turn(on_wait=lambda ahead: positions.setdefault(i, []).append(ahead)):
            running[0] += 1
            overlap.append(running[0])
            if i == 0:
                gate.wait(10)
            order.append(i)
            running[0] -= 1

    threads = []
    for i in range(5):
        threads.append(threading.Thread(target=job, args=(i,)))
        threads[-1].start()
        while len(queue) < i + 1:  # the next one arrives after this one is queued
            time.sleep(0.005)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]
    assert max(overlap) == 1
    assert positions[4][0] == 4 and min(positions[4]) >= 1  # four ahead at first, never 0 while waiting
    assert 0 not in positions


def test_a_failing_job_frees_its_place():
    queue = GenerationQueue(1)
    with pytest.raises(RuntimeError):
        with queue.turn():
            raise RuntimeError("boom")
    assert len(queue) == 0
    with queue.turn():
        pass


def test_queue_full_is_a_user_facing_error_and_size_must_be_positive():
    assert issubclass(QueueFull, BeatLMError)
    with pytest.raises(BeatLMError):
        GenerationQueue(0)
