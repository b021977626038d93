"""Orchestration of `mmhealth generate`: sample every patient, split the rendering across processes, write
the NDJSON files in patient order, the reference and annotation files, and the manifest.

Determinism: each patient draws from generators seeded by (seed, patient index, purpose), the subsets with
genomes and imaging come from a generator seeded by the seed alone, and chunk results are written in index
order - so the bytes do not depend on the number of processes or on their timing."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmhealth import __version__
from mmhealth.errors import MMHealthError
from mmhealth.synth import genome, oracle, panel
from mmhealth.synth.fhir import RESOURCE_TYPES, patient_resources
from mmhealth.synth.imaging_plan import plan_study
from mmhealth.synth.model import REFERENCE_DATE, DEFAULT_PARAMS, ModelParams
from mmhealth.synth.patients import PatientProfile, sample_patient

# evaluation/ holds the oracle (synth/oracle.py): for `train --oracle` only, never ingested.
OWNED = ("fhir", "dna", "annotation", "reference", "dicom", "evaluation", "manifest.json", "corruptions.json")


@dataclass(frozen=True)
class GenerateConfig:
    out: Path
    patients: int = 1300
    genomes: int = 800
    imaging: int = 300
    seed: int = 7
    bundles: bool = False
    corrupt: int = 0
    jobs: int = 1
    progress: bool = False
    params: ModelParams = DEFAULT_PARAMS


@dataclass
class Summary:
    out: Path
    patients: int
    genomes: int
    imaging_studies: int
    resources: dict[str, int]
    files: dict[str, int]
    corruptions: list[dict] = field(default_factory=list)

    def headline(self) -> str:
        return f"{self.patients:,} patients / {self.genomes:,} genomes / {self.imaging_studies:,} imaging studies"


@dataclass
class _ChunkResult:
    ndjson: dict[str, bytes]
    counts: dict[str, int]
    imaging: list[dict]
    dicom_files: int
    vcf_files: int
    bundle_files: int
    patients: int
    oracle: list[dict] = field(default_factory=list)


_REF = re.compile(rb'"reference":"[A-Za-z]+/([0-9a-f-]{36})"')


def _bundle(resources: dict[str, list[dict]]) -> bytes:
    """A Synthea-style transaction Bundle: every resource POSTed, references as urn:uuid: of fullUrls."""
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "request": {"method": "POST", "url": rtype}}
               for rtype in RESOURCE_TYPES for r in resources[rtype]]
    raw = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries},
                     separators=(",", ":")).encode()
    return _REF.sub(rb'"reference":"urn:uuid:\1"', raw)


def _render_chunk(task) -> _ChunkResult:
    from mmhealth.synth import dicom  # imported in the worker: pydicom is only needed where pixels are made

    out, seed, params, profiles, bundles = task
    lines: dict[str, list[str]] = {t: [] for t in RESOURCE_TYPES}
    imaging, dicom_files, vcf_files, bundle_files = [], 0, 0, 0
    oracle_rows = []
    for p in profiles:
        study = plan_study(seed, p, params) if p.has_imaging else None
        seq_ord = genome.sequencing_ord(seed, p) if p.has_genome else None
        resources = patient_resources(p, seed, params, study, seq_ord)
        for rtype, items in resources.items():
            lines[rtype].extend(json.dumps(r, separators=(",", ":")) for r in items)
        if bundles:
            (out / "fhir" / "bundles" / f"{p.id}.json").write_bytes(_bundle(resources))
            bundle_files += 1
        if p.has_genome:
            genome.write_vcf(out / "dna" / f"{p.id}_dna.vcf.gz", seed, p)
            vcf_files += 1
        rendered = None
        if study is not None:
            rendered = dicom.write_study(out, seed, study, p)
            dicom_files += len(rendered.files)
            imaging.append({
                "patient_id": p.id, "study_instance_uid": study.study_uid,
                "series_instance_uid": study.series_uid, "modality": study.modality, "n_slices": study.n_slices,
                "lesion_volume_mm3": rendered.lesion_volume_mm3, "lesion_voxels": rendered.lesion_voxels,
                "lesion_threshold": rendered.lesion_threshold, "transfer_syntax_uid": study.transfer_syntax,
                "rows": study.size, "columns": study.size, "pixel_spacing_mm": study.pixel_spacing,
                "slice_thickness_mm": study.slice_thickness, "study_date": REFERENCE_DATE.fromordinal(
                    study.study_ord).isoformat(),
            })
        row = oracle.patient_row(p, [e["period"]["start"] for e in resources["Encounter"]],
                                 study.study_ord if study is not None else None,
                                 rendered.lesion_volume_mm3 if rendered is not None else None)
        if row is not None:
            oracle_rows.append(row)
    ndjson = {t: ("\n".join(v) + "\n").encode() if v else b"" for t, v in lines.items()}
    return _ChunkResult(ndjson, {t: len(v) for t, v in lines.items()}, imaging, dicom_files, vcf_files,
                        bundle_files, len(profiles), oracle_rows)


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise MMHealthError(f"{out}: exists and is not a folder - choose a folder path for --out")
    if out.is_dir() and any(out.iterdir()):
        ours = (out / "manifest.json").exists() or {p.name for p in out.iterdir()} <= set(OWNED)
        if not ours:  # an interrupted run leaves only our folders, no manifest: that is ours too
            raise MMHealthError(f"{out}: folder is not empty and holds no manifest.json from an earlier "
                                f"generation - choose an empty or new folder for --out")
        for name in OWNED:  # a folder we generated before: replace what we wrote, leave anything else
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    for sub in ("fhir", "dna", "annotation", "reference", "dicom"):
        (out / sub).mkdir(parents=True, exist_ok=True)


def _validate(cfg: GenerateConfig) -> None:
    if cfg.patients < 1:
        raise MMHealthError(f"--patients {cfg.patients}: need at least 1 patient - pass a positive number")
    for name in ("genomes", "imaging", "corrupt"):
        if getattr(cfg, name) < 0:
            raise MMHealthError(f"--{name} {getattr(cfg, name)}: cannot be negative - pass 0 or more")
    if cfg.genomes > cfg.patients:
        raise MMHealthError(f"--genomes {cfg.genomes}: more genomes than patients ({cfg.patients}) - "
                            f"pass at most --patients")
    if cfg.seed < 0:
        raise MMHealthError(f"--seed {cfg.seed}: seeds are non-negative integers - pass 0 or more")
    if cfg.jobs < 1:
        raise MMHealthError(f"--jobs {cfg.jobs}: need at least 1 process")


def select_subsets(seed: int, profiles: list[PatientProfile], genomes: int, imaging: int) -> None:
    """Mark who has a genome and who has imaging. Imaging goes to adults (a head MR/CT of an adult)."""
    rng = np.random.default_rng([seed, 0x5E1EC7])
    n = len(profiles)
    for i in rng.choice(n, size=genomes, replace=False):
        profiles[int(i)].has_genome = True
    adults = [p.index for p in profiles if p.age >= 19]
    if imaging > len(adults):
        raise MMHealthError(f"--imaging {imaging}: only {len(adults)} of {n} patients are adults, and imaging "
                            f"studies are of adults - pass a smaller --imaging or more --patients")
    for i in rng.choice(len(adults), size=imaging, replace=False):
        profiles[adults[int(i)]].has_imaging = True


def _chunks(profiles: list[PatientProfile], jobs: int) -> list[list[PatientProfile]]:
    size = max(8, min(100, len(profiles) // (jobs * 6) or 1))
    return [profiles[i:i + size] for i in range(0, len(profiles), size)]


def generate(cfg: GenerateConfig) -> Summary:
    from tqdm import tqdm

    _validate(cfg)
    out = Path(cfg.out)
    _prepare(out)
    if cfg.bundles:
        (out / "fhir" / "bundles").mkdir(parents=True, exist_ok=True)
    params = cfg.params
    profiles = [sample_patient(cfg.seed, i, params) for i in range(cfg.patients)]
    select_subsets(cfg.seed, profiles, cfg.genomes, cfg.imaging)

    tasks = [(out, cfg.seed, params, chunk, cfg.bundles) for chunk in _chunks(profiles, cfg.jobs)]
    counts = {t: 0 for t in RESOURCE_TYPES}
    files = {"fhir_ndjson": len(RESOURCE_TYPES), "fhir_bundles": 0, "vcf": 0, "dicom": 0, "annotation": 1,
             "reference": 2}
    imaging: list[dict] = []
    oracle_rows: list[dict] = []
    handles = {t: open(out / "fhir" / f"{t}.ndjson", "wb") for t in RESOURCE_TYPES}
    bar = tqdm(total=cfg.patients, unit="patient", desc="generate", disable=not cfg.progress)
    pool = None
    try:
        if cfg.jobs > 1 and len(tasks) > 1:
            import multiprocessing
            import threading

            # fork is fastest, but forking a process that runs other threads (a test session's moto server,
            # say) can deadlock the child; then workers come from a clean fork server instead.
            from tqdm._monitor import TMonitor  # tqdm's idle monitor thread is safe to fork over

            others = [t for t in threading.enumerate()
                      if t is not threading.main_thread() and not isinstance(t, TMonitor)]
            method = "forkserver" if others else "fork"
            # An executor, not multiprocessing.Pool: a worker that dies raises BrokenProcessPool here instead of
            # being replaced forever. map() yields results in task order.
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(min(cfg.jobs, len(tasks)), mp_context=multiprocessing.get_context(method))
            results = pool.map(_render_chunk, tasks)
        else:
            results = map(_render_chunk, tasks)
        for res in results:
            for t in RESOURCE_TYPES:
                handles[t].write(res.ndjson[t])
                counts[t] += res.counts[t]
            imaging.extend(res.imaging)
            oracle_rows.extend(res.oracle)
            files["dicom"] += res.dicom_files
            files["vcf"] += res.vcf_files
            files["fhir_bundles"] += res.bundle_files
            bar.update(res.patients)
    finally:
        bar.close()
        for h in handles.values():
            h.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    genome.write_clinvar(out / "annotation" / "clinvar.vcf.gz")
    oracle.write(oracle_rows, out / oracle.ORACLE_FILE)
    panel.write_fasta(out / "reference" / "panel.fa")

    summary = Summary(out, cfg.patients, cfg.genomes, cfg.imaging, counts, files)
    if cfg.corrupt:
        from mmhealth.synth.corrupt import inject

        summary.corruptions = inject(out, cfg.seed, cfg.corrupt)
        (out / "corruptions.json").write_text(json.dumps(summary.corruptions, indent=2) + "\n")
    manifest = {
        "generator": "mmhealth-synth",
        "version": __version__,
        "seed": cfg.seed,
        "reference_date": REFERENCE_DATE.isoformat(),
        "arguments": {"patients": cfg.patients, "genomes": cfg.genomes, "imaging": cfg.imaging,
                      "bundles": cfg.bundles, "corrupt": cfg.corrupt},
        "counts": {"patients": cfg.patients, "genomes": cfg.genomes, "imaging_studies": cfg.imaging,
                   "resources": counts, "files": files, "corruptions": len(summary.corruptions)},
        "conventions": {
            "links": "Patient.id = VCF sample = DICOM PatientID; ImagingStudy.identifier[0].value = "
                     "urn:oid:<StudyInstanceUID>",
            "reference_fasta": "one record per panel region, named as samtools names a sub-sequence: "
                               "<contig>:<start>-<end>, 1-based inclusive; VCF POS p on contig c is base "
                               "p - start + 1 of the record whose range holds it",
            "lesion": "voxels whose rescaled value (HU for CT) is >= lesion_threshold are the lesion, and "
                      "only they are; lesion_volume_mm3 = lesion_voxels * pixel_spacing^2 * slice_thickness",
            "corrupt_records": "counts above exclude records added by --corrupt; see corruptions.json",
            "evaluation": f"{oracle.ORACLE_FILE}: each indexed patient's true probability of a new diagnosis "
                          "in the label window (and per modality set), for `mmhealth train --oracle` only - not "
                          "input data, never ingested (docs/ml.md#the-ceiling)",
        },
        "model": params.to_manifest(),
        "imaging": imaging,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return summary


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))
