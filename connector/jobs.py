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

import collections
import logging
import threading
import time
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
    `urgent` kind (a customer's e-mail takes milliseconds and must not queue behind a thousand
    store writes paced by the store's rate limit) has a lane and a thread of its own in
    `InProcessQueue`, and goes to the front of the RQ queue."""
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


Job = tuple[str, tuple[Arg, ...], str | None]  # name, args, key
URGENT, NORMAL = "urgent", "normal"


class InProcessQueue:
    """Worker threads inside the serving process: the embedded, single-process deployment.

    Two lanes. Urgent kinds (customer e-mails) have a thread of their own, so an e-mail never
    waits behind a thousand store writes paced by a store's rate limit; the general threads
    take the other jobs first, in arrival order, and help with the urgent ones when idle, so
    a burst of e-mails never starves the writes either. Until `start` is called, jobs wait and
    `drain` runs them in the caller's thread, urgent first (tests and one-shot commands);
    nothing is lost either way, since rows are the record.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._lanes: dict[str, collections.deque[Job]] = {
            URGENT: collections.deque(),
            NORMAL: collections.deque(),
        }
        self._waiting: set[str] = set()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def enqueue(self, name: str, *args: Arg, key: str | None = None) -> None:
        with self._ready:
            if key is not None:
                if key in self._waiting:
                    return
                self._waiting.add(key)
            self._lanes[URGENT if name in _urgent else NORMAL].append((name, args, key))
            self._ready.notify_all()  # the urgent thread does not take a normal job

    def depth(self) -> int:
        with self._ready:
            return sum(len(lane) for lane in self._lanes.values())

    def _take(self, timeout: float, lanes: tuple[str, ...]) -> tuple[str, tuple[Arg, ...]] | None:
        """The next job of the first lane in `lanes` that has one, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while True:
                for lane in lanes:
                    if self._lanes[lane]:
                        name, args, key = self._lanes[lane].popleft()
                        if key is not None:
                            self._waiting.discard(key)
                        return name, args
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._ready.wait(left)

    def _run_one(self, job: tuple[str, tuple[Arg, ...]]) -> None:
        try:
            run(self._runtime, *job)
        except Exception:  # the row keeps the error; the thread lives on
            log.exception("job %s failed", job[0])

    def drain(self) -> int:
        """Run every queued job (and those they queue) in this thread; returns how many ran."""
        done = 0
        while (job := self._take(0, (URGENT, NORMAL))) is not None:
            self._run_one(job)
            done += 1
        return done

    def start(self, threads: int = 2) -> None:
        """`threads` general workers and one for the urgent lane."""
        self._stopping.clear()
        lanes = [(NORMAL, URGENT)] * threads + [(URGENT,)]
        for number, order in enumerate(lanes):
            name = f"job-worker-{number}" if len(order) > 1 else "job-worker-urgent"
            thread = threading.Thread(target=self._loop, args=(order,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, lanes: tuple[str, ...]) -> None:
        from connector.db import background

        background.active = True  # requests take their database turns first
        while not self._stopping.is_set():
            job = self._take(0.5, lanes)
            if job is not None:
                self._run_one(job)

    def stop(self) -> None:
        self._stopping.set()
        with self._ready:
            self._ready.notify_all()
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
