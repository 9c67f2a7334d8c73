"""Fixtures of the dependability tests: two versions of the R3 sheet, a local webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ops_helpers import Receiver, SheetVersions, expected_version, write_edited_r3


@pytest.fixture(scope="session")
def sheet_versions(r3_sheet: Path, tmp_path_factory: pytest.TempPathFactory) -> SheetVersions:
    tmp = tmp_path_factory.mktemp("versions")
    b = write_edited_r3(r3_sheet, tmp / "ukiha_pdca_R3_FY2021_edited.txt")
    va = expected_version(r3_sheet, tmp / "a.duckdb")
    vb = expected_version(b, tmp / "b.duckdb")
    assert va.fingerprint != vb.fingerprint and va.n_projects != vb.n_projects
    return SheetVersions(r3_sheet, b, {va.sha256: va, vb.sha256: vb})


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 (random port) in a thread, answering `receiver.status`."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append((self.path, dict(self.headers), json.loads(body or b"null")))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook/secret-token"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
