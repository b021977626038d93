"""A small JSON scoring endpoint on loopback (standard library http.server).

  GET  /health                 {"status": "ok", ...}: the model and the data it was trained on
  GET  /schema                 the features a record must carry
  POST /predict (/invocations) one record or a list -> {"predictions": [{"probabilities": {...}}]}

Requests go through the same input_fn / predict_fn / output_fn as the SageMaker container, so the endpoint
behaves as the deployed model does. Every request gets an HTTP answer with a JSON reason, never a dropped
connection:

  400  malformed: bad JSON (or nested deeper than the parser goes), bad CSV, invalid records, a bad
       Content-Length header (anything but ASCII digits, or two that disagree)
  404  unknown path          411  no Content-Length (chunked bodies are not read)
  413  body over MAX_BODY, or more records than inference.MAX_RECORDS
  415 / 406  content type / accept type not supported
  422  well-formed but not scorable: an integer beyond a 64-bit float, a non-finite number (inf) where a
       text feature belongs
  408  the body did not arrive in time (the connection is then closed)
  503  every worker busy (answered at once, connection closed)
  500  anything else, with the exception's class (logged as one line, never a traceback)

Limits, so a slow or hostile client cannot hold the process: each socket read waits at most `read_timeout`
seconds, a whole request (line, headers, body) must arrive within `request_timeout`, and requests are handled
by a fixed pool of `workers` threads with at most `backlog` more waiting; past that, 503."""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

from mmhealth.ml import inference

MAX_BODY = 16 * 1024 * 1024
HOST = "127.0.0.1"  # loopback only: this is a development endpoint, SageMaker is the deployment
READ_TIMEOUT = 10.0  # seconds one socket read may wait
REQUEST_TIMEOUT = 30.0  # seconds a whole request may take to arrive
WORKERS = 8
BACKLOG = 16  # accepted connections that may wait for a worker
_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit() also says yes to '²', which int() refuses
_NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


class _DeadlineReader(io.RawIOBase):
    """The request socket as a raw stream whose every read waits at most `read_timeout` and never past the
    request's deadline: a client trickling one byte per read cannot hold a worker for longer than that."""

    def __init__(self, sock: socket.socket, read_timeout: float, request_timeout: float):
        self.sock, self.read_timeout, self.request_timeout = sock, read_timeout, request_timeout
        self.deadline = time.monotonic() + request_timeout

    def start_request(self) -> None:
        self.deadline = time.monotonic() + self.request_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"request not received within {self.request_timeout:g} s")
        self.sock.settimeout(min(self.read_timeout, left))
        return self.sock.recv_into(buffer)


class _Reply(Exception):
    """An HTTP answer decided while reading the request."""

    def __init__(self, status: int, body: dict, close: bool = False):
        super().__init__(body.get("error", ""))
        self.status, self.body, self.close = status, body, close


