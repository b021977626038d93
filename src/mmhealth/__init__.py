"""mmhealth: multimodal health data (FHIR R4, DICOM, VCF + ClinVar) into governed, tested patient marts.

Sub-packages follow the data's path, and a module never imports from a later stage:
synth -> ingest -> lake -> governance -> quality -> features -> dashboards.
"""

__version__ = "0.1.0"
