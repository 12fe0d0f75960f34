"""A TCP relay in front of the real cs_backend, for the outbox tests: while it is stopped, the backend's
address refuses connections (the backend is down, as when it was never started or was killed); `reply_delay`
holds the backend's answers back (a slow backend: the request is served and committed, the answer comes
late).

(Not named after anything in `actions/`: pytest puts this folder on sys.path.)
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from launcher.stack import free_port


class TcpRelay:
    """Relays 127.0.0.1:`port` to 127.0.0.1:`target_port`. `stop` closes the port and every open connection,
    like a process that died; `start` opens it again on the same port."""

    def __init__(self, target_port: int, *, reply_delay: float = 0.0) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.reply_delay = reply_delay
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._relays: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        for relay in list(self._relays):
            relay.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)

    async def __aenter__(self) -> TcpRelay:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.update({client_writer, backend_writer})
        try:
            await asyncio.gather(
                self._pipe(client_reader, backend_writer, 0.0),
                self._pipe(backend_reader, client_writer, self.reply_delay),
            )
        finally:
            for writer in (client_writer, backend_writer):
                self._writers.discard(writer)
                writer.close()
            self._relays.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
