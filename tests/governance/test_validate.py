"""`govern validate`: schema and meaning checks, each finding with file and line, and the PHI invariant on
deliberately violating policies (tests/governance/fixtures/violations/*.yml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mmhealth.cli import main
from mmhealth.governance.policy import PolicyError
from mmhealth.governance.validate import validate

from .conftest import FIXTURES

MANIFEST = FIXTURES / "manifest.json"
VIOLATIONS = sorted((FIXTURES / "violations").glob("*.yml"))


def test_fixture_policy_is_valid(capsys):
    assert main(["govern", "validate", "--policy", str(FIXTURES / "policy.yml"), "--manifest", str(MANIFEST)]) == 0
    assert "no principal below phi clearance reaches a phi column" in capsys.readouterr().out


@pytest.mark.parametrize("path", VIOLATIONS, ids=[p.stem for p in VIOLATIONS])
def test_each_violating_policy_is_rejected_naming_the_grant(path: Path):
    expect = dict(kv.split("=", 1) for kv in path.read_text().splitlines()[0].removeprefix("# expect: ").split())
    with pytest.raises(PolicyError) as err:
        validate(path, MANIFEST)
    table, column = expect["column"].rsplit(".", 1)
    hits = [m for m in err.value.findings
            if f"'{expect['grant']}'" in m and f"principal '{expect['principal']}'" in m and f"{table}.{column} " in m]
    assert hits, err.value.findings
    # the message points at the grant's own line in the policy file
    line = int(re.match(rf"{re.escape(str(path))}:(\d+):", hits[0]).group(1))
    assert expect["grant"] in path.read_text().splitlines()[line - 1]


def test_violation_exit_code_and_message_on_cli(capsys):
    path = FIXTURES / "violations" / "named_table_grant.yml"
    assert main(["govern", "validate", "--policy", str(path), "--manifest", str(MANIFEST)]) == 1
    err = capsys.readouterr().err
    assert "grant 'dim_patient_for_scientists'" in err and "PHI column mmhealth_marts.dim_patient.patient_id" in err


def mutated(tmp_path, mutate) -> Path:
    data = yaml.safe_load((FIXTURES / "policy.yml").read_text())
    data["manifest"] = str(MANIFEST)
    mutate(data)
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def findings_for(tmp_path, mutate) -> list[str]:
    path = mutated(tmp_path, mutate)
    with pytest.raises(PolicyError) as err:
        validate(path)
    return err.value.findings


def line_of(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


@pytest.mark.parametrize("mutate, needle, expected", [
    (lambda d: d["grants"][1]["tag_expression"].update(colour=["red"]), "colour", "unknown LF-Tag key 'colour'"),
    (lambda d: d["grants"][2]["tag_expression"].update(modality=["genomics"]), "genomics", "unknown value 'genomics' of LF-Tag 'modality'"),
    (lambda d: d["grants"][3]["principals"].append("nurses"), "nurses", "unknown principal 'nurses'"),
    (lambda d: d["grants"][5].update(table="mmhealth_marts.population_cancer"), "population_cancer", "is not a dbt model"),
    (lambda d: d["grants"].append({"name": "cols", "principals": ["clinicians"], "table": "mmhealth_marts.dim_patient",
                                   "columns": ["shoe_size"], "permissions": ["SELECT"]}), "shoe_size", "column 'shoe_size' is not in"),
    (lambda d: d["data_cells_filters"][0].update(table="mmhealth_marts.patient_360", exclude_columns=["patient_id", "last_study_date"],
                                                  row_filter="condition_codes IS NOT NULL"),
     "condition_codes", "Lake Formation row filters cannot use array, map, struct, date or timestamp columns"),
    (lambda d: d["data_cells_filters"][0].update(row_filter="lower(sex) = 'f'"), "lower(sex)", "allows no functions"),
    (lambda d: d["tables"].append({"match": "mmhealth_marts.fct_variants", "tags": {"modality": "clinical"}}),
     "mmhealth_marts.fct_variants\n", "two values of LF-Tag 'modality'"),
    (lambda d: d["grants"].append({"name": "db_select", "principals": ["clinicians"], "database": "mmhealth_marts",
                                   "permissions": ["SELECT"]}), "db_select", "are table permissions"),
    (lambda d: d["grants"].append({**d["grants"][1]}), "name: clinicians_all_marts", "is used twice"),
])
def test_meaning_checks_name_file_and_line(tmp_path, mutate, needle, expected):
    findings = findings_for(tmp_path, mutate)
    path = tmp_path / "policy.yml"
    hits = [f for f in findings if expected in f]
    assert hits, findings
    m = re.match(rf"{re.escape(str(path))}:(\d+): ", hits[-1])
    assert m, hits
    text = path.read_text()
    lines = text.splitlines()
    if needle.endswith("\n"):  # the finding names the last of the conflicting lines
        assert needle.strip() in lines[int(m.group(1)) - 1]
    else:
        # the reported line is inside the offending block: the needle is within a few lines of it
        n = int(m.group(1))
        window = "\n".join(lines[max(n - 6, 0):n + 6])
        assert needle in window, (needle, window)


def test_schema_errors_give_lines(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text((FIXTURES / "policy.yml").read_text().replace("clearance: public", "clearance: top-secret")
                    .replace("version: 1", "version: 2"))
    with pytest.raises(PolicyError) as err:
        validate(path, MANIFEST)
    msgs = err.value.findings
    assert any(m.startswith(f"{path}:{line_of(path, 'top-secret')}:") and "top-secret" in m for m in msgs), msgs
    assert any(m.startswith(f"{path}:{line_of(path, 'version: 2')}:") for m in msgs), msgs


def test_yaml_syntax_and_duplicate_keys_are_one_line_errors(tmp_path):
    from mmhealth.errors import MMHealthError

    path = tmp_path / "p.yml"
    path.write_text("version: 1\nversion: 1\n")
    with pytest.raises(MMHealthError, match=r"p.yml:2: duplicate key 'version'"):
        validate(path, MANIFEST)
    path.write_text("version: 1\nlf_tags: [\n")
    with pytest.raises(MMHealthError, match=r"p.yml:\d+: not valid YAML"):
        validate(path, MANIFEST)


def test_unclassified_column_fails_closed(tmp_path):
    import json

    manifest = json.loads(MANIFEST.read_text())
    manifest["nodes"]["model.mmhealth.population_clinical"]["columns"]["n_patients"]["meta"] = {}
    mpath = tmp_path / "manifest.json"
    mpath.write_text(json.dumps(manifest))
    with pytest.raises(PolicyError) as err:
        validate(FIXTURES / "policy.yml", mpath)
    msgs = "\n".join(err.value.findings)
    assert "models/marts/population/population_clinical.yml: column population_clinical.n_patients has no meta.sensitivity" in msgs
    # and the analysts' grant now counts as reaching phi
    assert "grant 'analysts_population_clinical' lets principal 'quicksight_analysts'" in msgs


def test_missing_manifest_names_the_fix(tmp_path):
    from mmhealth.errors import MMHealthError

    with pytest.raises(MMHealthError, match="run `dbt parse`"):
        validate(FIXTURES / "policy.yml", tmp_path / "nope.json")
