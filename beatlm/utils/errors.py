"""User-facing errors.

A `BeatLMError` is a mistake the user can fix (a missing file, a bad name, an existing output). The
CLI and the Dora main print its message as one line and exit non-zero, without a traceback.
"""


class BeatLMError(Exception):
    """An error caused by user input; its message says what is wrong and what to do."""


class UnsafeCheckpointError(BeatLMError):
    """A checkpoint holds Python objects outside BeatLM's allow-list and was not loaded."""
