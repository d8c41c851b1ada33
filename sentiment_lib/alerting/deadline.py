"""One deadline for a whole conversation with a server (SMTP or HTTP), not one timeout per socket call.

Python's clients apply their timeout to each read and write, so a server that answers slowly, or drips a reply
a line at a time, could hold one attempt open for many timeouts; reading through :class:`DeadlineReader` gives
each read only the time left. :class:`WithinDeadline` puts every transport's client (smtplib's, http.client's)
under one deadline the same way.
"""

from __future__ import annotations

import functools
import http.client
import io
import socket
import threading
import time
from typing import Any


def time_left(deadline: float) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic`` value).

    Raises:
        TimeoutError: the deadline has passed.
    """
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the server did not finish within the timeout")
    return left


def resolve(host: str, port: int, deadline: float) -> str:
    """The first address ``host`` resolves to, looked up within the deadline.

    ``getaddrinfo`` takes no timeout, and a resolver that does not answer held an alert for its own retries
    (tens of seconds) outside any deadline; here the lookup runs in a daemon thread that is left behind when
    the deadline passes.

    Raises:
        TimeoutError: no answer before the deadline.
        OSError: the name does not resolve.
    """
    found: list = []

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as err:
            found.append(err)

    worker = threading.Thread(target=look_up, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(time_left(deadline))
    if not found:
        raise TimeoutError(f"looking up {host} took longer than the time left")
    if isinstance(found[0], OSError):
        raise found[0]
    return found[0][0][4][0]


def connect(host: str, port: int, deadline: float, source_address=None) -> socket.socket:
    """A TCP connection to ``host``, the name lookup and the connect both within the deadline.

    Raises:
        OSError (TimeoutError among them): no address, no connection, or the deadline passed.
    """
    address = resolve(host, port, deadline)
    return socket.create_connection((address, port), time_left(deadline), source_address)


class DeadlineReader(io.RawIOBase):
    """A socket's bytes, each read allowed only the time left before the deadline.

    It holds its own file object on the socket, as ``socket.makefile`` does, so the connection stays open while
    the reader is: urllib closes its socket object as soon as the response headers are in.
    """

    def __init__(self, sock: socket.socket, deadline: float):
        super().__init__()
        self.sock, self.deadline = sock, deadline
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        """Fill ``buffer`` with what the server has sent, waiting at most until the deadline.

        Raises:
            TimeoutError: the deadline passed before or during the read.
            OSError: the connection failed.
        """
        self.sock.settimeout(time_left(self.deadline))
        return self._raw.readinto(buffer) or 0  # None only for a non-blocking socket, which this is not

    def close(self) -> None:
        self._raw.close()
        super().close()


class DeadlineResponse(http.client.HTTPResponse):
    """Status line, headers and body read with only the time left before the deadline."""

    def __init__(self, sock, *args, deadline: float, **kwargs):
        super().__init__(sock, *args, **kwargs)
        reader: Any = io.BufferedReader(DeadlineReader(sock, deadline))
        self.fp.close()  # the file http.client made gives each read the whole timeout again
        self.fp = reader


class WithinDeadline:
    """Mixin for a client of smtplib (``SMTP``, ``SMTP_SSL``) or http.client (``HTTPConnection``,
    ``HTTPSConnection``): the name lookup, connect, TLS handshake, every send and every read within one deadline.

    Each library calls only its own hooks below: ``_get_socket`` and ``getreply`` are smtplib's,
    ``_create_connection`` and ``response_class`` http.client's; ``connect`` and ``send`` are both's.
    """

    # set by the library class this is mixed into (a mixin cannot name them otherwise)
    sock: Any
    file: Any
    timeout: Any
    response_class: Any

    def __init__(self, *args, deadline: float, **kwargs):
        self.deadline = deadline
        kwargs["timeout"] = time_left(deadline)
        super().__init__(*args, **kwargs)  # smtplib connects from here already
        # http.client: the name lookup within the deadline too (Host header and TLS still use the name, self.host)
        self._create_connection = self._connect_within_deadline
        self.response_class = functools.partial(DeadlineResponse, deadline=deadline)

    def _connect_within_deadline(self, address, timeout=None, source_address=None):
        host, port = address
        return connect(host, port, self.deadline, source_address)

    def _get_socket(self, host, port, timeout):
        address = resolve(host, port, self.deadline)  # SMTP_SSL then wraps it with server_hostname=self._host
        return super()._get_socket(address, port, time_left(self.deadline))

    def connect(self, *args, **kwargs):
        self.timeout = time_left(self.deadline)  # socket.create_connection and the TLS handshake use it
        return super().connect(*args, **kwargs)

    def send(self, data) -> None:
        if self.sock:
            self.sock.settimeout(time_left(self.deadline))
        super().send(data)  # type: ignore[misc]  # the library class's send, after this mixin in the MRO

    def getreply(self):
        if self.file is None and self.sock:  # smtplib resets file after STARTTLS wraps the socket
            self.file = io.BufferedReader(DeadlineReader(self.sock, self.deadline))
        return super().getreply()
