"use strict";
// The gateways in a mixed cluster (issue 4, "Done when": a client connected to a Node node and one
// connected to an iogate node exchange private and room messages): one iogate (the gateway
// binary, --redis-url) and one cluster/node_gateway.js (socket.io 4.8.4 with
// @socket.io/redis-adapter 8.3.0, iogate's gateway events with the same shapes) on one
// redis-server and the key nest-admin-socket, classic and sharded. alice connects to the Node
// node, bob to the iogate node: private messages and room messages both ways, with the payloads
// iogate sends on one server; /admin and /web stay apart across nodes.
//
// Presence (user:online / user:offline) across nodes is not checked here.

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { io } = require("socket.io-client");
const { createClient } = require("redis");

const { hsToken: signHs, cleanEnv } = require("./lib/gateway");
const { startServer, killOnExit } = require("./lib/server");
const { startRedis } = require("./lib/redis");
const { track, closeAll } = require("./lib/clients");
const { WAIT_MS, QUIET_MS, sleep, withTimeout, Recorder, connectRefused } = require("./lib/util");

const T = { timeout: 60_000 };
const SECRET = "cluster-gateway-secret-0123456789";
const KEY = "nest-admin-socket";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const NODE_GATEWAY = path.join(__dirname, "cluster", "node_gateway.js");
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 50;
const EVENTS = [
  "connected",
  "private:message",
  "message:sent",
  "room:joined",
  "room:user:joined",
  "room:left",
  "room:user:left",
  "room:message",
  "error",
  "disconnect",
];
const PRIVATE_KEYS = ["fromUserId", "fromUsername", "message", "messageId", "timestamp", "toUserId"];
const ROOM_KEYS = ["fromUserId", "fromUsername", "message", "roomId", "timestamp"];

// ---------------------------------------------------------------- tokens

/** An HS JWT with this file's secret unless told. */
function hsToken(claims, { secret = SECRET, alg = "HS256" } = {}) {
  return signHs(claims, { secret, alg });
}

function claimsFor(user, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { id: user.id, username: user.username, status: 1, iat: now, exp: now + 3600, ...extra };
}

let nextUser = 5000;
function newUser(name) {
  nextUser += 1;
  return { id: nextUser, username: `${name}${nextUser}` };
}

// ---------------------------------------------------------------- servers

function startIogate(redis, mode) {
  return startServer("gateway", {
    args: [
      "--host", "127.0.0.1",
      "--api-port", "0",
      "--live-interval", "0",
      "--jwt-secret", SECRET,
      "--rate-limit", "1000",
      "--redis-url", redis.url,
      "--redis-key", KEY,
      "--redis-mode", mode,
    ],
    env: cleanEnv(),
  });
}

