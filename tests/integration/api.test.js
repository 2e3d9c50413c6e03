"use strict";
// The back-end HTTP API of the `iogate` binary (src/server/http_api.cpp,
// src/app/services/services.cpp; described by docs/openapi.yaml), driven over
// HTTP with real socket.io-client 4 clients connected to /admin (and /web where
// the namespace matters): every endpoint's effect on the clients, presence,
// force-disconnect, the batch queue, every endpoint's answers to bad input,
// the API key, and the refusal to expose the API off loopback without a key.
//
// The binary comes from IOGATE_SERVER (path to build/<preset>/bin/iogate).
// This file starts its own servers (child_process) on free ports.

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const net = require("node:net");
const { io } = require("socket.io-client");

const { track, closeAll } = require("./lib/clients");
const { hsToken } = require("./lib/gateway");
const { WAIT_MS, QUIET_MS, sleep, withTimeout, Recorder, uniq } = require("./lib/util");

const T = { timeout: 30_000 };
const SECRET = "api-test-secret";
const START_MS = 10_000;
const STOP_MS = 5_000;

// ---------------------------------------------------------------------------
// The server process

function binary() {
  const file = process.env.IOGATE_SERVER;
  if (!file) {
    throw new Error("IOGATE_SERVER is not set: export IOGATE_SERVER=<path to the iogate binary> (build/main/bin/iogate)");
  }
  if (!fs.existsSync(file)) throw new Error(`IOGATE_SERVER=${file} does not exist`);
  return file;
}

/** A port that was free a moment ago (bind port 0, read it, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const children = new Set();
process.on("exit", () => {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }
});

/**
 * Starts iogate with the API on a free port; resolves once both
 * "iogate listening on port N" and "iogate api listening on port M" were printed.
 */
async function startIogate(extraArgs = []) {
  const apiPort = await freePort();
  const args = ["--host", "127.0.0.1", "--port", "0", "--api-port", String(apiPort), "--jwt-secret", SECRET, "--shards", "2",
    "--live-interval", "0", "--log-level", "warn", ...extraArgs];
  const child = spawn(binary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  child.stderr.on("data", (d) => {
    output += d;
    if (process.env.IOGATE_TEST_VERBOSE) process.stderr.write(`[iogate] ${d}`);
  });
  const ready = new Promise((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += d;
      output += d;
      const port = /^iogate listening on port (\d+)\s*$/m.exec(stdout);
      const api = /^iogate api listening on port (\d+)\s*$/m.exec(stdout);
      if (port && api) resolve({ port: Number(port[1]), apiPort: Number(api[1]) });
    });
    exited.then((info) => reject(new Error(`iogate exited (${JSON.stringify(info)}) before listening:\n${output}`)));
  });
  let ports;
  try {
    ports = await withTimeout(ready, START_MS, `iogate ${args.join(" ")} to print both listening lines`);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  assert.equal(ports.apiPort, apiPort, "the API listens on the port given");
  return {
    ...ports,
    url: `http://127.0.0.1:${ports.port}`,
    output: () => output,
    assertAlive() {
      if (exitInfo) throw new Error(`iogate died: ${JSON.stringify(exitInfo)}\n${output}`);
    },
    async stop() {
      if (exitInfo) return exitInfo;
      child.kill("SIGTERM");
      try {
        return await withTimeout(exited, STOP_MS, "iogate to exit after SIGTERM");
      } catch (e) {
        child.kill("SIGKILL");
        throw e;
      }
    },
  };
}

/** Runs iogate expecting it to exit by itself (bounded); resolves {code, signal, output}. */
function runToExit(args, ms = START_MS) {
  const child = spawn(binary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal, output });
    });
  });
  return withTimeout(exited, ms, `iogate ${args.join(" ")} to exit`).catch((e) => {
    child.kill("SIGKILL");
    throw new Error(`${e.message}; output so far:\n${output}`);
  });
}

// ---------------------------------------------------------------------------
// Tokens, HTTP, clients

/** An HS256 token as `iogate token` mints it: {id, username, status: 1, iat, exp}. */
function token(id, username) {
  const now = Math.floor(Date.now() / 1000);
  return hsToken({ id, username, status: 1, iat: now, exp: now + 3600 }, { secret: SECRET });
}

/**
 * One HTTP request to the API. `body`: undefined (none), a string (sent as is)
 * or anything else (sent as JSON). Resolves {status, headers, text, json}.
 */
function request(srv, method, path, body, headers = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const req = http.request(
        {
          host: "127.0.0.1",
          port: srv.apiPort,
          method,
          path,
          agent: false,
          headers: {
            ...(payload === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }),
            ...headers,
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d) => (text += d));
          res.on("end", () => {
            let json;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode, headers: res.headers, text, json });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    }),
    WAIT_MS,
    `${method} ${path}`,
  );
}

const post = (srv, path, body, headers) => request(srv, "POST", path, body, headers);
const get = (srv, path, headers) => request(srv, "GET", path, undefined, headers);

/** Asserts a 200 {ok: true} answer. */
async function ok(promise) {
  const res = await promise;
  assert.equal(res.status, 200, `expected 200, got ${res.status} ${res.text}`);
  assert.equal(res.json.ok, true, res.text);
  return res;
}

/** Asserts a JSON error answer with `status` whose error text matches `pattern`. */
async function fails(promise, status, pattern) {
  const res = await promise;
  assert.equal(res.status, status, `expected ${status}, got ${res.status} ${res.text}`);
  assert.match(String(res.headers["content-type"]), /application\/json/, "error answers are JSON");
  assert.ok(res.json && typeof res.json.error === "string", `an {error} body, got ${res.text}`);
  assert.deepEqual(Object.keys(res.json), ["error"], `only {error}, got ${res.text}`);
  assert.match(res.json.error, pattern);
  return res;
}

let nextUser = 100;
function newUserId() {
  nextUser += 1;
  return nextUser;
}

/**
 * Connects a socket.io-client 4 socket as user `id` to `nsp` (WebSocket) and waits
 * for the gateway's "connected" (sent after it joined the user's room). Every
 * event the client receives is recorded (Recorder over onAny), and "disconnect".
 */
async function connectUser(srv, id, { nsp = "/admin", username = `user${id}` } = {}) {
  const socket = track(
    io(srv.url + nsp, {
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      timeout: WAIT_MS,
      transports: ["websocket"],
      auth: { token: token(id, username) },
    }),
  );
  const rec = new Recorder(socket, ["disconnect"]);
  socket.onAny((event, ...args) => rec._push(event, args));
  const connected = new Promise((resolve, reject) => {
    socket.once("connect_error", (e) => reject(new Error(`connect_error for user ${id} on ${nsp}: ${e.message}`)));
    rec.next("connected", WAIT_MS).then(resolve, reject);
  });
  socket.connect();
  await connected;
  return { socket, rec, id, username };
}

