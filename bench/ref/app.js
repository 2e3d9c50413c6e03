// The benchmark application, shared by both reference servers; the same events as
// bench/server/bench_server.cpp:
//   join(room, ack)                                  socket.join(room), ack("joined")
//   broadcast(rooms, payload, ack?)                  io.to(rooms).emit("msg", payload), ack("sent")
//   broadcast_except(rooms, except, payload, ack?)   io.to(rooms).except(except).emit("msg", payload)
//   echo(payload, ack)                               ack(payload)
// `rooms` and `except` are a room name or an array of room names.
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

module.exports = { Server, options, listenOptions, registerApp, exitOnSignals };
