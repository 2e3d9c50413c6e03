"""Per-event queues of what a python-socketio client receives in one namespace, with bounded
waits: the tests' way to expect an event, or to prove that one does not come."""
import os
import queue
import time

WAIT_S = float(os.environ.get("IOGATE_TEST_WAIT_MS", "5000")) / 1000.0
QUIET_S = float(os.environ.get("IOGATE_TEST_QUIET_MS", "300")) / 1000.0


class Recorder:
    """Records events of one namespace into per-event queues (handlers set before connecting)."""

    def __init__(self, client, namespace, events):
        self.queues = {}
        for event in events:
            q = queue.Queue()
            self.queues[event] = q
            client.on(event, self._make_handler(q), namespace=namespace)

    @staticmethod
    def _make_handler(q):
        def handler(*args):
            q.put(args)

        return handler

    def next(self, event, timeout=WAIT_S):
        try:
            return self.queues[event].get(timeout=timeout)
        except queue.Empty:
            raise AssertionError('no "%s" within %.1f s' % (event, timeout)) from None

    def none(self, event, wait=QUIET_S):
        time.sleep(wait)  # bounded: proves that nothing arrives meanwhile
        if not self.queues[event].empty():
            raise AssertionError('"%s" must not be received, got %r' % (event, self.queues[event].get_nowait()))
