"""`serve` on 127.0.0.1, `predict` on the same records, and the SageMaker script run locally: one set of
probabilities."""

import json
import re
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

from mmhealth.cli import main
from mmhealth.ml.bundle import open_model
from mmhealth.ml.serve import make_server

OUTCOMES = ["alzheimers", "stroke"]


def _records(frame: pd.DataFrame, n: int = 5) -> list[dict]:
    """JSON-ready records with all columns, as a client would send rows of the feature table."""
    rows = frame.head(n).copy()
    for c in ("index_date", "event_time", "clinical_last_bp_date"):
        rows[c] = rows[c].dt.strftime("%Y-%m-%d")
    return json.loads(rows.to_json(orient="records"))


@pytest.fixture(scope="module")
def server(trained_run):
    srv = make_server(open_model(trained_run), port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _call(url, body=None, ctype="application/json", method=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_health_names_model_and_data(server, trained_run):
    status, body = _call(f"{server}/health")
    manifest = json.loads((trained_run / "manifest.json").read_text())
    assert status == 200 and body["status"] == "ok"
    assert body["outcomes"] == OUTCOMES and body["modalities"] == ["clinical", "genomic", "imaging"]
    assert body["data_hash"] == manifest["provenance"]["data_hash"]


def test_one_record_and_a_list(server, features_frame):
    recs = _records(features_frame)
    status, one = _call(f"{server}/predict", recs[0])
    assert status == 200 and len(one["predictions"]) == 1
    pred = one["predictions"][0]
    assert pred["patient_key"] == recs[0]["patient_key"]
    assert sorted(pred["probabilities"]) == OUTCOMES
    assert all(0 < p < 1 for p in pred["probabilities"].values())
    status, many = _call(f"{server}/predict", recs)
    assert status == 200 and len(many["predictions"]) == 5
    # the same record alone or in a batch: equal up to the last bits (BLAS sums a batch in another order)
    first = many["predictions"][0]
    assert {k: v for k, v in first.items() if k != "probabilities"} == \
        {k: v for k, v in pred.items() if k != "probabilities"}
    assert first["probabilities"] == pytest.approx(pred["probabilities"], rel=1e-12)
    # Rows without every modality of the set are scored but flagged: the models never saw such patients.
    expected = [bool(r["has_genomics"] and r["has_imaging"]) for r in recs]
    assert [p["complete_modalities"] for p in many["predictions"]] == expected
    assert len(set(expected)) == 2  # the sample has both kinds
    # Only features are needed; nulls are imputed.
    minimal = {f: recs[1][f] for f in recs[1] if f.startswith(("clinical_", "genomic_", "imaging_"))}
    minimal["imaging_firstorder_mean"] = None
    status, body = _call(f"{server}/predict", minimal)
    assert status == 200
    # Without flags, presence is "any non-null feature of the modality".
    has_all = recs[1]["imaging_lesion_volume_mm3"] is not None and recs[1]["genomic_apoe_e4_dosage"] is not None
    assert body["predictions"][0]["complete_modalities"] == has_all


@pytest.mark.parametrize("mutate, status, message", [
    (lambda r: r.pop("clinical_age_years"), 400, "missing feature(s) clinical_age_years"),
    (lambda r: r.update(clinical_age_years="old"), 400, "clinical_age_years must be a finite number"),
    (lambda r: r.update(clinical_sex=1), 400, "clinical_sex must be a string"),
    (lambda r: r.update(favourite_colour="red"), 400, "unknown field(s) favourite_colour"),
])
def test_invalid_records_get_400_naming_the_problem(server, features_frame, mutate, status, message):
    rec = _records(features_frame, 1)[0]
    mutate(rec)
    code, body = _call(f"{server}/predict", [rec])
    assert code == status
    assert any(message in d for d in body["details"]), body


def test_malformed_requests(server):
    assert _call(f"{server}/predict", b"{not json")[0] == 400
    assert _call(f"{server}/predict", [])[0] == 400
    assert _call(f"{server}/predict", [1, 2])[0] == 400
    code, body = _call(f"{server}/predict", b"a,b\n1,2", ctype="application/xml")
    assert code == 415 and "not supported" in body["error"]
    assert _call(f"{server}/predict", b"\xff\xfe\x00")[0] == 400
    code, body = _call(f"{server}/predict", b"", ctype="text/csv")
    assert code == 400 and "CSV" in body["error"]
    assert _call(f"{server}/nowhere")[0] == 404
    assert _call(f"{server}/nowhere", {"a": 1})[0] == 404


def test_server_listens_on_loopback_only(trained_run):
    srv = make_server(open_model(trained_run), port=0)
    try:
        assert srv.server_address[0] == "127.0.0.1"
    finally:
        srv.server_close()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_file_gives_the_same_probabilities_as_serve(server, trained_run, features_frame, tmp_path, suffix):
    recs = _records(features_frame, 20)
    _, served = _call(f"{server}/predict", recs)
    src = tmp_path / f"in{suffix}"
    frame = pd.DataFrame(recs)
    frame.to_csv(src, index=False) if suffix == ".csv" else frame.to_parquet(src, index=False)
    out = tmp_path / f"out{suffix}"
    assert main(["predict", "--model", str(trained_run), "--input", str(src), "--out", str(out)]) == 0
    got = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(got["patient_key"]) == [r["patient_key"] for r in recs]
    assert list(got["complete_modalities"]) == [p["complete_modalities"] for p in served["predictions"]]
    for outcome in OUTCOMES:
        np.testing.assert_allclose(got[f"probability_{outcome}"],
                                   [p["probabilities"][outcome] for p in served["predictions"]], rtol=1e-12)


def test_predict_refuses_a_file_without_the_features(trained_run, features_frame, tmp_path, capsys):
    src = tmp_path / "in.csv"
    features_frame.drop(columns=["genomic_apoe_e4_dosage"]).head(3).to_csv(src, index=False)
    assert main(["predict", "--model", str(trained_run), "--input", str(src), "--out", str(tmp_path / "o.csv")]) == 1
    assert "missing feature column(s) genomic_apoe_e4_dosage" in capsys.readouterr().err


def test_predict_with_a_single_modality_model(trained_run, features_frame, tmp_path):
    src = tmp_path / "in.parquet"
    features_frame.head(10).to_parquet(src)
    out = tmp_path / "o.parquet"
    assert main(["predict", "--model", str(trained_run), "--input", str(src), "--out", str(out),
                 "--modalities", "clinical", "--model-type", "logistic"]) == 0
    assert len(pd.read_parquet(out)) == 10


SAGEMAKER_DRIVER = r"""
import importlib.util, json, sys
model_dir, body_path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("inference", f"{model_dir}/code/inference.py")
mod = importlib.util.module_from_spec(spec); sys.modules["inference"] = mod; spec.loader.exec_module(mod)
model = mod.model_fn(model_dir)
body = open(body_path, "rb").read()
out_json, ctype = mod.output_fn(mod.predict_fn(mod.input_fn(body, "application/json"), model), "application/json")
csv_body = open(body_path + ".csv").read()
out_csv, _ = mod.output_fn(mod.predict_fn(mod.input_fn(csv_body, "text/csv"), model), "application/json")
try:
    mod.predict_fn(mod.input_fn(b'[{"clinical_age_years": "x"}]', "application/json"), model)
    bad = None
except mod.InputError as exc:
    bad = [exc.status, exc.errors[:1]]
print(json.dumps({"json": json.loads(out_json), "csv": json.loads(out_csv), "ctype": ctype, "bad": bad,
                  "mmhealth_loaded": sorted(m for m in sys.modules if m.split(".")[0] == "mmhealth")}))
"""


def test_sagemaker_archive_runs_standalone_and_agrees_with_serve(server, trained_run, features_frame, tmp_path):
    archive = trained_run / "sagemaker" / "model.tar.gz"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        tar.extractall(tmp_path / "model", filter="data")
    assert {"inference.json", "code/inference.py", "code/requirements.txt"} <= names
    assert "lightgbm==" in (tmp_path / "model" / "code" / "requirements.txt").read_text()
    recs = _records(features_frame, 8)
    (tmp_path / "body.json").write_text(json.dumps(recs))
    pd.DataFrame(recs).to_csv(tmp_path / "body.json.csv", index=False)
    # A fresh interpreter in the model folder, as the container runs it: the handlers and the pickled models
    # must not need mmhealth.
    proc = subprocess.run([sys.executable, "-c", SAGEMAKER_DRIVER, str(tmp_path / "model"),
                           str(tmp_path / "body.json")], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["mmhealth_loaded"] == []
    assert result["ctype"] == "application/json"
    assert result["bad"][0] == 400
    _, served = _call(f"{server}/predict", recs)
    for got in (result["json"], result["csv"]):
        for a, b in zip(got["predictions"], served["predictions"]):
            assert a["patient_key"] == b["patient_key"]
            for o in OUTCOMES:
                assert a["probabilities"][o] == pytest.approx(b["probabilities"][o], rel=1e-12)


# --- hostile and broken clients: every request gets a status, nobody holds a worker ----------------------

def _raw(port: int, data: bytes, timeout: float = 10.0) -> tuple[int | None, dict | None]:
    """Send raw bytes, read one HTTP response (or the connection closing); (status, JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            m = re.search(rb"(?im)^content-length: *(\d+)", head)
            if sep and m and len(body) >= int(m.group(1)):
                break
    if not buf:
        return None, None
    head, _, body = buf.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else None


def _post(port: int, body: bytes, ctype: str = "application/json", headers: str | None = None):
    head = headers if headers is not None else f"Content-Length: {len(body)}\r\n"
    return _raw(port, (f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n{head}Connection: close\r\n\r\n")
                .encode("latin-1") + body)


@pytest.fixture(scope="module")
def strict_server(trained_run):
    """A server with a 1 s read timeout and two workers, so the timeout and pool tests stay fast."""
    srv = make_server(open_model(trained_run), port=0, read_timeout=1.0, request_timeout=3.0, workers=2, backlog=1)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _one_record(features_frame) -> dict:
    return _records(features_frame, 1)[0]


def test_an_integer_beyond_a_float_is_422_naming_the_field(strict_server, features_frame):
    rec = json.dumps([_one_record(features_frame)])
    huge = re.sub(r'"clinical_age_years": [^,}]+', '"clinical_age_years": 1' + "0" * 400, rec)  # 1e400, as an integer
    status, body = _post(strict_server, huge.encode())
    assert status == 422 and "record 0: clinical_age_years is an integer of about 401 digits" in body["details"][0]
    # a flag read as a number, too
    flag = re.sub(r'"has_imaging": [^,}]+', '"has_imaging": 1' + "0" * 400, rec)
    assert _post(strict_server, flag.encode())[0] == 422
    # past Python's own limit on integer digits, the JSON itself is refused
    status, body = _post(strict_server, re.sub(r'"clinical_age_years": [^,}]+', '"clinical_age_years": 1' + "0" * 5000,
                                               rec).encode())
    assert status == 400 and "digits" in body["error"]


def test_deeply_nested_json_is_400(strict_server):
    status, body = _post(strict_server, b"[" * 200_000 + b"]" * 200_000)
    assert status == 400 and "nested too deeply" in body["error"]


def test_inf_in_a_csv_text_column_is_422(strict_server, features_frame):
    frame = pd.DataFrame(_records(features_frame, 3))
    frame["clinical_sex"] = ["inf", None, None]
    status, body = _post(strict_server, frame.to_csv(index=False).encode(), "text/csv")
    assert status == 422 and body["details"] == ["clinical_sex: a non-finite number where text belongs, at row(s) 0"]
    frame["clinical_sex"] = ["F", "-Infinity", "M"]  # read as text next to other text: still refused
    status, body = _post(strict_server, frame.to_csv(index=False).encode(), "text/csv")
    assert status == 422 and "at row(s) 1" in body["details"][0]


@pytest.mark.parametrize("header, status", [
    ("Content-Length: \u00b2\r\n", 400),  # superscript two: str.isdigit() says yes, int() says no
    ("Content-Length: \u00c2\u00b2\r\n", 400),  # the same character sent as UTF-8
    ("Content-Length: -1\r\n", 400),
    ("Content-Length: 1e3\r\n", 400),
    ("Content-Length: 99999999999999999999999\r\n", 413),
    ("Content-Length: 3\r\nContent-Length: 4\r\n", 400),
    ("Transfer-Encoding: chunked\r\n", 411),
    ("", 411),
])
def test_bad_content_length_gets_a_status(strict_server, header, status):
    got, body = _post(strict_server, b"{}", headers=header)
    assert got == status and body["error"]


def test_a_stalled_client_is_dropped_after_the_read_timeout(strict_server, trained_run):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", strict_server), timeout=10) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"clinical_a")  # half a request
        reply = s.recv(65536)
        while reply and not reply.endswith(b"}"):
            reply += s.recv(65536)
        assert s.recv(65536) == b""  # and the connection is closed
    elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408") and 0.9 < elapsed < 5, (reply[:80], elapsed)
    # half a request line, no headers: dropped without an answer
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", strict_server), timeout=10) as s:
        s.sendall(b"POST /predi")
        assert s.recv(65536) == b""
    assert 0.9 < time.monotonic() - started < 5


def test_a_trickling_client_cannot_outlast_the_request_timeout(strict_server):
    """One byte every 0.5 s keeps every read under the 1 s read timeout; the 3 s request deadline still ends it."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", strict_server), timeout=10) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for _ in range(20):
            try:
                s.sendall(b"X")
            except OSError:
                closed = True
                break
            time.sleep(0.5)
            s.setblocking(False)
            try:
                if s.recv(65536) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
    assert closed and time.monotonic() - started < 6


def test_the_worker_pool_is_bounded_and_answers_503_when_full(strict_server, features_frame):
    """Two workers and a queue of one: three stalled clients take every place, the fourth gets 503 at once;
    once the stalled ones time out, requests are served again."""
    stalled = [socket.create_connection(("127.0.0.1", strict_server), timeout=10) for _ in range(3)]
    try:
        for s in stalled:
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
        time.sleep(0.2)
        started = time.monotonic()
        status, body = _raw(strict_server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 503 and "busy" in body["error"] and time.monotonic() - started < 0.9
    finally:
        for s in stalled:
            s.close()
    deadline = time.monotonic() + 10
    while True:
        status, _ = _raw(strict_server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200
    assert _post(strict_server, json.dumps(_one_record(features_frame)).encode())[0] == 200


def test_serve_and_predict_default_to_the_selected_family_not_a_worse_stack(server, trained_run, features_frame,
                                                                             tmp_path, capsys):
    from mmhealth.ml import inference

    manifest = json.loads((trained_run / "manifest.json").read_text())
    worse = [m for m in manifest["models"]
             if m["selected"] != "stacked" and m["inner_auroc"]["stacked"] < m["inner_auroc"][m["selected"]]]
    assert worse, "the fixture's data has cells where inner CV ranks the stack below another family"
    rows = features_frame.head(20)
    for m in worse:
        mods = "+".join(m["modalities"])
        default = open_model(trained_run, mods)
        assert default.spec["model_type"] == "selected" and default.spec["families"][m["outcome"]] == m["selected"]
        got = [r["probabilities"][m["outcome"]] for r in inference.predict(default, rows)]
        chosen = [r["probabilities"][m["outcome"]] for r in inference.predict(open_model(trained_run, mods, m["selected"]), rows)]
        stack = [r["probabilities"][m["outcome"]] for r in inference.predict(open_model(trained_run, mods, "stacked"), rows)]
        assert got == chosen and got != stack
    # the HTTP endpoint says which family scores each outcome: the manifest's choice for its set
    status, health = _call(f"{server}/health")
    assert status == 200 and health["model_type"] == "selected"
    assert health["families"] == {m["outcome"]: m["selected"] for m in manifest["models"]
                                  if m["modalities"] == ["clinical", "genomic", "imaging"]}
    # and `predict` on the command line, with no --model-type, uses and names them
    src = tmp_path / "in.parquet"
    rows.to_parquet(src)
    assert main(["predict", "--model", str(trained_run), "--modalities", "+".join(worse[0]["modalities"]),
                 "--input", str(src), "--out", str(tmp_path / "out.csv")]) == 0
    assert f"{worse[0]['outcome']} {worse[0]['selected']}" in capsys.readouterr().out
