"""One deadline for a whole conversation with a server (SMTP or HTTP), not one timeout per socket call.

Python's clients apply their timeout to each read and write, so a server that answers slowly, or drips a reply
a line at a time, could hold one attempt open for many timeouts; reading through :class:`DeadlineReader` gives
each read only the time left.
"""

from __future__ import annotations

import io
import socket
import threading
import time


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
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()
