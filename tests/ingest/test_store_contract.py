"""The lake's shared contracts: both stores answer the `Store` protocol, the catalog is published once per run
(and still shows what committed when a later modality fails), options are typed and a misspelt one is refused."""

import inspect

import pytest

from mmhealth.errors import MMHealthError
from mmhealth.ingest.records import IngestOptions, ReadContext
from mmhealth.lake.ingest import run_ingest
from mmhealth.lake.store import LocalStore, S3Store, Store


def _members(protocol) -> set[str]:
    names = {n for n in vars(protocol) if not n.startswith("_")}
    return names | set(getattr(protocol, "__annotations__", {}))


@pytest.mark.parametrize("store", [LocalStore, S3Store])
def test_each_store_has_every_member_of_the_protocol_with_its_parameters(store):
    for name in sorted(_members(Store) - {"work"}):
        assert hasattr(store, name), f"{store.__name__} lacks {name}"
        wanted = getattr(Store, name)
        if callable(wanted):
            have = list(inspect.signature(getattr(store, name)).parameters)
            assert have == list(inspect.signature(wanted).parameters), f"{store.__name__}.{name}"


def test_a_local_store_keeps_its_lock_and_staging_inside_the_lake(tmp_path):
    store = LocalStore(tmp_path / "lake")
    assert isinstance(store.work, type(tmp_path))
    assert store.lock_path == tmp_path / "lake" / "_lake" / "lock"
    assert store.staging_root == tmp_path / "lake" / "_lake" / "staging"


class _Rows:
    """A modality that loads each line of its *.<suffix> files as a row of imaging.<name>_rows."""

    def __init__(self, name: str, fail: bool = False):
        self.name, self.fail = name, fail

    def discover(self, root):
        return sorted(root.glob(f"*.{self.name}"))

    def read(self, files, ctx):
        import pyarrow as pa

        from mmhealth.ingest.records import FileDone, TableBatch

        if self.fail:
            raise MMHealthError(f"{self.name}: refused on purpose")
        for f in files:
            lines = f.path.read_text().split()
            yield TableBatch("imaging", f"{self.name}_rows", f.rel, pa.table({"value": lines}))
            yield FileDone(f.rel, read=len(lines), loaded=len(lines), quarantined=0, skipped=0)


@pytest.fixture
def two_modalities(tmp_path, monkeypatch):
    """Modalities `a` and `b` in the lake's reader table; `b` fails when the test says so. Returns the source,
    the lake and the list of manifests the catalog was published for."""
    import mmhealth.lake.ingest as lake_ingest

    readers = {"a": _Rows("a"), "b": _Rows("b")}
    for name in readers:
        monkeypatch.setitem(lake_ingest.READERS, name, "tests:unused")
    monkeypatch.setattr(lake_ingest, "load_reader", lambda name: readers[name])
    published = []
    real = LocalStore.publish_catalog

    def counting(self, manifest):
        published.append(manifest)
        return real(self, manifest)

    monkeypatch.setattr(LocalStore, "publish_catalog", counting)
    src = tmp_path / "src"
    src.mkdir()
    (src / "one.a").write_text("1 2")
    (src / "two.b").write_text("3")
    return src, tmp_path / "lake", published, readers


def _rows(lake, table):
    import duckdb

    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT value FROM imaging.{table} ORDER BY value").fetchall()
    finally:
        con.close()


def test_the_catalog_is_published_once_per_run_with_both_modalities_in_it(two_modalities):
    src, lake, published, _ = two_modalities
    report = run_ingest(src, str(lake), ["a", "b"], {}, progress=False)
    assert len(published) == 1
    assert set(published[0].tables) >= {"imaging.a_rows", "imaging.b_rows"}
    assert report.tables["imaging.b_rows"] == 1
    assert _rows(lake, "a_rows") == [("1",), ("2",)] and _rows(lake, "b_rows") == [("3",)]


def test_what_committed_before_a_later_modality_failed_is_in_the_catalog(two_modalities):
    src, lake, published, readers = two_modalities
    readers["b"].fail = True
    with pytest.raises(MMHealthError, match="b: refused on purpose"):
        run_ingest(src, str(lake), ["a", "b"], {}, progress=False)
    assert len(published) == 1 and "imaging.b_rows" not in published[0].tables
    assert _rows(lake, "a_rows") == [("1",), ("2",)]


def test_a_run_that_commits_nothing_before_failing_publishes_nothing(two_modalities):
    src, lake, published, readers = two_modalities
    readers["a"].fail = True
    with pytest.raises(MMHealthError):
        run_ingest(src, str(lake), ["a", "b"], {}, progress=False)
    assert published == [] and not (lake / "lake.duckdb").exists()


def test_an_option_no_part_of_the_run_reads_is_refused_by_name(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(MMHealthError, match="unknown glue_database_prefix"):
        run_ingest(tmp_path / "src", str(tmp_path / "lake"), ["fhir"], {"glue_database_prefix": "x"},
                   progress=False)
    with pytest.raises(MMHealthError, match="--reprocess everything: choose from quarantined, all"):
        IngestOptions.of({"reprocess": "everything"})


def test_readers_get_typed_options_from_a_mapping_or_the_object(tmp_path):
    ctx = ReadContext("r", tmp_path, options={"workers": 3, "radiomics": False})
    assert ctx.options == IngestOptions(workers=3, radiomics=False)
    assert ctx.options.segmenter is None and ctx.options.duckdb_memory == "1GB"
    same = IngestOptions(reference=tmp_path / "ref.fa")
    assert ReadContext("r", tmp_path, options=same).options is same


def _parquet_on_disk(lake) -> set[str]:
    return {p.relative_to(lake).as_posix() for p in (lake / "imaging").rglob("*.parquet")}


def test_parts_a_commit_replaced_stay_until_the_catalog_stops_naming_them(two_modalities, monkeypatch):
    src, lake, published, readers = two_modalities
    run_ingest(src, str(lake), ["a", "b"], {}, progress=False)
    first = _parquet_on_disk(lake)
    (src / "one.a").write_text("1 2 4")  # a changed file: its old part is rewritten and the old one dropped
    on_disk_when_published = []
    publish = LocalStore.publish_catalog

    def looking(self, manifest):
        on_disk_when_published.append(_parquet_on_disk(lake))
        return publish(self, manifest)

    monkeypatch.setattr(LocalStore, "publish_catalog", looking)
    readers["b"].fail = True
    (src / "two.b").write_text("3 5")
    with pytest.raises(MMHealthError):
        run_ingest(src, str(lake), ["a", "b"], {}, progress=False)
    assert first <= on_disk_when_published[0]  # the old catalog's parts were all there until it was replaced
    assert not first & _parquet_on_disk(lake) - {k for k in first if "b_rows" in k}  # then a's old part went
    assert _rows(lake, "a_rows") == [("1",), ("2",), ("4",)]
