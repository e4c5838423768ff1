"""A TCP proxy that can drop the response to a chosen request after the server answered it.

For "the insert was stored but its response was lost": the request reaches ClickHouse in
full, ClickHouse answers, and the proxy closes the client's connection instead of passing
the answer on. Used by ``tests/e2e/test_rebalance.py``.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class DroppingProxy:
    upstream: tuple[str, int]
    pattern: re.Pattern[bytes]
    """Requests whose first bytes match this get their response dropped, while ``armed`` > 0."""
    armed: int = 0
    dropped: int = 0
    _server: socket.socket = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> int:
        self._server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return int(self._server.getsockname()[1])

    def arm(self, times: int = 1) -> None:
        with self._lock:
            self.armed = times

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            state = {"drop": False}
            threading.Thread(target=self._requests, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._responses, args=(upstream, client, state), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := client.recv(65536):
                if self.pattern.search(data):
                    with self._lock:
                        if self.armed > 0:
                            self.armed -= 1
                            state["drop"] = True
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _responses(self, upstream: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := upstream.recv(65536):
                if state["drop"]:  # the server answered the marked request: lose the answer
                    with self._lock:
                        self.dropped += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
