"""`bodega serve`: uvicorn serving the app, and agent processes running the tasks it queues."""
from __future__ import annotations

import gc
import signal
import socket
import threading
from typing import Any

from bodega.api.agent_processes import AgentProcesses
from bodega.home import Home
from bodega.services import Bodega, open as open_bodega


class Server:
    """The app on a bound socket, with `agents` processes claiming queued tasks (woken when one is queued).

    The agents are processes of their own at background priority, not threads: a snapshot's
    hashing and compression would otherwise hold the GIL the request handlers need.
    """

    def __init__(self, home: str | None = None, *, host: str = "127.0.0.1", port: int = 8470, agents: int = 2,
                 secure_cookies: bool = False, log_level: str = "warning") -> None:
        import uvicorn

        from bodega.api.app import create_app

        self.bodega = open_bodega(home)
        self.home: Home = self.bodega.home
        self.agents = AgentProcesses(str(self.home.root), agents)
        self.app = create_app(self.bodega, secure_cookies=secure_cookies, wake=self.agents.wake)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted connections only then,
        # and without it Nagle's algorithm and delayed ACKs add ~40 ms to every response.
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as e:
            self.socket.close()
            self.bodega.close()
            from bodega import errors

            raise errors.os_error(e, f"listen on {host}:{port}") from None
        self.host, self.port = self.socket.getsockname()[:2]
        config = uvicorn.Config(self.app, log_level=log_level, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self.uvicorn = uvicorn.Server(config)
        # What start-up loaded (the framework, the ORM, the app: about 100k objects) lives as long as
        # the server: out of the collector's sight, a full collection no longer walks it, which
        # took 100 ms and more in the middle of requests.
        gc.collect()
        gc.freeze()

    @property
    def url(self) -> str:
        """The server's base URL."""
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serves until interrupted (Ctrl-C, SIGTERM), then stops the agents at their next checkpoint."""
        # uvicorn re-raises the signal that stopped it once it has shut down: SIGTERM then has to
        # arrive as KeyboardInterrupt too, or the process would die before the agents stop.
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        self.agents.start()
        try:
            self.uvicorn.run(sockets=[self.socket])
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.agents.stop()
            self.bodega.close()

    # --- in a thread, for tests and benchmarks ---------------------------------------------

    def start(self) -> "Server":
        """Serves from a background thread; returns once it accepts connections."""
        self.agents.start()
        self._thread = threading.Thread(target=self.uvicorn.run, kwargs={"sockets": [self.socket]},
                                        name="bodega-serve", daemon=True)
        self._thread.start()
        while not self.uvicorn.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread stopped before it started")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        """Stops a server started with start()."""
        self.uvicorn.should_exit = True
        self._thread.join(timeout=30)
        self.agents.stop()
        self.bodega.close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


__all__ = ["Bodega", "Server"]
