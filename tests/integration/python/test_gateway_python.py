#!/usr/bin/python3
"""python-socketio (Debian's python3-socketio 5.7) against the iogate gateways.

Run with Debian's interpreter: /usr/bin/python3 test_gateway_python.py
The binary comes from IOGATE_SERVER. Tokens are HS256, made here with hmac.
Every wait is bounded (queue / threading.Event timeouts).
"""

import base64
import hashlib
import hmac
import itertools
import json
import os
import queue
import re
import threading
import time
import unittest
import warnings

import socketio

from recorder import QUIET_S, WAIT_S
from recorder import Recorder as SharedRecorder
from server_process import ServerProcess

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SECRET = "python-gateway-secret-0123456789"
RATE_LIMIT = 5
RATE_WINDOW = 60

EVENTS = [
    "connected",
    "user:online",
    "user:offline",
    "private:message",
    "message:sent",
    "room:joined",
    "room:user:joined",
    "room:message",
    "error",
    "rate:limit:exceeded",
]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(claims, secret=SECRET):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = ("%s.%s" % (header, payload)).encode("ascii")
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return "%s.%s.%s" % (header, payload, b64url(sig))


def claims_for(user_id, username, **extra):
    now = int(time.time())
    claims = {"id": user_id, "username": username, "status": 1, "iat": now, "exp": now + 3600}
    claims.update(extra)
    return claims


_ids = itertools.count(7000)


def new_user(name="py"):
    uid = next(_ids)
    return uid, "%s%d" % (name, uid)


def clean_env():
    """This environment without IOGATE_* settings (the binaries' paths and test knobs stay)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IOGATE_") or k.endswith("_SERVER") or k.startswith("IOGATE_TEST_")
    }


SERVER = None


def setUpModule():
    global SERVER
    warnings.simplefilter("ignore", ResourceWarning)
    path = os.environ.get("IOGATE_SERVER")
    if not path:
        raise RuntimeError("IOGATE_SERVER is not set: run through ctest or export it")
    if not os.path.exists(path):
        raise RuntimeError("IOGATE_SERVER=%s does not exist" % path)
    SERVER = ServerProcess(
        path,
        [
            "--host", "127.0.0.1",
            "--api-port", "0",
            "--jwt-secret", SECRET,
            "--live-interval", "0",
            "--rate-limit", str(RATE_LIMIT),
            "--rate-window", str(RATE_WINDOW),
        ],
        env=clean_env(),
    )


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


class Recorder(SharedRecorder):
    """A Recorder of the gateway's events unless told otherwise."""

    def __init__(self, client, namespace, events=EVENTS):
        super().__init__(client, namespace, events)


