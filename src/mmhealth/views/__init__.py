"""Views: SQL-on-FHIR v2 ViewDefinitions compiled to SQL over the lake (docs/views.md).

The stage after the lake: it reads the lake's HealthLake-shaped FHIR tables and nothing later in the data's path.

    definition.py   a ViewDefinition as typed dataclasses (shape checks, column order, union rules)
    fhirpath.py     FHIRPath text -> AST
    schema.py       element shapes: from the lake's tables, or from the FHIR R4 model (fhir_r4.json) for dbt
    expr.py         FHIRPath AST -> SQL expressions (what is not supported is refused here)
    compiler.py     the select tree -> one SQL query (UNION ALL of unnest chains)
    dialect.py      DuckDB and Athena SQL
    runner.py       compile against a local lake and run there (`mmhealth views run`)
    dbt.py          dbt models + YAML (`mmhealth views compile`)
    conformance.py  the official test suite through mmhealth's ingest (`mmhealth views conformance`)

Python entry points: `definition.load_view(path)`, `runner.LakeViews.of(con).compile(view)`,
`dbt.compile_folder(views_dir, out)`, `conformance.run_suite(tests_dir, engine)`.
"""
