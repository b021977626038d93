"""The imaging modality: DICOM -> imaging.studies / series / instances / image_sets / radiomics.

`reader.py` is the lake's entry point (`ImagingReader`) and the run it drives; `header.py` reads one file's
header, `series.py` decides what a series' headers say together, `volume.py` / `segment.py` / `radiomics.py`
turn pixels into features, `tables.py` shapes the rows."""
