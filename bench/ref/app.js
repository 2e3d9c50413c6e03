// The benchmark application, shared by both reference servers; the same events as
// bench/server/bench_server.cpp:
//   join(room, ack)                                  socket.join(room), ack("joined")
//   broadcast(rooms, payload, ack?)                  io.to(rooms).emit("msg", payload), ack("sent")
//   broadcast_except(rooms, except, payload, ack?)   io.to(rooms).except(except).emit("msg", payload)
//   echo(payload, ack)                               ack(payload)
// `rooms` and `except` are a room name or an array of room names.
//
// In memory by default; with `--redis-url URL [--redis-key KEY]` the server is a node of a classic
// Redis cluster (@socket.io/redis-adapter 8.3 `createAdapter(pub, sub)` on node-redis 4), as
// bench_server is with the same flags: the cluster scenario of bench/run.sh.
'use strict';

const { Server } = require('socket.io');

const options = { serveClient: false };

function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

function listenOptions() {
  return { host: arg('host', '127.0.0.1'), port: Number(arg('port', '0')) };
}

// The Redis adapter when --redis-url is given, once both of its clients are connected:
// { adapter } — or null (in memory). The adapter subscribes when the server creates "/".
async function clusterAdapter() {
  const url = arg('redis-url', '');
  if (!url) return null;
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pub = createClient({ url });
  const sub = pub.duplicate();
  for (const [name, client] of [['pub', pub], ['sub', sub]]) {
    client.on('error', (error) => process.stderr.write(`redis ${name}: ${error.message}\n`));
  }
  await Promise.all([pub.connect(), sub.connect()]);
  process.stderr.write('redis connected\n');
  // No close: disconnecting would reject the unsubscribes io.close() just queued (an unhandled
  // rejection, exit 1); exitOnSignals' process.exit closes the connections.
  return { adapter: createAdapter(pub, sub, { key: arg('redis-key', 'socket.io') }) };
}

function lastIsAck(args) {
  return typeof args[args.length - 1] === 'function' ? args.pop() : null;
}

function registerApp(io) {
  io.of('/').on('connection', (socket) => {
    socket.on('join', (...args) => {
      const ack = lastIsAck(args);
      socket.join(args[0]);
      if (ack) ack('joined');
    });
    socket.on('broadcast', (...args) => {
      const ack = lastIsAck(args);
      io.to(args[0]).emit('msg', args[1]);
      if (ack) ack('sent');
    });
    socket.on('broadcast_except', (...args) => {
      const ack = lastIsAck(args);
      io.to(args[0]).except(args[1]).emit('msg', args[2]);
      if (ack) ack('sent');
    });
    socket.on('echo', (payload, ack) => {
      if (typeof ack === 'function') ack(payload);
    });
  });
}

// Bounded shutdown: never waits on lingering sockets.
function exitOnSignals(close) {
  const shutdown = () => {
    close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

module.exports = { Server, options, listenOptions, clusterAdapter, registerApp, exitOnSignals };
