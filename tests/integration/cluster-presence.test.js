"use strict";
// The iogate gateway (the `iogate` binary) as a cluster: two and three nodes on one throwaway
// redis-server (lib/redis.js), started with --redis-url and the key nest-admin-socket, clients
// (socket.io-client 4.8.4, WebSocket) on /admin and /web. What the cluster must keep as one
// server would:
//
//   1. user:online once per user cluster-wide, at the first connection on any node, seen once by
//      an observer on every node; not for a second connection on another node; user:offline
//      once at the last connection anywhere (src/app/presence/redis_presence.*: one Lua script
//      per decision);
//   2. the per-user connection cap across nodes (refuse, and evict-oldest evicting on the other
//      node);
//   3. the rate limit shared across nodes (one Redis counter per user, namespace and event);
//   4. a node killed with SIGKILL: its users go offline once, announced by a survivor's sweep
//      (heartbeat every 5 s, 15 s TTL), and a user with a connection on a survivor stays online;
//   5. force-disconnect through one node's HTTP API reaching the user's sockets on the others,
//      and the presence API answering cluster-wide on every node;
//   6. live data (--live-interval 1) once per second per client, not once per node;
//   7. Redis killed and restarted on the same port: connections stay, presence is re-synced.
//
// Each describe block starts its own redis-server and nodes (port 0, the API on a free port).
// Measured times (crash sweep, re-sync) are printed with a "# measured" prefix.

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { io } = require("socket.io-client");
const { createClient } = require("redis");

const { hsToken, cleanEnv } = require("./lib/gateway");
const { startServer } = require("./lib/server");
const { startRedis } = require("./lib/redis");
const { track, closeAll } = require("./lib/clients");
const { QUIET_MS, sleep, withTimeout, connectRefused } = require("./lib/util");

const T = { timeout: 60_000 };
// The deadline for anything that should happen soon (IOGATE_TEST_WAIT_MS overrides it).
const WAIT_MS = Number(process.env.IOGATE_TEST_WAIT_MS || 3000);
const SECRET = "cluster-presence-secret-0123456789";
const KEY = "nest-admin-socket";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
// Within one node a duplicate would come at once; across nodes it crosses Redis twice at most.
const CROSS_QUIET_MS = Math.max(QUIET_MS, 500);
// What the node sweep may take after a SIGKILL: the heartbeat TTL (15 s) plus a heartbeat
// interval (5 s) and slack. The brief bounds it at about 30 s.
const SWEEP_BOUND_MS = 30_000;
const HEARTBEAT_INTERVAL_MS = 5_000;
// Redis back -> presence re-synced: both links reconnect with a backoff of at most 1 s, then
// each node records its live connections.
const RESYNC_BOUND_MS = 10_000;
const POLL_MS = 25;

function log(line) {
  process.stdout.write(`# measured: ${line}\n`);
}

// ---------------------------------------------------------------- tokens and users

function token(user) {
  const now = Math.floor(Date.now() / 1000);
  return hsToken({ id: user.id, username: user.username, status: 1, iat: now, exp: now + 3600 }, { secret: SECRET });
}

// Fresh ids per user, so that presence and rate-limit state never leak between tests.
let nextUser = 7000 + (process.pid % 1000) * 100;
function newUser(name) {
  nextUser += 1;
  return { id: nextUser, username: `${name}${nextUser}` };
}

