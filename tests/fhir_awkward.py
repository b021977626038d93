"""Awkward FHIR input, written by the tests themselves (issue 15, "FHIR"): what real exports do that the generator
never does. Shared by tests/ingest/test_fhir_awkward.py (ingest fates, reconciled with plain `json`) and
tests/dbt/test_fhir_awkward_build.py (the marts build over a lake holding all of it).

Every file is built from Python objects, so the test knows what each record is without asking project code."""

from __future__ import annotations

import json
from pathlib import Path

BOM = b"\xef\xbb\xbf"
SAMPLE = 2_048  # the reader's schema sample; the "late" files put their surprise after it
LAST_UPDATED = "2024-05-01T10:00:00Z"


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def nested_items(levels: int) -> dict:
    """A QuestionnaireResponse whose items nest `levels` deep (each level: an `item` list holding one item)."""
    item = {"linkId": f"q{levels}", "text": "deepest question", "answer": [{"valueString": "leaf answer"}]}
    for level in range(levels - 1, 0, -1):
        item = {"linkId": f"q{level}", "item": [item]}
    return {"resourceType": "QuestionnaireResponse", "id": f"qr-{levels}", "status": "completed",
            "subject": {"reference": "Patient/awk-p1"}, "item": [item]}


def nested_text(rid: str, depth: int) -> str:
    """A Basic resource nesting `depth` JSON levels (the resource is level 1), written as text: Python's own
    `json` could not write (or read) the deepest of these."""
    inner = depth - 2  # the resource object and the innermost object
    return ('{"resourceType":"Basic","id":"%s","code":{"text":"deep"},"nest":' % rid
            + '{"a":[' * (inner // 2) + ("[" if inner % 2 else "") + '{"leaf":true}'
            + ("]" if inner % 2 else "") + "]}" * (inner // 2) + "}")


def json_depth(text: str) -> int:
    """Nesting depth of JSON text, counted without recursion (test-side, independent of the reader)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def observation(oid: str, value=1.0, patient="awk-p1", **extra) -> dict:
    obs = {"resourceType": "Observation", "id": oid, "status": "final", "meta": {"lastUpdated": LAST_UPDATED},
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": "laboratory"}]}],
           "code": {"coding": [{"system": "http://loinc.org", "code": "2093-3", "display": "Cholesterol"}]},
           "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2024-04-01T08:00:00Z",
           "valueQuantity": {"value": value, "unit": "mg/dL"}}
    if value is None:
        del obs["valueQuantity"]
    obs.update(extra)
    return obs


def patient(pid: str, **extra) -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": "female", **extra}


def write_awkward_fhir(root: Path) -> Path:
    """Write every awkward case under `root/awkward/`; returns that folder."""
    out = root / "awkward"
    out.mkdir(parents=True, exist_ok=True)

    def ndjson(name: str, lines: list, prefix: bytes = b"") -> None:
        text = "".join((line if isinstance(line, str) else dumps(line)) + "\n" for line in lines)
        (out / name).write_bytes(prefix + text.encode())

    # Depth. A QuestionnaireResponse 40 items deep (83 JSON levels: typed to the lake's limit, JSON text below);
    # Basics nested 600 and 30,000 levels (quarantined as too-deep; the 30,000 one sits in DuckDB's inference
    # sample, where it would crash the process); one nested 700 levels after the sample (the copy stores it,
    # the Parquet check must still catch it); a Bundle entry past Python's parser (1,200 levels).
    ndjson("QuestionnaireResponse.ndjson", [nested_items(3), nested_items(40)])
    ndjson("Basic-deep.ndjson", [{"resourceType": "Basic", "id": "basic-ok-1", "code": {"text": "ok"}},
                                 nested_text("basic-600", 600), nested_text("basic-30000", 30_000),
                                 {"resourceType": "Basic", "id": "basic-ok-2", "code": {"text": "ok"}}])
    ndjson("Basic-deep-late.ndjson",
           [{"resourceType": "Basic", "id": f"late-{i}", "code": {"text": "ok"}} for i in range(SAMPLE + 50)]
           + [nested_text("deep-late-700", 700), nested_text("deep-late-60", 60)])
    deep_bundle = ('{"resourceType":"Bundle","type":"collection","entry":['
                   + dumps({"fullUrl": "urn:uuid:awk-pb1", "resource": patient("awk-pb1")}) + ","
                   + '{"fullUrl":"urn:uuid:deep-entry","resource":' + nested_text("bundle-1200", 1_200) + "},"
                   + dumps({"fullUrl": "urn:uuid:awk-pb-obs", "resource": observation("awk-pb-obs", 4.5,
                                                                                        patient="x")})
                   .replace('"Patient/x"', '"urn:uuid:awk-pb1"') + "]}")
    (out / "deep-bundle.json").write_text(deep_bundle)

    # The same id twice in one file (the later line is the current version), across two files of one run (the
    # later path wins), and in one Bundle; nothing tells them apart but their place.
    ndjson("Observation-dups.ndjson", [observation("dup-in-file", 1.0), observation("dup-across", 10.0),
                                        observation("dup-in-file", 2.0)])
    ndjson("Observation-dups-2.ndjson", [observation("dup-across", 20.0)])
    dup_bundle = {"resourceType": "Bundle", "type": "history", "entry": [
        {"resource": observation("dup-in-bundle", 5.0)}, {"resource": observation("dup-in-bundle", 6.0)}]}
    (out / "dup-bundle.json").write_text(json.dumps(dup_bundle, indent=1))

    # Wrong JSON types in typed fields: a string in valueQuantity.value (inside the sample, and after it), in a
    # component, in Claim.total.value, ImagingStudy counts and Patient.deceasedBoolean.
    ndjson("Observation-strings.ndjson", [
        observation("str-value", "abc"), observation("num-value", 7.25),
        observation("str-component", None, component=[
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": "n/a", "unit": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 80, "unit": "mm[Hg]"}}])])
    ndjson("Observation-late-string.ndjson",
           [observation(f"late-obs-{i}", float(i)) for i in range(SAMPLE + 20)] + [observation("late-str", "high")])
    ndjson("Claim-strings.ndjson", [
        {"resourceType": "Claim", "id": "claim-str", "status": "active", "patient": {"reference": "Patient/awk-p1"},
         "created": "2024-01-01", "total": {"value": "12,50", "currency": "EUR"}},
        {"resourceType": "Claim", "id": "claim-num", "status": "active", "patient": {"reference": "Patient/awk-p1"},
         "created": "2024-01-02", "total": {"value": 99.5, "currency": "EUR"}}])
    ndjson("ImagingStudy-strings.ndjson", [
        {"resourceType": "ImagingStudy", "id": "is-str", "status": "available",
         "subject": {"reference": "Patient/awk-p1"}, "numberOfSeries": "two", "numberOfInstances": 7.5},
        {"resourceType": "ImagingStudy", "id": "is-num", "status": "available",
         "subject": {"reference": "Patient/awk-p1"}, "numberOfSeries": 2, "numberOfInstances": 40}])
    ndjson("Patient-strings.ndjson", [patient("awk-p1", deceasedBoolean="yes"),
                                      patient("awk-p2", deceasedBoolean=False)])

    # A key first seen after the schema sample, while another line writes a key with a space before its colon
    # (the old byte count missed one key on each side, and balanced).
    late_key = [patient(f"lk-{i}") for i in range(SAMPLE + 30)]
    late_key[-1]["birthDate"] = "1970-01-01"
    lines = [dumps(p) for p in late_key]
    lines[10] = lines[10].replace('"gender":', '"gender" :')
    ndjson("Patient-late-key.ndjson", lines)

    # Lineage: a resource carrying the lake's own column names.
    ndjson("Patient-lineage.ndjson", [patient("lin-1"), patient("lin-2", lake_source="elsewhere.ndjson"),
                                      patient("lin-3", lake_run="19990101T000000Z-000000")])

    # A UTF-8 byte-order mark, in NDJSON and before a Bundle.
    ndjson("Patient-bom.ndjson", [patient("bom-1"), patient("bom-2")], prefix=BOM)
    (out / "bom-bundle.json").write_bytes(BOM + json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient("bom-b1")}]}).encode())

    # Ids that are not strings.
    ndjson("Patient-ids.ndjson", [patient("id-ok"), {"resourceType": "Patient", "id": 12345, "gender": "male"},
                                  {"resourceType": "Patient", "id": True}, {"resourceType": "Patient", "id": ""}])
    (out / "id-bundle.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": patient("id-b-ok")}, {"resource": {"resourceType": "Patient", "id": 7}}]}))

    # Grammatical JSON that is not Unicode text: an escaped lone surrogate (DuckDB refuses the line, Python reads it).
    ndjson("Patient-surrogate.ndjson", [patient("sur-ok"), '{"resourceType":"Patient","id":"sur-bad",'
                                                            '"name":[{"text":"a \\ud800 b"}]}'])
    return out


def independent_fates(folder: Path) -> dict[tuple[str, str], str]:
    """(file name, position) -> 'loaded' | 'quarantined:<kind>' for every record, decided with plain `json` and the
    rules of docs/ingest.md, never with project code. Positions are `line N` (NDJSON) and `entry N` (Bundles)."""
    fates: dict[tuple[str, str], str] = {}

    def judge(obj, text: str) -> str:
        if json_depth(text) > 500:
            return "quarantined:too-deep"
        if not isinstance(obj, dict):
            return "quarantined:not-a-resource"
        if not isinstance(obj.get("resourceType"), str):
            return "quarantined:missing-resourceType"
        if obj.get("id") in (None, ""):
            return "quarantined:missing-id"
        if not isinstance(obj["id"], str):
            return "quarantined:invalid-id"
        if any(k.lower().startswith("lake_") for k in obj):
            return "quarantined:reserved-key"
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "quarantined:invalid-unicode"
        return "loaded"

    def parse(text: str):
        try:
            return json.loads(text)
        except RecursionError:
            return None

    for path in sorted(folder.iterdir()):
        raw = path.read_bytes().removeprefix(BOM).decode()
        if path.suffix == ".ndjson":
            for n, line in enumerate(raw.splitlines(), start=1):
                if line.strip():
                    fates[(path.name, f"line {n}")] = judge(parse(line), line)
        else:
            doc = parse(raw)
            if doc is None:  # too deep for Python as a whole: split the entries by hand (test data layout)
                body = raw[raw.index("[") + 1: raw.rindex("]")]
                texts = _split_top_level(body)
            else:
                texts = [json.dumps(e) for e in doc["entry"]]
            for i, text in enumerate(texts):
                entry = parse(text)
                resource_text = text if entry is None else json.dumps(entry.get("resource"))
                fates[(path.name, f"entry {i}")] = judge(None if entry is None else entry.get("resource"),
                                                         resource_text)
    return fates


def _split_top_level(body: str) -> list[str]:
    """Comma-separated JSON values of an array body, split at depth 0 (strings respected)."""
    parts, depth, start = [], 0, 0
    in_string = escaped = False
    for i, ch in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts
