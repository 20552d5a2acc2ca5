import numpy as np

from beatlm.dataset_builders.synth import instruments, mixing, render, styles


def test_render_is_deterministic_and_clean(render_config, bank):
    all_styles = styles.resolve_styles(None)
    pcm_a, info_a = render.render_clip(all_styles, 4, render_config, bank)
    pcm_b, info_b = render.render_clip(all_styles, 4, render_config, bank)
    assert pcm_a.dtype == np.int16 and len(pcm_a) == 4 * 32000
    assert pcm_a.tobytes() == pcm_b.tobytes() and info_a == info_b
    pcm_c, _ = render.render_clip(all_styles, 5, render_config, bank)
    assert pcm_c.tobytes() != pcm_a.tobytes()
    wav = pcm_a / 32768.0
    assert np.abs(wav).max() <= 10 ** (-1 / 20) + 1e-4  # limited to -1 dBFS
    assert np.sqrt(np.mean(wav ** 2)) > 0.01
    assert -20 < mixing.loudness(wav, 32000) < -8


def test_sidecar_is_a_music_info(render_config, bank):
    from audiocraft.data.music_dataset import MusicInfo
    _, info = render.render_clip(styles.resolve_styles(["phonk"]), 0, render_config, bank)
    for name in ("title", "artist", "key", "bpm", "genre", "moods", "keywords", "description", "name", "instrument"):
        assert info[name], name  # every MusicInfo music field (MusicDataset requires them all)
    # MusicInfo's own preprocessing of each field (the full load is tested on a corpus with MusicDataset).
    assert MusicInfo.attribute_getter("bpm")(info["bpm"]) == float(info["bpm"])
    assert MusicInfo.attribute_getter("key")(info["key"]) == info["key"].lower()
    assert MusicInfo.attribute_getter("genre")(info["genre"]) == "phonk" and "cowbell" in info["instrument"]
    assert info["beatlm"]["style"] == "phonk" and info["beatlm"]["sections"]


def test_styles_are_balanced_per_block():
    all_styles = styles.resolve_styles(None)
    names = [render.clip_style(all_styles, 0, i).name for i in range(4 * len(all_styles))]
    assert all(names.count(s.name) == 4 for s in all_styles)


def test_808_pitch_and_glide():
    from beatlm.dataset_builders.synth.arrangement import TimedNote
    sr = 16000
    wave = instruments.render_808([TimedNote(0.0, 1.0, 33, 1.0)], sr, sr, decay=2.0, distortion=0.0)
    spectrum = np.abs(np.fft.rfft(wave[sr // 4: sr // 2 + sr // 4]))
    peak = np.argmax(spectrum) * sr / (sr // 2)
    assert abs(peak - instruments.midi_hz(33)) < 3
    glide = instruments.render_808([TimedNote(0.0, 1.0, 33, 1.0, glide_to=45)], sr, sr, decay=2.0, distortion=0.0)
    tail = np.abs(np.fft.rfft(glide[-sr // 8:]))
    assert np.argmax(tail) * 8 > 70  # ends near A2 (110 Hz), not A1


def test_kicks_are_tuned_to_the_key():
    for tonic in range(12):
        shift = instruments.tuning_shift(31.3, tonic)
        assert abs(shift) <= 6 and round(31.3 + shift) % 12 == tonic