// ---------------------------------------------------------------- servers

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** One HTTP request to a node's API; resolves {status, json, text}. */
async function api(node, method, path, body) {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function presence(node, nsp = "/admin") {
  const res = await api(node, "GET", `/api/presence?namespace=${encodeURIComponent(nsp)}`);
  assert.equal(res.status, 200, `${node.name}: GET /api/presence: ${res.text}`);
  return res.json;
}

async function userPresence(node, userId, nsp = "/admin") {
  const res = await api(node, "GET", `/api/presence/users/${encodeURIComponent(userId)}?namespace=${encodeURIComponent(nsp)}`);
  assert.equal(res.status, 200, `${node.name}: GET /api/presence/users/${userId}: ${res.text}`);
  return res.json;
}

/** Retries `check` (which throws or returns falsy until satisfied) until `ms` have passed. */
async function eventually(check, ms, label) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== undefined && value !== null) return value;
      last = new Error(`returned ${JSON.stringify(value)}`);
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms: ${label}: ${last && last.message}`);
    await sleep(POLL_MS * 4);
  }
}

class Cluster {
  /**
   * @param {string} label
   * @param {{nodes?: number, args?: string[], live?: boolean}} options
   */
  constructor(label, { nodes = 2, args = [], live = false } = {}) {
    this.label = label;
    this.count = nodes;
    this.args = args;
    this.live = live;
    this.nodes = [];
  }

  async start() {
    this.redis = await startRedis();
    this.redisClient = createClient({ url: this.redis.url, socket: { reconnectStrategy: () => 100 } });
    this.redisClient.on("error", () => {});
    await this.redisClient.connect();
    const names = ["A", "B", "C", "D"].slice(0, this.count);
    const started = await Promise.allSettled(names.map((name) => this.startNode(name)));
    for (const result of started) if (result.status === "fulfilled") this.nodes.push(result.value);
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    await this.ready();
  }

  async startNode(name) {
    const apiPort = await freePort();
    const args = [
      "--host", "127.0.0.1",
      "--api-port", String(apiPort),
      "--jwt-secret", SECRET,
      "--redis-url", this.redis.url,
      "--redis-key", KEY,
      ...(this.live ? [] : ["--live-interval", "0"]),
      ...this.args,
    ];
    const srv = await startServer("gateway", { args, env: cleanEnv() });
    const node = { name, srv, apiPort, url: srv.url, killed: false };
    await eventually(async () => (await api(node, "GET", "/api/health")).status === 200, WAIT_MS, `${name}: API answers`);
    return node;
  }

  /** Every live node subscribes the request channels of /admin and /web. */
  async ready() {
    const alive = this.nodes.filter((n) => !n.killed).length;
    for (const nsp of ["/admin", "/web"]) {
      const channel = `${KEY}-request#${nsp}#`;
      await eventually(
        async () => Number((await this.redisClient.sendCommand(["PUBSUB", "NUMSUB", channel]))[1]) >= alive,
        WAIT_MS,
        `${alive} node(s) subscribed to ${channel}`,
      );
    }
  }

  node(name) {
    return this.nodes.find((n) => n.name === name);
  }

  /** SIGKILL, as a crash: the node leaves its records and heartbeat behind. */
  async kill(name) {
    const node = this.node(name);
    node.killed = true;
    const exited = new Promise((resolve) => {
      if (node.srv.exitInfo()) resolve();
      else node.srv.child.once("exit", resolve);
    });
    node.srv.child.kill("SIGKILL");
    await withTimeout(exited, WAIT_MS, `${name} to exit after SIGKILL`);
  }

  assertAlive() {
    for (const node of this.nodes) if (!node.killed) node.srv.assertAlive();
    this.redis?.assertAlive();
  }

  async stop() {
    closeAll();
    if (process.env.IOGATE_TEST_VERBOSE) {
      // iogate logs to stdout, which lib/server.js keeps but does not forward.
      for (const node of this.nodes) process.stderr.write(`--- ${this.label} node ${node.name} ---\n${node.srv.output()}\n`);
    }
    const results = await Promise.allSettled(this.nodes.filter((n) => !n.killed).map((n) => n.srv.stop()));
    if (this.redisClient?.isOpen) await this.redisClient.disconnect().catch(() => {});
    await this.redis?.stop();
    const failure = results.find((r) => r.status === "rejected");
    if (failure) throw failure.reason;
  }
}

// ---------------------------------------------------------------- clients

/**
 * A client that records every event it receives (onAny), with its arrival time, plus
 * "disconnect". Counting from the record never misses an event that came before the wait.
 */
class Client {
  constructor(socket, user, label, nsp) {
    this.socket = socket;
    this.user = user;
    this.label = label;
    this.nsp = nsp;
    this.items = [];
    socket.onAny((event, ...args) => this.items.push({ event, args, at: Date.now() }));
    socket.on("disconnect", (reason) => this.items.push({ event: "disconnect", args: [reason], at: Date.now() }));
  }

  /** The first argument of every recorded `event` for which `pred(payload)` holds. */
  all(event, pred = () => true) {
    return this.items.filter((i) => i.event === event && pred(i.args[0])).map((i) => i.args[0]);
  }

  count(event, pred) {
    return this.all(event, pred).length;
  }

  /** Waits (bounded) until `n` matching `event`s were recorded; resolves with them. */
  async waitFor(event, pred = () => true, { n = 1, ms = WAIT_MS } = {}) {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = this.all(event, pred);
      if (got.length >= n) return got;
      if (Date.now() >= deadline) {
        throw new Error(
          `${this.label}: timed out after ${ms} ms waiting for ${n} "${event}" (got ${got.length}; ` +
            `recorded: ${JSON.stringify(this.items.map((i) => [i.event, i.args[0]]).slice(-10))})`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  clear() {
    this.items = [];
  }

  ping(ms = WAIT_MS) {
    return this.socket.timeout(ms).emitWithAck("ping");
  }
}

const about = (user) => (payload) => payload && payload.userId === user.id;

function socketFor(node, nsp, user) {
  return track(
    io(node.url + nsp, {
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      timeout: WAIT_MS,
      transports: ["websocket"],
      auth: { token: token(user) },
    }),
  );
}

/** Connects `user` to `nsp` on `node`; waits for "connect" and the gateway's "connected". */
async function connectAs(node, user, label, nsp = "/admin") {
  const socket = socketFor(node, nsp, user);
  const client = new Client(socket, user, `${label}@${node.name}${nsp}`, nsp);
  const connected = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (err) =>
      reject(new Error(`${client.label}: refused: ${err.message} ${JSON.stringify(err.data)}`)),
    );
  });
  socket.connect();
  await withTimeout(connected, WAIT_MS, `${client.label}: connect`);
  const [hello] = await client.waitFor("connected");
  assert.deepEqual(hello.user, { id: user.id, username: user.username }, `${client.label}: connected`);
  return client;
}

/** Connects expecting a refusal; resolves with the connect_error. */
async function refusedAs(node, user, nsp = "/admin") {
  return connectRefused(socketFor(node, nsp, user), `${user.username}@${node.name}${nsp}`, WAIT_MS);
}

/** A fresh observer user on `node`; waits until its own user:online came and a quiet spell. */
async function observer(node, nsp = "/admin") {
  const c = await connectAs(node, newUser(`obs${node.name}`), "observer", nsp);
  await c.waitFor("user:online", about(c.user));
  return c;
}