class GatewayTestsMixin:
    TRANSPORTS = None

    def setUp(self):
        self.assertTrue(SERVER.alive(), "iogate is not running")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.disconnect()
            except Exception:  # best effort
                pass
        self.assertTrue(SERVER.alive(), "iogate died:\n" + "\n".join(SERVER.output))

    def make_client(self):
        c = socketio.Client(reconnection=False, handle_sigint=False)
        self.clients.append(c)
        return c

    def connect_user(self, user, namespaces=("/admin",), **kwargs):
        """Connects `user` (id, name) with auth.token; returns (client, {nsp: Recorder})."""
        c = self.make_client()
        recs = {nsp: Recorder(c, nsp) for nsp in namespaces}
        auth = kwargs.pop("auth", {"token": make_token(claims_for(*user))})
        c.connect(
            SERVER.url,
            auth=auth,
            transports=self.TRANSPORTS,
            namespaces=list(namespaces),
            wait_timeout=WAIT_S,
            **kwargs,
        )
        for nsp in namespaces:
            (hello,) = recs[nsp].next("connected")
            self.assertEqual(hello["user"], {"id": user[0], "username": user[1]})
        return c, recs

    def assert_timestamp(self, ts):
        self.assertIsInstance(ts, str)
        self.assertRegex(ts, ISO_RE)

    def assert_refused(self, nsp, auth, code, headers=None):
        c = self.make_client()
        errors = queue.Queue()
        c.on("connect_error", lambda *args: errors.put(args), namespace=nsp)
        with self.assertRaises(socketio.exceptions.ConnectionError) as raised:
            c.connect(
                SERVER.url,
                auth=auth,
                headers=headers or {},
                transports=self.TRANSPORTS,
                namespaces=[nsp],
                # python-socketio 5.7 waits this long for a refused namespace whatever happens
                wait_timeout=1,
            )
        self.assertIn("failed to connect", str(raised.exception))
        try:
            (err,) = errors.get(timeout=WAIT_S)
        except queue.Empty:
            self.fail("no connect_error on %s" % nsp)
        self.assertEqual(err["data"], {"code": code})
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        self.assertNotIn(nsp, c.namespaces)
        return err

    # ------------------------------------------------------------ tests

    def test_connect_admin_and_web_with_auth_token(self):
        user = new_user("both")
        c, recs = self.connect_user(user, namespaces=("/admin", "/web"))
        self.assertEqual(set(c.namespaces), {"/admin", "/web"})
        self.assertNotEqual(c.get_sid("/admin"), c.get_sid("/web"))
        for nsp in ("/admin", "/web"):
            (online,) = recs[nsp].next("user:online")
            self.assertEqual(online["userId"], user[0])
            self.assertEqual(online["username"], user[1])
            self.assert_timestamp(online["timestamp"])

    def test_connected_event(self):
        c = self.make_client()
        rec = Recorder(c, "/web")
        c.connect(
            SERVER.url,
            auth={"token": make_token(claims_for("py-str", "stringy"))},
            transports=self.TRANSPORTS,
            namespaces=["/web"],
            wait_timeout=WAIT_S,
        )
        (hello,) = rec.next("connected")
        self.assertEqual(set(hello), {"message", "user"})
        self.assertIsInstance(hello["message"], str)
        self.assertTrue(hello["message"])
        self.assertEqual(hello["user"], {"id": "py-str", "username": "stringy"})

    def test_token_in_authorization_header(self):
        user = new_user("hdr")
        c, _ = self.connect_user(
            user, auth=None, headers={"Authorization": "Bearer " + make_token(claims_for(*user))}
        )
        self.assertIn("/admin", c.namespaces)

    def test_private_message(self):
        alice, bob = new_user("alice"), new_user("bob")
        a, arec = self.connect_user(alice)
        b, brec = self.connect_user(bob)
        b.emit("private:message", {"toUserId": alice[0], "message": "héllo 😀"}, namespace="/admin")
        (msg,) = arec["/admin"].next("private:message")
        self.assertEqual(msg["fromUserId"], bob[0])
        self.assertEqual(msg["fromUsername"], bob[1])
        self.assertEqual(msg["toUserId"], alice[0])
        self.assertEqual(msg["message"], "héllo 😀")
        self.assertIsInstance(msg["messageId"], str)
        self.assert_timestamp(msg["timestamp"])
        (sent,) = brec["/admin"].next("message:sent")
        self.assertEqual(sent["messageId"], msg["messageId"])
        self.assertEqual(sent["toUserId"], alice[0])
        brec["/admin"].none("private:message")

    def test_room_join_and_message(self):
        room = "py-room-%d-%s" % (os.getpid(), self.id().rsplit(".", 2)[-2])
        alice, bob = new_user("ra"), new_user("rb")
        a, arec = self.connect_user(alice, namespaces=("/web",))
        b, brec = self.connect_user(bob, namespaces=("/web",))
        a.emit("room:join", {"roomId": room}, namespace="/web")
        self.assertEqual(arec["/web"].next("room:joined"), ({"roomId": room},))
        b.emit("room:join", {"roomId": room}, namespace="/web")
        self.assertEqual(brec["/web"].next("room:joined"), ({"roomId": room},))
        self.assertEqual(
            arec["/web"].next("room:user:joined"),
            ({"userId": bob[0], "username": bob[1], "roomId": room},),
        )
        b.emit("room:message", {"roomId": room, "message": "hi room"}, namespace="/web")
        for rec in (arec, brec):
            (m,) = rec["/web"].next("room:message")
            self.assertEqual(m["roomId"], room)
            self.assertEqual(m["fromUserId"], bob[0])
            self.assertEqual(m["fromUsername"], bob[1])
            self.assertEqual(m["message"], "hi room")
            self.assert_timestamp(m["timestamp"])

        # a third user who has not joined may not post
        c, crec = self.connect_user(new_user("rc"), namespaces=("/web",))
        c.emit("room:message", {"roomId": room, "message": "intruder"}, namespace="/web")
        (err,) = crec["/web"].next("error")
        self.assertEqual(err["event"], "room:message")
        self.assertEqual(err["data"], {"roomId": room, "message": "intruder"})
        self.assert_timestamp(err["timestamp"])
        arec["/web"].none("room:message")

    def test_ping_ack_pong(self):
        c, rec = self.connect_user(new_user("ping"), namespaces=("/admin", "/web"))
        for nsp in ("/admin", "/web"):
            self.assertEqual(c.call("ping", namespace=nsp, timeout=WAIT_S), "pong")
            self.assertEqual(c.call("app:ping", namespace=nsp, timeout=WAIT_S), "pong")
            rec[nsp].none("error", 0)

    def test_refused_without_token(self):
        for nsp in ("/admin", "/web"):
            err = self.assert_refused(nsp, None, "AUTH_TOKEN_MISSING")
            self.assertIn("token", err["message"].lower())

    def test_refused_bad_tokens(self):
        uid, name = new_user("bad")
        self.assert_refused(
            "/admin", {"token": make_token(claims_for(uid, name), secret="nope")}, "AUTH_SIGNATURE_INVALID"
        )
        self.assert_refused("/admin", {"token": make_token(claims_for(uid, name, status=0))}, "AUTH_USER_INACTIVE")
        self.assert_refused(
            "/web", {"token": make_token(claims_for(uid, name, exp=int(time.time()) - 60))}, "AUTH_TOKEN_EXPIRED"
        )

    def test_rate_limit_exceeded(self):
        c, rec = self.connect_user(new_user("rl"))
        for i in range(RATE_LIMIT):
            self.assertEqual(c.call("ping", namespace="/admin", timeout=WAIT_S), "pong", "ping #%d" % (i + 1))
        with self.assertRaises(socketio.exceptions.TimeoutError):
            c.call("ping", namespace="/admin", timeout=QUIET_S)
        (body,) = rec["/admin"].next("rate:limit:exceeded")
        self.assertEqual(set(body), {"event", "limit", "window", "message"})
        self.assertEqual(body["event"], "ping")
        self.assertEqual(body["limit"], RATE_LIMIT)
        self.assertEqual(body["window"], RATE_WINDOW)
        self.assertIsInstance(body["message"], str)
        # another event is counted apart
        self.assertEqual(c.call("app:ping", namespace="/admin", timeout=WAIT_S), "pong")


class WebSocketTests(GatewayTestsMixin, unittest.TestCase):
    TRANSPORTS = ["websocket"]


class PollingTests(GatewayTestsMixin, unittest.TestCase):
    TRANSPORTS = ["polling"]


if __name__ == "__main__":
    unittest.main(verbosity=2)
