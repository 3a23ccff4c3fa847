"""Debian's headless Chromium driven over the Chrome DevTools Protocol (a websocket, the `websockets` package):
open a page, run JavaScript in it, wait for what it shows. Nothing is downloaded: the browser is the system's."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Offline and quiet: no outside connections of the browser's own; media may play without a click (as a user's
# click would allow), muted.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--window-size=1200,900")
START_TIMEOUT_S = 30


class BrowserError(AssertionError):
    pass


class Browser:
    """One headless Chromium with one page. Use as a context manager; `evaluate` runs an expression in the page."""

    def __init__(self):
        from websockets.sync.client import connect

        if CHROMIUM is None:
            raise BrowserError("chromium is not installed")
        self._profile = tempfile.TemporaryDirectory(prefix="reelmind-chromium-", ignore_cleanup_errors=True)
        self.process = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, "--remote-debugging-port=0",
                                         f"--user-data-dir={self._profile.name}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = self._devtools_port(Path(self._profile.name) / "DevToolsActivePort")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            page = next(t for t in json.loads(response.read()) if t["type"] == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=64 << 20, open_timeout=10)
        self._id = 0
        self._events: list[str] = []  # names of the events received, in order
        self.send("Page.enable")

    def _devtools_port(self, active_port: Path) -> int:
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with status {self.process.returncode}")
            if active_port.is_file() and active_port.read_text().strip():
                return int(active_port.read_text().split()[0])
            time.sleep(0.1)
        raise BrowserError(f"chromium did not open its DevTools port within {START_TIMEOUT_S} s")

    def send(self, method: str, **params) -> dict:
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:  # events arrive in between; the answer carries our id
            message = json.loads(self.socket.recv(timeout=60))
            if "method" in message:
                self._events.append(message["method"])
            if message.get("id") == self._id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        """Navigate to `url` and wait for its load event (the page's scripts have run, their fetches may not have)."""
        self._events.clear()
        self.send("Page.navigate", url=url)
        deadline = time.time() + START_TIMEOUT_S
        while "Page.loadEventFired" not in self._events:
            if time.time() > deadline:
                raise BrowserError(f"{url} did not load within {START_TIMEOUT_S} s")
            message = json.loads(self.socket.recv(timeout=START_TIMEOUT_S))
            if "method" in message:
                self._events.append(message["method"])

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')} "
                               f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 30, what: str = ""):
        """The first truthy value of `expression`, polled; fails after `timeout_s` with what the page showed."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        status = self.evaluate("document.getElementById('status')?.textContent || document.title")
        raise BrowserError(f"timed out after {timeout_s:.0f} s waiting for {what or expression} (page: {status!r})")

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            # The whole process group: Chromium's helpers (renderer, crashpad) outlive the browser process briefly
            # and kept writing into the profile while it was removed ("Directory not empty", once in a CI run).
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(10)
                    break
                except subprocess.TimeoutExpired:
                    continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # helpers the browser process left behind
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
