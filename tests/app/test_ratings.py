"""The studio's SQLite store: samples, 1-5 ratings, blind A/B choices, CSV export and the best-rated list."""

import csv
import io
import random
import sqlite3
import threading

import pytest

from beatlm.app.ratings import CSV_COLUMNS, RatingStore, Sample
from beatlm.utils.errors import BeatLMError


def sample(sample_id, prompt="trap beat, 140 bpm", model="beatlm-micro@abc", score=0.5):
    return Sample(id=sample_id, prompt=prompt, model_id=model, seed=1, duration=2.0, mulan_score=score,
                  candidate_scores=[score, score - 0.1], wav=f"samples/{sample_id}.wav", mp3=f"samples/{sample_id}.mp3",
                  image=f"samples/{sample_id}.png", created="2026-11-29T00:00:00+00:00")


@pytest.fixture
def store(tmp_path):
    store = RatingStore(tmp_path / "studio" / "studio.sqlite")
    for sample_id, prompt in [("a", "trap beat, 140 bpm"), ("b", "trap beat, 140 bpm"), ("c", "lofi beat")]:
        store.add_sample(sample(sample_id, prompt))
    return store


def test_samples_round_trip(store):
    assert store.get_sample("a") == sample("a")
    assert store.count_samples() == 3
    with pytest.raises(BeatLMError, match="no sample"):
        store.get_sample("zzz")


def test_a_rating_is_stored_with_prompt_sample_model_and_time(store):
    row = store.add_score("c", 4, "5")
    con = sqlite3.connect(store.path)
    got = con.execute("SELECT kind, prompt, sample_id, model_id, quality, prompt_match, created FROM ratings "
                      "WHERE id = ?", (row,)).fetchone()
    assert got[:6] == ("score", "lofi beat", "c", "beatlm-micro@abc", 4, 5)
    assert got[6].startswith("20") and got[6].endswith("+00:00")


@pytest.mark.parametrize("quality, match", [(0, 3), (6, 3), (3, None), (2.5, 3), ("great", 3), (True, 3),
                                            (float("nan"), 3), ([4], 3)])
def test_malformed_ratings_are_refused_and_nothing_is_stored(store, quality, match):
    with pytest.raises(BeatLMError, match="1 to 5"):
        store.add_score("a", quality, match)
    assert store.ratings() == []


def test_ratings_of_unknown_samples_are_refused(store):
    with pytest.raises(BeatLMError, match="no sample"):
        store.add_score("'; DROP TABLE ratings; --", 3, 3)
    with pytest.raises(BeatLMError, match="no sample"):
        store.add_score(None, 3, 3)


def test_ab_choice_between_two_samples_of_one_prompt(store):
    store.add_comparison("a", "b", "B")
    (row,) = store.ratings()
    assert (row["kind"], row["sample_id"], row["other_sample_id"], row["preferred"]) == ("ab", "a", "b", "B")
    with pytest.raises(BeatLMError, match="same prompt"):
        store.add_comparison("a", "c", "A")
    with pytest.raises(BeatLMError, match="same prompt"):
        store.add_comparison("a", "a", "A")
    with pytest.raises(BeatLMError, match="A, B or tie"):
        store.add_comparison("a", "b", "C")
    assert len(store.ratings()) == 1


def test_random_draws(store):
    rng = random.Random(0)
    pair = store.random_pair(rng)
    assert {pair[0].id, pair[1].id} == {"a", "b"}
    store.add_score("a", 3, 3)
    store.add_score("b", 3, 3)
    assert store.random_sample(rng).id == "c"  # the least rated first
    empty = RatingStore(store.path.parent / "empty.sqlite")
    assert empty.random_sample() is None and empty.random_pair() is None


def test_csv_export_holds_every_judgement(store):
    store.add_score("a", 5, 4)
    store.add_comparison("b", "a", "tie")
    rows = list(csv.DictReader(io.StringIO(store.export_csv())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["kind"], r["sample_id"], r["quality"], r["preferred"]) for r in rows] == [
        ("score", "a", "5", ""), ("ab", "b", "", "tie")]


def test_best_rated_orders_by_mean_rating_then_ab_wins(store):
    store.add_score("a", 5, 5)
    store.add_score("a", 3, 3)  # a: 4.0
    store.add_score("b", 4, 4)  # b: 4.0, but it wins the A/B below
    store.add_score("c", 1, 2)  # c: 1.5
    store.add_comparison("a", "b", "B")
    best = store.best_rated()
    assert [r["id"] for r in best] == ["b", "a", "c"]
    assert (best[0]["ab_wins"], best[1]["ab_losses"], best[1]["ratings"]) == (1, 1, 2)
    assert best[2]["score"] == pytest.approx(1.5)
    assert len(store.best_rated(limit=1)) == 1


def test_concurrent_writers_lose_nothing(store):
    threads = [threading.Thread(target=lambda: [store.add_score("a", 3, 4) for _ in range(10)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(store.ratings()) == 40


def test_an_unwritable_database_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(BeatLMError, match="cannot open the ratings database"):
        RatingStore(tmp_path / "file" / "studio.sqlite")
