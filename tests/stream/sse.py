"""A small Server-Sent Events reader for the tests and bench/bench_stream.py: a thread
reads one stream with httpx and queues what it parses (events, comments, the end)."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson


@dataclass
class Frame:
    id: str | None
    event: str
    data: str
    received: float = field(default_factory=time.perf_counter)

    @property
    def json(self) -> Any:
        return orjson.loads(self.data)


class Reader:
    """Reads ``url`` in a thread; ``frames`` gets every event and ``comments`` every
    comment line. ``status``/``body`` hold the answer when it is not a stream."""

    def __init__(self, url: str, headers: dict[str, str], *, timeout: float = 30.0) -> None:
        self.url = url
        self.headers = headers
        self.frames: queue.Queue[Frame] = queue.Queue()
        self.comments: queue.Queue[str] = queue.Queue()
        self.status: int | None = None
        self.content_type = ""
        self.response_headers: dict[str, str] = {}
        self.body = b""
        self.opened = threading.Event()
        self.done = threading.Event()
        self.stopping = False
        self.timeout = timeout
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(self.timeout, read=self.timeout)) as c, \
                    c.stream("GET", self.url, headers=self.headers) as r:
                self.status = r.status_code
                self.content_type = r.headers.get("content-type", "")
                self.response_headers = dict(r.headers)
                if r.status_code != 200:
                    self.body = r.read()
                    return
                self.opened.set()
                self._parse(r)
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.done.set()

    def _parse(self, r: httpx.Response) -> None:
        fid: str | None = None
        event, data = "message", []
        for line in r.iter_lines():
            if self.stopping:
                return
            if line.startswith(":"):
                self.comments.put(line[1:].strip())
                continue
            if not line:
                if data:
                    self.frames.put(Frame(fid, event, "\n".join(data)))
                fid, event, data = None, "message", []
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                fid = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)

    def wait_open(self, timeout: float = 10.0) -> int | None:
        self.opened.wait(timeout)
        return self.status

    def take(self, n: int, timeout: float = 10.0) -> list[Frame]:
        """The next ``n`` frames (fewer if the time runs out)."""
        out: list[Frame] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                out.append(self.frames.get(timeout=left))
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        """Stop reading (the thread ends at the next line: a heartbeat at the latest)."""
        self.stopping = True
