"use strict";
// Mixed clusters on one Redis: iogate nodes (integration_server --redis-url)
// beside Node nodes (cluster/node_server.js: socket.io 4.8.4 with
// @socket.io/redis-adapter 8.3.0), in the adapter's classic and sharded modes,
// driven by socket.io-client 4.8 over WebSocket. Every check runs in each
// direction: the request starts on each node in turn and its effect is looked
// for on every node. The emitter tests publish with @socket.io/redis-emitter
// 5.1.0 into a classic cluster.
//
// Each describe block starts its own redis-server (lib/redis.js) and nodes on
// one key, and waits until every node counts the whole cluster.
//
// IOGATE_CLUSTER_KINDS=node-only makes every node a Node server: the same
// checks then run against Node's own cluster, which proves the Node side and
// the assertions without iogate.

const { describe, it, before, after, beforeEach, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const { startClusterNode } = require("./lib/server");
const { startRedis } = require("./lib/redis");
const { track, closeAll } = require("./lib/clients");
const { QUIET_MS, sleep, withTimeout, Recorder, assertBytes, uniq } = require("./lib/util");

/** Deadline for anything that should happen soon in a cluster. */
const WAIT_MS = Number(process.env.IOGATE_TEST_WAIT_MS || 3000);
// Below WAIT_MS, so that a peer that never answers shows as the adapter's own
// timeout error rather than as a missing acknowledgement.
const REQUESTS_TIMEOUT_MS = 2000;
const BROADCAST_ACK_TIMEOUT_MS = 2000;
// Node's sharded adapter waits 5000 ms for server-side acks whatever its
// options, so a missing answer is only reported after that.
const SERVER_ACK_WAIT_MS = 6000;
const POLL_MS = 50;
const T = { timeout: 60_000 };

const NODE_ONLY = process.env.IOGATE_CLUSTER_KINDS === "node-only";
if (process.env.IOGATE_CLUSTER_KINDS && !NODE_ONLY) {
  throw new Error(`IOGATE_CLUSTER_KINDS=${process.env.IOGATE_CLUSTER_KINDS}: the only value is "node-only"`);
}

const MODES = ["classic", "sharded"];
const TOPOLOGIES = [
  ["iogate", "iogate"],
  ["node", "iogate"],
  ["iogate", "node"],
  ["iogate", "node", "iogate"],
];
// Every server event a test looks at, recorded from the connection on.
const RECORDED = ["auth", "news", "bin", "server-note", "emitted", "disconnect"];

// ---------------------------------------------------------------- waiting

/** Polls `read()` until `accept(value)`; rejects after `ms` naming `label` and the last value. */
async function waitUntil(label, read, accept, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${ms} ms: ${label} (last: ${JSON.stringify(value)})`);
    }
    await sleep(POLL_MS);
  }
}

const sorted = (list) => [...list].sort();

// ---------------------------------------------------------------- clients

/** Waits (bounded) for `socket` to connect. */
async function connected(socket, label) {
  const result = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (error) => reject(new Error(`${label}: connect_error ${error.message}`)));
  });
  socket.connect();
  await withTimeout(result, WAIT_MS, `connect ${label}`);
}

/** Records `socket`'s events and answers "question" acks with `${name} says hi`. */
function instrument(socket, name) {
  socket.on("question", (_, reply) => reply(`${name} says hi`));
  return new Recorder(socket, RECORDED);
}

/** Connects a WebSocket client named `name` to `nsp` of `node`. */
async function connect(node, name, nsp = "/") {
  const socket = track(
    io(node.url + nsp, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      timeout: WAIT_MS,
      auth: { name },
    }),
  );
  const rec = instrument(socket, name);
  const client = { socket, rec, name, node };
  await connected(socket, `${name} to ${nsp}`);
  client.id = socket.id;
  return client;
}

/** Connects a "/custom" socket on the same connection (Manager) as `client`. */
async function connectSibling(client) {
  const name = `${client.name}/custom`;
  const socket = track(client.socket.io.socket("/custom", { auth: { name } }));
  const sibling = { socket, rec: instrument(socket, name), name, node: client.node };
  await connected(socket, name);
  return sibling;
}

/**
 * Connects `perNode` clients to `nsp` of every node.
 * @returns {{byNode: Array<Array<object>>, all: Array<object>}}
 */
async function connectEach(cluster, perNode, nsp = "/", prefix = "c") {
  const byNode = await Promise.all(
    cluster.nodes.map((node) =>
      Promise.all(Array.from({ length: perNode }, (_, k) => connect(node, `${prefix}${k + 1}@${node.name}`, nsp))),
    ),
  );
  return { byNode, all: byNode.flat() };
}

/** Emits `event` and resolves with the acknowledgement's argument, bounded by `ms`. */
async function askWithin(ms, client, event, ...args) {
  try {
    return await client.socket.timeout(ms).emitWithAck(event, ...args);
  } catch (error) {
    throw new Error(`no ack for "${event}" from ${client.name} within ${ms} ms (${error.message})`);
  }
}

const ask = (client, event, ...args) => askWithin(WAIT_MS, client, event, ...args);

/** The args of the next `event` that `client` receives (bounded). */
async function received(client, event) {
  try {
    return await client.rec.next(event, WAIT_MS);
  } catch (error) {
    throw new Error(`${client.name}: ${error.message}`);
  }
}

/** Asserts that none of `clients` receives (another) `event` within QUIET_MS. */
async function nothingMore(clients, event) {
  await sleep(QUIET_MS);
  for (const client of clients) {
    const extra = client.rec.items.filter((item) => item.event === event).map((item) => item.args);
    assert.equal(extra.length, 0, `${client.name} received an unexpected "${event}": ${JSON.stringify(extra)}`);
  }
}

async function join(client, room) {
  assert.equal(await ask(client, "join", room), "joined", `join ${room} (${client.name})`);
}

/** Waits until `client`'s rooms satisfy `accept`. */
function waitRooms(client, label, accept) {
  return waitUntil(`${client.name}: ${label}`, () => ask(client, "rooms"), (rooms) => accept(rooms));
}

// ---------------------------------------------------------------- cluster

/** A redis-server and the nodes of one cluster on it. */
class Cluster {
  constructor(mode, topology) {
    this.mode = mode;
    this.topology = topology;
    this.kinds = NODE_ONLY ? topology.map(() => "node") : topology;
    this.nodes = [];
    this.key = uniq("iogate");
  }

  async start() {
    this.redis = await startRedis();
    // The tests' own connection: the emitter's publisher, and the sharded
    // subscription checks. Its errors surface through the commands that fail.
    this.redisClient = createClient({ url: this.redis.url });
    this.redisClient.on("error", () => {});
    await this.redisClient.connect();
    const started = await Promise.allSettled(
      this.kinds.map((kind, index) =>
        startClusterNode({
          kind,
          name: `${kind}-${index + 1}`,
          redisUrl: this.redis.url,
          key: this.key,
          mode: this.mode,
          requestsTimeout: REQUESTS_TIMEOUT_MS,
        }),
      ),
    );
    this.nodes = started.filter((result) => result.status === "fulfilled").map((result) => result.value);
    const failure = started.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
    await this.waitFormed();
  }

  /** Waits until every node's serverCount() is the number of nodes. */
  async waitFormed() {
    for (const node of this.nodes) {
      const probe = await connect(node, `probe@${node.name}`);
      await waitUntil(
        `${node.name}'s server-count reaches ${this.nodes.length}`,
        () => ask(probe, "server-count"),
        (count) => count === this.nodes.length,
      );
      probe.socket.disconnect();
    }
  }

  /**
   * Sharded mode: waits until `nodeCount` nodes have subscribed (SSUBSCRIBE)
   * the room's own channel, where Node publishers send broadcasts to one room.
   * A node subscribes when the room appears on it, and a broadcast published
   * before that is lost.
   */
  async roomReady(room, nodeCount, nsp = "/") {
    if (this.mode !== "sharded") return;
    const channel = `${this.key}#${nsp}#${room}#`;
    await waitUntil(
      `${nodeCount} node(s) subscribed to the room channel ${channel}`,
      async () => Number((await this.redisClient.sendCommand(["PUBSUB", "SHARDNUMSUB", channel]))[1]),
      (count) => count >= nodeCount,
    );
  }

  /** Waits until a fetch on every node lists exactly `clients` (stale sockets of earlier tests gone). */
  async settled(clients, askers) {
    const want = sorted(clients.map((client) => client.id));
    for (const asker of askers) {
      await waitUntil(
        `fetch on ${asker.node.name} lists exactly the ${want.length} connected clients`,
        () => ask(asker, "fetch"),
        (ids) => Array.isArray(ids) && JSON.stringify(sorted(ids)) === JSON.stringify(want),
      );
    }
  }

  assertAlive() {
    for (const node of this.nodes) node.assertAlive();
    this.redis?.assertAlive();
  }

  async stop() {
    closeAll();
    const results = await Promise.allSettled(this.nodes.map((node) => node.stop()));
    this.nodes = [];
    if (this.redisClient?.isOpen) await this.redisClient.disconnect();
    await this.redis?.stop();
    const failure = results.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
  }
}