/** Observers on the given nodes, with their records cleared once everyone's announcements are in. */
async function observers(nodes, nsp = "/admin") {
  const list = [];
  for (const node of nodes) list.push(await observer(node, nsp));
  // Each observer's user:online reaches itself and the observers connected before it.
  for (const [i, o] of list.entries()) {
    for (const other of list.slice(i)) await o.waitFor("user:online", about(other.user));
  }
  await sleep(CROSS_QUIET_MS);
  for (const o of list) o.clear();
  return list;
}

function assertPresencePayload(payload, user, what, { username = true } = {}) {
  assert.deepEqual(Object.keys(payload).sort(), ["timestamp", "userId", "username"], `${what}: fields`);
  assert.strictEqual(payload.userId, user.id, `${what}: userId`);
  if (username) assert.equal(payload.username, user.username, `${what}: username`);
  assert.match(payload.timestamp, ISO_RE, `${what}: timestamp`);
}

/** Every observer has exactly one `event` about `user` (waited for, then a quiet spell). */
async function exactlyOnce(obs, event, user, { ms = WAIT_MS, quiet = CROSS_QUIET_MS, username = true } = {}) {
  for (const o of obs) await o.waitFor(event, about(user), { ms });
  await sleep(quiet);
  const payloads = [];
  for (const o of obs) {
    const got = o.all(event, about(user));
    assert.equal(got.length, 1, `${o.label}: exactly one "${event}" for ${user.username}, got ${JSON.stringify(got)}`);
    assertPresencePayload(got[0], user, `${o.label}: ${event}`, { username });
    payloads.push(got[0]);
  }
  return payloads;
}

/** No observer has (or gets within `quiet`) an `event` about `user`. */
async function none(obs, event, user, quiet = CROSS_QUIET_MS) {
  await sleep(quiet);
  for (const o of obs) {
    const got = o.all(event, about(user));
    assert.deepEqual(got, [], `${o.label}: no "${event}" for ${user.username}`);
  }
}

// ================================================================ tests

