"""The bus's supervised connection lets go of everything it opened when it is closed.

Regression test: an application stopped while its bus was still connecting left the
half-open socket to the GC, which reported it as an unclosed transport.
"""

import asyncio

from data_plane.protocol import Bus


async def test_a_bus_closed_while_connecting_closes_its_socket() -> None:
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def silent_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Accepts and never sends INFO: the client stays inside connect.
        writers.append(writer)
        await accepted.put(reader)

    server = await asyncio.start_server(silent_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bus = Bus(f"nats://127.0.0.1:{port}", name="closing", inbox_prefix="_INBOX.closing")
    try:
        bus.start()
        reader = await asyncio.wait_for(accepted.get(), timeout=10)
        await bus.close()
        # The peer sees the socket closed at once, not when a collector gets to it.
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
