#!/usr/bin/python3
"""python-socketio (Debian's python3-socketio 5.7) against integration_server.

Run with Debian's interpreter: /usr/bin/python3 test_python_client.py
The server binary comes from IOGATE_INTEGRATION_SERVER. Every wait is
bounded (threading.Event / queue timeouts).
"""

import os
import queue
import threading
import unittest
import warnings

import socketio

from recorder import WAIT_S, Recorder
from server_process import ServerProcess



SERVER = None


def setUpModule():
    global SERVER
    # the client libraries leave sockets to the GC; keep the report readable
    warnings.simplefilter("ignore", ResourceWarning)
    path = os.environ.get("IOGATE_INTEGRATION_SERVER")
    if not path:
        raise RuntimeError(
            "IOGATE_INTEGRATION_SERVER is not set: run through ctest or export it"
        )
    if not os.path.exists(path):
        raise RuntimeError("IOGATE_INTEGRATION_SERVER=%s does not exist" % path)
    SERVER = ServerProcess(path)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


class ClientTestsMixin:
    """Tests run once per transport configuration (see subclasses)."""

    TRANSPORTS = None  # None = polling then upgrade
    EXPECTED_TRANSPORT = None

    def setUp(self):
        self.assertTrue(SERVER.alive(), "integration_server is not running")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.disconnect()
            except Exception:  # best effort
                pass
        self.assertTrue(
            SERVER.alive(),
            "integration_server died:\n" + "\n".join(SERVER.output),
        )

    def make_client(self):
        c = socketio.Client(reconnection=False, handle_sigint=False)
        self.clients.append(c)
        return c

    def connect(self, client, namespaces=("/",), auth=None):
        client.connect(
            SERVER.url,
            auth=auth,
            transports=self.TRANSPORTS,
            namespaces=list(namespaces),
            wait_timeout=WAIT_S,
        )
        self.assertEqual(client.transport(), self.EXPECTED_TRANSPORT)

    # ------------------------------------------------------------ tests

    def test_connect_with_auth(self):
        c = self.make_client()
        rec = Recorder(c, "/", ["auth"])
        self.connect(c, auth={"token": "py", "n": 3})
        self.assertEqual(rec.next("auth"), ({"token": "py", "n": 3},))
        sid = c.get_sid("/")
        self.assertIsInstance(sid, str)
        self.assertTrue(sid)

    def test_connect_without_auth(self):
        c = self.make_client()
        rec = Recorder(c, "/", ["auth"])
        self.connect(c)
        self.assertEqual(rec.next("auth"), ({},))

    def test_message_back(self):
        c = self.make_client()
        rec = Recorder(c, "/", ["message-back"])
        self.connect(c)
        args = (1, -2.5, "héllo€😀", True, False, None, [1, [2]], {"a": {"b": [None, "c"]}}, {}, [])
        c.emit("message", args)
        self.assertEqual(rec.next("message-back"), args)

    def test_ack_via_call(self):
        c = self.make_client()
        self.connect(c)
        self.assertEqual(c.call("message-with-ack", "single", timeout=WAIT_S), "single")
        self.assertEqual(
            c.call("message-with-ack", (1, "two", {"three": [3]}), timeout=WAIT_S),
            (1, "two", {"three": [3]}),
        )

    def test_binary_both_ways(self):
        c = self.make_client()
        rec = Recorder(c, "/", ["message-back", "binary"])
        self.connect(c)
        payload = bytes(range(256))
        c.emit("message", (b"\x01\x02\x03", {"nested": payload, "s": "x"}))
        back = rec.next("message-back")
        self.assertEqual(back[0], b"\x01\x02\x03")
        self.assertIsInstance(back[1]["nested"], bytes)
        self.assertEqual(back[1]["nested"], payload)
        self.assertEqual(back[1]["s"], "x")

        c.emit("binary-from-server")
        got = rec.next("binary")
        self.assertEqual(len(got), 2)
        self.assertEqual(got[0], b"\x01\x02\x03")
        self.assertEqual(got[1], {"nested": b"\x04\x05", "n": 1})

    def test_binary_ack(self):
        c = self.make_client()
        self.connect(c)
        self.assertEqual(
            c.call("message-with-ack", (b"\x00\xff", "t"), timeout=WAIT_S),
            (b"\x00\xff", "t"),
        )

    def test_server_to_client_ack(self):
        c = self.make_client()
        rec = Recorder(c, "/", ["server-ack-result"])
        asked = queue.Queue()

        def question(*args):
            asked.put(args)
            return (43, "py")

        c.on("question", question, namespace="/")
        self.connect(c)
        c.emit("server-ack", {"timeout": 3000})
        self.assertEqual(rec.next("server-ack-result"), ({"ok": True, "args": [43, "py"]},))
        self.assertEqual(asked.get(timeout=WAIT_S), (42,))

    def test_namespace_custom(self):
        c = self.make_client()
        root = Recorder(c, "/", ["auth", "message-back"])
        custom = Recorder(c, "/custom", ["auth"])
        self.connect(c, namespaces=("/", "/custom"), auth={"k": "v"})
        self.assertEqual(custom.next("auth"), ({"k": "v"},))
        self.assertEqual(root.next("auth"), ({"k": "v"},))
        self.assertNotEqual(c.get_sid("/"), c.get_sid("/custom"))
        c.emit("message", "on root", namespace="/")
        self.assertEqual(root.next("message-back"), ("on root",))

    def test_dynamic_namespace(self):
        c = self.make_client()
        rec = Recorder(c, "/dyn-42", ["nsp"])
        self.connect(c, namespaces=("/dyn-42",))
        self.assertEqual(rec.next("nsp"), ("/dyn-42",))

    def test_refused_namespace(self):
        c = self.make_client()
        errors = queue.Queue()
        c.on("connect_error", lambda *args: errors.put(args), namespace="/refuse")
        with self.assertRaises(socketio.exceptions.ConnectionError):
            c.connect(
                SERVER.url,
                transports=self.TRANSPORTS,
                namespaces=["/refuse"],
                wait_timeout=2,
            )
        try:
            err = errors.get(timeout=WAIT_S)
        except queue.Empty:
            self.fail("no connect_error on /refuse")
        self.assertEqual(err, ({"message": "not allowed", "data": {"code": 42}},))

    def test_private_namespace(self):
        ok = self.make_client()
        self.connect(ok, namespaces=("/private",), auth={"token": "secret"})
        self.assertIn("/private", ok.namespaces)

        bad = self.make_client()
        errors = queue.Queue()
        bad.on("connect_error", lambda *args: errors.put(args), namespace="/private")
        with self.assertRaises(socketio.exceptions.ConnectionError):
            bad.connect(
                SERVER.url,
                auth={"token": "nope"},
                transports=self.TRANSPORTS,
                namespaces=["/private"],
                wait_timeout=2,
            )
        err = errors.get(timeout=WAIT_S)
        self.assertEqual(len(err), 1)
        self.assertEqual(err[0].get("message"), "bad token")

    def test_invalid_namespace(self):
        c = self.make_client()
        errors = queue.Queue()
        c.on("connect_error", lambda *args: errors.put(args), namespace="/nope")
        with self.assertRaises(socketio.exceptions.ConnectionError):
            c.connect(
                SERVER.url,
                transports=self.TRANSPORTS,
                namespaces=["/nope"],
                wait_timeout=2,
            )
        self.assertEqual(errors.get(timeout=WAIT_S), ({"message": "Invalid namespace"},))

    def test_rooms_and_broadcast_except(self):
        a, b, c = self.make_client(), self.make_client(), self.make_client()
        recs = [Recorder(x, "/", ["py-news"]) for x in (a, b, c)]
        for x in (a, b, c):
            self.connect(x)
        room = "py-room-%d-%s" % (os.getpid(), self.id())
        for x in (a, b, c):
            self.assertEqual(x.call("join", room, timeout=WAIT_S), "joined")
        rooms = a.call("rooms", timeout=WAIT_S)
        self.assertEqual(sorted(rooms), sorted([a.get_sid("/"), room]))
        sent = a.call(
            "broadcast",
            {"room": room, "except": c.get_sid("/"), "event": "py-news", "args": ["hi", b"\x07"]},
            timeout=WAIT_S,
        )
        self.assertEqual(sent, "sent")
        self.assertEqual(recs[0].next("py-news"), ("hi", b"\x07"))
        self.assertEqual(recs[1].next("py-news"), ("hi", b"\x07"))
        recs[2].none("py-news")

    def test_server_disconnect(self):
        c = self.make_client()
        gone = threading.Event()
        c.on("disconnect", gone.set, namespace="/")
        self.connect(c)
        c.emit("disconnect-me")
        self.assertTrue(gone.wait(WAIT_S), "no disconnect after disconnect-me")


class PollingTests(ClientTestsMixin, unittest.TestCase):
    TRANSPORTS = ["polling"]
    EXPECTED_TRANSPORT = "polling"


class WebSocketTests(ClientTestsMixin, unittest.TestCase):
    TRANSPORTS = ["websocket"]
    EXPECTED_TRANSPORT = "websocket"


class UpgradeTests(ClientTestsMixin, unittest.TestCase):
    # python-engineio upgrades synchronously inside connect()
    TRANSPORTS = None
    EXPECTED_TRANSPORT = "websocket"


if __name__ == "__main__":
    unittest.main(verbosity=2)