describe("presence across three iogate nodes (user:online / user:offline, presence API, force-disconnect)", () => {
  const cluster = new Cluster("three", { nodes: 3, args: ["--rate-limit", "1000"] });
  before(() => cluster.start());
  after(() => cluster.stop());
  afterEach(() => {
    closeAll();
    cluster.assertAlive();
  });

  it("user:online once per observer on every node at the first connection; not for a 2nd connection elsewhere; user:offline once at the last", T, async () => {
    const [A, B, C] = cluster.nodes;
    const obs = await observers([A, B, C]);
    const u = newUser("alice");

    const first = await connectAs(B, u, "alice#1");
    await exactlyOnce(obs, "user:online", u);
    // the broadcast reaches the new connection itself too, as on one node
    assert.equal(first.count("user:online", about(u)), 1, "alice#1 hears its own user:online once");

    const second = await connectAs(C, u, "alice#2");
    await sleep(CROSS_QUIET_MS);
    for (const o of obs) assert.equal(o.count("user:online", about(u)), 1, `${o.label}: no user:online for the 2nd connection`);
    assert.equal(first.count("user:online", about(u)), 1, "alice#1 is not told again");
    assert.equal(second.count("user:online", about(u)), 0, "a second connection is not announced to itself either");

    first.socket.disconnect(); // on B; alice still has C
    await none(obs, "user:offline", u);
    assert.equal((await userPresence(A, u.id)).online, true, "still online with one connection on C");

    second.socket.disconnect(); // on C: the last one anywhere
    await exactlyOnce(obs, "user:offline", u);
    for (const o of obs) assert.equal(o.count("user:online", about(u)), 1, `${o.label}: no second user:online`);

    // back online later: announced again, once, also when the first connection is on A
    const again = await connectAs(A, u, "alice#3");
    for (const o of obs) await o.waitFor("user:online", about(u), { n: 2 });
    await sleep(CROSS_QUIET_MS);
    for (const o of obs) assert.equal(o.count("user:online", about(u)), 2, `${o.label}: online, offline, online`);
    again.socket.disconnect();
    for (const o of obs) await o.waitFor("user:offline", about(u), { n: 2 });
  });

  it("simultaneous first connections on three nodes: one user:online; simultaneous closes: one user:offline", T, async () => {
    const [A, B, C] = cluster.nodes;
    const obs = await observers([A, B, C]);
    const u = newUser("race");
    const conns = await Promise.all([A, B, C].map((node, i) => connectAs(node, u, `race#${i}`)));
    await exactlyOnce(obs, "user:online", u);
    for (const c of conns) c.socket.disconnect();
    await exactlyOnce(obs, "user:offline", u);
  });

  it("presence is per namespace across nodes: a /web connection is not announced on /admin", T, async () => {
    const [A, B] = cluster.nodes;
    const admin = await observers([A, B], "/admin");
    const web = await observers([A, B], "/web");
    const u = newUser("nsp");
    const a = await connectAs(A, u, "nsp", "/admin");
    await exactlyOnce(admin, "user:online", u);
    await none(web, "user:online", u, 0);
    const w = await connectAs(B, u, "nsp", "/web");
    await exactlyOnce(web, "user:online", u);
    for (const o of admin) assert.equal(o.count("user:online", about(u)), 1, `${o.label}: /admin is not told about /web`);
    a.socket.disconnect();
    await exactlyOnce(admin, "user:offline", u);
    await none(web, "user:offline", u, 0);
    w.socket.disconnect();
    await exactlyOnce(web, "user:offline", u);
  });

  it("the presence API of every node answers cluster-wide: users, connection counts, per-user connections", T, async () => {
    const [A, B, C] = cluster.nodes;
    const x = newUser("x");
    const y = newUser("y");
    const x1 = await connectAs(A, x, "x#1");
    const x2 = await connectAs(B, x, "x#2");
    const x3 = await connectAs(C, x, "x#3");
    const y1 = await connectAs(C, y, "y#1");
    const webOnly = await connectAs(B, newUser("w"), "w", "/web");

    for (const node of [A, B, C]) {
      const all = await eventually(async () => {
        const p = await presence(node);
        return p.users.includes(x.id) && p.users.includes(y.id) && p.connections === 4 ? p : null;
      }, WAIT_MS, `${node.name}: /api/presence lists x and y with 4 connections`);
      assert.equal(all.namespace, "/admin");
      assert.deepEqual([...all.users].sort((a, b) => a - b), [x.id, y.id], `${node.name}: users`);
      assert.equal(all.total, 2, `${node.name}: total`);
      assert.equal(all.connections, 4, `${node.name}: connections cluster-wide`);

      const px = await userPresence(node, x.id);
      assert.equal(px.online, true);
      assert.deepEqual(px.connections.map((c) => c.socketId).sort(), [x1, x2, x3].map((c) => c.socket.id).sort(),
        `${node.name}: x's connections on A, B and C`);
      for (const c of px.connections) assert.match(c.since, ISO_RE);
      const since = px.connections.map((c) => Date.parse(c.since));
      assert.deepEqual(since, [...since].sort((a, b) => a - b), "oldest first");
      const py = await userPresence(node, y.id);
      assert.deepEqual(py.connections.map((c) => c.socketId), [y1.socket.id]);

      const web = await presence(node, "/web");
      assert.deepEqual(web.users, [webOnly.user.id], `${node.name}: /web users`);
      assert.equal(web.connections, 1);
    }

    x2.socket.disconnect();
    for (const node of [A, C]) {
      await eventually(async () => (await userPresence(node, x.id)).connections.length === 2, WAIT_MS,
        `${node.name}: x down to 2 connections`);
      assert.equal((await presence(node)).connections, 3);
    }
  });

  it("force-disconnect through node A's API disconnects the user's sockets on B and C; user:offline once", T, async () => {
    const [A, B, C] = cluster.nodes;
    const obs = await observers([A, B, C]);
    const v = newUser("victim");
    const bystander = newUser("bystander");
    const onB = await connectAs(B, v, "victim#1");
    const onC = await connectAs(C, v, "victim#2");
    const onCweb = await connectAs(C, v, "victim#web", "/web");
    const other = await connectAs(B, bystander, "bystander");
    await exactlyOnce(obs, "user:online", v);

    const res = await api(A, "POST", `/api/users/${v.id}/disconnect`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true, namespace: "/admin", userId: v.id });

    for (const c of [onB, onC]) {
      const [reason] = await c.waitFor("disconnect");
      assert.equal(reason, "io server disconnect", `${c.label}: disconnect reason`);
    }
    await exactlyOnce(obs, "user:offline", v);
    assert.ok(other.socket.connected, "the bystander stays");
    assert.equal(other.count("disconnect"), 0);
    assert.equal(onCweb.socket.connected, true, "/web is another namespace");
    assert.equal(await onCweb.ping(), "pong");

    for (const node of [A, B, C]) {
      const p = await eventually(async () => {
        const q = await userPresence(node, v.id);
        return q.online === false ? q : null;
      }, WAIT_MS, `${node.name}: the victim is offline`);
      assert.deepEqual(p.connections, []);
      assert.ok(!(await presence(node)).users.includes(v.id));
      assert.equal((await userPresence(node, v.id, "/web")).online, true, `${node.name}: still online in /web`);
    }
  });
});

