"""Serve emulators over real HTTP on loopback, either in the foreground (CLI) or on a background thread
(tests and benchmarks that want the servers in-process)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from types import TracebackType

from aiohttp import web

from ctfluent_sandbox.app import Emulator

LOOPBACK = "127.0.0.1"


class SandboxServer:
    """Runs each emulator on its own port of one event loop. Port 0 picks a free port."""

    def __init__(self, emulators: Mapping[str, tuple[Emulator, int]], host: str = LOOPBACK) -> None:
        self.emulators = dict(emulators)
        self.host = host
        self.urls: dict[str, str] = {}
        self._runners: list[web.AppRunner] = []

    async def start(self) -> dict[str, str]:
        for name, (emulator, port) in self.emulators.items():
            runner = web.AppRunner(emulator.build_app(), access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, self.host, port, backlog=1024).start()
            self._runners.append(runner)
            bound_host, bound_port = runner.addresses[0][:2]
            self.urls[name] = f"http://{bound_host}:{bound_port}"
        return self.urls

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


class BackgroundSandbox:
    """Context manager serving emulators from a daemon thread: ``with BackgroundSandbox({...}) as sb: sb.urls``."""

    def __init__(self, emulators: Mapping[str, tuple[Emulator, int]], host: str = LOOPBACK) -> None:
        self.server = SandboxServer(emulators, host)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ctfluent-sandbox", daemon=True)

    @property
    def urls(self) -> dict[str, str]:
        return self.server.urls

    def __enter__(self) -> BackgroundSandbox:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=30)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
