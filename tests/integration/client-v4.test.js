"use strict";
// socket.io-client 4.x against integration_server, over each transport
// configuration: polling only, WebSocket only, and the default (polling
// then upgrade to WebSocket).

const { describe, it, before, after, beforeEach, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { io, Manager } = require("socket.io-client");

const { startServer } = require("./lib/server");
const { track, closeAll } = require("./lib/clients");
const { WAIT_MS, QUIET_MS, sleep, withTimeout, onceEvent, Recorder, assertBytes, uniq, connectRefused } = require("./lib/util");

const T = { timeout: 30_000 };

const MODES = [
  { name: "polling", opts: { transports: ["polling"] }, transport: "polling" },
  { name: "websocket", opts: { transports: ["websocket"] }, transport: "websocket" },
  { name: "default (polling, then upgrade)", opts: {}, transport: "websocket", upgrade: true },
];

let server;
let url;

before(async () => {
  server = await startServer("integration");
  url = server.url;
});

after(async () => {
  closeAll();
  if (server) await server.stop();
});

afterEach(() => {
  closeAll();
  server.assertAlive();
});

// fail fast (instead of timing out) once the server has died
beforeEach(() => server.assertAlive());

/** Waits (bounded) until the engine runs on WebSocket. */
async function waitUpgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return;
  await onceEvent(engine, "upgrade", WAIT_MS, "engine upgrade to websocket");
}

/**
 * Creates a socket (not yet connected), records `events`, connects and
 * waits for "connect". In upgrade mode it also waits for the upgrade.
 */
async function connect(mode, nsp = "/", opts = {}, events = []) {
  const socket = track(
    io(url + nsp, {
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      timeout: WAIT_MS,
      ...mode.opts,
      ...opts,
    }),
  );
  const rec = new Recorder(socket, ["auth", "nsp", "disconnect", ...events]);
  const connected = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  socket.connect();
  await withTimeout(connected, WAIT_MS, `connect to ${nsp} (${mode.name})`);
  if (mode.upgrade) await waitUpgraded(socket);
  assert.equal(socket.io.engine.transport.name, mode.transport, "transport in use");
  return { socket, rec };
}

/** Connects expecting a connect_error; resolves with the error. */
async function connectError(mode, nsp, opts = {}) {
  const socket = track(
    io(url + nsp, { forceNew: true, reconnection: false, autoConnect: false, timeout: WAIT_MS, ...mode.opts, ...opts }),
  );
  return connectRefused(socket, nsp);
}

/** Emits with an ack callback; resolves with the ack's arguments. */
function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT_MS).emit(event, ...args, (err, ...res) => {
      if (err) reject(new Error(`no ack for "${event}" within ${WAIT_MS} ms`));
      else resolve(res);
    });
  });
}

async function join(socket, room) {
  assert.deepEqual(await ack(socket, "join", room), ["joined"]);
}

const EVERY_JSON_TYPE = [
  0,
  1,
  -1,
  42,
  -2.5,
  3.14159,
  1e-7,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  1e21,
  "",
  "plain",
  'quotes " and \\ backslash / slash',
  "control \n\t\r\b\f\u0001 chars",
  "héllo € 😀 中文",
  "\u2028\u2029",
  true,
  false,
  null,
  [],
  {},
  [1, "two", [3, [4, [5]]], { six: 6 }],
  { a: 1, b: "two", c: [true, false, null], d: { e: { f: "deep" } }, "": "empty key", "k with space": 1 },
  { _placeholder: "not binary", num: 0 },
];

