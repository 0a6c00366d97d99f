#!/usr/bin/python3
"""aiosmtpd receiver that discards every message: bench/recv's Python peer.

usage: aiosmtpd_sink.py HOST READY_FILE

Binds HOST port 0, writes HOST:PORT to READY_FILE (atomically) once
listening, and serves until SIGTERM/SIGINT. Same server as
`python3 -m aiosmtpd -n -c aiosmtpd.handlers.Sink`, with two changes so
the peer is measured fairly on every workload: no message size limit
(the default 32 MiB would refuse the 100 MB message with 552) and a fixed
host name (the default calls socket.getfqdn() for every connection).
Run with /usr/bin/python3 (Debian's python3-aiosmtpd 1.4.3).
"""
import asyncio
import os
import signal
import sys

from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP


async def main(host, ready):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(), data_size_limit=None, hostname="aiosmtpd.bench"), host, 0
    )
    port = server.sockets[0].getsockname()[1]
    with open(ready + ".tmp", "w") as f:
        f.write(f"{host}:{port}\n")
    os.replace(ready + ".tmp", ready)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    asyncio.run(main(sys.argv[1], sys.argv[2]))
