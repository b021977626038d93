"""Names the dbt Jinja context has and sqlfluff's jinja templater does not, for linting only (see .sqlfluff).

sqlfluff adds this package's top-level names to the template context. Values are placeholders: `execute` is
False, so macros that read the catalog (`mmh_source_columns`) take their no-catalog path and render every column,
as `dbt compile --target athena --vars '{offline_catalog: true}'` does."""

execute = False


def env_var(name: str, default: str = "") -> str:
    # The pseudonym key and other secrets must never be needed to lint; a placeholder renders the same SQL shape.
    return default or f"env_{name.lower()}"


class _Exceptions:
    @staticmethod
    def raise_compiler_error(message: str) -> None:
        raise RuntimeError(message)

    @staticmethod
    def warn(message: str) -> str:
        return ""


exceptions = _Exceptions()


class _DbtNamespace:
    """`dbt.<macro>(...)` (dbt's cross-database macros, used by models/semantic): a typed placeholder."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: "null"


dbt = _DbtNamespace()


class _Target:
    """`target` as the Athena target has it with the profile's defaults (athena__mmh_pseudonym_key_relation)."""

    type = "athena"
    database = "awsdatacatalog"
    schema = "mmhealth"


target = _Target()