/** Starts cluster/node_gateway.js and waits (bounded) for its listening line. */
function startNodeGateway(redis, mode) {
  const args = [
    NODE_GATEWAY,
    "--port", "0",
    "--redis-url", redis.url,
    "--redis-key", KEY,
    "--redis-mode", mode,
    "--jwt-secret", SECRET,
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  killOnExit(child);
  let output = "";
  let exitInfo = null;
  let stopping = false;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      output = (output + chunk).slice(-64 * 1024);
      if (process.env.IOGATE_TEST_VERBOSE && stream === child.stderr) process.stderr.write(`[node_gateway] ${chunk}`);
    });
  }
  const died = () => new Error(`node_gateway.js died (code ${exitInfo.code}, signal ${exitInfo.signal})\n--- output ---\n${output}`);
  const handle = {
    child,
    output: () => output,
    assertAlive() {
      if (exitInfo && !stopping) throw died();
    },
    async stop() {
      if (exitInfo && !stopping) throw died();
      stopping = true;
      if (!exitInfo) child.kill("SIGTERM");
      let timer;
      const res = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r(null), STOP_TIMEOUT_MS)))]);
      clearTimeout(timer);
      if (res === null) {
        child.kill("SIGKILL");
        await exited;
        throw new Error(`node_gateway.js did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n--- output ---\n${output}`);
      }
    },
  };
  return withTimeout(
    new Promise((resolve, reject) => {
      child.once("exit", () => reject(died()));
      child.stdout.on("data", () => {
        const m = /^iogate listening on port (\d+)\s*$/m.exec(output);
        if (m) resolve(Object.assign(handle, { port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` }));
      });
    }),
    START_TIMEOUT_MS,
    "node_gateway.js listening",
  ).catch((error) => {
    child.kill("SIGKILL");
    throw new Error(`${error.message}\n--- output ---\n${output}`);
  });
}

// ---------------------------------------------------------------- clients

/** Connects to `nsp` of `server` as `user`; waits for the gateway's "connected". */
async function connectAs(server, nsp, user, label) {
  const socket = track(
    io(server.url + nsp, {
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      timeout: WAIT_MS,
      transports: ["websocket"],
      auth: { token: hsToken(claimsFor(user)) },
    }),
  );
  const rec = new Recorder(socket, EVENTS);
  const connected = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (err) => reject(new Error(`${label}: connect to ${nsp} refused: ${err.message} ${JSON.stringify(err.data)}`)));
  });
  socket.connect();
  await withTimeout(connected, WAIT_MS, `${label}: connect to ${nsp}`);
  const [hello] = await rec.next("connected");
  assert.deepEqual(hello, { message: "连接成功", user: { id: user.id, username: user.username } }, `${label}: connected`);
  return { socket, rec, user, label, nsp };
}

/** Connects without a valid token; resolves with the connect_error. */
async function refused(server, nsp, auth) {
  const socket = track(
    io(server.url + nsp, { forceNew: true, reconnection: false, autoConnect: false, timeout: WAIT_MS, transports: ["websocket"], auth }),
  );
  return connectRefused(socket, nsp);
}

async function next(client, event) {
  try {
    return (await client.rec.next(event))[0];
  } catch (error) {
    throw new Error(`${client.label} (${client.nsp}): ${error.message}`);
  }
}

function assertTimestamp(ts, what) {
  assert.match(ts, ISO_RE, `${what}: ISO-8601 UTC with milliseconds`);
  assert.ok(Math.abs(Date.parse(ts) - Date.now()) < 60_000, `${what}: ${ts} is close to now`);
}

/** Asserts none of `clients` got (another) `event`, listening QUIET_MS. */
async function nothing(clients, event) {
  await sleep(QUIET_MS);
  for (const c of clients) {
    const got = c.rec.items.filter((i) => i.event === event).map((i) => i.args);
    assert.deepEqual(got, [], `${c.label} (${c.nsp}) must not receive "${event}"`);
  }
}

function assertNoErrors(clients) {
  for (const c of clients) {
    const errors = c.rec.items.filter((i) => i.event === "error").map((i) => i.args);
    assert.deepEqual(errors, [], `${c.label} (${c.nsp}) got error events`);
  }
}

// ---------------------------------------------------------------- the cluster

class GatewayCluster {
  constructor(mode) {
    this.mode = mode;
  }

  async start() {
    this.redis = await startRedis();
    this.redisClient = createClient({ url: this.redis.url });
    this.redisClient.on("error", () => {});
    await this.redisClient.connect();
    const [iogate, node] = await Promise.allSettled([startIogate(this.redis, this.mode), startNodeGateway(this.redis, this.mode)]);
    if (iogate.status === "fulfilled") this.iogate = iogate.value;
    if (node.status === "fulfilled") this.node = node.value;
    if (iogate.status === "rejected") throw iogate.reason;
    if (node.status === "rejected") throw node.reason;
    // Both nodes listen on each gateway namespace's channel.
    for (const nsp of ["/admin", "/web"]) {
      const command =
        this.mode === "classic" ? ["PUBSUB", "NUMSUB", `${KEY}-request#${nsp}#`] : ["PUBSUB", "SHARDNUMSUB", `${KEY}#${nsp}#`];
      await this.waitSubscribers(command, 2, `both nodes on ${command[2]}`);
    }
  }

  async waitSubscribers(command, count, label) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const n = Number((await this.redisClient.sendCommand(command))[1]);
      if (n >= count) return;
      if (Date.now() >= deadline) throw new Error(`timed out after ${WAIT_MS} ms: ${label} (${n} of ${count})`);
      await sleep(POLL_MS);
    }
  }

  /**
   * Sharded mode: waits until `count` nodes subscribe (SSUBSCRIBE) the channel of `room` in `nsp`,
   * where a broadcast to that one room goes. A node subscribes when the room appears on it;
   * anything published before is lost, with Node's adapter as with iogate's.
   */
  async roomReady(nsp, room, count) {
    if (this.mode !== "sharded") return;
    const channel = `${KEY}#${nsp}#${room}#`;
    await this.waitSubscribers(["PUBSUB", "SHARDNUMSUB", channel], count, `${count} node(s) on ${channel}`);
  }

  assertAlive() {
    this.iogate?.assertAlive();
    this.node?.assertAlive();
    this.redis?.assertAlive();
  }

  async stop() {
    closeAll();
    const results = await Promise.allSettled([this.iogate?.stop(), this.node?.stop()]);
    if (this.redisClient?.isOpen) await this.redisClient.disconnect();
    await this.redis?.stop();
    const failure = results.find((r) => r.status === "rejected");
    if (failure) throw failure.reason;
  }
}

// ---------------------------------------------------------------- tests

for (const mode of ["classic", "sharded"]) {
  describe(`gateways in a mixed cluster (${mode}): iogate + node_gateway.js on one Redis, key ${KEY}`, () => {
    const cluster = new GatewayCluster(mode);
    before(() => cluster.start());
    after(() => cluster.stop());
    afterEach(() => {
      closeAll();
      cluster.assertAlive();
    });

    /** alice on the Node node, bob on the iogate node, in `nsp`. */
    async function pair(nsp = "/admin") {
      const alice = await connectAs(cluster.node, nsp, newUser("alice"), "alice@node");
      const bob = await connectAs(cluster.iogate, nsp, newUser("bob"), "bob@iogate");
      await cluster.roomReady(nsp, `user:${alice.user.id}`, 1);
      await cluster.roomReady(nsp, `user:${bob.user.id}`, 1);
      return { alice, bob };
    }

    /** `from` sends a private message to `to`'s user; checks what `to` and `from` get. */
    async function privateMessage(from, to, text, toUserId = to.user.id) {
      from.socket.emit("private:message", { toUserId, message: text });
      const sent = await next(from, "message:sent");
      const got = await next(to, "private:message");
      const what = `${from.label} -> ${to.label}`;
      assert.deepEqual(Object.keys(got).sort(), PRIVATE_KEYS, `${what}: private:message fields`);
      assert.strictEqual(got.fromUserId, from.user.id, `${what}: fromUserId`);
      assert.equal(got.fromUsername, from.user.username, `${what}: fromUsername`);
      assert.strictEqual(got.toUserId, toUserId, `${what}: toUserId as sent`);
      assert.equal(got.message, text, `${what}: message`);
      assert.equal(typeof got.messageId, "string");
      assert.ok(got.messageId.length >= 8, `${what}: messageId ${got.messageId}`);
      assertTimestamp(got.timestamp, `${what}: timestamp`);
      assert.deepEqual(Object.keys(sent).sort(), ["messageId", "timestamp", "toUserId"], `${what}: message:sent fields`);
      assert.equal(sent.messageId, got.messageId, `${what}: message:sent names the delivered message`);
      assert.strictEqual(sent.toUserId, toUserId);
      assert.equal(sent.timestamp, got.timestamp);
      return got;
    }

    async function join(client, roomId) {
      client.socket.emit("room:join", { roomId });
      assert.deepEqual(await next(client, "room:joined"), { roomId }, `${client.label} joins ${roomId}`);
    }

    async function roomMessage(from, members, roomId, text) {
      from.socket.emit("room:message", { roomId, message: text });
      for (const member of members) {
        const got = await next(member, "room:message");
        const what = `${from.label}'s room:message at ${member.label}`;
        assert.deepEqual(Object.keys(got).sort(), ROOM_KEYS, `${what}: fields`);
        assert.equal(got.roomId, roomId);
        assert.strictEqual(got.fromUserId, from.user.id, `${what}: fromUserId`);
        assert.equal(got.fromUsername, from.user.username, `${what}: fromUsername`);
        assert.equal(got.message, text, `${what}: message`);
        assertTimestamp(got.timestamp, `${what}: timestamp`);
      }
    }

    it("private messages: alice (Node node) -> bob (iogate node) and bob -> alice", T, async () => {
      const { alice, bob } = await pair();
      const carol = await connectAs(cluster.iogate, "/admin", newUser("carol"), "carol@iogate");
      const dave = await connectAs(cluster.node, "/admin", newUser("dave"), "dave@node");
      await privateMessage(alice, bob, "hi bob, from Node");
      await privateMessage(bob, alice, "hi alice, from iogate");
      await nothing([alice, bob, carol, dave], "private:message");
      assertNoErrors([alice, bob, carol, dave]);
    });

    it("a private message reaches every connection of its user, on both nodes, with one id", T, async () => {
      const { alice, bob } = await pair();
      const bobOnNode = await connectAs(cluster.node, "/admin", bob.user, "bob@node");
      const aliceOnIogate = await connectAs(cluster.iogate, "/admin", alice.user, "alice@iogate");
      await cluster.roomReady("/admin", `user:${bob.user.id}`, 2);
      await cluster.roomReady("/admin", `user:${alice.user.id}`, 2);

      const fromNode = await privateMessage(alice, bob, "to both bobs");
      const copy = await next(bobOnNode, "private:message");
      assert.deepEqual(copy, fromNode, "the Node-side connection gets the same message");

      const fromIogate = await privateMessage(bob, alice, "to both alices");
      const copy2 = await next(aliceOnIogate, "private:message");
      assert.deepEqual(copy2, fromIogate, "the iogate-side connection gets the same message");
      await nothing([alice, bob, bobOnNode, aliceOnIogate], "private:message");
    });

    it("toUserId as text reaches a numeric user across nodes and comes back as sent; string ids stay strings", T, async () => {
      const { alice, bob } = await pair();
      await privateMessage(alice, bob, "as text", String(bob.user.id));
      await privateMessage(bob, alice, "as text too", String(alice.user.id));

      const x = await connectAs(cluster.node, "/admin", { id: `sx-${nextUser}`, username: "sx" }, "sx@node");
      const y = await connectAs(cluster.iogate, "/admin", { id: `sy-${nextUser}`, username: "sy" }, "sy@iogate");
      await cluster.roomReady("/admin", `user:${x.user.id}`, 1);
      await cluster.roomReady("/admin", `user:${y.user.id}`, 1);
      await privateMessage(x, y, "yo");
      await privateMessage(y, x, "yo back");
    });

    it('room "ops": alice (Node) and bob (iogate) join, see each other join, and post both ways', T, async () => {
      const { alice, bob } = await pair();
      const carol = await connectAs(cluster.iogate, "/admin", newUser("carol"), "carol@iogate");
      const dave = await connectAs(cluster.node, "/admin", newUser("dave"), "dave@node");
      const room = "ops";

      await join(alice, room);
      await cluster.roomReady("/admin", room, 1);
      // alice's own room:user:joined (to nobody yet) crosses Redis to the iogate node: let it
      // land before bob is in the room, or bob would get it too.
      await sleep(QUIET_MS);
      await join(bob, room);
      assert.deepEqual(await next(alice, "room:user:joined"), { userId: bob.user.id, username: bob.user.username, roomId: room });
      await cluster.roomReady("/admin", room, 2);

      await roomMessage(alice, [alice, bob], room, "hello from Node");
      await roomMessage(bob, [alice, bob], room, "hello from iogate");
      await nothing([alice, bob, carol, dave], "room:message");

      // alice leaves and rejoins: bob (iogate) sees both, then alice gets bob's posts again.
      alice.socket.emit("room:leave", { roomId: room });
      assert.deepEqual(await next(alice, "room:left"), { roomId: room });
      assert.deepEqual(await next(bob, "room:user:left"), { userId: alice.user.id, username: alice.user.username, roomId: room });
      bob.socket.emit("room:message", { roomId: room, message: "alice gone" });
      assert.equal((await next(bob, "room:message")).message, "alice gone");
      await nothing([alice], "room:message");
      await join(alice, room);
      assert.deepEqual(await next(bob, "room:user:joined"), { userId: alice.user.id, username: alice.user.username, roomId: room });
      await cluster.roomReady("/admin", room, 2);
      await roomMessage(bob, [alice, bob], room, "welcome back");

      await nothing([alice, bob, carol, dave], "room:user:joined");
      await nothing([carol, dave], "room:message");
      assertNoErrors([alice, bob, carol, dave]);
    });

    it("/web and /admin stay apart across nodes: private and room messages", T, async () => {
      const alice = newUser("alice");
      const bob = newUser("bob");
      const aliceAdmin = await connectAs(cluster.node, "/admin", alice, "alice@node");
      const aliceWeb = await connectAs(cluster.node, "/web", alice, "alice@node");
      const bobAdmin = await connectAs(cluster.iogate, "/admin", bob, "bob@iogate");
      const bobWeb = await connectAs(cluster.iogate, "/web", bob, "bob@iogate");
      const all = [aliceAdmin, aliceWeb, bobAdmin, bobWeb];
      for (const nsp of ["/admin", "/web"]) {
        await cluster.roomReady(nsp, `user:${alice.id}`, 1);
        await cluster.roomReady(nsp, `user:${bob.id}`, 1);
      }

      await privateMessage(aliceAdmin, bobAdmin, "admin only");
      await privateMessage(bobWeb, aliceWeb, "web only");
      await privateMessage(aliceWeb, bobWeb, "web only, back");
      await privateMessage(bobAdmin, aliceAdmin, "admin only, back");
      await nothing(all, "private:message");

      const room = "ops-apart";
      for (const c of all) await join(c, room);
      for (const nsp of ["/admin", "/web"]) await cluster.roomReady(nsp, room, 2);
      // Each joined after its peer in the same namespace or alone: drop the join notices.
      for (const c of all) c.rec.items = c.rec.items.filter((i) => i.event !== "room:user:joined");

      await roomMessage(aliceAdmin, [aliceAdmin, bobAdmin], room, "admin room");
      await roomMessage(bobWeb, [aliceWeb, bobWeb], room, "web room");
      await roomMessage(aliceWeb, [aliceWeb, bobWeb], room, "web room, back");
      await roomMessage(bobAdmin, [aliceAdmin, bobAdmin], room, "admin room, back");
      await nothing(all, "room:message");
      assertNoErrors(all);
    });

    it("node_gateway.js answers as iogate does: refusals, connected, errors", T, async () => {
      const user = newUser("twin");
      const now = Math.floor(Date.now() / 1000);
      const cases = [
        ["no token", {}],
        ["malformed", { token: "not-a-jwt" }],
        ["bad signature", { token: hsToken(claimsFor(user), { secret: "wrong" }) }],
        ["HS512 not allowed", { token: hsToken(claimsFor(user), { alg: "HS512" }) }],
        ["expired", { token: hsToken(claimsFor(user, { exp: now - 60 })) }],
        ["not yet valid", { token: hsToken(claimsFor(user, { nbf: now + 60 })) }],
        ["no id", { token: hsToken({ username: "x", status: 1 }) }],
        ["inactive", { token: hsToken(claimsFor(user, { status: 0 })) }],
      ];
      for (const [what, auth] of cases) {
        const fromIogate = await refused(cluster.iogate, "/admin", auth);
        const fromNode = await refused(cluster.node, "/admin", auth);
        assert.deepEqual(
          { message: fromNode.message, data: fromNode.data },
          { message: fromIogate.message, data: fromIogate.data },
          `${what}: node_gateway.js refuses as iogate does`,
        );
      }
      const rootIogate = await refused(cluster.iogate, "/", { token: hsToken(claimsFor(user)) });
      const rootNode = await refused(cluster.node, "/", { token: hsToken(claimsFor(user)) });
      assert.equal(rootNode.message, rootIogate.message, '"/" is refused alike');

      const onIogate = await connectAs(cluster.iogate, "/admin", user, "twin@iogate");
      const onNode = await connectAs(cluster.node, "/admin", user, "twin@node");
      const bad = [
        ["private:message", { toUserId: user.id }],
        ["private:message", "text"],
        ["room:join", { roomId: "user:1" }],
        ["room:join", { roomId: "bad room" }],
        ["room:message", { roomId: "never-joined", message: "x" }],
        ["room:leave", { roomId: "never-joined" }],
        ["no:such:event", { a: 1 }],
      ];
      for (const [event, data] of bad) {
        const bodies = [];
        for (const c of [onIogate, onNode]) {
          c.socket.emit(event, data);
          const body = await next(c, "error");
          assertTimestamp(body.timestamp, `${c.label}: error timestamp`);
          bodies.push({ ...body, timestamp: "…" });
        }
        assert.deepEqual(bodies[1], bodies[0], `error for ${event} ${JSON.stringify(data)}: node_gateway.js as iogate`);
      }
      for (const c of [onIogate, onNode]) {
        assert.equal(await c.socket.timeout(WAIT_MS).emitWithAck("ping"), "pong", `${c.label}: ping`);
      }
    });
  });
}
