"""One job queue: worker threads in the serving process by default, RQ on Redis at scale.

A job is a wake-up, not the record of work. Each names a row (an inbox delivery, a shop to sync)
whose state in the database says what is left to do, and `requeue` finds rows left behind by a
crash or a Redis restart and enqueues them again. So a lost job delays work and never loses it,
and a job run twice does nothing the second time: its handler claims the row before acting.

Handlers register by name (`register`) from the entry points that own them (the webhook intake
registers its processor), so the core never imports an entry point; RQ workers import the same
entry points and run the same handlers on the same code path as the in-process threads.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

Arg = int | str | bool
Handler = Callable[..., None]  # (runtime, *args)
Sweep = Callable[["Runtime", bool], int]  # (runtime, everything): enqueues what is due

_handlers: dict[str, Handler] = {}
_sweeps: dict[str, Sweep] = {}
_urgent: set[str] = set()
QUEUE_NAME = "backorder"
JOB_TIMEOUT_SECONDS = 15 * 60  # a first sync of a large store is the longest job


def register(
    name: str, handler: Handler, sweep: Sweep | None = None, *, urgent: bool = False
) -> None:
    """Make `name` runnable; `sweep` re-enqueues that kind's due rows after a crash. An
    `urgent` kind is taken before the others waiting: a customer's e-mail takes milliseconds and
    must not queue behind a thousand store writes paced by the store's rate limit."""
    _handlers[name] = handler
    if sweep is not None:
        _sweeps[name] = sweep
    if urgent:
        _urgent.add(name)
    else:
        _urgent.discard(name)


def run(runtime: Runtime, name: str, args: tuple[Arg, ...]) -> None:
    handler = _handlers.get(name)
    if handler is None:
        raise LookupError(f"no job handler registered for {name!r}")
    handler(runtime, *args)


def requeue(runtime: Runtime, *, everything: bool = False) -> int:
    """Enqueue every kind's due rows again; returns how many.

    Periodically only rows old enough to have missed their first trip are taken; at a process's
    start (`everything`) all due rows are, since nothing of an earlier run is still queued here.
    """
    total = 0
    for name, sweep in list(_sweeps.items()):
        try:
            total += sweep(runtime, everything)
        except Exception:  # one kind's sweep failing must not stop the others
            log.exception("requeue of %s jobs failed", name)
    return total


class JobQueue(Protocol):
    def enqueue(self, name: str, *args: Arg, key: str | None = None) -> None:
        """Queue `name(*args)`; a `key` already waiting in the queue is not queued twice."""
        ...

    def depth(self) -> int: ...


class InProcessQueue:
    """Worker threads inside the serving process: the embedded, single-process deployment.

    Until `start` is called, jobs wait and `drain` runs them in the caller's thread (tests and
    one-shot commands); nothing is lost either way, since rows are the record.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        # (0 for urgent kinds else 1, arrival number, name, args, key): urgent first, then FIFO.
        self._queue: queue.PriorityQueue[tuple[int, int, str, tuple[Arg, ...], str | None]] = (
            queue.PriorityQueue()
        )
        self._arrivals = itertools.count()
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def enqueue(self, name: str, *args: Arg, key: str | None = None) -> None:
        if key is not None:
            with self._lock:
                if key in self._waiting:
                    return
                self._waiting.add(key)
        rank = 0 if name in _urgent else 1
        self._queue.put((rank, next(self._arrivals), name, args, key))

    def depth(self) -> int:
        return self._queue.qsize()

    def _take(self, timeout: float) -> tuple[str, tuple[Arg, ...]] | None:
        try:
            _rank, _arrival, name, args, key = (
                self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
            )
        except queue.Empty:
            return None
        if key is not None:
            with self._lock:
                self._waiting.discard(key)
        return name, args

    def _run_one(self, job: tuple[str, tuple[Arg, ...]]) -> None:
        try:
            run(self._runtime, *job)
        except Exception:  # the row keeps the error; the thread lives on
            log.exception("job %s failed", job[0])

    def drain(self) -> int:
        """Run every queued job (and those they queue) in this thread; returns how many ran."""
        done = 0
        while (job := self._take(timeout=0)) is not None:
            self._run_one(job)
            done += 1
        return done

    def start(self, threads: int = 2) -> None:
        self._stopping.clear()
        for number in range(threads):
            thread = threading.Thread(target=self._loop, name=f"job-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self) -> None:
        from connector.db import background

        background.active = True  # requests take their database turns first
        while not self._stopping.is_set():
            job = self._take(timeout=0.5)
            if job is not None:
                self._run_one(job)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()


class RedisQueue:
    """RQ on Redis: any number of `backorder worker` processes share the work."""

    def __init__(self, url: str) -> None:
        import redis
        import rq

        self.connection = redis.Redis.from_url(url)
        self.queue = rq.Queue(QUEUE_NAME, connection=self.connection)

    def enqueue(self, name: str, *args: Arg, key: str | None = None) -> None:
        # No job ids: RQ keeps a killed job's id until it is cleaned up and refuses to queue the
        # id again meanwhile, which would strand the row. A job queued twice finds its row
        # already claimed and returns, so `key` is only a hint here.
        del key
        self.queue.enqueue_call(
            perform,
            args=(name, list(args)),
            timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=0,  # results live in the database, not in Redis
            failure_ttl=7 * 24 * 3600,
            at_front=name in _urgent,
        )

    def depth(self) -> int:
        return int(self.queue.count)


# The worker process's runtime: `backorder worker` sets it before RQ starts taking jobs.
_worker_runtime: Runtime | None = None


def bind_worker(runtime: Runtime) -> None:
    global _worker_runtime
    _worker_runtime = runtime


def perform(name: str, args: list[Any]) -> None:
    """RQ's entry point for every job: the same `run` as the in-process threads."""
    if _worker_runtime is None:
        raise RuntimeError("this process has no runtime: start it with `backorder worker`")
    run(_worker_runtime, name, tuple(args))


def queue_for(runtime: Runtime) -> JobQueue:
    url = runtime.settings.REDIS_URL
    return RedisQueue(url) if url else InProcessQueue(runtime)
