"""Which reader serves each `--modality` value. Imported lazily so `mmhealth --help` stays fast."""

from __future__ import annotations

import importlib

# name -> "module:Class"; the class implements mmhealth.ingest.records.ModalityReader and takes no arguments.
READERS: dict[str, str] = {
    "fhir": "mmhealth.ingest.fhir.reader:FhirReader",
    "genomics": "mmhealth.ingest.genomics.reader:GenomicsReader",
    "imaging": "mmhealth.ingest.imaging.reader:ImagingReader",
}
DEFAULT_MODALITIES = ("fhir", "genomics", "imaging")


def load_reader(name: str):
    """An instance of the reader for `name`, or None when that modality is not installed (yet)."""
    module_name, _, cls = READERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, cls)()