/** Joins a room through the gateway's room:join and waits for room:joined. */
async function join(client, roomId) {
  client.socket.emit("room:join", { roomId });
  const [joined] = await client.rec.next("room:joined");
  assert.deepEqual(joined, { roomId });
}

/** Waits QUIET_MS once, then asserts none of `clients` got `event`. */
async function noneGot(clients, event) {
  await sleep(QUIET_MS);
  for (const c of clients) {
    const got = c.rec.items.filter((i) => i.event === event);
    assert.equal(got.length, 0, `user ${c.id} must not get "${event}", got ${JSON.stringify(got.map((g) => g.args))}`);
  }
}

function assertTimestamp(value) {
  assert.equal(typeof value, "string", "timestamp is a string");
  assert.match(value, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/, "ISO 8601 timestamp");
  assert.ok(Math.abs(Date.parse(value) - Date.now()) < 60_000, `timestamp ${value} is now`);
}

/** Asserts a notification {title, message, type, data?, timestamp} (+ extra keys). */
function assertNotification(payload, expected) {
  const { timestamp, ...rest } = payload;
  assertTimestamp(timestamp);
  assert.deepEqual(rest, expected);
}

/** Polls until `check()` resolves truthy, bounded. */
async function eventually(check, label, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(25);
  }
  throw new Error(`timed out after ${ms} ms: ${label}`);
}

