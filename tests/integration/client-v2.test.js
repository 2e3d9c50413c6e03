"use strict";
// socket.io-client 2.x (Engine.IO 3 / Socket.IO protocol 4) against both
// servers, over polling only, WebSocket only and the default (polling then
// upgrade).
//
// Protocol-4 facts relied on (see the protocol digest, §3.8 and the Node
// reference): the server connects "/" implicitly; auth travels as the query
// string of the CONNECT packet of a non-root namespace (the root namespace
// always gets auth {}); the socket id of a v2 client on "/" is the Engine.IO
// id (the v2 client computes `socket.id` locally from it).

const { describe, it, before, after, beforeEach, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const ioV2 = require("socket.io-client-v2");
const { io: ioV4 } = require("socket.io-client");

const { startServer } = require("./lib/server");
const { track, closeAll } = require("./lib/clients");
const { WAIT_MS, QUIET_MS, sleep, withTimeout, onceEvent, Recorder, assertBytes, uniq } = require("./lib/util");

const T = { timeout: 30_000 };

const MODES = [
  { name: "polling", opts: { transports: ["polling"] }, transport: "polling" },
  { name: "websocket", opts: { transports: ["websocket"] }, transport: "websocket" },
  { name: "default (polling, then upgrade)", opts: {}, transport: "websocket", upgrade: true },
];

const SERVERS = [
  // pingInterval 300 / pingTimeout 200: the v2 client pings every 300 ms
  { kind: "conformance", full: false, heartbeatWaitMs: 1500 },
  // pingInterval 2000 / pingTimeout 3000
  { kind: "integration", full: true, heartbeatWaitMs: 2600 },
];

afterEach(() => {
  closeAll();
});

async function waitUpgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return;
  await onceEvent(engine, "upgrade", WAIT_MS, "engine upgrade to websocket");
}

/** The namespace error payload of protocol 4: a string or {message}. */
function errorMessage(data) {
  if (typeof data === "string") return data;
  if (data && typeof data === "object" && typeof data.message === "string") return data.message;
  return undefined;
}

