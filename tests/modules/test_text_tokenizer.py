import logging

from beatlm.modules.text_tokenizer import ClipTokenizer


def test_truncates_pads_and_warns_once(caplog):
    tokenizer = ClipTokenizer(max_tokens=6)
    with caplog.at_level(logging.WARNING):
        ids = tokenizer(["a very long caption about a dark trap beat with eerie bells", "", "lofi"])
        tokenizer(["another very long caption about a dusty boom bap beat with vinyl"])
    assert ids.shape == (3, 6)
    assert (ids[1] == 0).all() and (ids[0] != 0).all() and ids[2, 0] != 0
    assert sum("truncated" in r.message for r in caplog.records) == 1