describe("a node killed with SIGKILL: the survivors' sweep (heartbeat 5 s, TTL 15 s)", () => {
  const cluster = new Cluster("crash", { nodes: 3, args: ["--rate-limit", "1000"] });
  before(() => cluster.start());
  after(() => cluster.stop());
  afterEach(() => {
    closeAll();
    cluster.assertAlive();
  });

  const seen = {};

  it("its users get user:offline once on the survivors within the heartbeat timeout; a user also on a survivor stays online", { timeout: 90_000 }, async () => {
    const [A, B, C] = cluster.nodes;
    const obs = await observers([A, B]);
    const gone = newUser("gone"); // only on C
    const gone2 = newUser("gone2"); // twice on C, and on C's /web
    const stays = newUser("stays"); // on C and on A
    const goneConns = [await connectAs(C, gone, "gone"), await connectAs(C, gone2, "gone2#1"), await connectAs(C, gone2, "gone2#2")];
    const webObs = await observers([B], "/web");
    await connectAs(C, gone2, "gone2#web", "/web");
    const staysOnC = await connectAs(C, stays, "stays#C");
    const staysOnA = await connectAs(A, stays, "stays#A");
    for (const u of [gone, gone2, stays]) await exactlyOnce(obs, "user:online", u);
    await exactlyOnce(webObs, "user:online", gone2);
    await eventually(async () => (await presence(A)).connections === 2 + 5, WAIT_MS, "7 /admin connections recorded");

    // C's node id, from the record of its socket, to watch its heartbeat key expire.
    const record = await cluster.redisClient.hGet(`${KEY}:presence:/admin:user:${gone.id}`, goneConns[0].socket.id);
    assert.ok(record, "gone's connection is recorded under the cluster key");
    const nodeC = record.split(" ")[1];
    const heartbeatKey = `${KEY}:node:${nodeC}`;
    const ttl = await cluster.redisClient.pTTL(heartbeatKey);
    assert.ok(ttl > 0 && ttl <= 15_000, `C's heartbeat key has a TTL of at most 15 s (PTTL ${ttl})`);

    for (const o of [...obs, ...webObs]) o.clear();
    const killedAt = Date.now();
    await cluster.kill("C");
    for (const c of [...goneConns, staysOnC]) await c.waitFor("disconnect");

    // Until the sweep, C's users are still recorded: nobody is told anything yet.
    for (const o of obs) assert.equal(o.count("user:offline"), 0, `${o.label}: nothing is announced before the sweep`);

    let heartbeatGoneAt = null;
    const watch = (async () => {
      while (heartbeatGoneAt === null && Date.now() - killedAt < SWEEP_BOUND_MS) {
        if ((await cluster.redisClient.exists(heartbeatKey)) === 0) heartbeatGoneAt = Date.now();
        else await sleep(100);
      }
    })();
    for (const o of obs) await o.waitFor("user:offline", about(gone), { ms: SWEEP_BOUND_MS - (Date.now() - killedAt) });
    const sweptAt = Date.now();
    await watch;
    for (const o of obs) await o.waitFor("user:offline", about(gone2), { ms: WAIT_MS });
    await webObs[0].waitFor("user:offline", about(gone2), { ms: WAIT_MS });
    log(
      `SIGKILL -> user:offline at the survivors after ${sweptAt - killedAt} ms ` +
        `(heartbeat key expired after ${heartbeatGoneAt === null ? "?" : heartbeatGoneAt - killedAt} ms; bound ${SWEEP_BOUND_MS} ms)`,
    );
    assert.ok(sweptAt - killedAt >= 5_000, `not before C's heartbeat could expire (${sweptAt - killedAt} ms)`);

    // Exactly once: another survivor's next heartbeat must not sweep (and announce) again.
    await sleep(HEARTBEAT_INTERVAL_MS + 500);
    seen.offline = [];
    for (const o of obs) {
      for (const u of [gone, gone2]) {
        const got = o.all("user:offline", about(u));
        assert.equal(got.length, 1, `${o.label}: exactly one user:offline for ${u.username}, got ${JSON.stringify(got)}`);
        assertPresencePayload(got[0], u, `${o.label}: swept user:offline`, { username: false });
        seen.offline.push({ user: u, payload: got[0], at: o.label });
      }
      assert.deepEqual(o.all("user:offline", about(stays)), [], `${o.label}: stays is still online (on A)`);
      assert.equal(o.count("user:online"), 0, `${o.label}: nobody is re-announced`);
    }
    assert.equal(webObs[0].count("user:offline", about(gone2)), 1, "/web: gone2 offline once");
    assert.equal(staysOnA.socket.connected, true);
    assert.equal(await staysOnA.ping(), "pong");

    for (const node of [A, B]) {
      const p = await presence(node);
      assert.deepEqual(p.users.filter((id) => [gone.id, gone2.id, stays.id].includes(id)), [stays.id],
        `${node.name}: only stays remains of C's users`);
      assert.equal(p.connections, 3, `${node.name}: the two observers and stays@A`);
      assert.deepEqual((await userPresence(node, stays.id)).connections.map((c) => c.socketId), [staysOnA.socket.id]);
      assert.equal((await userPresence(node, gone2.id, "/web")).online, false);
    }
    assert.equal(await cluster.redisClient.exists(`${KEY}:node:${nodeC}:sockets`), 0, "C's socket index is gone");
    assert.equal(await cluster.redisClient.sIsMember(`${KEY}:nodes`, nodeC), false, "C left the node set");
    // the guide's keys went with the records
    assert.equal(await cluster.redisClient.exists(`socket:user:${goneConns[0].socket.id}`), 0);
    assert.equal(await cluster.redisClient.exists(`socket:connections:admin:${gone.id}`), 0);
  });

  // The store keeps each online user's username in Redis (<key>:presence:<nsp>:names), so the
  // sweeping node names the user as docs/openapi.yaml describes {userId, username, timestamp}.
  it("the swept user:offline names the user, like every other user:offline", async () => {
    assert.ok(seen.offline && seen.offline.length > 0, "the previous test recorded the swept user:offline events");
    for (const { user, payload, at } of seen.offline) {
      assert.equal(payload.username, user.username, `${at}: username in the swept user:offline for ${user.id}`);
    }
  });
});