/** Starts `cluster` for a describe block and checks its processes around every test. */
function useCluster(cluster) {
  before(() => cluster.start());
  after(() => cluster.stop());
  beforeEach(() => cluster.assertAlive());
  afterEach(() => {
    closeAll();
    cluster.assertAlive();
  });
}

/** The cluster's mode and nodes; with node-only, also the topology it stands in for. */
function title(cluster) {
  const kinds = `${cluster.mode}: ${cluster.kinds.join(" + ")}`;
  return NODE_ONLY ? `${kinds} (standing in for ${cluster.topology.join(" + ")})` : kinds;
}

// ---------------------------------------------------------------- checks

for (const mode of MODES) {
  for (const topology of TOPOLOGIES) {
    const cluster = new Cluster(mode, topology);
    describe(title(cluster), () => {
      useCluster(cluster);

      it("every node counts the whole cluster, names itself and hands clients their auth", T, async () => {
        const { all } = await connectEach(cluster, 1);
        for (const client of all) {
          assert.equal(await ask(client, "server-count"), cluster.nodes.length, `server-count on ${client.node.name}`);
          assert.deepEqual(await ask(client, "whoami"), { server: client.node.name, id: client.id });
          assert.deepEqual(await received(client, "auth"), [{ name: client.name }]);
        }
      });

      it("a broadcast to the namespace reaches every client of every node exactly once", T, async () => {
        const { byNode, all } = await connectEach(cluster, 2);
        for (const [index, node] of cluster.nodes.entries()) {
          const request = { event: "news", args: [`from ${node.name}`, index, { nested: [true, null, 1.5] }] };
          assert.equal(await ask(byNode[index][0], "broadcast", request), "sent");
          for (const client of all) assert.deepEqual(await received(client, "news"), request.args, client.name);
        }
        await nothingMore(all, "news");
      });

      it("a broadcast to a room reaches only its members, on every node", T, async () => {
        const { byNode, all } = await connectEach(cluster, 2);
        const members = byNode.map((clients) => clients[0]);
        const outsiders = byNode.map((clients) => clients[1]);
        const room = uniq("room");
        for (const member of members) await join(member, room);
        await cluster.roomReady(room, cluster.nodes.length);
        for (const [index, sender] of outsiders.entries()) {
          assert.equal(await ask(sender, "broadcast", { event: "news", room, args: [index] }), "sent");
          for (const member of members) assert.deepEqual(await received(member, "news"), [index], member.name);
        }
        await nothingMore(all, "news");
      });

      it("except() leaves out a room's members on every node, alone and after to()", T, async () => {
        const { byNode, all } = await connectEach(cluster, 3);
        const [plain, excluded, outsider] = [0, 1, 2].map((k) => byNode.map((clients) => clients[k]));
        const room = uniq("room");
        const excludedRoom = uniq("except");
        for (const client of [...plain, ...excluded]) await join(client, room);
        for (const client of excluded) await join(client, excludedRoom);
        await cluster.roomReady(room, cluster.nodes.length);
        for (const [index, sender] of outsider.entries()) {
          await ask(sender, "broadcast", { event: "news", except: excludedRoom, args: ["all but", index] });
          for (const client of [...plain, ...outsider]) {
            assert.deepEqual(await received(client, "news"), ["all but", index], client.name);
          }
          await ask(sender, "broadcast", { event: "news", room, except: excludedRoom, args: ["room but", index] });
          for (const client of plain) {
            assert.deepEqual(await received(client, "news"), ["room but", index], client.name);
          }
        }
        await nothingMore(all, "news");
      });

      it("a broadcast to a socket id reaches that one socket on another node", T, async () => {
        const { byNode, all } = await connectEach(cluster, 2);
        for (const [from] of cluster.nodes.entries()) {
          for (const [to] of cluster.nodes.entries()) {
            if (from === to) continue;
            const target = byNode[to][0];
            const args = [`${from} -> ${to}`];
            await ask(byNode[from][0], "broadcast", { event: "news", room: target.id, args });
            assert.deepEqual(await received(target, "news"), args, target.name);
          }
        }
        await nothingMore(all, "news");
      });

      it("binary arguments cross nodes byte for byte (empty, bin8, bin16, bin32 sizes, nested)", T, async () => {
        const { byNode, all } = await connectEach(cluster, 1);
        const small = Buffer.from([1, 2, 3]);
        const nested = Buffer.from([0, 255, 128]);
        const medium = Buffer.alloc(300, 7);
        const large = Buffer.alloc(70_000, 9);
        for (const [index] of cluster.nodes.entries()) {
          const args = [small, { nested, n: index, text: "é" }, Buffer.alloc(0), medium, large];
          await ask(byNode[index][0], "broadcast", { event: "bin", args });
          for (const client of all) {
            const [gotSmall, gotObject, gotEmpty, gotMedium, gotLarge] = await received(client, "bin");
            const what = `${client.name}, sent from ${cluster.nodes[index].name}`;
            assertBytes(gotSmall, small, `first argument (${what})`);
            assertBytes(gotObject.nested, nested, `nested buffer (${what})`);
            assert.equal(gotObject.n, index);
            assert.equal(gotObject.text, "é");
            assertBytes(gotEmpty, [], `empty buffer (${what})`);
            assertBytes(gotMedium, medium, `300-byte buffer (${what})`);
            assertBytes(gotLarge, large, `70000-byte buffer (${what})`);
          }
        }
        await nothingMore(all, "bin");
      });

      it("a broadcast with acks collects one answer from every client of every node", T, async () => {
        const clients = await connectEach(cluster, 2);
        const askers = clients.byNode.map((onNode) => onNode[0]);
        await cluster.settled(clients.all, askers);
        const everyone = sorted(clients.all.map((client) => `${client.name} says hi`));
        for (const asker of askers) {
          const result = await ask(asker, "broadcast-ack", { timeout: BROADCAST_ACK_TIMEOUT_MS });
          assert.equal(result.error, null, `broadcast-ack from ${asker.node.name}: ${JSON.stringify(result)}`);
          assert.deepEqual(sorted(result.responses), everyone, `answers to ${asker.node.name}`);
        }
      });

      it("a broadcast with acks to a room on one node completes on every node (the others count 0)", T, async () => {
        const { byNode } = await connectEach(cluster, 1);
        const member = byNode[0][0];
        const room = uniq("room");
        await join(member, room);
        for (const onNode of byNode) {
          const asker = onNode[0];
          const result = await ask(asker, "broadcast-ack", { room, timeout: BROADCAST_ACK_TIMEOUT_MS });
          const want = { error: null, responses: [`${member.name} says hi`] };
          assert.deepEqual(result, want, `broadcast-ack from ${asker.node.name}`);
        }
      });

      it("fetch and fetch-details list the sockets of every node with their rooms and data", T, async () => {
        const clients = await connectEach(cluster, 2);
        const askers = clients.byNode.map((onNode) => onNode[1]);
        const members = clients.byNode.map((onNode) => onNode[0]);
        const room = uniq("room");
        const dataOf = (client) => ({ name: client.name, tags: ["ü", 1, null], nested: { ok: true } });
        for (const client of clients.all) assert.equal(await ask(client, "set-data", dataOf(client)), "set");
        for (const member of members) await join(member, room);
        await cluster.settled(clients.all, askers);
        const memberIds = sorted(members.map((member) => member.id));
        for (const asker of askers) {
          assert.deepEqual(sorted(await ask(asker, "fetch", room)), memberIds, `fetch(room) on ${asker.node.name}`);
          const details = await ask(asker, "fetch-details", room);
          assert.ok(Array.isArray(details), `fetch-details on ${asker.node.name}: ${JSON.stringify(details)}`);
          details.sort((a, b) => a.id.localeCompare(b.id));
          const want = members
            .map((member) => ({
              id: member.id,
              rooms: sorted([member.id, room]),
              data: dataOf(member),
            }))
            .sort((a, b) => a.id.localeCompare(b.id));
          assert.deepEqual(details, want, `fetch-details(room) on ${asker.node.name}`);
        }
      });

      it("sockets-join and sockets-leave act on the matching sockets of every node", T, async () => {
        const { byNode, all } = await connectEach(cluster, 2);
        const members = byNode.map((onNode) => onNode[0]);
        const outsiders = byNode.map((onNode) => onNode[1]);
        const room = uniq("room");
        for (const member of members) await join(member, room);
        for (const [index, asker] of outsiders.entries()) {
          const joined = uniq(`joined-${index}`);
          assert.equal(await ask(asker, "sockets-join", { room, rooms: [joined] }), "done");
          for (const member of members) await waitRooms(member, `joins ${joined}`, (rooms) => rooms.includes(joined));
          for (const outsider of outsiders) {
            assert.ok(!(await ask(outsider, "rooms")).includes(joined), `${outsider.name} must not join ${joined}`);
          }

          // The room made by a remote join is a room like any other.
          await cluster.roomReady(joined, cluster.nodes.length);
          await ask(asker, "broadcast", { event: "news", room: joined, args: [joined] });
          for (const member of members) assert.deepEqual(await received(member, "news"), [joined], member.name);

          assert.equal(await ask(asker, "sockets-leave", { room, rooms: [joined] }), "done");
          for (const member of members) await waitRooms(member, `leaves ${joined}`, (rooms) => !rooms.includes(joined));
          assert.ok((await ask(members[0], "rooms")).includes(room), "sockets-leave must leave the other rooms alone");

          const others = uniq(`others-${index}`);
          assert.equal(await ask(asker, "sockets-join", { except: room, rooms: [others] }), "done");
          for (const outsider of outsiders) {
            await waitRooms(outsider, `joins ${others}`, (rooms) => rooms.includes(others));
          }
          for (const member of members) {
            assert.ok(!(await ask(member, "rooms")).includes(others), `${member.name} is excepted from ${others}`);
          }
        }
        await nothingMore(all, "news");
      });

      for (const close of [false, true]) {
        it(`disconnect-sockets (close: ${close}) disconnects the matching sockets of every node`, T, async () => {
          const bystanders = (await connectEach(cluster, 1)).byNode.map((onNode) => onNode[0]);
          for (const [index, asker] of bystanders.entries()) {
            const room = uniq("doomed");
            const victims = (await connectEach(cluster, 1, "/", `victim${index}-`)).all;
            const siblings = await Promise.all(victims.map(connectSibling));
            for (const victim of victims) await join(victim, room);
            assert.equal(await ask(asker, "disconnect-sockets", { room, close }), "done");
            for (const victim of victims) {
              const [reason] = await received(victim, "disconnect");
              // close: true may end the connection before or after the DISCONNECT packet.
              if (!close) assert.equal(reason, "io server disconnect", `${victim.name} disconnect reason`);
            }
            if (close) {
              // The whole connection is closed: the /custom socket on it goes too.
              for (const sibling of siblings) await received(sibling, "disconnect");
            } else {
              await sleep(QUIET_MS);
              for (const sibling of siblings) assert.ok(sibling.socket.connected, `${sibling.name} stays connected`);
            }
          }
          await nothingMore(bystanders, "disconnect");
          for (const bystander of bystanders) assert.ok(bystander.socket.connected, `${bystander.name} stays connected`);
        });
      }

      it("server-side-emit reaches the other servers' handlers, not the sender's", T, async () => {
        const { byNode, all } = await connectEach(cluster, 1);
        for (const [index, node] of cluster.nodes.entries()) {
          const args = ["hello", index, { from: node.name, list: [1, "two", null] }];
          assert.equal(await ask(byNode[index][0], "server-side-emit", { args }), "sent");
          for (const [other, otherNode] of cluster.nodes.entries()) {
            if (other === index) continue;
            const listener = byNode[other][0];
            const note = await received(listener, "server-note");
            assert.deepEqual(note, [{ server: otherNode.name, args }], listener.name);
          }
        }
        // A note handled by its own sender would still be waiting here.
        await nothingMore(all, "server-note");
      });

      it("server-side-emit-ack collects one answer from every other server", T, async () => {
        const { byNode } = await connectEach(cluster, 1);
        for (const [index, node] of cluster.nodes.entries()) {
          const arg = `q${index}`;
          const result = await askWithin(SERVER_ACK_WAIT_MS, byNode[index][0], "server-side-emit-ack", { arg });
          const others = cluster.nodes.filter((other) => other !== node);
          const want = sorted(others.map((other) => `${other.name} answers ${arg}`));
          assert.equal(result.error, null, `server-side-emit-ack from ${node.name}: ${JSON.stringify(result)}`);
          assert.deepEqual(sorted(result.responses), want, `answers to ${node.name}`);
        }
      });

      const allRoomsSkip = mode === "sharded" && "the sharded adapter has no allRooms()";
      it("all-rooms lists the rooms of every node", { ...T, skip: allRoomsSkip }, async () => {
        const { byNode, all } = await connectEach(cluster, 1);
        const rooms = byNode.map(() => uniq("room"));
        for (const [index, onNode] of byNode.entries()) await join(onNode[0], rooms[index]);
        for (const asker of all) {
          const listed = await ask(asker, "all-rooms");
          assert.ok(Array.isArray(listed), `all-rooms on ${asker.node.name}: ${JSON.stringify(listed)}`);
          for (const room of [...rooms, ...all.map((client) => client.id)]) {
            assert.ok(listed.includes(room), `all-rooms on ${asker.node.name} lacks ${room}`);
          }
        }
      });

      it("broadcasts in /custom stay in /custom, and those in / stay in /", T, async () => {
        const root = await connectEach(cluster, 1, "/", "root");
        const custom = await connectEach(cluster, 1, "/custom", "custom");
        for (const [index] of cluster.nodes.entries()) {
          await ask(custom.byNode[index][0], "broadcast", { event: "news", args: ["custom", index] });
          for (const client of custom.all) {
            assert.deepEqual(await received(client, "news"), ["custom", index], client.name);
          }
          await ask(root.byNode[index][0], "broadcast", { event: "news", args: ["root", index] });
          for (const client of root.all) assert.deepEqual(await received(client, "news"), ["root", index], client.name);
        }
        await nothingMore([...root.all, ...custom.all], "news");
      });
    });
  }
}

