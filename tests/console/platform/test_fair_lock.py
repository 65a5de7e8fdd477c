"""The SQLite writer gate hands the lock to waiters in arrival order (no barging)."""

from __future__ import annotations

import threading
import time

from console.platform.db import FairLock


def _until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"


def test_waiters_get_the_lock_in_arrival_order_and_the_releaser_cannot_barge() -> None:
    lock = FairLock()
    assert lock.acquire()
    order: list[str] = []
    go = threading.Event()

    def waiter(name: str) -> None:
        assert lock.acquire()
        order.append(name)
        assert go.wait(10)
        lock.release()

    first = threading.Thread(target=waiter, args=("first",))
    first.start()
    _until(lambda: len(lock._waiters) == 1)
    second = threading.Thread(target=waiter, args=("second",))
    second.start()
    _until(lambda: len(lock._waiters) == 2)
    lock.release()
    # Handed straight to the first waiter: the thread that released cannot take it again.
    assert not lock.acquire(blocking=False)
    _until(lambda: order == ["first"])
    go.set()
    first.join()
    second.join()
    assert order == ["first", "second"]
    assert not lock.locked()


def test_a_wait_that_times_out_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire()
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(lock.acquire(timeout=0.01)))
    waiter.start()
    waiter.join()
    assert results == [False] and not lock._waiters
    lock.release()
    assert not lock.locked()
    assert lock.acquire(blocking=False)