for (const srvDef of SERVERS) {
  describe(`socket.io-client 2 against ${srvDef.kind}_server`, () => {
    let server;
    let url;

    before(async () => {
      server = await startServer(srvDef.kind);
      url = server.url;
    });

    after(async () => {
      closeAll();
      if (server) await server.stop();
    });

    afterEach(() => {
      if (server) server.assertAlive();
    });

    // fail fast (instead of timing out) once the server has died
    beforeEach(() => {
      if (server) server.assertAlive();
    });

    function create(mode, nsp, opts, events) {
      const socket = track(
        ioV2(url + nsp, {
          forceNew: true,
          reconnection: false,
          timeout: WAIT_MS,
          ...mode.opts,
          ...opts,
        }),
      );
      // listeners are attached in the same tick as the constructor, before
      // any network activity can deliver an event
      const rec = new Recorder(socket, ["auth", "nsp", "disconnect", "error", ...events]);
      return { socket, rec };
    }

    async function connect(mode, nsp = "/", opts = {}, events = []) {
      const { socket, rec } = create(mode, nsp, opts, events);
      const connected = new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", (e) => reject(new Error(`error on ${nsp}: ${JSON.stringify(e)}`)));
        socket.once("connect_error", (e) => reject(new Error(`connect_error on ${nsp}: ${e && e.message}`)));
        socket.once("connect_timeout", () => reject(new Error(`connect_timeout on ${nsp}`)));
      });
      await withTimeout(connected, WAIT_MS, `v2 connect to ${nsp} (${mode.name})`);
      if (mode.upgrade) await waitUpgraded(socket);
      assert.equal(socket.io.engine.transport.name, mode.transport, "transport in use");
      return { socket, rec };
    }

    /** Connects expecting a namespace error; resolves with its payload. */
    async function connectRefused(mode, nsp, opts = {}) {
      const { socket } = create(mode, nsp, opts, []);
      const result = new Promise((resolve, reject) => {
        socket.once("connect", () => reject(new Error(`${nsp} must be refused, but the socket connected`)));
        socket.once("error", resolve);
        socket.once("connect_error", (e) => reject(new Error(`engine connect_error on ${nsp}: ${e && e.message}`)));
      });
      const data = await withTimeout(result, WAIT_MS, `namespace error on ${nsp}`);
      assert.equal(socket.connected, false);
      return data;
    }

    function ack(socket, event, ...args) {
      return withTimeout(
        new Promise((resolve) => socket.emit(event, ...args, (...res) => resolve(res))),
        WAIT_MS,
        `ack for "${event}"`,
      );
    }

    for (const mode of MODES) {
      describe(`over ${mode.name}`, () => {
        it("connects to / (implicitly) and gets auth {} even with a query", T, async () => {
          const { socket, rec } = await connect(mode, "/", { query: { token: "abc" } });
          assert.deepEqual(await rec.next("auth"), [{}]);
          assert.equal(socket.connected, true);
        });

        it("/custom gets the CONNECT query string as auth", T, async () => {
          const { rec } = await connect(mode, "/custom", { query: { token: "abc", n: "1" } });
          assert.deepEqual(await rec.next("auth"), [{ token: "abc", n: "1" }]);
        });

        it("/custom without a query gets auth {}", T, async () => {
          const { rec } = await connect(mode, "/custom");
          assert.deepEqual(await rec.next("auth"), [{}]);
        });

        it("message → message-back (JSON types, non-ASCII and astral characters)", T, async () => {
          const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
          const args = [
            1,
            -2.5,
            0,
            "",
            "héllo€😀",
            "😀😀😀 中文 \u2028",
            'quote " backslash \\',
            true,
            false,
            null,
            [],
            {},
            [1, [2, [3]]],
            { a: { b: ["c", 1, null] } },
          ];
          socket.emit("message", ...args);
          assert.deepEqual(await rec.next("message-back"), args);
        });

        it("a burst of 50 messages comes back complete and in order", T, async () => {
          const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
          for (let i = 0; i < 50; i++) socket.emit("message", i, "é😀");
          const got = await rec.take("message-back", 50, 15_000);
          assert.deepEqual(
            got,
            Array.from({ length: 50 }, (_, i) => [i, "é😀"]),
          );
        });

        it("message-with-ack → ack with the same arguments", T, async () => {
          const { socket } = await connect(mode);
          assert.deepEqual(await ack(socket, "message-with-ack", 1, "2", { 3: [false] }), [1, "2", { 3: [false] }]);
        });

        it("binary client → server → client (message-back), nested", T, async () => {
          const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
          socket.emit("message", Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]), s: "x" });
          const [a, b] = await rec.next("message-back");
          assertBytes(a, [1, 2, 3], "arg 0");
          assertBytes(b.nested, [4, 5], "nested");
          assert.equal(b.s, "x");
        });

        it("binary ack", T, async () => {
          const { socket } = await connect(mode);
          const res = await ack(socket, "message-with-ack", Buffer.from([0, 255, 128]), "t");
          assertBytes(res[0], [0, 255, 128], "ack arg 0");
          assert.equal(res[1], "t");
        });

        it("unknown namespace → error 'Invalid namespace'", T, async () => {
          const data = await connectRefused(mode, "/random");
          assert.equal(errorMessage(data), "Invalid namespace", `payload ${JSON.stringify(data)}`);
        });

        it(`stays connected across heartbeats (client pings, ${srvDef.heartbeatWaitMs} ms)`, T, async () => {
          const { socket, rec } = await connect(mode, "/", {}, ["message-back"]);
          await sleep(srvDef.heartbeatWaitMs);
          assert.equal(socket.connected, true);
          assert.equal(rec.count("disconnect"), 0, "no disconnect");
          socket.emit("message", "alive");
          assert.deepEqual(await rec.next("message-back"), ["alive"]);
        });

        if (!srvDef.full) return;

        // ------------------------------------------- integration_server only
        it("socket id on / is the Engine.IO id (rooms lists it)", T, async () => {
          const { socket } = await connect(mode);
          assert.equal(socket.id, socket.io.engine.id);
          assert.deepEqual(await ack(socket, "rooms"), [[socket.id]]);
        });

        it("binary-from-server → binary event", T, async () => {
          const { socket, rec } = await connect(mode, "/", {}, ["binary"]);
          socket.emit("binary-from-server");
          const args = await rec.next("binary");
          assert.equal(args.length, 2);
          assertBytes(args[0], [1, 2, 3], "arg 0");
          assertBytes(args[1].nested, [4, 5], "nested");
          assert.equal(args[1].n, 1);
        });

        it("dynamic namespace /dyn-123", T, async () => {
          const { rec } = await connect(mode, "/dyn-123");
          assert.deepEqual(await rec.next("nsp"), ["/dyn-123"]);
        });

        it("/private accepts the token passed in the query", T, async () => {
          const { socket } = await connect(mode, "/private", { query: { token: "secret" } });
          assert.equal(socket.connected, true);
        });

        it("/private refuses a missing token ('bad token')", T, async () => {
          const data = await connectRefused(mode, "/private");
          assert.equal(errorMessage(data), "bad token", `payload ${JSON.stringify(data)}`);
        });

        it("/refuse is refused (payload carries the middleware data)", T, async () => {
          const data = await connectRefused(mode, "/refuse");
          // Node sends `err.data || err.message` to protocol-4 clients, i.e.
          // {code: 42}; {message, data} is accepted as well.
          const ok =
            (data && typeof data === "object" && data.code === 42 && Object.keys(data).length === 1) ||
            (data && typeof data === "object" && data.message === "not allowed" && data.data && data.data.code === 42);
          assert.ok(ok, `unexpected refusal payload ${JSON.stringify(data)}`);
        });

        it("server → client ack", T, async () => {
          const { socket, rec } = await connect(mode, "/", {}, ["server-ack-result"]);
          let asked = null;
          socket.on("question", (...args) => {
            const cb = args.pop();
            asked = args;
            cb("v2-reply", 7);
          });
          socket.emit("server-ack", { timeout: 3000 });
          assert.deepEqual(await rec.next("server-ack-result"), [{ ok: true, args: ["v2-reply", 7] }]);
          assert.deepEqual(asked, [42]);
        });

        it("rooms, and broadcast with except = the v2 client's own id", T, async () => {
          const ev = uniq("ev");
          const room = uniq("room");
          const a = await connect(mode, "/", {}, [ev]);
          const b = await connect(mode, "/", {}, [ev]);
          assert.deepEqual(await ack(a.socket, "join", room), ["joined"]);
          assert.deepEqual(await ack(b.socket, "join", room), ["joined"]);
          const [rooms] = await ack(a.socket, "rooms");
          assert.deepEqual(rooms.slice().sort(), [a.socket.id, room].sort());
          assert.deepEqual(await ack(a.socket, "broadcast", { room, except: b.socket.id, event: ev, args: ["x"] }), [
            "sent",
          ]);
          assert.deepEqual(await a.rec.next(ev), ["x"]);
          await b.rec.none(ev, QUIET_MS);
        });

        it("a v4 client's broadcast (with binary) reaches v2 and v4 clients alike", T, async () => {
          const ev = uniq("ev");
          const room = uniq("room");
          const v2 = await connect(mode, "/", {}, [ev]);
          const v4 = track(ioV4(url, { forceNew: true, reconnection: false, ...mode.opts }));
          const v4Rec = new Recorder(v4, [ev]);
          await onceEvent(v4, "connect");
          assert.deepEqual(await ack(v2.socket, "join", room), ["joined"]);
          const joined = await withTimeout(v4.timeout(WAIT_MS).emitWithAck("join", room), WAIT_MS, "v4 join");
          assert.equal(joined, "joined");
          const sent = await v4.timeout(WAIT_MS).emitWithAck("broadcast", {
            room,
            event: ev,
            args: ["mixed", Buffer.from([1, 2, 3]), { b: Buffer.from([4]) }],
          });
          assert.equal(sent, "sent");
          for (const [who, rec] of [
            ["v2", v2.rec],
            ["v4", v4Rec],
          ]) {
            const [s, bin, obj] = await rec.next(ev);
            assert.equal(s, "mixed", who);
            assertBytes(bin, [1, 2, 3], `${who} binary`);
            assertBytes(obj.b, [4], `${who} nested binary`);
          }
        });

        it("disconnect-me → 'io server disconnect'", T, async () => {
          const { socket, rec } = await connect(mode);
          socket.emit("disconnect-me");
          assert.deepEqual(await rec.next("disconnect"), ["io server disconnect"]);
          assert.equal(socket.connected, false);
        });
      });
    }
  });
}