const emitterCluster = new Cluster("classic", ["iogate", "node"]);
describe(`${title(emitterCluster)}, fed by @socket.io/redis-emitter`, () => {
  const cluster = emitterCluster;
  useCluster(cluster);
  let emitter;
  before(() => {
    emitter = new Emitter(cluster.redisClient, { key: cluster.key });
  });

  it("emit, to(), except() and of() reach the right clients of every node", T, async () => {
    const root = await connectEach(cluster, 2);
    const custom = await connectEach(cluster, 1, "/custom", "custom");
    const members = root.byNode.map((onNode) => onNode[0]);
    const outsiders = root.byNode.map((onNode) => onNode[1]);
    const room = uniq("room");
    for (const member of members) await join(member, room);
    const bytes = Buffer.from([1, 2, 3, 250]);

    emitter.emit("emitted", "everyone", bytes);
    for (const client of root.all) {
      const [text, got] = await received(client, "emitted");
      assert.equal(text, "everyone");
      assertBytes(got, bytes, `emitter's buffer at ${client.name}`);
    }
    emitter.to(room).emit("emitted", "members");
    for (const client of members) assert.deepEqual(await received(client, "emitted"), ["members"], client.name);
    emitter.except(room).emit("emitted", "outsiders");
    for (const client of outsiders) assert.deepEqual(await received(client, "emitted"), ["outsiders"], client.name);
    emitter.of("/custom").emit("emitted", "custom");
    for (const client of custom.all) assert.deepEqual(await received(client, "emitted"), ["custom"], client.name);
    await nothingMore([...root.all, ...custom.all], "emitted");
  });

  it("socketsJoin, socketsLeave and disconnectSockets act on every node", T, async () => {
    const { byNode } = await connectEach(cluster, 2);
    const members = byNode.map((onNode) => onNode[0]);
    const outsiders = byNode.map((onNode) => onNode[1]);
    const room = uniq("room");
    const joined = uniq("joined");
    for (const member of members) await join(member, room);

    emitter.in(room).socketsJoin(joined);
    for (const member of members) await waitRooms(member, `joins ${joined}`, (rooms) => rooms.includes(joined));
    for (const outsider of outsiders) assert.ok(!(await ask(outsider, "rooms")).includes(joined));
    emitter.in(room).socketsLeave(joined);
    for (const member of members) await waitRooms(member, `leaves ${joined}`, (rooms) => !rooms.includes(joined));

    const siblings = await Promise.all(members.map(connectSibling));
    emitter.in(room).disconnectSockets(true);
    for (const member of members) await received(member, "disconnect");
    for (const sibling of siblings) await received(sibling, "disconnect");
    await nothingMore(outsiders, "disconnect");
    for (const outsider of outsiders) assert.ok(outsider.socket.connected, `${outsider.name} must stay connected`);
  });

  it("serverSideEmit reaches every server", T, async () => {
    const { all } = await connectEach(cluster, 1);
    emitter.serverSideEmit("note", "from the emitter", 7);
    for (const client of all) {
      const note = await received(client, "server-note");
      assert.deepEqual(note, [{ server: client.node.name, args: ["from the emitter", 7] }], client.name);
    }
    await nothingMore(all, "server-note");
  });
});
