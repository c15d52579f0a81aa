"""Drain: ends a gRPC server's open calls with UNAVAILABLE and a message when it shuts down.

grpc.aio's ``server.stop(grace)`` lets open calls run on until the grace period ends and then
cancels them, which a client sees as a bare INTERNAL or CANCELLED. An ingress stream never ends
by itself, so a component with an emitter attached would wait out the whole grace period while
taking envelopes it can no longer forward. :class:`Drain` wraps a service's handler: once
:meth:`Drain.close` is called, every open call (and every new one) ends at once with UNAVAILABLE
and a message saying why, so clients reconnect elsewhere or say what happened, and the component
goes on to forward what it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc


class Drain:
    """Tracks the calls of the handlers it wraps; :meth:`close` ends them with ``message``."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.closing = False
        self._calls: set[asyncio.Task[Any]] = set()

    def wrap(self, handler: grpc.GenericRpcHandler) -> grpc.GenericRpcHandler:
        """``handler`` with its unary-response methods ended by :meth:`close`."""
        return _Wrapped(handler, self)

    def close(self) -> int:
        """End every open call with UNAVAILABLE and refuse new ones; return how many were open."""
        self.closing = True
        calls = list(self._calls)
        for task in calls:
            task.cancel()
        return len(calls)

    def guard(self, behavior: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """``behavior`` (an async handler taking a request or request iterator and a context)
        registered as an open call while it runs."""

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if self.closing:
                await context.abort(grpc.StatusCode.UNAVAILABLE, self.message)
            task = asyncio.current_task()
            assert task is not None
            self._calls.add(task)
            try:
                return await behavior(request, context)
            except asyncio.CancelledError:
                if not self.closing:
                    raise  # the client went away, or grpc cancelled the call
                await context.abort(grpc.StatusCode.UNAVAILABLE, self.message)
            finally:
                self._calls.discard(task)

        return guarded


class _Wrapped(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, drain: Drain) -> None:
        self._inner = inner
        self._drain = drain

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = self._inner.service(handler_call_details)
        if method is None:
            return None
        if method.unary_unary is not None:
            return method._replace(unary_unary=self._drain.guard(method.unary_unary))
        if method.stream_unary is not None:
            return method._replace(stream_unary=self._drain.guard(method.stream_unary))
        return method  # streaming responses end as the server's stop ends them
