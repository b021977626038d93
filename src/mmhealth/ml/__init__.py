"""Baseline models on the published cardiovascular features: the last stage of the data's path.

`train` fits logistic regression, LightGBM and a stacked ensemble of both for each outcome x modality set,
evaluated with repeated patient-grouped stratified cross-validation, and writes a run folder;
`predict` scores a file in batch, `serve` answers JSON over HTTP on loopback, and `train --export sagemaker`
packs a model for SageMaker's scikit-learn serving container. Nothing imports this package.
"""
