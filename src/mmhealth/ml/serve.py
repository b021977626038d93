"""A small JSON scoring endpoint on loopback (standard library http.server).

  GET  /health                 {"status": "ok", ...}: the model and the data it was trained on
  GET  /schema                 the features a record must carry
  POST /predict (/invocations) one record or a list -> {"predictions": [{"probabilities": {...}}]}

Requests go through the same input_fn / predict_fn / output_fn as the SageMaker container, so the endpoint
behaves as the deployed model does. Bad input gets a 4xx with every problem listed."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mmhealth.ml import inference

MAX_BODY = 16 * 1024 * 1024
HOST = "127.0.0.1"  # loopback only: this is a development endpoint, SageMaker is the deployment


def make_server(model: inference.Model, port: int = 8080, *, log: bool = False) -> ThreadingHTTPServer:
    info = {
        "status": "ok",
        "modalities": model.spec["modalities"],
        "model_type": model.spec["model_type"],
        "outcomes": sorted(model.estimators),
        "feature_group": model.spec.get("provenance", {}).get("feature_group"),
        "feature_group_version": model.spec.get("provenance", {}).get("version"),
        "data_hash": model.spec.get("provenance", {}).get("data_hash"),
    }
    # Scikit-learn estimators are not documented as thread-safe for concurrent predict: serialize scoring.
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "mmhealth-serve"
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/health" or self.path == "/ping":
                self._send(200, info)
            elif self.path == "/schema":
                self._send(200, {"id_column": model.spec["id_column"], "features": model.features,
                                 "outcomes": sorted(model.estimators)})
            else:
                self._send(404, {"error": f"no such path {self.path}; use GET /health, GET /schema, POST /predict"})

        def do_POST(self):  # noqa: N802
            if self.path not in ("/predict", "/invocations"):
                self._drain()
                self._send(404, {"error": f"no such path {self.path}; POST to /predict"})
                return
            length = self.headers.get("Content-Length")
            if length is None:
                self._send(411, {"error": "Content-Length required"})
                return
            if not length.isdigit():
                self.close_connection = True
                self._send(400, {"error": f"Content-Length {length!r} is not a number"})
                return
            if int(length) > MAX_BODY:
                self.close_connection = True
                self._send(413, {"error": f"body of {length} bytes exceeds {MAX_BODY}"})
                return
            body = self.rfile.read(int(length))
            try:
                data = inference.input_fn(body, self.headers.get("Content-Type"))
                with lock:
                    predictions = inference.predict_fn(data, model)
                payload, _ = inference.output_fn(predictions, self.headers.get("Accept"))
            except inference.InputError as exc:
                self._send(exc.status, exc.to_json())
                return
            self._send(200, json.loads(payload))

        def _drain(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if 0 < length <= MAX_BODY:
                self.rfile.read(length)

        def log_message(self, fmt, *args):
            if log:
                sys.stderr.write(f"serve: {self.address_string()} {fmt % args}\n")

    server = ThreadingHTTPServer((HOST, port), Handler)
    server.daemon_threads = True
    return server
