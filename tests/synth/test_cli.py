"""The `generate` sub-command: help, summary line, and errors that name the fix."""

from __future__ import annotations

import pytest

from mmhealth.cli import main


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--patients", "--genomes", "--imaging", "--seed", "--bundles", "--corrupt"):
        assert option in text


def test_summary_line_and_fhir_only_run(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "d"), "--patients", "12", "--genomes", "0",
                 "--imaging", "0", "--quiet", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "12 patients / 0 genomes / 0 imaging studies" in out
    assert not list((tmp_path / "d" / "dna").iterdir()) and not list((tmp_path / "d" / "dicom").iterdir())


def test_rerun_into_own_output_replaces_it(tmp_path):
    args = ["generate", "--out", str(tmp_path / "d"), "--patients", "5", "--genomes", "2", "--imaging", "0",
            "--quiet", "--jobs", "1"]
    assert main(args) == 0
    assert main(args[:4] + ["3"] + args[5:]) == 0
    assert len((tmp_path / "d" / "fhir" / "Patient.ndjson").read_text().splitlines()) == 3
    assert len(list((tmp_path / "d" / "dna").iterdir())) == 2


@pytest.mark.parametrize("extra, message", [
    (["--genomes", "50"], "more genomes than patients"),
    (["--imaging", "40"], "adults"),
    (["--patients", "0"], "at least 1 patient"),
    (["--seed", "-3"], "non-negative"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, extra, message):
    code = main(["generate", "--out", str(tmp_path / "d"), "--patients", "10", "--genomes", "0",
                 "--imaging", "0", "--quiet", *extra])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_refuses_a_foreign_non_empty_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["generate", "--out", str(tmp_path), "--patients", "3", "--genomes", "0", "--imaging", "0",
                 "--quiet"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_reruns_over_an_interrupted_output(tmp_path):
    (tmp_path / "fhir").mkdir()
    (tmp_path / "fhir" / "Patient.ndjson").write_text("{\"half\": ")  # what an interrupted run leaves
    assert main(["generate", "--out", str(tmp_path), "--patients", "4", "--genomes", "0", "--imaging", "0",
                 "--quiet", "--jobs", "1"]) == 0
    assert len((tmp_path / "fhir" / "Patient.ndjson").read_text().splitlines()) == 4
