"""The studio's SQLite database: every generated sample, and the listening-test judgements of them.

Two kinds of judgement are stored in one table, so that one CSV holds them all:
- `score`: a 1-5 rating of a sample's quality and of its match to the prompt;
- `ab`: a blind comparison of two samples of the same prompt (which one is better, or a tie).
Each row keeps the prompt, the sample id(s), the model id(s) and the time (UTC, ISO 8601).
"""

import contextlib
import csv
from dataclasses import asdict, dataclass, fields
import datetime
import io
import json
from pathlib import Path
import random
import sqlite3
import typing as tp

from ..utils.errors import BeatLMError

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id TEXT PRIMARY KEY, prompt TEXT NOT NULL, model_id TEXT NOT NULL, seed INTEGER NOT NULL,
    duration REAL NOT NULL, mulan_score REAL, candidate_scores TEXT NOT NULL, wav TEXT NOT NULL,
    mp3 TEXT NOT NULL, image TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL CHECK (kind IN ('score', 'ab')),
    prompt TEXT NOT NULL, sample_id TEXT NOT NULL REFERENCES samples(id), model_id TEXT NOT NULL,
    quality INTEGER CHECK (quality BETWEEN 1 AND 5), prompt_match INTEGER CHECK (prompt_match BETWEEN 1 AND 5),
    other_sample_id TEXT REFERENCES samples(id), other_model_id TEXT, preferred TEXT, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ratings_sample ON ratings(sample_id);
"""
CSV_COLUMNS = ("id", "kind", "created", "prompt", "sample_id", "model_id", "quality", "prompt_match",
               "other_sample_id", "other_model_id", "preferred")
PREFERENCES = ("A", "B", "tie")


@dataclass(frozen=True)
class Sample:
    """A generated sample: its prompt and settings, and its files (relative to the studio folder)."""
    id: str
    prompt: str
    model_id: str
    seed: int
    duration: float
    mulan_score: tp.Optional[float]
    candidate_scores: tp.List[float]
    wav: str
    mp3: str
    image: str
    created: str


def now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _grade(value: tp.Any, name: str) -> int:
    """A 1-5 grade from what the page sent (an int, a float like 4.0, or its text)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not 1 <= number <= 5 or number != int(number):  # NaN fails the range test
        raise BeatLMError(f"{name} must be a whole number from 1 to 5, got {value!r}")
    return int(number)


