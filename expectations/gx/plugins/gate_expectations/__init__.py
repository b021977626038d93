"""mmhealth's quality-gate expectations as a Great Expectations plugin: plain GE, pandas and SQLAlchemy only.

GE puts the project's `plugins/` folder on `sys.path`, and `great_expectations.yml` names this package as the module
its expectations store is built from. Building the data context therefore imports the package - which registers
every expectation below with GE - before any suite is read, so `gx.get_context(project_root_dir=...)` loads the
gate's suites and runs its checkpoints without mmhealth installed:

  expect_table_columns_to_have_declared_types            schema.py   (types of the dbt contract)
  expect_column_true_share_to_be_between                 shares.py   (label prevalence, modality flags)
  expect_table_columns_to_not_match_identifier_names     deidentification.py
  expect_table_values_to_not_look_like_identifiers       deidentification.py
"""

from great_expectations.data_context.store import ExpectationsStore  # noqa: F401 - the store GE builds from here

from gate_expectations import deidentification, schema, shares  # noqa: F401 - importing registers them
