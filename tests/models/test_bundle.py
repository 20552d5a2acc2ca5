"""Model bundles: export writes a checked manifest; load refuses missing, changed or mismatched parts."""

import shutil

import pytest

from beatlm.models.bundle import MANIFEST_NAME, PARTS, export_bundle, load_bundle, read_manifest
from beatlm.utils.errors import BeatLMError


def test_manifest_names_every_part(tiny_bundle):
    manifest = read_manifest(tiny_bundle)
    assert manifest["format"] == "beatlm.bundle" and manifest["version"] == 1
    assert set(manifest["parts"]) == set(PARTS)
    assert manifest["windows"] == {"semantic": 1.0, "coarse": 1.0, "fine": 1.0}
    assert sorted(p.name for p in tiny_bundle.iterdir()) == sorted([MANIFEST_NAME, *PARTS.values()])


def _copy(bundle, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(bundle, out)
    return out


def test_missing_part(tiny_bundle, tmp_path):
    copy = _copy(tiny_bundle, tmp_path)
    (copy / "coarse.th").unlink()
    with pytest.raises(BeatLMError, match="coarse part is missing"):
        load_bundle(copy)


def test_changed_part(tiny_bundle, tmp_path):
    copy = _copy(tiny_bundle, tmp_path)
    with open(copy / "fine.th", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BeatLMError, match="does not match its sha256"):
        load_bundle(copy)


def test_mismatched_part_refused_at_export(tiny_bundle, tmp_path):
    parts = {kind: str(tiny_bundle / name) for kind, name in PARTS.items()}
    parts["coarse"] = parts["fine"]  # a fine stage in the coarse slot
    with pytest.raises(BeatLMError, match="coarse part is a fine stage"):
        export_bundle(tmp_path / "bad", **parts)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_mismatched_signature_refused(tiny_bundle, tmp_path):
    import torch

    from beatlm.utils.checkpoint import load_checkpoint
    copy = _copy(tiny_bundle, tmp_path)
    pkg = load_checkpoint(copy / "semantic.th")
    pkg["beatlm"]["trained_on"]["codec"] = "0" * 16  # as if trained on another codec
    torch.save(pkg, copy / "semantic.th")
    parts = {kind: str(copy / name) for kind, name in PARTS.items()}
    with pytest.raises(BeatLMError, match="trained on another codec"):
        export_bundle(tmp_path / "bad", **parts)


def test_existing_output_refused(tiny_bundle):
    parts = {kind: str(tiny_bundle / name) for kind, name in PARTS.items()}
    with pytest.raises(BeatLMError, match="already exists"):
        export_bundle(tiny_bundle, **parts)


def _edit_manifest(bundle, tmp_path, edit):
    import json
    copy = _copy(bundle, tmp_path)
    manifest = json.loads((copy / MANIFEST_NAME).read_text())
    edit(manifest, copy)
    (copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    return copy


def test_manifest_naming_another_file_is_refused(tiny_bundle, tmp_path):
    # The checked file must be the loaded one: a manifest pointing at a good copy cannot vouch for codec.th.
    def edit(manifest, copy):
        shutil.copyfile(copy / "codec.th", copy / "spare.th")
        (copy / "codec.th").write_bytes(b"not a codec")
        manifest["parts"]["codec"]["file"] = "spare.th"

    with pytest.raises(BeatLMError, match="manifest names 'spare.th' as the codec part"):
        load_bundle(_edit_manifest(tiny_bundle, tmp_path, edit))


@pytest.mark.parametrize("entry", [None, "codec.th", {"file": "codec.th"}])
def test_part_missing_from_the_manifest(tiny_bundle, tmp_path, entry):
    def edit(manifest, copy):
        manifest["parts"]["codec"] = entry

    with pytest.raises(BeatLMError, match="codec part is missing from its manifest"):
        read_manifest(_edit_manifest(tiny_bundle, tmp_path, edit))


def test_manifest_without_parts_or_specs(tiny_bundle, tmp_path):
    with pytest.raises(BeatLMError, match="codec part is missing from its manifest"):
        read_manifest(_edit_manifest(tiny_bundle, tmp_path / "a", lambda manifest, copy: manifest.update(parts=[])))
    with pytest.raises(BeatLMError, match="lacks a valid specs"):
        read_manifest(_edit_manifest(tiny_bundle, tmp_path / "b", lambda manifest, copy: manifest.pop("specs")))


def test_manifest_record_differing_from_the_stage_is_refused(tiny_bundle, tmp_path):
    def edit(manifest, copy):
        manifest["windows"]["coarse"] = 30.0  # MusicLM would cut windows the stage was never trained on

    with pytest.raises(BeatLMError, match="manifest's record of the coarse stage"):
        load_bundle(_edit_manifest(tiny_bundle, tmp_path, edit))


def test_swapped_stages_refused_at_load(tiny_bundle, tmp_path):
    from beatlm.models.bundle import sha256_file

    def edit(manifest, copy):
        (copy / "coarse.th").unlink()
        shutil.copyfile(tiny_bundle / "fine.th", copy / "coarse.th")
        manifest["parts"]["coarse"]["sha256"] = sha256_file(copy / "coarse.th")  # a consistent manifest

    with pytest.raises(BeatLMError, match="the coarse part is a fine stage"):
        load_bundle(_edit_manifest(tiny_bundle, tmp_path, edit))
