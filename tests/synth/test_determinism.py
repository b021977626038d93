"""Same seed, same bytes (whatever the number of processes); another seed, other data."""

from __future__ import annotations


def test_same_seed_gives_identical_files(small, small_again, hashes):
    a, b = hashes(small), hashes(small_again)
    assert a.keys() == b.keys()
    assert [name for name in a if a[name] != b[name]] == []
    assert len(a) > 100  # FHIR, VCFs, DICOM slices, bundles, reference, annotation, manifest


def test_other_seed_gives_other_data(small, small_other_seed, hashes, ndjson):
    ids_a = {p["id"] for p in ndjson(small, "Patient")}
    ids_b = {p["id"] for p in ndjson(small_other_seed, "Patient")}
    assert ids_a.isdisjoint(ids_b)
    births_a = sorted(p["birthDate"] for p in ndjson(small, "Patient"))
    births_b = sorted(p["birthDate"] for p in ndjson(small_other_seed, "Patient"))
    assert births_a != births_b
    same = set(hashes(small).values()) & set(hashes(small_other_seed).values())
    # Only seed-independent files may coincide: the panel reference (+ .fai) and the ClinVar-style annotation.
    assert len(same) <= 3


def test_corruptions_are_reproducible_too(corrupted, tmp_path, hashes):
    from mmhealth.synth.generate import GenerateConfig, generate

    generate(GenerateConfig(out=tmp_path / "again", patients=30, genomes=10, imaging=4, seed=5, corrupt=2, jobs=2))
    assert hashes(tmp_path / "again") == hashes(corrupted)