describe("per-user connection cap and rate limit across two nodes (--max-connections-per-user 2, --rate-limit 4 --rate-window 30)", () => {
  const cluster = new Cluster("limits", {
    args: ["--max-connections-per-user", "2", "--rate-limit", "4", "--rate-window", "30"],
  });
  before(() => cluster.start());
  after(() => cluster.stop());
  afterEach(() => {
    closeAll();
    cluster.assertAlive();
  });

  it("a third connection, on either node, is refused with CONNECTION_LIMIT; a freed slot is usable on the other node", T, async () => {
    const [A, B] = cluster.nodes;
    const obs = await observers([A, B]);
    const u = newUser("capped");
    const a1 = await connectAs(A, u, "capped#1");
    const a2 = await connectAs(A, u, "capped#2");
    await exactlyOnce(obs, "user:online", u);
    // B holds none of them: only Redis knows the count
    for (const node of [B, A]) {
      const err = await refusedAs(node, u);
      assert.equal(err.data && err.data.code, "CONNECTION_LIMIT", `third on ${node.name}: ${err.message} ${JSON.stringify(err.data)}`);
      assert.equal(err.data.limit, 2);
    }
    assert.equal(await a1.ping(), "pong");
    assert.equal(await a2.ping(), "pong");
    for (const o of obs) assert.equal(o.count("user:online", about(u)), 1, `${o.label}: refusals are not announced`);
    for (const node of [A, B]) assert.equal((await userPresence(node, u.id)).connections.length, 2, `${node.name}: 2 recorded`);
    // per namespace: /web is a separate count
    await connectAs(B, u, "capped#web", "/web");

    // one slot frees on A; B takes it, then B refuses again
    a1.socket.disconnect();
    const b1 = await eventually(() => connectAs(B, u, "capped#3"), WAIT_MS, "a slot frees up for B");
    const err = await refusedAs(B, u);
    assert.equal(err.data.code, "CONNECTION_LIMIT");
    assert.deepEqual((await userPresence(A, u.id)).connections.map((c) => c.socketId).sort(), [a2.socket.id, b1.socket.id].sort());
    await none(obs, "user:offline", u, 0);
    for (const o of obs) assert.equal(o.count("user:online", about(u)), 1, `${o.label}: no re-announcement`);
  });

  it("the rate limit is shared: the same user sending ping on two nodes gets rate:limit:exceeded after 4 in total", T, async () => {
    const [A, B] = cluster.nodes;
    const u = newUser("chatty");
    const onA = await connectAs(A, u, "chatty");
    const onB = await connectAs(B, u, "chatty");
    const results = [];
    const send = async (c) => {
      try {
        results.push([c.label, await c.ping(2000)]);
      } catch {
        results.push([c.label, "no ack"]);
      }
    };
    // three on A, then three on B: per node, all six would pass
    for (let i = 0; i < 3; i++) await send(onA);
    for (let i = 0; i < 3; i++) await send(onB);
    assert.deepEqual(results.map((r) => r[1]), ["pong", "pong", "pong", "pong", "no ack", "no ack"],
      `4 pongs in total across nodes: ${JSON.stringify(results)}`);
    const exceeded = await onB.waitFor("rate:limit:exceeded", () => true, { n: 2 });
    for (const body of exceeded) {
      assert.deepEqual(Object.keys(body).sort(), ["event", "limit", "message", "window"]);
      assert.equal(body.event, "ping");
      assert.equal(body.limit, 4);
      assert.equal(body.window, 30);
    }
    assert.equal(onA.count("rate:limit:exceeded"), 0, "A's pings were all allowed");
    // A is limited now too
    await send(onA);
    assert.equal(results.at(-1)[1], "no ack", "A is refused once the shared budget is spent");
    assert.equal((await onA.waitFor("rate:limit:exceeded"))[0].event, "ping");
    // another event, another user: their own budgets
    assert.equal(await onB.socket.timeout(WAIT_MS).emitWithAck("app:ping"), "pong");
    const other = await connectAs(B, newUser("quiet"), "quiet");
    assert.equal(await other.ping(), "pong");
  });
});

describe("per-user cap across two nodes with --connection-limit-policy evict-oldest", () => {
  const cluster = new Cluster("evict", {
    args: ["--max-connections-per-user", "2", "--connection-limit-policy", "evict-oldest", "--rate-limit", "1000"],
  });
  before(() => cluster.start());
  after(() => cluster.stop());
  afterEach(() => {
    closeAll();
    cluster.assertAlive();
  });

  it("the oldest connection, on the other node, gets error CONNECTION_LIMIT then is disconnected; the user stays online", T, async () => {
    const [A, B] = cluster.nodes;
    const obs = await observers([A, B]);
    const u = newUser("evict");
    const oldest = await connectAs(A, u, "evict#1");
    await sleep(20); // distinct "since" times
    const second = await connectAs(B, u, "evict#2");
    await exactlyOnce(obs, "user:online", u);

    const third = await connectAs(B, u, "evict#3");
    const [err] = await oldest.waitFor("error");
    assert.equal(err.code, "CONNECTION_LIMIT", JSON.stringify(err));
    assert.match(err.timestamp, ISO_RE);
    const [reason] = await oldest.waitFor("disconnect");
    assert.equal(reason, "io server disconnect");
    assert.deepEqual(oldest.items.filter((i) => ["error", "disconnect"].includes(i.event)).map((i) => i.event),
      ["error", "disconnect"], "error first, then the disconnect");
    for (const c of [second, third]) {
      assert.equal(await c.ping(), "pong");
      assert.equal(c.count("disconnect") + c.count("error"), 0, `${c.label} untouched`);
    }
    await none(obs, "user:offline", u);
    for (const o of obs) assert.equal(o.count("user:online", about(u)), 1, `${o.label}: not re-announced`);
    for (const node of [A, B]) {
      assert.deepEqual((await userPresence(node, u.id)).connections.map((c) => c.socketId),
        [second.socket.id, third.socket.id], `${node.name}: the two newest remain, oldest first`);
    }

    // and the other way round: a new one on A evicts the oldest, now on B
    await sleep(20);
    const fourth = await connectAs(A, u, "evict#4");
    assert.equal((await second.waitFor("error"))[0].code, "CONNECTION_LIMIT");
    assert.equal((await second.waitFor("disconnect"))[0], "io server disconnect");
    assert.equal(third.socket.connected && fourth.socket.connected, true);
    await none(obs, "user:offline", u);

    third.socket.disconnect();
    fourth.socket.disconnect();
    await exactlyOnce(obs, "user:offline", u);
  });
});

