"""The FHIR R4 modality: NDJSON and Bundles -> one `healthlake.<resource>` table per resource type.

`reader.py` is the lake's entry point (`FhirReader`) and its pipeline; `bundle.py`, `depth.py`, `schema.py`,
`resource_types.py` and `verify.py` are the pieces it drives."""
