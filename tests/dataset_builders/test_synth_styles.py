import copy

import pytest

from beatlm.assets import DRUMS_CC0_DIR
from beatlm.dataset_builders.synth import styles
from beatlm.utils.errors import BeatLMError

ISSUE_STYLES = {"boom_bap", "trap", "drill", "lofi", "gfunk", "phonk", "jazz_rap", "cloud"}


def test_at_least_eight_styles_with_own_tempo_ranges():
    table = styles.all_styles()
    assert ISSUE_STYLES <= set(table)
    ranges = {tuple(s["bpm"]) for s in table.values()}
    assert len(ranges) >= 7  # each style has its own tempo range (boom bap and jazz rap may share one)
    for style in table.values():
        assert 1 <= style["n_layers"][0] <= style["n_layers"][1] <= 3


def test_bundled_samples_cover_every_style():
    names = styles.required_samples(styles.all_styles().values())
    missing = [n for n in names if not (DRUMS_CC0_DIR / f"{n}.flac").is_file()]
    assert not missing
    assert (DRUMS_CC0_DIR / "LICENSE").is_file() and "CC0" in (DRUMS_CC0_DIR / "README.md").read_text()


def test_resolve_unknown_style_lists_known_ones():
    with pytest.raises(BeatLMError, match="unknown style.*trap"):
        styles.resolve_styles(["trap", "polka"])
    assert [s.name for s in styles.resolve_styles(["drill", "trap"])] == ["trap", "drill"]


def test_bad_pattern_is_rejected():
    spec = copy.deepcopy(styles.all_styles()["trap"].spec)
    spec["grammar"]["kick"] = ["x..x"]
    with pytest.raises(ValueError, match="16 characters"):
        styles._check_style("trap", spec, styles.instrument_table())
