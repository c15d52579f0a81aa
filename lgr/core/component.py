"""Component lifecycle shared by every server: start binds and spawns tasks, stop drains once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("lgr")


class Component:
    """Base for a server component (agent, router, rlp, ...).

    Subclasses implement ``_start()`` (bind, spawn tasks, set ``self.address``) and
    ``_stop(grace)`` (stop accepting, drain, cancel). ``start``/``stop`` add the common
    lifecycle: stop is idempotent, ``wait_stopped()`` resolves when the component ends, and
    ``fail(exc)`` lets a background task end the component with an error.
    """

    name = "component"
    protocol = "grpc"  # what the bound-to log line names: "grpc" or "http"

    def __init__(self) -> None:
        self.address: str | None = None
        self._started = False
        self._stopping: asyncio.Task[None] | None = None
        self._stopped: asyncio.Event | None = None
        self.error: BaseException | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Bind and start serving; logs ``<component> <protocol> bound to: host:port``."""
        if self._started:
            return
        self._stopped = asyncio.Event()
        await self._start()
        self._started = True
        log.info("%s %s bound to: %s", self.name, self.protocol, self.address)

    async def stop(self, grace: float = 2.0) -> None:
        """Stop gracefully within ``grace`` seconds; safe to call more than once."""
        if not self._started:
            return
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop_once(grace))
        await asyncio.shield(self._stopping)

    async def _stop_once(self, grace: float) -> None:
        try:
            await self._stop(grace)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            assert self._stopped is not None
            self._stopped.set()

    async def wait_stopped(self) -> None:
        """Wait until the component has stopped (by stop() or by a failure)."""
        assert self._stopped is not None, "start() first"
        await self._stopped.wait()

    def spawn(self, coro: Any, name: str | None = None) -> asyncio.Task[Any]:
        """Run a background task owned by this component; a crash stops the component."""
        task = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("%s task %s failed: %r", self.name, task.get_name(), exc)
            self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """End the component because of ``exc`` (kept in ``self.error``)."""
        if self.error is None:
            self.error = exc
        asyncio.ensure_future(self.stop())

    async def __aenter__(self) -> Component:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _stop(self, grace: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