describe("live data with --live-interval 1 on two nodes", () => {
  const cluster = new Cluster("live", { live: true, args: ["--live-interval", "1", "--rate-limit", "1000"] });
  before(() => cluster.start());
  after(() => cluster.stop());
  afterEach(() => {
    closeAll();
    cluster.assertAlive();
  });

  it("each client gets system:status and stats:online-users about once a second, not once per node; the user list is cluster-wide", T, async () => {
    const [A, B] = cluster.nodes;
    const u1 = newUser("live");
    const u2 = newUser("live");
    const u3 = newUser("liveweb");
    const clients = [await connectAs(A, u1, "u1"), await connectAs(B, u2, "u2"), await connectAs(B, u1, "u1")];
    const web = await connectAs(A, u3, "u3", "/web");
    // the pushes name every user of the namespace, wherever connected
    for (const c of clients) {
      await c.waitFor("stats:online-users", (s) => s.total === 2, { ms: 3000 });
    }
    for (const c of [...clients, web]) c.clear();
    const WINDOW_MS = 3500;
    await sleep(WINDOW_MS);
    const counts = [];
    for (const c of [...clients, web]) {
      const status = c.count("system:status");
      const stats = c.count("stats:online-users");
      counts.push(`${c.label}: system:status ${status}, stats:online-users ${stats}`);
      // 3 or 4 pushes fit in 3.5 s at 1 s; one per node would be 6 to 8
      for (const [event, n] of [["system:status", status], ["stats:online-users", stats]]) {
        assert.ok(n >= 2 && n <= 5, `${c.label}: ${n} ${event} in ${WINDOW_MS} ms (expected 3 or 4, doubled would be 6 to 8)`);
      }
      const times = c.items.filter((i) => i.event === "system:status").map((i) => i.at);
      for (const gap of times.slice(1).map((t, k) => t - times[k])) assert.ok(gap >= 600, `${c.label}: system:status ${gap} ms after the previous one`);
    }
    log(`live data in ${WINDOW_MS} ms: ${counts.join("; ")}`);

    for (const c of clients) {
      const last = c.all("stats:online-users").at(-1);
      assert.deepEqual(Object.keys(last).sort(), ["timestamp", "total", "users"]);
      assert.equal(last.total, 2, `${c.label}: 2 users in /admin cluster-wide`);
      assert.deepEqual([...last.users].sort((a, b) => a - b), [u1.id, u2.id], `${c.label}: users`);
      const status = c.all("system:status").at(-1);
      assert.deepEqual(Object.keys(status).sort(), ["activeConnections", "cpu", "memory", "timestamp"]);
      assert.match(status.timestamp, ISO_RE);
    }
    const webStats = web.all("stats:online-users").at(-1);
    assert.deepEqual(webStats.users, [u3.id], "/web counts its own users");
    log(`system:status activeConnections: A ${clients[0].all("system:status").at(-1).activeConnections}, ` +
      `B ${clients[1].all("system:status").at(-1).activeConnections} (3 /admin + 1 /web connections cluster-wide)`);
  });
});