class RatingStore:
    """Samples and judgements in one SQLite file (a connection per call: safe from any thread).

    Args:
        path: The database file; created with its tables if missing.
    """

    def __init__(self, path: tp.Union[str, Path]):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise BeatLMError(f"cannot open the ratings database {self.path}: {exc}") from None

    @contextlib.contextmanager
    def _connect(self) -> tp.Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA foreign_keys = ON")
        try:
            with con:  # commits, or rolls back on an exception
                yield con
        finally:
            con.close()

    # --- samples ----------------------------------------------------------------------------------
    def add_sample(self, sample: Sample) -> None:
        """Record a generated sample."""
        row = asdict(sample)
        row["candidate_scores"] = json.dumps(row["candidate_scores"])
        names = ", ".join(row)
        with self._connect() as con:
            con.execute(f"INSERT INTO samples ({names}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    def _sample(self, row: sqlite3.Row) -> Sample:
        values = dict(row)
        values["candidate_scores"] = json.loads(values["candidate_scores"])
        return Sample(**{f.name: values[f.name] for f in fields(Sample)})

    def get_sample(self, sample_id: tp.Any) -> Sample:
        """The sample of an id (BeatLMError when there is none)."""
        with self._connect() as con:
            row = con.execute("SELECT * FROM samples WHERE id = ?", (str(sample_id),)).fetchone()
        if row is None:
            raise BeatLMError(f"no sample {sample_id!r} in this studio")
        return self._sample(row)

    def count_samples(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def random_sample(self, rng: tp.Optional[random.Random] = None) -> tp.Optional[Sample]:
        """A sample to rate, the least rated first (ties drawn at random); None when there are none."""
        with self._connect() as con:
            rows = con.execute("SELECT s.*, (SELECT COUNT(*) FROM ratings r WHERE r.kind = 'score' AND "
                               "r.sample_id = s.id) AS n FROM samples s").fetchall()
        if not rows:
            return None
        fewest = min(row["n"] for row in rows)
        return self._sample((rng or random).choice([row for row in rows if row["n"] == fewest]))

    def random_pair(self, rng: tp.Optional[random.Random] = None) -> tp.Optional[tp.Tuple[Sample, Sample]]:
        """Two samples of the same prompt in random order, for a blind A/B test; None when no prompt has two."""
        rng = rng or random
        with self._connect() as con:
            prompts = [row[0] for row in con.execute(
                "SELECT prompt FROM samples GROUP BY prompt HAVING COUNT(*) >= 2").fetchall()]
            if not prompts:
                return None
            rows = con.execute("SELECT * FROM samples WHERE prompt = ?", (rng.choice(prompts),)).fetchall()
        first, second = rng.sample(list(rows), 2)
        return self._sample(first), self._sample(second)

    # --- judgements -------------------------------------------------------------------------------
    def add_score(self, sample_id: tp.Any, quality: tp.Any, prompt_match: tp.Any) -> int:
        """Store a 1-5 rating of a sample's quality and match to its prompt; returns the row id.

        Raises:
            BeatLMError: the sample does not exist or a grade is not a whole number from 1 to 5.
        """
        quality, prompt_match = _grade(quality, "quality"), _grade(prompt_match, "match to the prompt")
        sample = self.get_sample(sample_id)
        with self._connect() as con:
            cursor = con.execute("INSERT INTO ratings (kind, prompt, sample_id, model_id, quality, prompt_match, "
                                 "created) VALUES ('score', ?, ?, ?, ?, ?, ?)",
                                 (sample.prompt, sample.id, sample.model_id, quality, prompt_match, now()))
            return int(cursor.lastrowid)

    def add_comparison(self, sample_a: tp.Any, sample_b: tp.Any, preferred: tp.Any) -> int:
        """Store a blind A/B judgement ('A', 'B' or 'tie') of two samples of one prompt; returns the row id.

        Raises:
            BeatLMError: a sample does not exist, both are the same, their prompts differ, or `preferred`
                is not one of PREFERENCES.
        """
        if preferred not in PREFERENCES:
            raise BeatLMError(f"choose A, B or tie, got {preferred!r}")
        a, b = self.get_sample(sample_a), self.get_sample(sample_b)
        if a.id == b.id or a.prompt != b.prompt:
            raise BeatLMError("an A/B comparison needs two different samples of the same prompt")
        with self._connect() as con:
            cursor = con.execute("INSERT INTO ratings (kind, prompt, sample_id, model_id, other_sample_id, "
                                 "other_model_id, preferred, created) VALUES ('ab', ?, ?, ?, ?, ?, ?, ?)",
                                 (a.prompt, a.id, a.model_id, b.id, b.model_id, preferred, now()))
            return int(cursor.lastrowid)

    def ratings(self) -> tp.List[tp.Dict[str, tp.Any]]:
        """Every judgement, oldest first, as CSV_COLUMNS dicts."""
        with self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(CSV_COLUMNS)} FROM ratings ORDER BY id").fetchall()
        return [dict(row) for row in rows]

    def export_csv(self) -> str:
        """Every judgement as CSV text (header CSV_COLUMNS)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.ratings())
        return out.getvalue()

    def best_rated(self, limit: int = 20) -> tp.List[tp.Dict[str, tp.Any]]:
        """Samples with at least one rating, best first: mean of quality and prompt match, then A/B wins.

        Each row: id, prompt, model_id, ratings (count), quality, prompt_match, score (their mean),
        ab_wins, ab_losses.
        """
        query = """
            SELECT s.id, s.prompt, s.model_id,
                   COUNT(r.id) AS ratings, AVG(r.quality) AS quality, AVG(r.prompt_match) AS prompt_match,
                   (AVG(r.quality) + AVG(r.prompt_match)) / 2.0 AS score,
                   (SELECT COUNT(*) FROM ratings w WHERE w.kind = 'ab' AND
                        ((w.sample_id = s.id AND w.preferred = 'A') OR
                         (w.other_sample_id = s.id AND w.preferred = 'B'))) AS ab_wins,
                   (SELECT COUNT(*) FROM ratings w WHERE w.kind = 'ab' AND
                        ((w.sample_id = s.id AND w.preferred = 'B') OR
                         (w.other_sample_id = s.id AND w.preferred = 'A'))) AS ab_losses
            FROM samples s JOIN ratings r ON r.sample_id = s.id AND r.kind = 'score'
            GROUP BY s.id ORDER BY score DESC, ab_wins DESC, ratings DESC, s.created DESC LIMIT ?"""
        with self._connect() as con:
            return [dict(row) for row in con.execute(query, (int(limit),)).fetchall()]
