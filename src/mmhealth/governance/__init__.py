"""Lake Formation permissions as code (`mmhealth govern`). See docs/governance.md.

Modules, along the way a policy travels:
- `yamlsource`  YAML with line numbers kept, so every finding says `file:line`
- `policy`      the policy file's typed form, checked against governance/schema/policy.schema.json
- `manifest`    governed tables, columns, types and classifications from dbt's target/manifest.json
- `access`      tag inheritance and effective access (principal x table x columns x rows); the PHI invariant
- `validate`    every meaning check, reported together
- `rowfilter`   row filters parsed once into Lake Formation's subset and one canonical text
- `state`       canonical Lake Formation state and the normalization of live state
- `desired`     the state the policy asks for, and the scope the tool manages
- `aws`         boto3 reads (live state) and the call-counting gateway
- `plan`        set-difference diff, +/-/~ rendering, saved plans
- `apply`       batched writes in a safe order, per-entry failures, unmanaged guard
- `report`      the access review matrix (Markdown / JSON)
- `local`       per-principal DuckDB views over the local warehouse (a preview, not a boundary)
- `lakemeta`    the lake's own tables (quarantine, ingest log) governed with the classification in lake/meta.py
- `dbtconfig`   dbt-athena lf_tags_config generated from the same policy

Nothing is imported here, so `mmhealth --help` stays fast; import the module you need.
"""