describe("Redis killed and restarted on the same port under a two-node cluster", () => {
  const cluster = new Cluster("redis-restart", { args: ["--rate-limit", "1000"] });
  before(() => cluster.start());
  after(() => cluster.stop());
  afterEach(() => {
    closeAll();
    cluster.assertAlive();
  });

  it("connections stay up; afterwards presence is re-synced and presence events work across nodes again", { timeout: 90_000 }, async () => {
    const [A, B] = cluster.nodes;
    const obs = await observers([A, B]);
    const r1 = newUser("r1"); // on A
    const r2 = newUser("r2"); // on B
    const r3 = newUser("r3"); // on A and B
    const r4 = newUser("r4"); // connects on B while Redis is away
    const c1 = await connectAs(A, r1, "r1");
    const c2 = await connectAs(B, r2, "r2");
    const c3a = await connectAs(A, r3, "r3");
    const c3b = await connectAs(B, r3, "r3");
    for (const u of [r1, r2, r3]) await exactlyOnce(obs, "user:online", u);
    const everyone = [...obs.map((o) => o.user.id), r1.id, r2.id, r3.id].sort((a, b) => a - b);
    for (const node of [A, B]) {
      const p = await presence(node);
      assert.deepEqual([...p.users].sort((a, b) => a - b), everyone);
      assert.equal(p.connections, 6);
    }
    const clients = [...obs, c1, c2, c3a, c3b];
    for (const c of clients) c.clear();

    await cluster.redis.kill();
    const killedAt = Date.now();
    // While Redis is away: the presence API says so, the clients go on (the rate limit fails open).
    const during = await eventually(async () => {
      const res = await api(A, "GET", "/api/presence");
      return res.status !== 200 ? res : null;
    }, WAIT_MS, "A notices Redis is away");
    log(`presence API while Redis is away: ${during.status} ${during.text}`);
    for (const c of clients) assert.equal(await c.ping(), "pong", `${c.label}: ping while Redis is away`);
    const c4 = await connectAs(B, r4, "r4"); // accepted without a record
    await sleep(1000);

    await cluster.redis.restart();
    const restartedAt = Date.now();
    log(`Redis was away ${restartedAt - killedAt} ms`);

    const expected = [...everyone, r4.id].sort((a, b) => a - b);
    const synced = {};
    await Promise.all([A, B].map(async (node) => {
      await eventually(async () => {
        const p = await presence(node);
        const users = [...p.users].sort((a, b) => a - b);
        if (JSON.stringify(users) !== JSON.stringify(expected) || p.connections !== 7) {
          throw new Error(`users ${JSON.stringify(users)}, connections ${p.connections}`);
        }
        return true;
      }, RESYNC_BOUND_MS, `${node.name}: presence lists every user again with 7 connections`);
      synced[node.name] = Date.now() - restartedAt;
    }));
    log(`presence re-synced after the Redis restart: A ${synced.A} ms, B ${synced.B} ms`);
    for (const node of [A, B]) {
      assert.deepEqual((await userPresence(node, r3.id)).connections.map((c) => c.socketId).sort(),
        [c3a.socket.id, c3b.socket.id].sort(), `${node.name}: r3's two connections`);
    }

    // nobody was disconnected
    for (const c of [...clients, c4]) {
      assert.equal(c.socket.connected, true, `${c.label} still connected`);
      assert.equal(c.count("disconnect"), 0, `${c.label}: no disconnect`);
      assert.equal(await c.ping(), "pong");
    }

    // The cluster's pub/sub is back too: the presence events cross nodes again, once.
    await cluster.ready();
    const announced = {};
    for (const o of obs) {
      announced[o.label] = [r1, r2, r3, r4].map((u) => `${u.username}:${o.count("user:online", about(u))}`).join(" ");
    }
    log(`user:online heard after the restart (re-sync): ${JSON.stringify(announced)}`);
    c3a.socket.disconnect(); // r3 keeps B
    await none(obs, "user:offline", r3);
    c1.socket.disconnect(); // r1's last
    await exactlyOnce(obs, "user:offline", r1);
    c4.socket.disconnect(); // r4 was recorded by the re-sync: its last close is announced
    await exactlyOnce(obs, "user:offline", r4, { username: true });
    const r5 = newUser("r5");
    await connectAs(A, r5, "r5");
    await exactlyOnce(obs, "user:online", r5);
  });

  // Redis comes back empty: the re-sync brings back the records of users who stayed connected
  // without announcing them again (none of them went offline).
  it("users who stayed connected through the Redis restart are not announced online again", { timeout: 90_000 }, async () => {
    const [A, B] = cluster.nodes;
    const obs = await observers([A, B]);
    const s1 = newUser("steady");
    const s2 = newUser("steady");
    await connectAs(A, s1, "steady1");
    await connectAs(B, s2, "steady2");
    for (const u of [s1, s2]) await exactlyOnce(obs, "user:online", u);
    await cluster.redis.kill();
    await sleep(500);
    await cluster.redis.restart();
    await Promise.all([A, B].map((node) => eventually(async () => {
      const p = await presence(node);
      return p.users.includes(s1.id) && p.users.includes(s2.id);
    }, RESYNC_BOUND_MS, `${node.name}: re-synced`)));
    await cluster.ready();
    await sleep(1500);
    for (const o of obs) {
      for (const u of [s1, s2]) {
        assert.equal(o.count("user:online", about(u)), 1,
          `${o.label}: ${u.username} was announced once, stayed online, got ${JSON.stringify(o.all("user:online", about(u)))}`);
      }
    }
  });
  // The re-sync announces a user who connected while Redis was away once the cluster adapter's own
  // links are back too (they reconnect on their own backoff), and after a settle delay in which the
  // other nodes resubscribe: observers on every node hear it.
  it("a user who connected while Redis was away is announced online on every node once Redis is back", { timeout: 90_000 }, async () => {
    const [A, B] = cluster.nodes;
    const obs = await observers([A, B]);
    await cluster.redis.kill();
    await eventually(async () => (await api(B, "GET", "/api/presence")).status !== 200, WAIT_MS, "B notices Redis is away");
    const late = newUser("late");
    await connectAs(B, late, "late"); // accepted without a record: not announced yet
    await sleep(1000);
    for (const o of obs) assert.equal(o.count("user:online", about(late)), 0, `${o.label}: not announced while Redis is away`);
    await cluster.redis.restart();
    const restartedAt = Date.now();
    await eventually(async () => (await presence(A)).users.includes(late.id), RESYNC_BOUND_MS, "late recorded");
    await cluster.ready();
    await sleep(1500);
    const heard = obs.map((o) => `${o.label}: ${o.count("user:online", about(late))}`).join(", ");
    log(`user:online for a user who connected while Redis was away, ${Date.now() - restartedAt} ms after the restart: ${heard}`);
    for (const o of obs) {
      assert.equal(o.count("user:online", about(late)), 1, `${o.label}: late is announced once (${heard})`);
    }
  });
});
