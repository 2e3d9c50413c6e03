#!/usr/bin/env node
// Node reference server for the side-by-side benchmark: socket.io 4.8.x, single process, with
// the same `/` handlers and engine settings as tests/integration/server/integration_server.cpp
// (the server bench/run.sh starts for iogate):
//   join (room, ack)                      -> socket.join(room), ack("joined")
//   broadcast ({room, except, event, args}, ack)
//                                          -> io.to(room).except(except).emit(event, ...args), ack("sent")
//   message (...args)                     -> socket.emit("message-back", ...args)
//   message-with-ack (...args, ack)       -> ack(...args)
// and, like the iogate server, it emits `auth` with the handshake auth on connection so both
// servers send the same frames per connection.
//
// Usage: node reference_server.js [--port N] [--host 127.0.0.1]
// Prints `reference listening on port <N>` once the port is bound.
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');

function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const port = Number(arg('port', '0'));
const host = arg('host', '127.0.0.1');

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: 2000,
  pingTimeout: 3000,
  allowEIO3: true,
  cors: { origin: '*' },
});

function stringField(value, key) {
  return value && typeof value === 'object' && typeof value[key] === 'string' ? value[key] : '';
}

io.of('/').on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth);

  socket.on('message', (...args) => {
    socket.emit('message-back', ...args);
  });

  socket.on('message-with-ack', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    if (ack) ack(...args);
  });

  socket.on('join', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    if (typeof args[0] === 'string') socket.join(args[0]);
    if (ack) ack('joined');
  });

  socket.on('broadcast', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    const request = args[0];
    let target = io.of('/');
    const room = stringField(request, 'room');
    if (room) target = target.to(room);
    const except = stringField(request, 'except');
    if (except) target = target.except(except);
    const payload = request && Array.isArray(request.args) ? request.args : [];
    target.emit(stringField(request, 'event'), ...payload);
    if (ack) ack('sent');
  });
});

httpServer.listen(port, host, () => {
  process.stdout.write(`reference listening on port ${httpServer.address().port}\n`);
});

function shutdown() {
  io.close();
  httpServer.close();
  // Bounded: never wait on lingering sockets.
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