async function presenceOf(srv, id, nsp) {
  const res = await get(srv, `/api/presence/users/${encodeURIComponent(id)}${nsp ? `?namespace=${nsp}` : ""}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

// ---------------------------------------------------------------------------

describe("the API on loopback without a key", () => {
  let srv;
  before(async () => {
    srv = await startIogate();
  });
  after(async () => {
    closeAll();
    if (srv) {
      const { code, signal } = await srv.stop();
      assert.equal(code, 0, `iogate exit after SIGTERM (signal ${signal})\n${srv.output()}`);
    }
  });
  afterEach(() => {
    closeAll();
    srv.assertAlive();
  });

  describe("GET /api/health", () => {
    it("answers status ok and the local connection count of each namespace", T, async () => {
      const before = await get(srv, "/api/health");
      assert.equal(before.status, 200);
      assert.match(String(before.headers["content-type"]), /application\/json/);
      assert.equal(before.json.status, "ok");
      assert.deepEqual(Object.keys(before.json.connections).sort(), ["/admin", "/web"]);
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });
      const res = await get(srv, "/api/health");
      assert.equal(res.json.status, "ok");
      assert.ok(res.json.connections["/admin"] >= 2, res.text);
      assert.ok(res.json.connections["/web"] >= 1, res.text);
      for (const c of [a, b, w]) c.socket.disconnect();
      await eventually(async () => {
        const r = await get(srv, "/api/health");
        return r.json.connections["/admin"] === 0 && r.json.connections["/web"] === 0;
      }, "health counts drop to 0 after the clients leave");
    });
  });

  describe("presence", () => {
    it("lists the online users, connection count and per-user connections; offline after disconnect", T, async () => {
      const idA = newUserId();
      const idB = newUserId();
      const a1 = await connectUser(srv, idA);
      const a2 = await connectUser(srv, idA);
      const b = await connectUser(srv, idB);
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });

      const all = await get(srv, "/api/presence");
      assert.equal(all.status, 200, all.text);
      assert.equal(all.json.namespace, "/admin");
      assert.ok(all.json.users.includes(idA) && all.json.users.includes(idB), all.text);
      assert.ok(!all.json.users.includes(w.id), "a /web user is not online in /admin");
      assert.equal(all.json.total, all.json.users.length);
      assert.ok(all.json.connections >= 3, all.text);

      for (const form of ["web", "/web", "%2Fweb"]) {
        const web = await get(srv, `/api/presence?namespace=${form}`);
        assert.equal(web.status, 200, web.text);
        assert.equal(web.json.namespace, "/web");
        assert.ok(web.json.users.includes(w.id), web.text);
        assert.ok(!web.json.users.includes(idA), web.text);
      }

      const pa = await presenceOf(srv, idA);
      assert.equal(pa.namespace, "/admin");
      assert.equal(pa.userId, idA);
      assert.equal(pa.online, true);
      assert.deepEqual(pa.connections.map((c) => c.socketId).sort(), [a1.socket.id, a2.socket.id].sort());
      for (const c of pa.connections) assertTimestamp(c.since);
      assert.equal((await presenceOf(srv, idA, "web")).online, false, "user A has no /web connection");
      assert.equal((await presenceOf(srv, w.id, "web")).online, true);

      const nobody = await presenceOf(srv, 999999);
      assert.deepEqual(nobody, { namespace: "/admin", userId: 999999, online: false, connections: [] });

      a1.socket.disconnect();
      await eventually(async () => (await presenceOf(srv, idA)).connections.length === 1, "A down to one connection");
      assert.equal((await presenceOf(srv, idA)).online, true, "still online with one tab");
      a2.socket.disconnect();
      const gone = await eventually(async () => {
        const p = await presenceOf(srv, idA);
        return p.online === false ? p : null;
      }, "A offline after the last connection closed");
      assert.deepEqual(gone.connections, []);
      const after = await get(srv, "/api/presence");
      assert.ok(!after.json.users.includes(idA), after.text);
      assert.ok(after.json.users.includes(idB), after.text);
      void b;
    });

    it("finds users whose id is a string", T, async () => {
      const id = `u-${crypto.randomUUID().slice(0, 8)}`;
      const c = await connectUser(srv, id);
      const p = await presenceOf(srv, id);
      assert.equal(p.userId, id);
      assert.equal(p.online, true);
      assert.deepEqual(p.connections.map((x) => x.socketId), [c.socket.id]);
      const all = await get(srv, "/api/presence");
      assert.ok(all.json.users.includes(id), all.text);
    });

    it("rejects an unknown namespace with 400", T, async () => {
      await fails(get(srv, "/api/presence?namespace=nope"), 400, /unknown namespace '\/nope'/);
      await fails(get(srv, "/api/presence/users/1?namespace=/nope"), 400, /unknown namespace '\/nope'/);
      await fails(get(srv, "/api/presence?namespace="), 400, /unknown namespace/);
    });
  });

  describe("POST /api/users/{userId}/disconnect", () => {
    it("disconnects every socket of the user (io server disconnect), nobody else", T, async () => {
      const id = newUserId();
      const a1 = await connectUser(srv, id);
      const a2 = await connectUser(srv, id);
      const other = await connectUser(srv, newUserId());
      const web = await connectUser(srv, id, { nsp: "/web" });
      const res = await ok(post(srv, `/api/users/${id}/disconnect`));
      assert.deepEqual(res.json, { ok: true, namespace: "/admin", userId: id });
      for (const c of [a1, a2]) {
        const [reason] = await c.rec.next("disconnect");
        assert.equal(reason, "io server disconnect");
      }
      const [offline] = await other.rec.next("user:offline");
      assertTimestamp(offline.timestamp);
      assert.deepEqual({ ...offline, timestamp: 0 }, { userId: id, username: `user${id}`, timestamp: 0 },
        "the others hear user:offline once the user's last connection is gone");
      await noneGot([other, web], "disconnect");
      assert.ok(other.socket.connected && web.socket.connected);
      assert.equal(other.rec.count("user:offline"), 0, "user:offline once per user, not per socket");
      await eventually(async () => (await presenceOf(srv, id)).online === false, "user offline in /admin");
      assert.equal((await presenceOf(srv, id, "web")).online, true, "still online in /web");
    });

    it("acts in the namespace given in the body or the query", T, async () => {
      const id = newUserId();
      const admin = await connectUser(srv, id);
      const web = await connectUser(srv, id, { nsp: "/web" });
      const res = await ok(post(srv, `/api/users/${id}/disconnect`, { namespace: "web" }));
      assert.equal(res.json.namespace, "/web");
      assert.equal((await web.rec.next("disconnect"))[0], "io server disconnect");
      await noneGot([admin], "disconnect");

      const web2 = await connectUser(srv, id, { nsp: "/web" });
      await ok(post(srv, `/api/users/${id}/disconnect?namespace=/web`));
      assert.equal((await web2.rec.next("disconnect"))[0], "io server disconnect");
      await noneGot([admin], "disconnect");
    });

    it("accepts a string user id and answers ok for a user who is not connected", T, async () => {
      const id = `s-${crypto.randomUUID().slice(0, 8)}`;
      const c = await connectUser(srv, id);
      const res = await ok(post(srv, `/api/users/${id}/disconnect`));
      assert.equal(res.json.userId, id);
      assert.equal((await c.rec.next("disconnect"))[0], "io server disconnect");
      const none = await ok(post(srv, "/api/users/424242/disconnect"));
      assert.deepEqual(none.json, { ok: true, namespace: "/admin", userId: 424242 });
    });

    it("rejects bad bodies and unknown namespaces with 400", T, async () => {
      await fails(post(srv, "/api/users/1/disconnect", "{nope"), 400, /invalid JSON/);
      await fails(post(srv, "/api/users/1/disconnect", "[1]"), 400, /must be a JSON object/);
      await fails(post(srv, "/api/users/1/disconnect", { namespace: "nope" }), 400, /unknown namespace '\/nope'/);
      await fails(post(srv, "/api/users/1/disconnect", { namespace: 3 }), 400, /'namespace' must be a non-empty string/);
      await fails(post(srv, "/api/users/1/disconnect?namespace=zzz"), 400, /unknown namespace '\/zzz'/);
    });
  });

  describe("POST /api/emit", () => {
    it("emits to every client of the namespace (default /admin) and not to /web", T, async () => {
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });
      const event = uniq("ev");
      const res = await ok(post(srv, "/api/emit", { event, data: { n: 1, list: [1, "x"] } }));
      assert.deepEqual(res.json, { ok: true });
      assert.deepEqual(await a.rec.next(event), [{ n: 1, list: [1, "x"] }]);
      assert.deepEqual(await b.rec.next(event), [{ n: 1, list: [1, "x"] }]);
      await noneGot([w], event);
    });

    it("emits to /web with namespace \"web\" or \"/web\", not to /admin", T, async () => {
      const a = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });
      for (const namespace of ["web", "/web"]) {
        const event = uniq("ev");
        await ok(post(srv, "/api/emit", { event, data: namespace, namespace }));
        assert.deepEqual(await w.rec.next(event), [namespace]);
        await noneGot([a], event);
      }
      const event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, namespace: "admin" }));
      assert.deepEqual(await a.rec.next(event), [null], "no data: null");
      await noneGot([w], event);

      const viaQuery = uniq("ev");
      await ok(post(srv, "/api/emit?namespace=web", { event: viaQuery, data: "q" }));
      assert.deepEqual(await w.rec.next(viaQuery), ["q"], "the namespace query parameter applies to POST bodies without one");
      await noneGot([a], viaQuery);

      const bodyWins = uniq("ev");
      await ok(post(srv, "/api/emit?namespace=web", { event: bodyWins, data: "b", namespace: "/admin" }));
      assert.deepEqual(await a.rec.next(bodyWins), ["b"], "the body's namespace wins over the query");
      await noneGot([w], bodyWins);
      await fails(post(srv, "/api/emit?namespace=nope", { event: bodyWins }), 400, /unknown namespace '\/nope'/);
    });

    it("emits to rooms, to users (all their tabs), and both together", T, async () => {
      const room = uniq("room");
      const inRoom = await connectUser(srv, newUserId());
      const idU = newUserId();
      const u1 = await connectUser(srv, idU);
      const u2 = await connectUser(srv, idU);
      const outsider = await connectUser(srv, newUserId());
      await join(inRoom, room);

      let event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: "r", rooms: [room] }));
      assert.deepEqual(await inRoom.rec.next(event), ["r"]);
      await noneGot([u1, u2, outsider], event);

      event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: "u", users: [idU] }));
      assert.deepEqual(await u1.rec.next(event), ["u"]);
      assert.deepEqual(await u2.rec.next(event), ["u"]);
      await noneGot([inRoom, outsider], event);

      event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: "s", users: [String(idU)] }));
      assert.deepEqual(await u1.rec.next(event), ["s"], "a user id given as a string reaches the numeric id");
      await noneGot([inRoom, outsider], event);

      event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: "both", rooms: [room], users: [idU] }));
      assert.deepEqual(await inRoom.rec.next(event), ["both"]);
      assert.deepEqual(await u1.rec.next(event), ["both"]);
      assert.deepEqual(await u2.rec.next(event), ["both"]);
      await noneGot([outsider, inRoom, u1], event);
    });

    it("leaves out the rooms in except (rooms or a user's room user:<id>)", T, async () => {
      const r1 = uniq("room");
      const r2 = uniq("room");
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      const c = await connectUser(srv, newUserId());
      await join(a, r1);
      await join(a, r2);
      await join(b, r1);

      let event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: 1, rooms: [r1], except: [r2] }));
      assert.deepEqual(await b.rec.next(event), [1]);
      await noneGot([a, c], event);

      event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: 2, except: [`user:${c.id}`] }));
      assert.deepEqual(await a.rec.next(event), [2]);
      assert.deepEqual(await b.rec.next(event), [2]);
      await noneGot([c], event);
    });

    it("empty users or rooms lists reach nobody (not everyone)", T, async () => {
      const a = await connectUser(srv, newUserId());
      const event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: 0, users: [] }));
      await ok(post(srv, "/api/emit", { event, data: 0, rooms: [] }));
      await noneGot([a], event);
    });

    it("volatile emits reach connected clients", T, async () => {
      const a = await connectUser(srv, newUserId());
      const event = uniq("ev");
      await ok(post(srv, "/api/emit", { event, data: "v", volatile: true, users: [a.id] }));
      assert.deepEqual(await a.rec.next(event), ["v"]);
      const event2 = uniq("ev");
      await ok(post(srv, "/api/emit", { event: event2, data: "nv", volatile: false }));
      assert.deepEqual(await a.rec.next(event2), ["nv"]);
    });

    it("rejects bad input with 400 and emits nothing", T, async () => {
      const a = await connectUser(srv, newUserId());
      const e = uniq("ev");
      await fails(post(srv, "/api/emit"), 400, /JSON object body is required/);
      await fails(post(srv, "/api/emit", "{\"event\":"), 400, /invalid JSON/);
      await fails(post(srv, "/api/emit", "[]"), 400, /must be a JSON object/);
      await fails(post(srv, "/api/emit", "\"text\""), 400, /must be a JSON object/);
      await fails(post(srv, "/api/emit", "42"), 400, /must be a JSON object/);
      await fails(post(srv, "/api/emit", { data: 1 }), 400, /missing field 'event'/);
      await fails(request(srv, "POST", "/api/emit", JSON.stringify({ event: e }), { "Content-Type": "text/plain" }), 415,
        /Content-Type must be application\/json/);
      await fails(post(srv, "/api/emit", { event: "" }), 400, /'event' must be a non-empty string/);
      await fails(post(srv, "/api/emit", { event: 7 }), 400, /'event' must be a non-empty string/);
      await fails(post(srv, "/api/emit", { event: e, rooms: "r" }), 400, /'rooms' must be an array of strings/);
      await fails(post(srv, "/api/emit", { event: e, rooms: [1] }), 400, /'rooms' must be an array of non-empty strings/);
      await fails(post(srv, "/api/emit", { event: e, rooms: [""] }), 400, /'rooms' must be an array of non-empty strings/);
      await fails(post(srv, "/api/emit", { event: e, users: 5 }), 400, /'users' must be an array of user ids/);
      await fails(post(srv, "/api/emit", { event: e, users: [null] }), 400, /'users' must be a user id/);
      await fails(post(srv, "/api/emit", { event: e, users: [{ id: 1 }] }), 400, /'users' must be a user id/);
      await fails(post(srv, "/api/emit", { event: e, except: "x" }), 400, /'except' must be an array of strings/);
      await fails(post(srv, "/api/emit", { event: e, volatile: "yes" }), 400, /'volatile' must be true or false/);
      await fails(post(srv, "/api/emit", { event: e, namespace: "nope" }), 400, /unknown namespace '\/nope'/);
      await fails(post(srv, "/api/emit", { event: e, namespace: 1 }), 400, /'namespace' must be a non-empty string/);
      await fails(post(srv, "/api/emit", { event: e, namespace: "" }), 400, /'namespace' must be a non-empty string/);
      await noneGot([a], e);
    });
  });

  describe("notifications", () => {
    it("system: system:notification {title, message, type, data?, timestamp} to the whole namespace", T, async () => {
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });
      await ok(post(srv, "/api/notifications/system", { title: "T", message: "M" }));
      for (const c of [a, b]) {
        const [n] = await c.rec.next("system:notification");
        assertNotification(n, { title: "T", message: "M", type: "info" });
      }
      await noneGot([w], "system:notification");

      for (const type of ["info", "success", "warning", "error"]) {
        await ok(post(srv, "/api/notifications/system", { title: "T2", message: "M2", type, data: { k: [1] } }));
        for (const c of [a, b]) {
          const [n] = await c.rec.next("system:notification");
          assertNotification(n, { title: "T2", message: "M2", type, data: { k: [1] } });
        }
      }

      await ok(post(srv, "/api/notifications/system", { title: "W", message: "web only", namespace: "web" }));
      const [n] = await w.rec.next("system:notification");
      assertNotification(n, { title: "W", message: "web only", type: "info" });
      await noneGot([a, b], "system:notification");
    });

    it("users: user:notification to one user (userId) or many (userIds), all their tabs, nobody else", T, async () => {
      const idA = newUserId();
      const a1 = await connectUser(srv, idA);
      const a2 = await connectUser(srv, idA);
      const b = await connectUser(srv, newUserId());
      const c = await connectUser(srv, newUserId());

      await ok(post(srv, "/api/notifications/users", { userId: idA, title: "one", message: "for A", type: "success" }));
      for (const x of [a1, a2]) {
        const [n] = await x.rec.next("user:notification");
        assertNotification(n, { title: "one", message: "for A", type: "success" });
      }
      await noneGot([b, c], "user:notification");

      await ok(post(srv, "/api/notifications/users", { userIds: [idA, String(b.id)], title: "many", message: "A+B", data: 5 }));
      for (const x of [a1, a2, b]) {
        const [n] = await x.rec.next("user:notification");
        assertNotification(n, { title: "many", message: "A+B", type: "info", data: 5 });
      }
      await noneGot([c, a1, a2, b], "user:notification");
    });

    it("room: room:notification with roomId to the members of the room only", T, async () => {
      const room = uniq("room");
      const m1 = await connectUser(srv, newUserId());
      const m2 = await connectUser(srv, newUserId());
      const out = await connectUser(srv, newUserId());
      await join(m1, room);
      await join(m2, room);
      await ok(post(srv, "/api/notifications/room", { roomId: room, title: "R", message: "room msg", type: "warning" }));
      for (const x of [m1, m2]) {
        const [n] = await x.rec.next("room:notification");
        assertNotification(n, { title: "R", message: "room msg", type: "warning", roomId: room });
      }
      await noneGot([out], "room:notification");
    });

    it("rejects bad input with 400", T, async () => {
      const a = await connectUser(srv, newUserId());
      for (const path of ["/api/notifications/system", "/api/notifications/users", "/api/notifications/room"]) {
        const base = { title: "t", message: "m", userId: a.id, roomId: "r1" };
        await fails(post(srv, path), 400, /JSON object body is required/);
        await fails(post(srv, path, "{x"), 400, /invalid JSON/);
        await fails(post(srv, path, "[1,2]"), 400, /must be a JSON object/);
        await fails(post(srv, path, { ...base, title: undefined }), 400, /missing field 'title'/);
        await fails(post(srv, path, { ...base, message: undefined }), 400, /missing field 'message'/);
        await fails(post(srv, path, { ...base, title: 3 }), 400, /'title' must be a non-empty string/);
        await fails(post(srv, path, { ...base, message: ["m"] }), 400, /'message' must be a non-empty string/);
        await fails(post(srv, path, { ...base, type: "fatal" }), 400, /'type' must be info, success, warning or error/);
        await fails(post(srv, path, { ...base, type: 1 }), 400, /'type' must be a non-empty string/);
        await fails(post(srv, path, { ...base, namespace: "nope" }), 400, /unknown namespace '\/nope'/);
      }
      const users = "/api/notifications/users";
      await fails(post(srv, users, { title: "t", message: "m" }), 400, /missing field 'userIds'/);
      await fails(post(srv, users, { title: "t", message: "m", userIds: [] }), 400, /'userIds' must be a non-empty array of user ids/);
      await fails(post(srv, users, { title: "t", message: "m", userIds: "1" }), 400, /'userIds' must be a non-empty array of user ids/);
      await fails(post(srv, users, { title: "t", message: "m", userIds: [true] }), 400, /'userIds' must be a user id/);
      await fails(post(srv, users, { title: "t", message: "m", userId: null }), 400, /'userId' must be a user id/);
      await fails(post(srv, users, { title: "t", message: "m", userId: "" }), 400, /'userId' must be a user id/);
      const room = "/api/notifications/room";
      await fails(post(srv, room, { title: "t", message: "m" }), 400, /missing field 'roomId'/);
      await fails(post(srv, room, { title: "t", message: "m", roomId: 5 }), 400, /'roomId' must be a non-empty string/);
      await noneGot([a], "system:notification");
      assert.equal(a.rec.count("user:notification"), 0);
    });
  });

  describe("POST /api/data-update", () => {
    it("sends data:update {type, data, timestamp} to the chosen users, or to all", T, async () => {
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      const c = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });

      await ok(post(srv, "/api/data-update", { type: "orders", data: { id: 7 }, targetUsers: [a.id, b.id] }));
      for (const x of [a, b]) {
        const [u] = await x.rec.next("data:update");
        assertTimestamp(u.timestamp);
        assert.deepEqual({ ...u, timestamp: undefined }, { type: "orders", data: { id: 7 }, timestamp: undefined });
      }
      await noneGot([c, w], "data:update");

      await ok(post(srv, "/api/data-update", { type: "all", data: null }));
      for (const x of [a, b, c]) {
        const [u] = await x.rec.next("data:update");
        assert.equal(u.type, "all");
        assert.equal(u.data, null);
      }
      await noneGot([w], "data:update");

      await ok(post(srv, "/api/data-update", { type: "web", data: [1], namespace: "web" }));
      const [u] = await w.rec.next("data:update");
      assert.deepEqual(u.data, [1]);
      await noneGot([a], "data:update");
    });

    it("rejects bad input with 400", T, async () => {
      const a = await connectUser(srv, newUserId());
      const path = "/api/data-update";
      await fails(post(srv, path), 400, /JSON object body is required/);
      await fails(post(srv, path, "nope"), 400, /invalid JSON/);
      await fails(post(srv, path, "true"), 400, /must be a JSON object/);
      await fails(post(srv, path, { type: "t" }), 400, /missing field 'data'/);
      await fails(post(srv, path, { data: 1 }), 400, /missing field 'type'/);
      await fails(post(srv, path, { type: 1, data: 1 }), 400, /'type' must be a non-empty string/);
      await fails(post(srv, path, { type: "t", data: 1, targetUsers: 3 }), 400, /'targetUsers' must be an array of user ids/);
      await fails(post(srv, path, { type: "t", data: 1, targetUsers: [[1]] }), 400, /'targetUsers' must be a user id/);
      await fails(post(srv, path, { type: "t", data: 1, namespace: "nope" }), 400, /unknown namespace '\/nope'/);
      await noneGot([a], "data:update");
    });
  });

  describe("POST /api/events (the guide's business events)", () => {
    it("user.created: system:notification + user:created {user:{id, username, createdAt}} to everyone", T, async () => {
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });
      const createdAt = "2026-01-02T03:04:05.000Z";
      await ok(post(srv, "/api/events", {
        event: "user.created",
        payload: { user: { id: 77, username: "carol", createdAt, email: "not forwarded" } },
      }));
      for (const x of [a, b]) {
        const [n] = await x.rec.next("system:notification");
        assertNotification(n, { title: "新用户注册", message: "用户 carol 已成功注册", type: "info", data: { userId: 77 } });
        const [created] = await x.rec.next("user:created");
        assert.deepEqual(created, { user: { id: 77, username: "carol", createdAt } });
      }
      await noneGot([w], "user:created");
      assert.equal(w.rec.count("system:notification"), 0);

      await ok(post(srv, "/api/events", { event: "user.created", payload: { user: { id: "u-9" } } }));
      const [n] = await a.rec.next("system:notification");
      assertNotification(n, { title: "新用户注册", message: "用户  已成功注册", type: "info", data: { userId: "u-9" } });
      assert.deepEqual(await a.rec.next("user:created"), [{ user: { id: "u-9", username: "" } }],
        "no username: empty; no createdAt: left out");
    });

    it("user.login: system:notification + stats:online-users {total, users, timestamp}", T, async () => {
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      await ok(post(srv, "/api/events", {
        event: "user.login",
        payload: { user: { id: a.id, username: "alice" }, ip: "10.0.0.9" },
      }));
      for (const x of [a, b]) {
        const [n] = await x.rec.next("system:notification");
        assertNotification(n, {
          title: "用户登录",
          message: "用户 alice 从 10.0.0.9 登录",
          type: "info",
          data: { userId: a.id, ip: "10.0.0.9" },
        });
        const [stats] = await x.rec.next("stats:online-users");
        assertTimestamp(stats.timestamp);
        assert.ok(Array.isArray(stats.users));
        assert.equal(stats.total, stats.users.length);
        assert.ok(stats.users.includes(a.id) && stats.users.includes(b.id), JSON.stringify(stats));
      }
    });

    it("user.updated: user:profile:updated {user:{id, username, updatedAt}} to that user only", T, async () => {
      const id = newUserId();
      const u1 = await connectUser(srv, id);
      const u2 = await connectUser(srv, id);
      const other = await connectUser(srv, newUserId());
      const updatedAt = "2026-02-03T04:05:06.000Z";
      await ok(post(srv, "/api/events", {
        event: "user.updated",
        payload: { userId: id, user: { id, username: "renamed", updatedAt, password: "secret" } },
      }));
      for (const x of [u1, u2]) {
        const [p] = await x.rec.next("user:profile:updated");
        assert.deepEqual(p, { user: { id, username: "renamed", updatedAt } });
      }
      await noneGot([other], "user:profile:updated");

      await ok(post(srv, "/api/events", { event: "user.updated", payload: { userId: id } }));
      assert.deepEqual(await u1.rec.next("user:profile:updated"), [{ user: { id } }], "without user: just the id");
    });

    it("user.deleted: that user's sockets are disconnected, user:deleted {userId} to the others", T, async () => {
      const id = newUserId();
      const d1 = await connectUser(srv, id);
      const d2 = await connectUser(srv, id);
      const other = await connectUser(srv, newUserId());
      const third = await connectUser(srv, newUserId());
      await ok(post(srv, "/api/events", { event: "user.deleted", payload: { userId: id } }));
      for (const x of [d1, d2]) {
        assert.equal((await x.rec.next("disconnect"))[0], "io server disconnect");
        assert.equal(x.rec.count("user:deleted"), 0, "the deleted user's sockets were gone before user:deleted");
      }
      for (const x of [other, third]) {
        assert.deepEqual(await x.rec.next("user:deleted"), [{ userId: id }]);
      }
      await noneGot([other, third], "disconnect");
      await eventually(async () => (await presenceOf(srv, id)).online === false, "deleted user offline");
    });

    it("data.updated: data:update to targetUsers, or to all", T, async () => {
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      await ok(post(srv, "/api/events", {
        event: "data.updated",
        payload: { type: "dept", data: { n: 1 }, targetUsers: [b.id] },
      }));
      const [u] = await b.rec.next("data:update");
      assertTimestamp(u.timestamp);
      assert.equal(u.type, "dept");
      assert.deepEqual(u.data, { n: 1 });
      await noneGot([a], "data:update");

      await ok(post(srv, "/api/events", { event: "data.updated", payload: { type: "all", data: "x" } }));
      for (const x of [a, b]) {
        const [v] = await x.rec.next("data:update");
        assert.equal(v.type, "all");
        assert.equal(v.data, "x");
      }
    });

    it("system.warning and system.error: notifications of type warning and error", T, async () => {
      const a = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });
      await ok(post(srv, "/api/events", {
        event: "system.warning",
        payload: { message: "disk 91%", level: "high", data: { disk: 91 } },
      }));
      let [n] = await a.rec.next("system:notification");
      assertNotification(n, { title: "系统警告", message: "disk 91%", type: "warning", data: { disk: 91 } });

      await ok(post(srv, "/api/events", { event: "system.error", payload: { message: "db down", error: { code: "E1" } } }));
      [n] = await a.rec.next("system:notification");
      assertNotification(n, { title: "系统错误", message: "db down", type: "error", data: { code: "E1" } });

      await ok(post(srv, "/api/events", { event: "system.error", payload: { message: "no detail" } }));
      [n] = await a.rec.next("system:notification");
      assertNotification(n, { title: "系统错误", message: "no detail", type: "error" });
      await noneGot([w], "system:notification");

      await ok(post(srv, "/api/events", { event: "system.warning", payload: { message: "web", level: "low" }, namespace: "/web" }));
      [n] = await w.rec.next("system:notification");
      assertNotification(n, { title: "系统警告", message: "web", type: "warning" });
      await noneGot([a], "system:notification");
    });

    it("rejects bad input with 400 and has no effect", T, async () => {
      const a = await connectUser(srv, newUserId());
      const path = "/api/events";
      await fails(post(srv, path), 400, /JSON object body is required/);
      await fails(post(srv, path, "{'a':1}"), 400, /invalid JSON/);
      await fails(post(srv, path, "null"), 400, /must be a JSON object/);
      await fails(post(srv, path, { payload: {} }), 400, /missing field 'event'/);
      await fails(post(srv, path, { event: 5, payload: {} }), 400, /'event' must be a non-empty string/);
      await fails(post(srv, path, { event: "user.created" }), 400, /'payload' must be an object/);
      await fails(post(srv, path, { event: "user.created", payload: [1] }), 400, /'payload' must be an object/);
      await fails(post(srv, path, { event: "user.exploded", payload: {} }), 400,
        /unknown event user\.exploded \(user\.created, user\.login, user\.updated, user\.deleted, data\.updated, system\.warning, system\.error\)/);
      await fails(post(srv, path, { event: "user.created", payload: {} }), 400, /user\.created needs user/);
      await fails(post(srv, path, { event: "user.created", payload: { user: { username: "x" } } }), 400, /user\.created needs user/);
      await fails(post(srv, path, { event: "user.created", payload: { user: { id: null, username: "x" } } }), 400,
        /user\.created needs user/);
      await fails(post(srv, path, { event: "user.login", payload: { ip: "1.2.3.4" } }), 400, /user\.login needs user/);
      await fails(post(srv, path, { event: "user.login", payload: { user: { id: {} }, ip: "1.2.3.4" } }), 400,
        /user\.login needs user/);
      await fails(post(srv, path, { event: "user.updated", payload: { user: { id: 1 } } }), 400, /user\.updated needs userId/);
      await fails(post(srv, path, { event: "user.updated", payload: { userId: false } }), 400, /user\.updated needs userId/);
      await fails(post(srv, path, { event: "user.deleted", payload: {} }), 400, /user\.deleted needs userId/);
      await fails(post(srv, path, { event: "data.updated", payload: { data: 1 } }), 400, /data\.updated needs type/);
      await fails(post(srv, path, { event: "data.updated", payload: { type: 2, data: 1 } }), 400, /data\.updated needs type/);
      await fails(post(srv, path, { event: "data.updated", payload: { type: "t" } }), 400, /data\.updated needs type \(string\) and data/);
      await fails(post(srv, path, { event: "data.updated", payload: { type: "t", data: 1, targetUsers: 5 } }), 400,
        /data\.updated: targetUsers must be an array of user ids/);
      await fails(post(srv, path, { event: "data.updated", payload: { type: "t", data: 1, targetUsers: [null] } }), 400,
        /data\.updated: targetUsers must be an array of user ids/);
      await fails(post(srv, path, { event: "system.warning", payload: { level: "x" } }), 400, /system\.warning needs message/);
      await fails(post(srv, path, { event: "system.warning", payload: { message: "m", level: "x" } }), 400,
        /system\.warning needs message \(string\) and level \(low, medium or high\)/);
      await fails(post(srv, path, { event: "user.login", payload: { user: { id: 1, username: "a" } } }), 400,
        /user\.login needs ip/);
      await fails(post(srv, path, { event: "system.error", payload: { message: 1 } }), 400, /system\.error needs message/);
      await fails(post(srv, path, { event: "system.error", payload: { message: "m" }, namespace: "nope" }), 400,
        /unknown namespace '\/nope'/);
      await fails(post(srv, path, { event: "user.deleted", payload: { userId: a.id }, namespace: "nope" }), 400,
        /unknown namespace '\/nope'/);
      await noneGot([a], "system:notification");
      for (const e of ["disconnect", "user:created", "user:deleted", "data:update", "stats:online-users"]) {
        assert.equal(a.rec.count(e), 0, `no ${e}`);
      }
      assert.ok(a.socket.connected);
    });
  });

  describe("POST /api/batch (default: 100 messages or every 1 s)", () => {
    it("answers 202 {queued} and delivers to all, a user or a room within about a second", T, async () => {
      const room = uniq("room");
      const a = await connectUser(srv, newUserId());
      const b = await connectUser(srv, newUserId());
      const w = await connectUser(srv, newUserId(), { nsp: "/web" });
      await join(b, room);
      const e = uniq("batch");
      const started = Date.now();
      const res = await post(srv, "/api/batch", {
        messages: [
          { event: e, data: "all" },
          { event: e, data: "to-a", userId: a.id },
          { event: e, data: "to-room", roomId: room },
          { event: e, data: "web", namespace: "web" },
        ],
      });
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(res.json, { queued: 4 });
      const gotA = (await a.rec.take(e, 2, 2500)).map((args) => args[0]);
      const gotB = (await b.rec.take(e, 2, 2500)).map((args) => args[0]);
      const gotW = (await w.rec.take(e, 1, 2500)).map((args) => args[0]);
      const elapsed = Date.now() - started;
      assert.deepEqual(gotA, ["all", "to-a"]);
      assert.deepEqual(gotB, ["all", "to-room"]);
      assert.deepEqual(gotW, ["web"]);
      assert.ok(elapsed <= 1800, `delivered within the 1 s batch interval (took ${elapsed} ms)`);
      await noneGot([a, b, w], e);

      const q = await post(srv, "/api/batch?namespace=web", { messages: [{ event: e, data: "q" }, { event: e, data: "adm", namespace: "admin" }] });
      assert.equal(q.status, 202, q.text);
      assert.deepEqual(await w.rec.next(e, 2500), ["q"], "the query's namespace is the messages' default");
      assert.deepEqual(await a.rec.next(e, 2500), ["adm"]);
      await noneGot([a, w], e);
    });

    it("rejects bad input with 400 and queues nothing of a rejected batch", T, async () => {
      const a = await connectUser(srv, newUserId());
      const e = uniq("batch");
      const path = "/api/batch";
      await fails(post(srv, path), 400, /JSON object body is required/);
      await fails(post(srv, path, "{]"), 400, /invalid JSON/);
      await fails(post(srv, path, "[{}]"), 400, /must be a JSON object/);
      await fails(post(srv, path, {}), 400, /'messages' must be a non-empty array/);
      await fails(post(srv, path, { messages: [] }), 400, /'messages' must be a non-empty array/);
      await fails(post(srv, path, { messages: { event: e } }), 400, /'messages' must be a non-empty array/);
      await fails(post(srv, path, { messages: [5] }), 400, /messages\[0\] must be an object/);
      await fails(post(srv, path, { messages: [{ event: e }, {}] }), 400, /messages\[1\]: missing field 'event'/);
      await fails(post(srv, path, { messages: [{ event: e }, { event: 3 }] }), 400, /messages\[1\]: field 'event' must be a non-empty string/);
      await fails(post(srv, path, { messages: [{ event: e, userId: true }] }), 400, /messages\[0\]: field 'userId' must be a user id/);
      await fails(post(srv, path, { messages: [{ event: e, roomId: 5 }] }), 400, /messages\[0\]: field 'roomId' must be a non-empty string/);
      await fails(post(srv, path, { messages: [{ event: e, namespace: "nope" }] }), 400, /messages\[0\]: unknown namespace '\/nope'/);
      // the first message was valid, but the batch was refused: nothing is delivered after the interval
      await sleep(1300);
      assert.equal(a.rec.count(e), 0, "no message of a refused batch is sent");
    });
  });

  describe("unknown endpoints", () => {
    it("answer 404 with {error}, whatever the method or body", T, async () => {
      await fails(get(srv, "/api/nope"), 404, /no such endpoint: \/api\/nope/);
      await fails(post(srv, "/api/nope", { event: "x" }), 404, /no such endpoint: \/api\/nope/);
      await fails(post(srv, "/api/nope"), 404, /no such endpoint/);
      await fails(post(srv, "/api/nope", "{broken"), 404, /no such endpoint/);
      await fails(post(srv, "/api/health"), 404, /no such endpoint: \/api\/health/);
      await fails(get(srv, "/api/emit"), 404, /no such endpoint: \/api\/emit/);
      await fails(request(srv, "DELETE", "/api/presence"), 404, /no such endpoint/);
      await fails(request(srv, "PUT", "/api/emit", { event: "x" }), 404, /no such endpoint/);
      await fails(get(srv, "/api/presence/users/"), 404, /no such endpoint/);
      await fails(post(srv, "/api/users//disconnect"), 404, /no such endpoint/);
      const outside = await get(srv, "/nope");
      assert.equal(outside.status, 404);
    });
  });
});

describe("the API with --api-key", () => {
  const KEY = "k-" + crypto.randomBytes(8).toString("hex");
  let srv;
  before(async () => {
    srv = await startIogate(["--api-key", KEY]);
  });
  after(async () => {
    closeAll();
    if (srv) await srv.stop();
  });
  afterEach(() => {
    closeAll();
    srv.assertAlive();
  });

  it("refuses requests without the key or with a wrong key (401), on every endpoint", T, async () => {
    const a = await connectUser(srv, newUserId());
    const e = uniq("ev");
    const wrong = [
      {},
      { "X-API-Key": "wrong" },
      { "X-API-Key": KEY + "x" },
      { "X-API-Key": KEY.slice(0, -1) },
      { Authorization: "Bearer wrong" },
      { Authorization: `Basic ${KEY}` },
      { Authorization: KEY },
      { Authorization: `bearer${KEY}` },
    ];
    for (const headers of wrong) {
      await fails(get(srv, "/api/health", headers), 401, /API key/);
      await fails(get(srv, "/api/presence", headers), 401, /API key/);
      await fails(get(srv, `/api/presence/users/${a.id}`, headers), 401, /API key/);
      await fails(post(srv, `/api/users/${a.id}/disconnect`, undefined, headers), 401, /API key/);
      await fails(post(srv, "/api/emit", { event: e }, headers), 401, /API key/);
      await fails(post(srv, "/api/notifications/system", { title: "t", message: "m" }, headers), 401, /API key/);
      await fails(post(srv, "/api/notifications/users", { userId: a.id, title: "t", message: "m" }, headers), 401, /API key/);
      await fails(post(srv, "/api/notifications/room", { roomId: "r", title: "t", message: "m" }, headers), 401, /API key/);
      await fails(post(srv, "/api/data-update", { type: "t", data: 1 }, headers), 401, /API key/);
      await fails(post(srv, "/api/events", { event: "user.deleted", payload: { userId: a.id } }, headers), 401, /API key/);
      await fails(post(srv, "/api/batch", { messages: [{ event: e }] }, headers), 401, /API key/);
      await fails(get(srv, "/api/nope", headers), 401, /API key/);
    }
    await noneGot([a], e);
    assert.ok(a.socket.connected, "the refused disconnect and user.deleted did nothing");
    assert.equal(a.rec.count("system:notification"), 0);
    assert.equal(a.rec.count("data:update"), 0);
  });

  it("accepts the key as X-API-Key or Authorization: Bearer", T, async () => {
    const a = await connectUser(srv, newUserId());
    const h1 = await get(srv, "/api/health", { "X-API-Key": KEY });
    assert.equal(h1.status, 200, h1.text);
    assert.equal(h1.json.status, "ok");
    const h2 = await get(srv, "/api/health", { Authorization: `Bearer ${KEY}` });
    assert.equal(h2.status, 200, h2.text);
    const e1 = uniq("ev");
    await ok(post(srv, "/api/emit", { event: e1, data: 1 }, { "X-API-Key": KEY }));
    assert.deepEqual(await a.rec.next(e1), [1]);
    const e2 = uniq("ev");
    await ok(post(srv, "/api/emit", { event: e2, data: 2 }, { Authorization: `Bearer ${KEY}` }));
    assert.deepEqual(await a.rec.next(e2), [2]);
    const p = await get(srv, `/api/presence/users/${a.id}`, { "x-api-key": KEY });
    assert.equal(p.json.online, true);
    // a wrong X-API-Key does not matter when the Bearer one is right
    const both = await get(srv, "/api/health", { "X-API-Key": "wrong", Authorization: `Bearer ${KEY}` });
    assert.equal(both.status, 200, both.text);
    // with the key, errors are the usual ones
    await fails(post(srv, "/api/emit", {}, { "X-API-Key": KEY }), 400, /missing field 'event'/);
    await fails(get(srv, "/api/nope", { "X-API-Key": KEY }), 404, /no such endpoint/);
  });
});

describe("POST /api/batch with --batch-size 3 --batch-interval 60000", () => {
  let srv;
  before(async () => {
    srv = await startIogate(["--batch-size", "3", "--batch-interval", "60000"]);
  });
  after(async () => {
    closeAll();
    if (srv) await srv.stop();
  });
  afterEach(() => {
    closeAll();
    srv.assertAlive();
  });

  it("holds fewer than 3 messages; the 3rd sends the batch, in order", T, async () => {
    const a = await connectUser(srv, newUserId());
    const e = uniq("batch");
    for (const n of [1, 2]) {
      const res = await post(srv, "/api/batch", { messages: [{ event: e, data: n }] });
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(res.json, { queued: 1 });
    }
    await sleep(800);
    assert.equal(a.rec.count(e), 0, "two queued messages wait (the interval is a minute)");
    const res = await post(srv, "/api/batch", { messages: [{ event: e, data: 3, userId: a.id }] });
    assert.equal(res.status, 202, res.text);
    const got = (await a.rec.take(e, 3, 2000)).map((args) => args[0]);
    assert.deepEqual(got, [1, 2, 3]);
  });

  it("sends full batches of one request and keeps the rest", T, async () => {
    const a = await connectUser(srv, newUserId());
    const e = uniq("batch");
    const res = await post(srv, "/api/batch", { messages: [1, 2, 3, 4, 5, 6, 7].map((n) => ({ event: e, data: n })) });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(res.json, { queued: 7 });
    const got = (await a.rec.take(e, 6, 2000)).map((args) => args[0]);
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
    await sleep(QUIET_MS);
    assert.equal(a.rec.count(e), 0, "the 7th message waits for two more");
    await post(srv, "/api/batch", { messages: [{ event: e, data: 8 }, { event: e, data: 9 }] });
    const rest = (await a.rec.take(e, 3, 2000)).map((args) => args[0]);
    assert.deepEqual(rest, [7, 8, 9]);
  });
});

describe("POST /api/batch with --batch-size 0", () => {
  let srv;
  before(async () => {
    srv = await startIogate(["--batch-size", "0", "--batch-interval", "60000"]);
  });
  after(async () => {
    closeAll();
    if (srv) await srv.stop();
  });

  it("sends at once (no batching) instead of hanging", T, async () => {
    const a = await connectUser(srv, newUserId());
    const e = uniq("batch");
    const res = await post(srv, "/api/batch", { messages: [{ event: e, data: "now" }] });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(await a.rec.next(e, 2000), ["now"]);
    assert.equal((await get(srv, "/api/health")).status, 200, "the server still answers");
  });
});

describe("starting with the API off loopback", () => {
  it("refuses --api-host 0.0.0.0 without --api-key (non-zero exit, says api-key)", T, async () => {
    const apiPort = await freePort();
    const r = await runToExit(["--port", "0", "--api-port", String(apiPort), "--api-host", "0.0.0.0", "--jwt-secret", SECRET]);
    assert.notEqual(r.code, 0, `exit code must be non-zero: ${JSON.stringify(r)}`);
    assert.equal(r.signal, null, `it exits by itself: ${JSON.stringify(r)}`);
    assert.match(r.output, /api-key/);
    assert.doesNotMatch(r.output, /iogate listening on port/);
  });

  it("refuses --api-host 0.0.0.0 without --api-key on the default API port too", T, async () => {
    const r = await runToExit(["--port", "0", "--api-host", "0.0.0.0", "--jwt-secret", SECRET]);
    assert.notEqual(r.code, 0, `exit code must be non-zero: ${JSON.stringify(r)}`);
    assert.match(r.output, /api-key/);
    assert.doesNotMatch(r.output, /listening on port/);
  });

  it("starts on 0.0.0.0 with --api-key and then requires the key", T, async () => {
    const srv = await startIogate(["--api-host", "0.0.0.0", "--api-key", "secret-key"]);
    try {
      await fails(get(srv, "/api/health"), 401, /API key/);
      const res = await get(srv, "/api/health", { "X-API-Key": "secret-key" });
      assert.equal(res.status, 200, res.text);
    } finally {
      await srv.stop();
    }
  });
});
