"""Leakage: change every event dated after a patient's index date - values, codes and dates of conditions,
observations, encounters, prescriptions, procedures, claims, imaging studies and their radiomics - rebuild, and that
patient's features are unchanged (labels may change: they are meant to look ahead). A control change before one
patient's index date must change that patient's features, so the test can fail."""

from __future__ import annotations

import duckdb
import pytest

from dbt_testkit import connect

LABELS = {"stroke", "hypertension", "coronary_heart_disease", "alzheimers"}
# about the label window, not the patient: they may follow the data end, which post-index events move
LABEL_CONTEXT = {"label_window_end_date", "label_window_observed"}
# a FHIR dateTime string column as the UTC date dbt's staging gives it
UTC_DATE = "cast(timezone('UTC', try_cast({} as timestamptz)) as date)"
SHIFTED = "strftime(timezone('UTC', try_cast({} as timestamptz)) + interval {} day, '%Y-%m-%dT%H:%M:%SZ')"


def _differs(a, b):
    """Element-wise difference of two aligned columns, nulls equal to nulls, floats to 1e-9."""
    both_null = a.isna() & b.isna()
    try:
        equal = ((a.astype(float) - b.astype(float)).abs() < 1e-9)
    except (TypeError, ValueError):
        equal = a == b
    return ~(both_null | equal.fillna(False).astype(bool))


def _copy_lake(src: str, dst: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(dst)
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"attach '{src}' as src (read_only)")
    for schema, table in con.execute("""select schema_name, view_name from duckdb_views()
                                        where database_name = 'src' and not internal
                                        union all select schema_name, table_name from duckdb_tables()
                                        where database_name = 'src'""").fetchall():
        con.execute(f"create schema if not exists {schema}")
        con.execute(f'create table {schema}."{table}" as select * from src.{schema}."{table}"')
    return con


