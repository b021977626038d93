"""`--corrupt N`: add N bad records of every kind to a generated folder and say exactly where they are.

Bad records are added next to good ones (never replacing them), so a reader that quarantines exactly the
listed records loads exactly the clean data set. `corruptions.json` lists each as {file, position, kind}:
`file` relative to the folder; `position` the 1-based line number for NDJSON and for VCF (counted in the
decompressed text, header lines included), and null for DICOM, where the whole file is the bad record."""

from __future__ import annotations

import io
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from mmhealth.synth import bgzf, ids

NDJSON_KINDS = ("malformed_json", "missing_id", "unknown_resource_type")
VCF_KINDS = ("vcf_wrong_column_count", "vcf_ref_mismatch")
DICOM_KINDS = ("dicom_truncated", "dicom_missing_patient_id")
KINDS = NDJSON_KINDS + VCF_KINDS + DICOM_KINDS


def _bad_ndjson(kind: str, line: str, new_id: str) -> str:
    if kind == "malformed_json":
        return line[: max(10, len(line) // 2)]  # cut mid-object: never valid JSON
    res = json.loads(line)
    if kind == "missing_id":
        res.pop("id")
    else:
        res["id"] = new_id
        res["resourceType"] = res["resourceType"][:-1]  # a misspelt type, e.g. "Observatio"
    return json.dumps(res, separators=(",", ":"))


def _insert_lines(path: Path, inserts: dict[int, list[tuple[str, str]]], rel: str) -> list[dict]:
    """Stream `path`, adding bad lines after the given 0-based line indexes; return their final positions."""
    found = []
    tmp = path.with_name(path.name + ".tmp")
    with open(path, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
        written = 0
        for i, line in enumerate(src):
            dst.write(line)
            written += 1
            for kind, bad in inserts.get(i, ()):
                dst.write(bad + "\n")
                written += 1
                found.append({"file": rel, "position": written, "kind": kind})
    os.replace(tmp, path)
    return found


def _ndjson(out: Path, rng: np.random.Generator, seed: int, n: int) -> list[dict]:
    files = sorted(p for p in (out / "fhir").glob("*.ndjson") if p.stat().st_size > 0)
    plan: dict[Path, dict[int, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    counts = {p: sum(1 for _ in open(p, "rb")) for p in files}
    originals: dict[tuple[Path, int], str] = {}
    picks = []
    for kind in NDJSON_KINDS:
        for j in range(n):
            path = files[int(rng.integers(len(files)))]
            picks.append((kind, j, path, int(rng.integers(counts[path]))))
    wanted = defaultdict(set)
    for _, _, path, idx in picks:
        wanted[path].add(idx)
    for path, idxs in wanted.items():
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i in idxs:
                    originals[(path, i)] = line.rstrip("\n")
    for kind, j, path, idx in picks:
        plan[path][idx].append((kind, _bad_ndjson(kind, originals[(path, idx)], ids.stable_uuid(seed, kind, j))))
    found = []
    for path in files:
        if path in plan:
            found += _insert_lines(path, plan[path], path.relative_to(out).as_posix())
    return found


def _bad_vcf_line(kind: str, line: str) -> str:
    cols = line.split("\t")
    if kind == "vcf_wrong_column_count":
        return "\t".join(cols[:-1])  # the sample column is gone
    ref, alts = cols[3], cols[4].split(",")
    wrong = next(b for b in "ACGT" if b != ref[0] and b not in alts)
    cols[3] = wrong + ref[1:]
    return "\t".join(cols)


def _vcf(out: Path, rng: np.random.Generator, n: int) -> list[dict]:
    files = sorted((out / "dna").glob("*.vcf.gz"))
    if not files:
        return []
    chosen: dict[Path, list[tuple[str, int]]] = defaultdict(list)
    for kind in VCF_KINDS:
        for _ in range(n):
            chosen[files[int(rng.integers(len(files)))]].append((kind, int(rng.random() * 1e9)))
    found = []
    for path in sorted(chosen):
        lines = bgzf.decompress(path.read_bytes()).decode().splitlines()
        first_record = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
        inserts: dict[int, list[str]] = defaultdict(list)
        for kind, r in chosen[path]:
            after = first_record + r % (len(lines) - first_record)
            inserts[after].append((kind, _bad_vcf_line(kind, lines[after])))
        new_lines = []
        rel = path.relative_to(out).as_posix()
        for i, line in enumerate(lines):
            new_lines.append(line)
            for kind, bad in inserts.get(i, ()):
                new_lines.append(bad)
                found.append({"file": rel, "position": len(new_lines), "kind": kind})
        path.write_bytes(bgzf.compress(("\n".join(new_lines) + "\n").encode()))
    return found


def _dicom(out: Path, rng: np.random.Generator, seed: int, n: int) -> list[dict]:
    import pydicom

    series = sorted({p.parent for p in (out / "dicom").glob("*/*/*/*.dcm")})
    if not series:
        return []
    found = []
    for kind in DICOM_KINDS:
        for j in range(n):
            folder = series[int(rng.integers(len(series)))]
            slices = sorted(folder.glob("*.dcm"), key=lambda p: int(p.stem))
            source = slices[int(rng.integers(len(slices)))]
            target = folder / f"{int(slices[-1].stem) + 1}.dcm"
            ds = pydicom.dcmread(source)
            uid = ids.dicom_uid(seed, "corrupt", kind, j)
            ds.SOPInstanceUID = uid
            ds.file_meta.MediaStorageSOPInstanceUID = uid
            ds.InstanceNumber = int(target.stem)
            if kind == "dicom_missing_patient_id":
                del ds.PatientID
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            raw = buf.getvalue()
            if kind == "dicom_truncated":
                # Half are cut inside the header, half inside the pixel data.
                cut = int(rng.integers(200, 600)) if j % 2 == 0 else int(len(raw) * rng.uniform(0.6, 0.95))
                raw = raw[:cut]
            target.write_bytes(raw)
            found.append({"file": target.relative_to(out).as_posix(), "position": None, "kind": kind})
    return found


def inject(out: Path, seed: int, n: int) -> list[dict]:
    """Add n bad records of each kind under `out`; return the list written to corruptions.json."""
    rng = np.random.default_rng([seed, 0xBAD])
    found = _ndjson(out, rng, seed, n) + _vcf(out, rng, n) + _dicom(out, rng, seed, n)
    return sorted(found, key=lambda c: (c["file"], c["position"] or 0, c["kind"]))
