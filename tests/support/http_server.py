"""The app behind a real uvicorn server on a free port of 127.0.0.1, in a thread of the test:
real sockets, real chunked uploads, and uvicorn's own handling of ``X-Forwarded-For``, with
the options ``practice-sync serve`` and ``run`` give it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import uvicorn

from integration_core.http.serving import uvicorn_options
from integration_core.testing.processes import free_port, wait_until


@contextmanager
def serving(app: Any, *, forwarded_allow_ips: Sequence[str] = ()) -> Iterator[str]:
    """The server's base URL while it runs; stopped (and its thread joined) afterwards."""
    port = free_port()
    options = uvicorn_options(host="127.0.0.1", port=port, forwarded_allow_ips=forwarded_allow_ips)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, name="uvicorn-under-test", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), 30, "uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop"


def raw_exchange(base: str, head: bytes, chunks: Sequence[bytes], timeout: float = 10) -> bytes:
    """Send a request's ``head`` and then ``chunks`` over a socket — never finishing a chunked
    body unless ``chunks`` does — and return what the server answers until it has sent a whole
    response head and body (by ``content-length``) or closes."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        answer = b""
        while True:
            head_end = answer.find(b"\r\n\r\n")
            if head_end >= 0:
                length = 0
                for line in answer[:head_end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(answer) >= head_end + 4 + length:
                    return answer
            data = sock.recv(65536)
            if not data:
                return answer
            answer += data


def chunk(data: bytes) -> bytes:
    """``data`` framed as one chunk of a ``Transfer-Encoding: chunked`` body."""
    return b"%x\r\n%s\r\n" % (len(data), data)
