"use strict";
// The Node twin of integration_server for the mixed-cluster tests: socket.io 4.8.4 on
// @socket.io/redis-adapter 8.3.0 (classic or sharded Pub/Sub, node-redis 4 clients). It handles
// the same cluster events, with the same names and shapes, as integration_server does with
// --redis-url, so that a test can put Node and iogate nodes in one cluster and drive them alike.
//
//   node cluster/node_server.js --port 0 --redis-url redis://127.0.0.1:N --redis-key socket.io
//     --redis-mode classic|sharded --name NAME --requests-timeout MS
//
// Prints "iogate listening on port <N>" once it listens on 127.0.0.1 (lib/server.js waits for
// that line).

const http = require("node:http");
const { parseArgs } = require("node:util");
const { Server } = require("socket.io");
const { redisAdapter, serve } = require("./node_common");

// io.close() can wait on Redis forever when Redis is gone (node-redis queues commands while it
// reconnects), so a stop gives up on it after this long.

const { values: flags } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "redis-url": { type: "string" },
    "redis-key": { type: "string", default: "socket.io" },
    "redis-mode": { type: "string", default: "classic" },
    name: { type: "string", default: "node" },
    "requests-timeout": { type: "string", default: "5000" },
  },
});

const NAME = flags.name;

function fail(message) {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(2);
}

if (!flags["redis-url"]) fail("--redis-url is required");
if (!["classic", "sharded"].includes(flags["redis-mode"])) fail(`unknown --redis-mode ${flags["redis-mode"]}`);
const SHARDED = flags["redis-mode"] === "sharded";

/**
 * Registers `handler(request, ack)` for `event`: `request` is the first argument the client sent
 * (undefined when it sent none) and `ack` a no-op when the client asked for no acknowledgement.
 */
function handle(socket, event, handler) {
  socket.on(event, (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
    handler(args[0], ack);
  });
}

/** The broadcast target of a request: the namespace, narrowed to `room`, minus `except`. */
function target(nsp, { room, except } = {}) {
  let operator = nsp;
  if (room) operator = operator.to(room);
  if (except) operator = operator.except(except);
  return operator;
}

/** Emits the broadcast a client describes as {event, room?, except?, args}. */
function onBroadcast(nsp) {
  return (request = {}, ack) => {
    target(nsp, request).emit(request.event, ...(request.args || []));
    ack("sent");
  };
}

/** Acknowledges with the result of `work`, or with {error} when a cluster request fails. */
async function answer(ack, work) {
  try {
    ack(await work());
  } catch (error) {
    ack({ error: error.message });
  }
}

function fetchSockets(nsp, room) {
  return target(nsp, { room }).fetchSockets();
}

function registerRootHandlers(io, socket) {
  const nsp = io.of("/");
  socket.emit("auth", socket.handshake.auth);

  handle(socket, "join", (room, ack) => {
    socket.join(room);
    ack("joined");
  });
  handle(socket, "leave", (room, ack) => {
    socket.leave(room);
    ack("left");
  });
  handle(socket, "rooms", (_, ack) => ack([...socket.rooms]));
  handle(socket, "broadcast", onBroadcast(nsp));
  handle(socket, "broadcast-ack", ({ room, timeout = 1000 } = {}, ack) => {
    target(nsp, { room })
      .timeout(timeout)
      .emit("question", 42, (err, responses) => ack({ error: err ? err.message : null, responses }));
  });
  handle(socket, "fetch", (room, ack) =>
    answer(ack, async () => (await fetchSockets(nsp, room)).map((s) => s.id)),
  );
  handle(socket, "fetch-details", (room, ack) =>
    answer(ack, async () =>
      (await fetchSockets(nsp, room)).map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data })),
    ),
  );
  handle(socket, "set-data", (data, ack) => {
    socket.data = data;
    ack("set");
  });
  handle(socket, "sockets-join", (request = {}, ack) => {
    target(nsp, request).socketsJoin(request.rooms);
    ack("done");
  });
  handle(socket, "sockets-leave", (request = {}, ack) => {
    target(nsp, request).socketsLeave(request.rooms);
    ack("done");
  });
  handle(socket, "disconnect-sockets", (request = {}, ack) => {
    // Answer first: the asking socket may be among the ones disconnected.
    ack("done");
    target(nsp, request).disconnectSockets(Boolean(request.close));
  });
  handle(socket, "server-side-emit", ({ args = [] } = {}, ack) => {
    nsp.serverSideEmit("note", ...args);
    ack("sent");
  });
  // The adapter bounds the wait (classic: --requests-timeout, sharded: 5000 ms, neither can be
  // set per call); the callback form keeps the partial responses when it times out.
  handle(socket, "server-side-emit-ack", ({ arg } = {}, ack) => {
    nsp.serverSideEmit("ask", arg, (err, responses) => ack({ error: err ? err.message : null, responses }));
  });
  handle(socket, "all-rooms", (_, ack) => {
    // The sharded adapter (socket.io-adapter's ClusterAdapter) has no allRooms().
    if (SHARDED) return ack({ error: "unsupported" });
    return answer(ack, async () => [...(await nsp.adapter.allRooms())].sort());
  });
  handle(socket, "server-count", (_, ack) => answer(ack, () => nsp.adapter.serverCount()));
  handle(socket, "whoami", (_, ack) => ack({ server: NAME, id: socket.id }));
}

function registerCustomHandlers(io, socket) {
  socket.emit("auth", socket.handshake.auth);
  handle(socket, "broadcast", onBroadcast(io.of("/custom")));
}

async function main() {
  const { adapter, clients } = await redisAdapter({
    url: flags["redis-url"],
    key: flags["redis-key"],
    mode: flags["redis-mode"],
    requestsTimeout: Number(flags["requests-timeout"]),
    name: NAME,
  });

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter,
    pingInterval: 2000,
    pingTimeout: 3000,
    allowEIO3: true,
    cors: { origin: true, credentials: true },
  });

  io.on("connection", (socket) => registerRootHandlers(io, socket));
  io.of("/custom").on("connection", (socket) => registerCustomHandlers(io, socket));
  io.on("note", (...args) => io.local.emit("server-note", { server: NAME, args }));
  io.on("ask", (arg, cb) => cb(`${NAME} answers ${arg}`));

  serve(io, httpServer, Number(flags.port), clients);
}

main().catch((error) => fail(error.stack || error.message));
