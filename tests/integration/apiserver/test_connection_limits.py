"""What an idle or slow client may hold: connections that send nothing are closed, a
trickled body is cut off with 408, requests past the in-flight limit get kube's 429 —
while watches stream on and normal uploads pass."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.apiserver import ApiServer, started
from tests.support.connections import closed_by_peer, idle_connections, trickle
from tests.support.http import Http, admin_cert, assert_status
from tests.support.poll import wait_for

TIMEOUT = 3  # the body, header and handshake timeouts of the server under test
CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"), extra_args=(
               "--max-requests-inflight", "2", "--max-mutating-requests-inflight", "1",
               "--enable-priority-and-fairness", "false",  # kube's max-inflight filter
               "--request-timeout", f"{TIMEOUT}s", "--read-header-timeout", f"{TIMEOUT}s",
               "--tls-handshake-timeout", f"{TIMEOUT}s"))) as srv:
        yield srv


def admin_tls(server: ApiServer) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(server.data_dir / "pki" / "ca.crt"))
    context.load_cert_chain(*admin_cert(server))
    return context


def admin_socket(server: ApiServer) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return admin_tls(server).wrap_socket(sock, server_hostname="127.0.0.1")


def test_connections_that_send_nothing_are_closed(limited: ApiServer) -> None:
    ca = Path(limited.data_dir) / "pki" / "ca.crt"
    for tls in (True, False):  # handshake done, then silence; no handshake at all
        with idle_connections(limited.port, 20, tls=tls, ca=ca) as opened:
            started = time.monotonic()
            assert all(closed_by_peer(s, 4 * TIMEOUT) for s in opened)
            assert time.monotonic() - started < 4 * TIMEOUT
    with admin_socket(limited) as sock:  # headers a byte a second
        assert trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                       interval=1, limit=4 * TIMEOUT) == b""


def anonymous_create(server: ApiServer, name: str) -> requests.Response:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    return requests.post(server.url + CMS, json=body, timeout=10,
                         verify=str(server.data_dir / "pki" / "ca.crt"))


def test_a_trickled_body_holds_a_mutating_slot_until_408(limited: ApiServer) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "trickled"}}).encode()
    head = (f"POST {CMS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with admin_socket(limited) as sock, ThreadPoolExecutor(1) as pool:
        sock.sendall(head)
        answer = pool.submit(trickle, sock, body, interval=0.5, limit=4 * TIMEOUT)
        # Past the mutating limit: kube's 429 (before authorization: not 403)
        refused, = wait_for(lambda: [r for r in [anonymous_create(limited, "x")]
                                     if r.status_code == 429],  # a Response is falsy then
                            what="429 while the trickled body holds the slot")
        assert refused.headers["Retry-After"] == "1"
        assert refused.text == "Too many requests, please try again later.\n"
        status, _, rest = answer.result().partition(b"\r\n")
        assert status == b"HTTP/1.1 408 Request Timeout", answer.result()
        payload = json.loads(rest.split(b"\r\n\r\n", 1)[1])
        assert (payload["code"], payload["reason"]) == (408, "Timeout")
        assert closed_by_peer(sock, 15)
    assert_status(anonymous_create(limited, "x"), 403, "Forbidden")
    assert Http(limited)("GET", f"{CMS}/trickled").status_code == 404


def test_a_normal_upload_and_a_long_watch_outlast_the_timeouts(limited: ApiServer) -> None:
    http = Http(limited)
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
           "data": {f"k{i}": "v" * 1000 for i in range(1000)}}  # ~1 MB, the most a ConfigMap holds
    assert http("POST", CMS, big).status_code == 201
    watch = http.session.get(limited.url + CMS, params={
        "watch": "true", "timeoutSeconds": str(3 * TIMEOUT), "fieldSelector":
        "metadata.name=late"}, stream=True, timeout=10 * TIMEOUT, verify=http.ca)
    assert watch.status_code == 200
    time.sleep(TIMEOUT + 2)  # past every timeout of the connection
    late = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}
    assert http("POST", CMS, late).status_code == 201
    event = json.loads(next(watch.iter_lines()))
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "late")
    watch.close()


def test_malformed_requests_are_answered_400_without_a_logged_traceback(
        limited: ApiServer) -> None:
    """aiohttp would log each with a traceback at ERROR: a cheap way to flood the log."""
    for request in (b"GET /healthz HTTP/1.1\r\nContent-Type: a/\x7f\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n"):
        with admin_socket(limited) as sock:
            sock.sendall(request)
            answer = wait_for(partial(sock.recv, 65536), what="an answer")
            assert b" 400 Bad Request" in answer, answer
    log = (limited.data_dir / "logs" / "apiserver.log").read_text()
    assert "Traceback" not in log and "level=error" not in log
