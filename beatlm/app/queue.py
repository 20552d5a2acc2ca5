"""A bounded first-in first-out queue of generation jobs, run one at a time.

The model is one object on one device: jobs take turns. A request that finds the queue full is refused at
once with a message (`QueueFull`) instead of waiting without bound, so a burst of requests costs a few
waiting threads, never a model's worth of memory each.
"""

import contextlib
import itertools
import threading
import typing as tp

from ..utils.errors import BeatLMError


class QueueFull(BeatLMError):
    """The queue holds as many jobs as it may; the request was not queued."""


class GenerationQueue:
    """Admits at most `max_size` jobs (the running one included) and runs them one at a time, in order.

    Args:
        max_size: Jobs admitted at once, the running one included (at least 1).
        poll: Seconds between two reports of a waiting job's position.
    """

    def __init__(self, max_size: int, poll: float = 0.5):
        if max_size < 1:
            raise BeatLMError(f"the queue size must be at least 1, got {max_size}")
        self.max_size = max_size
        self.poll = poll
        self._tickets: tp.List[int] = []  # admitted jobs in order; the first one runs
        self._counter = itertools.count()
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._tickets)

    @contextlib.contextmanager
    def turn(self, on_wait: tp.Optional[tp.Callable[[int], None]] = None) -> tp.Iterator[None]:
        """Wait for this job's turn, hold it for the `with` block, then pass it on.

        Args:
            on_wait: Called with the number of jobs ahead while waiting (every `poll` seconds).

        Raises:
            QueueFull: `max_size` jobs are already admitted.
        """
        with self._changed:
            if len(self._tickets) >= self.max_size:
                raise QueueFull(f"the generation queue is full ({self.max_size} requests waiting or running): "
                                "try again in a minute")
            ticket = next(self._counter)
            self._tickets.append(ticket)
        try:
            with self._changed:
                while self._tickets[0] != ticket:
                    ahead = self._tickets.index(ticket)
                    if on_wait is not None:
                        self._changed.release()  # never call out while holding the lock
                        try:
                            on_wait(ahead)
                        finally:
                            self._changed.acquire()
                    self._changed.wait(self.poll)
            yield
        finally:
            with self._changed:
                self._tickets.remove(ticket)
                self._changed.notify_all()
