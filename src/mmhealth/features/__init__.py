"""Publishing gated feature tables: to a versioned local offline store, or to SageMaker Feature Store.

`publish.publish()` refuses data whose latest quality gate run did not pass for exactly that content
(`mmhealth.quality.results.require_passed`); `definition` derives the feature group from the mart's schema;
`local_store` and `sagemaker` write it.
"""