def _change_after_index(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rewrite every post-index event of the indexed patients; returns how many rows of each table changed."""
    changed = {}

    def update(table: str, date_col: str, patient_expr: str, assignments: str) -> None:
        where = (f"exists (select 1 from idx where idx.patient_id = {patient_expr} "
                 f"and {UTC_DATE.format(date_col)} > idx.index_date)")
        before = con.execute(f"select count(*) from {table} where {where}").fetchone()[0]
        con.execute(f"update {table} set {assignments} where {where}")
        changed[table] = before

    ref = "regexp_extract({}.reference, '([^/:]+)$', 1)"
    stroke = "[{'system': 'http://snomed.info/sct', 'code': '230690007', 'display': 'Stroke'}]"
    update("healthlake.condition", "onsetdatetime", ref.format("subject"),
           f"code = struct_update(code, coding := {stroke}), onsetdatetime = {SHIFTED.format('onsetdatetime', 30)}")
    update("healthlake.observation", "effectivedatetime", ref.format("subject"),
           "valuequantity = struct_update(valuequantity, value := valuequantity.value * 3 + 17), "
           "component = list_transform(component, c -> struct_update(c, valuequantity := "
           "struct_update(c.valuequantity, value := c.valuequantity.value * 3 + 17))), "
           f"effectivedatetime = {SHIFTED.format('effectivedatetime', 7)}")
    update("healthlake.encounter", "period.start", ref.format("subject"),
           "class = struct_update(class, code := 'EMER'), "
           f"period = struct_update(period, start := {SHIFTED.format('period.start', 1)})")
    update("healthlake.medicationrequest", "authoredon", ref.format("subject"),
           f"medicationcodeableconcept = struct_update(medicationcodeableconcept, coding := "
           f"[{{'system': 'x', 'code': 'changed', 'display': 'changed'}}]), authoredon = {SHIFTED.format('authoredon', 3)}")
    update("healthlake.procedure", "performedperiod.start", ref.format("subject"),
           f"performedperiod = struct_update(performedperiod, start := {SHIFTED.format('performedperiod.start', 2)})")
    update("healthlake.claim", "billableperiod.start", ref.format("patient"),
           "total = struct_update(total, value := total.value * 10)")
    # imaging: studies dated after the index date, and the radiomics of their image sets
    late_sets = """imagesetid in (select s.imagesetid from imaging.image_sets as s
                   join imaging.studies as st on st.studyinstanceuid = s.studyinstanceuid
                   join idx on idx.patient_id = s.patientid
                   where strptime(st.studydate, '%Y%m%d')::date > idx.index_date)"""
    changed["imaging.radiomics"] = con.execute(f"select count(*) from imaging.radiomics where {late_sets}").fetchone()[0]
    volume_cols = [c for (c,) in con.execute("""select column_name from information_schema.columns
        where table_catalog = current_database() and table_schema = 'imaging' and table_name = 'radiomics'
          and data_type = 'DOUBLE'""").fetchall()]
    con.execute(f"update imaging.radiomics set {', '.join(f'{c} = {c} * 2 + 1' for c in volume_cols)} where {late_sets}")
    return changed


@pytest.fixture(scope="module")
def leakage_lake(small_pipeline, dbt_scratch, alt_lakes):
    original = connect(small_pipeline.warehouse)
    idx = original.execute("""select d.patient_id, f.index_date, f.patient_key
                              from mmhealth_marts.features_cardiovascular as f
                              join mmhealth_marts.dim_patient as d using (patient_key)""").fetchall()
    before = original.execute("select * from mmhealth_marts.features_cardiovascular").fetchdf()
    end_before = original.execute("select data_end_date, index_cutoff_date from mmhealth_intermediate.int_cv_data_end").fetchone()
    original.close()
    control = idx[0]  # this patient gets one change *before* the index date instead

    lake = dbt_scratch / "leakage-lake"
    lake.mkdir()
    con = _copy_lake(str(small_pipeline.lake / "lake.duckdb"), str(lake / "lake.duckdb"))
    con.execute("create temp table idx (patient_id varchar, index_date date)")
    con.executemany("insert into idx values (?, ?)", [(p, d) for p, d, _ in idx[1:]])
    changed = _change_after_index(con)
    control_obs = con.execute(f"""
        update healthlake.observation set valuequantity = struct_update(valuequantity, value := 999.0)
        where regexp_extract(subject.reference, '([^/:]+)$', 1) = ?
          and {UTC_DATE.format('effectivedatetime')} <= ? and valuequantity.value is not null
          and code.coding[1].code in ('39156-5', '18262-6', '2093-3', '2085-9', '4548-4')""",
                              [control[0], control[1]]).fetchone()[0]
    con.close()
    alt_lakes.dbt(lake, "build", "--select", "+features_cardiovascular", "--exclude-resource-type", "test",
                  "unit_test")
    rebuilt = connect(lake / "warehouse.duckdb")
    after = rebuilt.execute("select * from mmhealth_marts.features_cardiovascular").fetchdf()
    end_after = rebuilt.execute("select data_end_date, index_cutoff_date from mmhealth_intermediate.int_cv_data_end").fetchone()
    rebuilt.close()
    return before, after, changed, control[2], control_obs, (end_before, end_after)


def test_post_index_changes_were_made(leakage_lake):
    _, _, changed, _, control_obs, _ = leakage_lake
    for table in ("healthlake.condition", "healthlake.observation", "healthlake.encounter", "healthlake.claim",
                  "imaging.radiomics"):
        assert changed[table] > 0, f"no post-index rows changed in {table}"
    assert control_obs > 0


def test_features_do_not_change_when_post_index_events_do(leakage_lake):
    before, after, _, control_key, _, _ = leakage_lake
    features = [c for c in before.columns if c not in LABELS | LABEL_CONTEXT]
    b = before[before.patient_key != control_key].set_index("patient_key")[features[1:]].sort_index()
    a = after[after.patient_key != control_key].set_index("patient_key")[features[1:]].sort_index()
    assert list(a.index) == list(b.index)
    changed = [c for c in b.columns if _differs(a[c], b[c]).any()]
    assert not changed, f"features changed by post-index events: {changed}"


def test_labels_do_look_ahead(leakage_lake):
    before, after, _, control_key, _, _ = leakage_lake
    # every post-index condition became a stroke: stroke labels can only appear, never disappear
    b = before.set_index("patient_key").stroke.sort_index()
    a = after.set_index("patient_key").stroke.sort_index()
    assert list(a.index) == list(b.index)
    assert (a.astype(int) >= b.astype(int)).all()
    assert a.sum() > b.sum()


def test_a_pre_index_change_does_change_features(leakage_lake):
    before, after, _, control_key, _, _ = leakage_lake
    b = before.set_index("patient_key").loc[[control_key]]
    a = after.set_index("patient_key").loc[[control_key]]
    assert any(_differs(a[c], b[c]).any() for c in b.columns)


def test_post_index_events_move_the_data_end_but_not_the_index_cutoff(leakage_lake):
    """The index cutoff is placed from the data end, which post-index events define: it moves only at a year
    boundary, so shifting the latest events by days to weeks leaves every index date (and feature) where it was."""
    *_, (end_before, end_after) = leakage_lake
    (data_end_before, cutoff_before), (data_end_after, cutoff_after) = end_before, end_after
    assert data_end_after > data_end_before  # the shifted events are the lake's latest
    assert cutoff_after == cutoff_before