for (const mode of MODES) {
  describe(`socket.io-client 4 over ${mode.name}`, () => {
    // ---------------------------------------------------------- connection
    it("connects and the server echoes the handshake auth", T, async () => {
      const auth = { token: "abc", n: 1, nested: { list: [1, "x", null] } };
      const { socket, rec } = await connect(mode, "/", { auth });
      const [got] = await rec.next("auth");
      assert.deepEqual(got, auth);
      assert.equal(typeof socket.id, "string");
      assert.ok(socket.id.length > 0);
      assert.notEqual(socket.id, socket.io.engine.id, "socket id is not the Engine.IO id");
    });

    it("auth is {} when the client sends none", T, async () => {
      const { rec } = await connect(mode, "/");
      const args = await rec.next("auth");
      assert.deepEqual(args, [{}]);
    });

    it("two clients get different socket ids", T, async () => {
      const a = await connect(mode);
      const b = await connect(mode);
      assert.notEqual(a.socket.id, b.socket.id);
    });

    it("stays connected across heartbeats (pingInterval 2000)", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
      await sleep(2600);
      assert.equal(socket.connected, true);
      assert.equal(rec.count("disconnect"), 0, "no disconnect");
      socket.emit("message", "still-alive");
      assert.deepEqual(await rec.next("message-back"), ["still-alive"]);
    });

    // ---------------------------------------------------------- messages
    it("message → message-back with JSON values of every type", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
      socket.emit("message", ...EVERY_JSON_TYPE);
      const got = await rec.next("message-back");
      assert.deepEqual(got, EVERY_JSON_TYPE);
    });

    it("message with no arguments comes back with none", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
      socket.emit("message");
      assert.deepEqual(await rec.next("message-back"), []);
    });

    it("a burst of 100 messages comes back complete and in order", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
      for (let i = 0; i < 100; i++) socket.emit("message", i, `m${i}`);
      const got = await rec.take("message-back", 100, 15_000);
      assert.deepEqual(
        got,
        Array.from({ length: 100 }, (_, i) => [i, `m${i}`]),
      );
    });

    it("a 200 kB string round-trips", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
      const big = "x€".repeat(70_000); // 140k chars, 280 kB of UTF-8
      socket.emit("message", big);
      const [got] = await rec.next("message-back", 15_000);
      assert.equal(got.length, big.length);
      assert.equal(got, big);
    });

    // ---------------------------------------------------------- binary
    it("binary client → server → client: Buffer in, Buffer out, nested", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
      socket.emit(
        "message",
        Buffer.from([1, 2, 3]),
        { nested: Buffer.from([4, 5]), list: [Buffer.from([6]), "text", Buffer.alloc(0)], n: 7 },
        "after",
      );
      const [a, b, c] = await rec.next("message-back");
      assertBytes(a, [1, 2, 3], "first arg");
      assertBytes(b.nested, [4, 5], "nested");
      assertBytes(b.list[0], [6], "list[0]");
      assert.equal(b.list[1], "text");
      assertBytes(b.list[2], [], "empty buffer");
      assert.equal(b.n, 7);
      assert.equal(c, "after");
    });

    it("binary with all 256 byte values and 100 kB survives", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const big = Buffer.alloc(100_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      socket.emit("message", all, big);
      const [x, y] = await rec.next("message-back", 15_000);
      assertBytes(x, all, "256 byte values");
      assertBytes(y, big, "100 kB");
    });

    it("binary-from-server → binary event with (Buffer [1,2,3], {nested: Buffer [4,5], n: 1})", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["binary"]);
      socket.emit("binary-from-server");
      const args = await rec.next("binary");
      assert.equal(args.length, 2);
      assertBytes(args[0], [1, 2, 3], "first arg");
      assert.deepEqual(Object.keys(args[1]).sort(), ["n", "nested"]);
      assertBytes(args[1].nested, [4, 5], "nested");
      assert.equal(args[1].n, 1);
    });

    // ---------------------------------------------------------- acks
    it("client → server ack returns the same arguments", T, async () => {
      const { socket } = await connect(mode);
      const res = await ack(socket, "message-with-ack", 1, "two", { three: [3] }, null, true);
      assert.deepEqual(res, [1, "two", { three: [3] }, null, true]);
    });

    it("client → server ack with binary arguments (binary ack)", T, async () => {
      const { socket } = await connect(mode);
      const res = await ack(socket, "message-with-ack", Buffer.from([9, 8]), { b: Buffer.from([7]) });
      assertBytes(res[0], [9, 8], "ack arg 0");
      assertBytes(res[1].b, [7], "ack arg 1 .b");
    });

    it("emitWithAck resolves; many concurrent acks resolve to their own values", T, async () => {
      const { socket } = await connect(mode);
      assert.equal(await socket.timeout(WAIT_MS).emitWithAck("message-with-ack", "solo"), "solo");
      const all = await Promise.all(
        Array.from({ length: 50 }, (_, i) => socket.timeout(WAIT_MS).emitWithAck("message-with-ack", i)),
      );
      assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => i));
    });

    it("server → client ack: the client's reply reaches the server", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["server-ack-result"]);
      let questionArgs = null;
      socket.on("question", (...args) => {
        const cb = args.pop();
        questionArgs = args;
        assert.equal(typeof cb, "function", "question must expect an ack");
        cb(43, "reply", { r: [1] });
      });
      socket.emit("server-ack", { timeout: 3000 });
      const [result] = await rec.next("server-ack-result");
      assert.deepEqual(questionArgs, [42]);
      assert.deepEqual(result, { ok: true, args: [43, "reply", { r: [1] }] });
    });

    it("server → client ack with a binary reply", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["server-ack-result"]);
      socket.on("question", (n, cb) => cb(Buffer.from([n])));
      socket.emit("server-ack", { timeout: 3000 });
      const [result] = await rec.next("server-ack-result");
      assert.equal(result.ok, true);
      assert.equal(result.args.length, 1);
      assertBytes(result.args[0], [42], "binary ack reply");
    });

    it("server → client ack times out when the client never answers", T, async () => {
      const { socket, rec } = await connect(mode, "/", {}, ["server-ack-result"]);
      let asked = 0;
      socket.on("question", () => {
        asked += 1; // never acknowledged
      });
      const start = Date.now();
      socket.emit("server-ack", { timeout: 300 });
      const [result] = await rec.next("server-ack-result");
      assert.equal(asked, 1);
      assert.deepEqual(result, { ok: false, error: "operation has timed out" });
      assert.ok(Date.now() - start >= 250, "the timeout must not fire early");
    });

    // ---------------------------------------------------------- namespaces
    it("namespace /custom emits auth on connect", T, async () => {
      const { socket, rec } = await connect(mode, "/custom", { auth: { who: "custom" } });
      assert.deepEqual(await rec.next("auth"), [{ who: "custom" }]);
      assert.equal(socket.nsp, "/custom");
    });

    it("dynamic namespace /dyn-123 emits its name", T, async () => {
      const { rec } = await connect(mode, "/dyn-123");
      assert.deepEqual(await rec.next("nsp"), ["/dyn-123"]);
    });

    it("two different dynamic namespaces each get their own name", T, async () => {
      const a = await connect(mode, "/dyn-1");
      const b = await connect(mode, "/dyn-98765");
      assert.deepEqual(await a.rec.next("nsp"), ["/dyn-1"]);
      assert.deepEqual(await b.rec.next("nsp"), ["/dyn-98765"]);
    });

    for (const nsp of ["/nope", "/dyn-abc", "/dyn-", "/dyn-12x", "/Custom"]) {
      it(`unknown namespace ${nsp} → connect_error "Invalid namespace"`, T, async () => {
        const err = await connectError(mode, nsp);
        assert.equal(err.message, "Invalid namespace");
      });
    }

    it("several namespaces multiplexed over one connection", T, async () => {
      const manager = new Manager(url, {
        reconnection: false,
        autoConnect: false,
        timeout: WAIT_MS,
        ...mode.opts,
      });
      const root = track(manager.socket("/", { auth: { ns: "root" } }));
      const custom = track(manager.socket("/custom", { auth: { ns: "custom" } }));
      const rootRec = new Recorder(root, ["auth", "message-back", "disconnect"]);
      const customRec = new Recorder(custom, ["auth", "disconnect"]);
      const both = Promise.all([onceEvent(root, "connect"), onceEvent(custom, "connect")]);
      root.connect();
      custom.connect();
      await both;
      assert.deepEqual(await rootRec.next("auth"), [{ ns: "root" }]);
      assert.deepEqual(await customRec.next("auth"), [{ ns: "custom" }]);
      assert.notEqual(root.id, custom.id);
      assert.equal(manager.engine, root.io.engine);
      const engineId = manager.engine.id;

      // leaving one namespace keeps the connection and the other namespace
      custom.disconnect();
      root.emit("message", "after /custom left");
      assert.deepEqual(await rootRec.next("message-back"), ["after /custom left"]);
      assert.equal(manager.engine.id, engineId, "same Engine.IO session");
      assert.equal(rootRec.count("disconnect"), 0);
    });

    // ---------------------------------------------------------- middleware
    it("/refuse: connect_error 'not allowed' with data {code: 42}", T, async () => {
      const err = await connectError(mode, "/refuse", { auth: { token: "secret" } });
      assert.equal(err.message, "not allowed");
      assert.deepEqual(err.data, { code: 42 });
    });

    it("/private accepts auth.token === 'secret'", T, async () => {
      const { socket } = await connect(mode, "/private", { auth: { token: "secret" } });
      assert.equal(socket.connected, true);
    });

    it("/private refuses a missing token with 'bad token'", T, async () => {
      const err = await connectError(mode, "/private");
      assert.equal(err.message, "bad token");
    });

    it("/private refuses a wrong token with 'bad token'", T, async () => {
      const err = await connectError(mode, "/private", { auth: { token: "Secret" } });
      assert.equal(err.message, "bad token");
    });

    it("a refused namespace does not break the connection's other namespaces", T, async () => {
      const manager = new Manager(url, { reconnection: false, autoConnect: false, timeout: WAIT_MS, ...mode.opts });
      const root = track(manager.socket("/"));
      const refused = track(manager.socket("/refuse"));
      const rootRec = new Recorder(root, ["message-back", "disconnect"]);
      const connected = onceEvent(root, "connect");
      root.connect();
      await connected;
      const errP = onceEvent(refused, "connect_error");
      refused.connect();
      const [err] = await errP;
      assert.equal(err.message, "not allowed");
      root.emit("message", "ok");
      assert.deepEqual(await rootRec.next("message-back"), ["ok"]);
      assert.equal(rootRec.count("disconnect"), 0);
    });

    // ---------------------------------------------------------- rooms
    it("rooms: own id at first, join adds, leave removes", T, async () => {
      const { socket } = await connect(mode);
      const room = uniq("room");
      assert.deepEqual(await ack(socket, "rooms"), [[socket.id]]);
      await join(socket, room);
      const [rooms] = await ack(socket, "rooms");
      assert.deepEqual(rooms.slice().sort(), [socket.id, room].sort());
      assert.deepEqual(await ack(socket, "leave", room), ["left"]);
      assert.deepEqual(await ack(socket, "rooms"), [[socket.id]]);
    });

    it("joining twice is idempotent; leaving a room not joined is harmless", T, async () => {
      const { socket } = await connect(mode);
      const room = uniq("room");
      await join(socket, room);
      await join(socket, room);
      const [rooms] = await ack(socket, "rooms");
      assert.deepEqual(rooms.slice().sort(), [socket.id, room].sort());
      assert.deepEqual(await ack(socket, "leave", uniq("never-joined")), ["left"]);
      const [after] = await ack(socket, "rooms");
      assert.deepEqual(after.slice().sort(), [socket.id, room].sort());
    });

    // ---------------------------------------------------------- broadcast
    it("broadcast to a room reaches its members only", T, async () => {
      const ev = uniq("ev");
      const room = uniq("room");
      const a = await connect(mode, "/", {}, [ev]);
      const b = await connect(mode, "/", {}, [ev]);
      const outsider = await connect(mode, "/", {}, [ev]);
      await join(a.socket, room);
      await join(b.socket, room);
      const sent = await ack(a.socket, "broadcast", { room, event: ev, args: [1, "two", { three: [3] }] });
      assert.deepEqual(sent, ["sent"]);
      assert.deepEqual(await a.rec.next(ev), [1, "two", { three: [3] }]);
      assert.deepEqual(await b.rec.next(ev), [1, "two", { three: [3] }]);
      await outsider.rec.none(ev, QUIET_MS);
      await a.rec.none(ev, 0); // exactly once
      await b.rec.none(ev, 0);
    });

    it("broadcast with except (a room): the excluded client receives nothing", T, async () => {
      const ev = uniq("ev");
      const room = uniq("room");
      const excluded = uniq("excluded");
      const a = await connect(mode, "/", {}, [ev]);
      const b = await connect(mode, "/", {}, [ev]);
      const c = await connect(mode, "/", {}, [ev]);
      for (const x of [a, b, c]) await join(x.socket, room);
      await join(c.socket, excluded);
      assert.deepEqual(await ack(a.socket, "broadcast", { room, except: excluded, event: ev, args: ["hi"] }), ["sent"]);
      assert.deepEqual(await a.rec.next(ev), ["hi"]);
      assert.deepEqual(await b.rec.next(ev), ["hi"]);
      await c.rec.none(ev, QUIET_MS);
    });

    it("broadcast with except (a socket id) and without room (whole namespace)", T, async () => {
      const ev = uniq("ev");
      const a = await connect(mode, "/", {}, [ev]);
      const b = await connect(mode, "/", {}, [ev]);
      const c = await connect(mode, "/", {}, [ev]);
      const onCustom = await connect(mode, "/custom", {}, [ev]);
      assert.deepEqual(await ack(b.socket, "broadcast", { except: c.socket.id, event: ev, args: [] }), ["sent"]);
      assert.deepEqual(await a.rec.next(ev), []);
      assert.deepEqual(await b.rec.next(ev), []);
      await c.rec.none(ev, QUIET_MS);
      await onCustom.rec.none(ev, 0); // other namespace: nothing
    });

    it("broadcast without room and without except reaches everybody on /", T, async () => {
      const ev = uniq("ev");
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await connect(mode, "/", {}, [ev]));
      assert.deepEqual(await ack(clients[0].socket, "broadcast", { event: ev, args: ["all", 3] }), ["sent"]);
      for (const c of clients) assert.deepEqual(await c.rec.next(ev), ["all", 3]);
    });

    it("broadcast carries binary arguments", T, async () => {
      const ev = uniq("ev");
      const room = uniq("room");
      const a = await connect(mode, "/", {}, [ev]);
      const b = await connect(mode, "/", {}, [ev]);
      await join(b.socket, room);
      assert.deepEqual(
        await ack(a.socket, "broadcast", { room, event: ev, args: [Buffer.from([1, 2]), { x: Buffer.from([3]) }] }),
        ["sent"],
      );
      const [bin, obj] = await b.rec.next(ev);
      assertBytes(bin, [1, 2], "broadcast binary");
      assertBytes(obj.x, [3], "broadcast nested binary");
      await a.rec.none(ev, QUIET_MS);
    });

    it("broadcast-ack collects every member's reply", T, async () => {
      const room = uniq("room");
      const a = await connect(mode);
      const b = await connect(mode);
      const asker = await connect(mode);
      a.socket.on("question", (...args) => args.pop()("from-a"));
      b.socket.on("question", (...args) => args.pop()({ from: "b" }));
      await join(a.socket, room);
      await join(b.socket, room);
      const [res] = await ack(asker.socket, "broadcast-ack", { room, timeout: 3000 });
      assert.equal(res.error, null);
      assert.equal(res.responses.length, 2, JSON.stringify(res));
      const sorted = res.responses.map((r) => JSON.stringify(r)).sort();
      assert.deepEqual(sorted, [JSON.stringify("from-a"), JSON.stringify({ from: "b" })].sort());
    });

    it("broadcast-ack reports a timeout with the replies it got", T, async () => {
      const room = uniq("room");
      const a = await connect(mode);
      const silent = await connect(mode);
      const asker = await connect(mode);
      a.socket.on("question", (...args) => args.pop()("from-a"));
      let silentAsked = 0;
      silent.socket.on("question", () => {
        silentAsked += 1;
      });
      await join(a.socket, room);
      await join(silent.socket, room);
      const start = Date.now();
      const [res] = await ack(asker.socket, "broadcast-ack", { room, timeout: 400 });
      assert.ok(Date.now() - start >= 300, "must wait for the timeout");
      assert.equal(typeof res.error, "string", JSON.stringify(res));
      assert.ok(res.error.length > 0);
      assert.deepEqual(res.responses, ["from-a"]);
      assert.equal(silentAsked, 1);
    });

    it("broadcast-ack to an empty room completes at once with no replies", T, async () => {
      const asker = await connect(mode);
      const start = Date.now();
      const [res] = await ack(asker.socket, "broadcast-ack", { room: uniq("empty"), timeout: 3000 });
      assert.deepEqual(res, { error: null, responses: [] });
      assert.ok(Date.now() - start < 2500, "must not wait for the timeout");
    });

    // ---------------------------------------------------------- disconnects
    it("disconnect-me: the client sees 'io server disconnect'", T, async () => {
      const { socket, rec } = await connect(mode);
      socket.emit("disconnect-me");
      const [reason] = await rec.next("disconnect");
      assert.equal(reason, "io server disconnect");
      assert.equal(socket.connected, false);
    });

    it("reconnects after the transport is closed; events still work afterwards", T, async () => {
      const { socket, rec } = await connect(
        mode,
        "/",
        {
          reconnection: true,
          reconnectionDelay: 100,
          reconnectionDelayMax: 200,
          reconnectionAttempts: 20,
          auth: { again: true },
        },
        ["message-back"],
      );
      assert.deepEqual(await rec.next("auth"), [{ again: true }]);
      const firstId = socket.id;
      const room = uniq("room");
      await join(socket, room);

      const reconnected = onceEvent(socket, "connect", 10_000, "reconnect");
      socket.io.engine.close(); // simulated transport loss
      const [reason] = await rec.next("disconnect");
      assert.notEqual(reason, "io server disconnect");
      assert.notEqual(reason, "io client disconnect");
      await reconnected;
      assert.equal(socket.connected, true);
      assert.notEqual(socket.id, firstId, "a new session gets a new socket id");
      assert.deepEqual(await rec.next("auth"), [{ again: true }], "connection handler runs again");
      if (mode.upgrade) await waitUpgraded(socket);
      assert.equal(socket.io.engine.transport.name, mode.transport);

      socket.emit("message", "after reconnect");
      assert.deepEqual(await rec.next("message-back"), ["after reconnect"]);
      assert.deepEqual(await ack(socket, "rooms"), [[socket.id]], "rooms do not survive a new session");
    });

    it("the server forgets a client that disconnected (broadcasts and broadcast-acks skip it)", T, async () => {
      const ev = uniq("ev");
      const room = uniq("room");
      const a = await connect(mode, "/", {}, [ev]);
      const b = await connect(mode, "/", {}, [ev]);
      a.socket.on("question", (...args) => args.pop()("from-a"));
      b.socket.on("question", (...args) => args.pop()("from-b"));
      await join(a.socket, room);
      await join(b.socket, room);
      b.socket.disconnect();
      await sleep(300); // let the server process b's DISCONNECT (another connection)
      assert.deepEqual(await ack(a.socket, "broadcast", { room, event: ev, args: [1] }), ["sent"]);
      assert.deepEqual(await a.rec.next(ev), [1]);
      // a stale member would make this time out instead of completing
      const [res] = await ack(a.socket, "broadcast-ack", { room, timeout: 2000 });
      assert.deepEqual(res, { error: null, responses: ["from-a"] });
    });
  });
}
