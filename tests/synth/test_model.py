"""The generative model shows in the files: prevalences and risk-factor associations in the documented
ranges, and onsets consistent with encounters and ages. Everything is computed from the generated files."""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import json

import pytest

from mmhealth.synth.model import EXPECTED_CRUDE_ODDS_RATIOS, EXPECTED_PREVALENCE, REFERENCE_DATE

CODES = {"230690007": "stroke", "53741008": "chd", "26929004": "alzheimers", "59621000": "hypertension",
         "38341003": "hypertension", "55822004": "hyperlipidemia", "44054006": "diabetes",
         "162864005": "obesity", "49436004": "afib"}


@pytest.fixture(scope="module")
def cohort(population, ndjson):
    patients = {}
    for p in ndjson(population, "Patient"):
        end = dt.date.fromisoformat(p["deceasedDateTime"][:10]) if "deceasedDateTime" in p else REFERENCE_DATE
        born = dt.date.fromisoformat(p["birthDate"])
        patients[p["id"]] = {"age": (end - born).days / 365.25, "male": p["gender"] == "male", "born": born,
                             "end": end, "conditions": {}, "sbp": [], "codes": set()}
    for c in ndjson(population, "Condition"):
        pid = c["subject"]["reference"].split("/")[1]
        code = c["code"]["coding"][0]["code"]
        patients[pid]["codes"].add(code)
        if code in CODES:
            patients[pid]["conditions"][CODES[code]] = c
    for path in (population / "dna").glob("*.vcf.gz"):
        pid = path.name.removesuffix("_dna.vcf.gz")
        for line in gzip.open(path, "rt"):
            if "\trs429358\t" in line:
                gt = line.rstrip("\n").split("\t")[9].split(":")[0]
                patients[pid]["e4"] = None if "." in gt else gt.replace("|", "/").split("/").count("1")
    return patients


def _odds_ratio(group, exposed, outcome):
    table = collections.Counter((exposed(p), outcome in p["conditions"]) for p in group)
    a, b, c, d = table[(True, True)], table[(True, False)], table[(False, True)], table[(False, False)]
    return (a * d) / (b * c)


def test_prevalences_in_documented_ranges(cohort):
    n = len(cohort)
    assert n == 1500
    for condition, (lo, hi) in EXPECTED_PREVALENCE.items():
        share = sum(condition in p["conditions"] for p in cohort.values()) / n
        assert lo <= share <= hi, (condition, share)


def test_both_hypertension_codes_are_used(cohort):
    codes = collections.Counter(c for p in cohort.values() for c in p["codes"] & {"59621000", "38341003"})
    assert codes["59621000"] > codes["38341003"] > 0


def test_crude_odds_ratios_in_documented_ranges(cohort):
    adults = [p for p in cohort.values() if p["age"] >= 18]
    older_genotyped = [p for p in adults if p["age"] >= 60 and p.get("e4") is not None]
    measured = {
        "stroke | hypertension": _odds_ratio(adults, lambda p: "hypertension" in p["conditions"], "stroke"),
        "chd | diabetes": _odds_ratio(adults, lambda p: "diabetes" in p["conditions"], "chd"),
        "chd | male": _odds_ratio(adults, lambda p: p["male"], "chd"),
        "stroke | atrial fibrillation": _odds_ratio(adults, lambda p: "afib" in p["conditions"], "stroke"),
        "alzheimers | APOE e4 carrier (age 60+)": _odds_ratio(older_genotyped, lambda p: p["e4"] > 0, "alzheimers"),
        "chd | age 60+": _odds_ratio(adults, lambda p: p["age"] >= 60, "chd"),
    }
    assert measured.keys() == EXPECTED_CRUDE_ODDS_RATIOS.keys()
    for name, (lo, hi) in EXPECTED_CRUDE_ODDS_RATIOS.items():
        assert lo <= measured[name] <= hi, (name, measured[name])


def test_measurements_follow_diagnoses(population, cohort):
    sbp = collections.defaultdict(list)
    a1c = collections.defaultdict(list)
    with open(population / "fhir" / "Observation.ndjson", encoding="utf-8") as f:
        # Only blood pressure and HbA1c lines are parsed: the file holds ~100k observations.
        wanted = [json.loads(line) for line in f if '"85354-9"' in line or '"4548-4"' in line]
    for o in wanted:
        code = o["code"]["coding"][0]["code"]
        pid = o["subject"]["reference"].split("/")[1]
        if code == "85354-9":
            sbp[pid].append(next(c["valueQuantity"]["value"] for c in o["component"]
                                 if c["code"]["coding"][0]["code"] == "8480-6"))
        elif code == "4548-4":
            a1c[pid].append(o["valueQuantity"]["value"])

    def mean(xs):
        return sum(xs) / len(xs)

    adults = {pid: p for pid, p in cohort.items() if p["age"] >= 30 and sbp[pid]}
    htn = [mean(sbp[pid]) for pid, p in adults.items() if "hypertension" in p["conditions"]]
    no_htn = [mean(sbp[pid]) for pid, p in adults.items() if "hypertension" not in p["conditions"]]
    assert mean(htn) - mean(no_htn) >= 10
    diabetic = [max(a1c[pid]) for pid, p in cohort.items() if "diabetes" in p["conditions"] and a1c[pid]]
    others = [max(a1c[pid]) for pid, p in cohort.items() if "diabetes" not in p["conditions"] and a1c[pid]]
    assert mean(diabetic) >= 6.5 > mean(others)


def test_onsets_are_consistent_with_encounters_and_ages(population, ndjson, cohort):
    encounters = {e["id"]: e for e in ndjson(population, "Encounter")}
    recent = total = 0
    for pid, p in cohort.items():
        for key, c in p["conditions"].items():
            onset = dt.date.fromisoformat(c["onsetDateTime"][:10])
            enc = encounters[c["encounter"]["reference"].split("/")[1]]
            assert enc["subject"]["reference"] == f"Patient/{pid}"
            assert enc["period"]["start"] <= c["onsetDateTime"] <= enc["period"]["end"]
            assert p["born"] < onset <= p["end"]
            assert (onset - p["born"]).days / 365.25 >= 18 - 0.01
            if key in ("stroke", "chd", "alzheimers", "hypertension"):
                total += 1
                recent += (p["end"] - onset).days < 3 * 365.25
    # Onsets are spread over time: index dates a few years back see both earlier and later diagnoses.
    assert 0.15 <= recent / total <= 0.6
    for e in encounters.values():
        p = cohort[e["subject"]["reference"].split("/")[1]]
        assert p["born"] <= dt.date.fromisoformat(e["period"]["start"][:10]) <= p["end"]