class PooledHTTPServer(HTTPServer):
    """HTTPServer with a fixed pool of worker threads and a bounded queue in front of it; a connection that
    finds no place gets 503 at once instead of a new thread (ThreadingHTTPServer starts one per connection,
    without limit)."""

    def __init__(self, address, handler, *, workers: int, backlog: int, log: bool):
        self.log = log
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="serve")
        self._places = threading.BoundedSemaphore(workers + backlog)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._places.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            self._pool.submit(self._work, request, client_address)
        except RuntimeError:  # the pool is shutting down
            self._places.release()
            self.shutdown_request(request)

    def _work(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one line, and the worker lives on
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._places.release()

    def _refuse(self, request) -> None:
        body = json.dumps({"error": f"busy: all {self.workers} workers and the queue are taken - retry shortly"}).encode()
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Retry-After: 1\r\nConnection: close\r\n\r\n").encode()
        try:
            request.settimeout(0.5)
            request.sendall(head + body)
            request.setblocking(False)
            try:  # read what already arrived, so closing does not reset the connection before the 503 is read
                request.recv(65536)
            except OSError:
                pass
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if self.log:
            sys.stderr.write(f"serve: {client_address[0]}: {type(exc).__name__}: {exc}\n")

    def server_close(self):
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _records(payload) -> list:
    if isinstance(payload, dict) and isinstance(payload.get("instances"), list):
        return payload["instances"]
    return [payload] if isinstance(payload, dict) else payload if isinstance(payload, list) else []


def unscorable(data, spec: dict) -> list[str]:
    """Values that pass the input checks but cannot be scored: the 422 cases. JSON integers beyond a 64-bit
    float (json gives Python ints of any size; converting them raises); in CSV, a text feature that pandas
    read as a non-finite number (`inf`, `1e400`) - a number where text belongs, as the JSON path refuses."""
    kind, payload = data
    problems: list[str] = []
    text = [f["name"] for f in spec["features"] if f["kind"] != "numeric"]
    if kind == "records":
        for i, rec in enumerate(_records(payload)[: inference.MAX_RECORDS]):
            if not isinstance(rec, dict):
                continue
            for name, v in rec.items():  # features and flags alike (has_imaging is read as a number too)
                if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 1023:
                    problems.append(f"record {i}: {name} is an integer of about {int(v.bit_length() * 0.30103) + 1} "
                                    "digits, beyond a 64-bit float")
    else:
        for name in text:
            if name not in payload.columns:
                continue
            col = payload[name]
            bad = [i for i, v in enumerate(col.tolist())
                   if (isinstance(v, float) and v in (float("inf"), float("-inf")))
                   or (isinstance(v, str) and v.strip().lower() in _NON_FINITE)]
            if bad:
                problems.append(f"{name}: a non-finite number where text belongs, at row(s) "
                                f"{', '.join(str(i) for i in bad[:5])}")
    return problems[:50]


def make_server(model: inference.Model, port: int = 8080, *, log: bool = False, read_timeout: float = READ_TIMEOUT,
                request_timeout: float = REQUEST_TIMEOUT, workers: int = WORKERS, backlog: int = BACKLOG) -> PooledHTTPServer:
    info = {
        "status": "ok",
        "modalities": model.spec["modalities"],
        "model_type": model.spec["model_type"],
        # the family scoring each outcome (for "selected": the one training's nested CV chose)
        "families": {o: inference.family(model.spec, model.spec["model_type"], o) for o in sorted(model.estimators)},
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

        def setup(self):
            super().setup()
            self.rfile.close()  # replaced by the deadline-bound reader (the socket stays open)
            self.connection.settimeout(read_timeout)
            self._reader = _DeadlineReader(self.connection, read_timeout, request_timeout)
            self.rfile = io.BufferedReader(self._reader)

        def handle_one_request(self):
            self._reader.start_request()
            super().handle_one_request()

        def _send(self, status: int, body: dict, close: bool = False) -> None:
            data = json.dumps(body).encode()
            self.connection.settimeout(read_timeout)  # the write gets the full per-read timeout again
            if close:
                self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
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

        def _body(self) -> bytes:
            """The request body, or _Reply for a header we will not read a body by."""
            if self.headers.get("Transfer-Encoding"):
                raise _Reply(411, {"error": "send the body with Content-Length (Transfer-Encoding is not read)"}, True)
            lengths = self.headers.get_all("Content-Length") or []
            if not lengths:
                raise _Reply(411, {"error": "Content-Length required"})
            if len(set(v.strip() for v in lengths)) > 1:
                raise _Reply(400, {"error": f"{len(lengths)} different Content-Length headers"}, True)
            raw = lengths[0].strip()
            if not _DIGITS.fullmatch(raw):
                too_long = raw.isascii() and raw.isdigit()
                raise _Reply(413 if too_long else 400,
                             {"error": f"Content-Length {raw!r} is not a number of bytes (ASCII digits)"}, True)
            length = int(raw)
            if length > MAX_BODY:
                raise _Reply(413, {"error": f"body of {length} bytes exceeds {MAX_BODY}"}, True)
            try:
                body = self.rfile.read(length)
            except TimeoutError as exc:
                raise _Reply(408, {"error": f"request body not received in time ({exc})"}, True) from None
            if len(body) < length:
                raise _Reply(400, {"error": f"body ended after {len(body)} of {length} bytes"}, True)
            return body

        def do_POST(self):  # noqa: N802
            try:
                body = self._body()
            except _Reply as reply:
                self._send(reply.status, reply.body, reply.close)
                return
            if self.path not in ("/predict", "/invocations"):
                self._send(404, {"error": f"no such path {self.path}; POST to /predict"})
                return
            status, payload = self._score(body)
            self._send(status, payload)

        def _score(self, body: bytes) -> tuple[int, dict]:
            try:
                data = inference.input_fn(body, self.headers.get("Content-Type"))
            except inference.InputError as exc:
                return exc.status, exc.to_json()
            except RecursionError:
                return 400, {"error": "request body is not JSON we can read: nested too deeply"}
            except ValueError as exc:  # e.g. an integer with more digits than Python converts
                return 400, {"error": f"request body is not JSON we can read: {str(exc).splitlines()[0]}"}
            problems = unscorable(data, model.spec)
            if problems:
                return 422, {"error": f"{len(problems)} value(s) cannot be scored", "details": problems}
            try:
                with lock:
                    predictions = inference.predict_fn(data, model)
                payload, _ = inference.output_fn(predictions, self.headers.get("Accept"))
                return 200, json.loads(payload)
            except inference.InputError as exc:
                return exc.status, exc.to_json()
            except (ValueError, OverflowError, TypeError) as exc:
                return 422, {"error": f"the records cannot be scored: {type(exc).__name__}: {str(exc).splitlines()[0]}"}
            except Exception as exc:  # noqa: BLE001 - answer, and say what, rather than drop the connection
                self.server.handle_error(self.request, self.client_address)
                return 500, {"error": f"internal error while scoring ({type(exc).__name__}) - see the server log"}

        def log_message(self, fmt, *args):
            if log:
                sys.stderr.write(f"serve: {self.address_string()} {fmt % args}\n")

    return PooledHTTPServer((HOST, port), Handler, workers=workers, backlog=backlog, log=log)
