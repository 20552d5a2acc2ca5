"""The studio engine without a browser: a model that does not load, generation, files, database, MIDI, queue."""

import json
import threading

import pytest
import soundfile as sf

from beatlm.app.form import make_request
from beatlm.app.queue import QueueFull
from beatlm.app.studio import Studio
from beatlm.utils.errors import BeatLMError


def test_a_model_folder_that_does_not_load_is_reported_and_refuses_generation(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    studio = Studio(tmp_path / "studio", model=str(broken))
    assert studio.status().startswith("Loading")
    studio.load_model()
    assert studio.loaded and studio.error
    assert studio.status().startswith("The model did not load") and studio.error in studio.status()
    with pytest.raises(BeatLMError, match="the model did not load"):
        studio.generate(make_request("trap beat", "", "", 1, 1, 0, 30))
    assert len(studio.queue) == 0 and studio.store.count_samples() == 0


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    studio = Studio(tmp_path_factory.mktemp("studio"), model=None, queue_size=2, max_duration=10)
    studio.load_model()
    assert studio.error is None
    return studio


@pytest.mark.slow
def test_generate_writes_files_records_the_sample_and_exports_midi(studio):
    request = make_request("lofi hip hop beat, mellow piano", "84", "D minor", 1.5, 2, 11, studio.max_duration)
    sample = studio.generate(request)
    wav, sample_rate = sf.read(studio.path(sample.wav))
    assert len(wav) == int(1.5 * sample_rate)
    for name in (sample.mp3, sample.image, sample.wav.replace(".wav", ".json")):
        assert studio.path(name).stat().st_size > 0
    sidecar = json.loads(studio.path(sample.wav).with_suffix(".json").read_text())
    assert sidecar["prompt"] == "lofi hip hop beat, mellow piano, 84 bpm, in D minor" == sample.prompt
    assert len(sample.candidate_scores) == 2 and sample.mulan_score == max(sample.candidate_scores)
    assert studio.store.get_sample(sample.id) == sample
    again = studio.generate(request)  # the same seed gives the same beat
    assert (sf.read(studio.path(again.wav))[0] == wav).all() and again.id != sample.id
    mid = studio.export_midi(sample.id)
    assert mid.suffix == ".mid" and mid.stat().st_size > 0


@pytest.mark.slow
def test_a_full_queue_refuses_at_once(studio):
    hold, inside = threading.Event(), threading.Event()

    def occupy():
        with studio.queue.turn():
            inside.set()
            hold.wait(30)

    samples = studio.store.count_samples()
    threads = [threading.Thread(target=occupy) for _ in range(studio.queue.max_size)]
    for thread in threads:
        thread.start()
    try:
        assert inside.wait(30)
        while len(studio.queue) < studio.queue.max_size:
            inside.wait(0.01)
        with pytest.raises(QueueFull, match="queue is full"):
            studio.generate(make_request("trap beat", "", "", 1, 1, 0, 30))
    finally:
        hold.set()
        for thread in threads:
            thread.join(30)
    assert studio.store.count_samples() == samples
