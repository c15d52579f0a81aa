"""Asyncio helpers the clients share: stopping a helper task without losing the caller's cancel."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(task: asyncio.Future) -> None:
    """Cancel ``task`` and wait until it has ended; a cancellation of the caller still raises.

    ``with suppress(CancelledError): await task`` also swallows the CancelledError meant for
    the caller when the caller is cancelled during that wait: the caller then runs on as if
    nobody had asked it to stop (how `lgr tail` could ignore Ctrl-C when its stream broke at
    the same moment). Other errors of ``task`` propagate.
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
