#!/usr/bin/env node
// socket.io 4.8.4 attached to uWebSockets.js 20.30 (io.attachApp): uWS carries the WebSocket and
// HTTP traffic, and plain room broadcasts go through uWS's publish.
// Usage: node uws_server.js [--port N] [--host 127.0.0.1]; prints `socket.io-uws listening on port N`.
'use strict';

const uWS = require('@trufflesuite/uws-js-unofficial');
const { Server, options, listenOptions, registerApp, exitOnSignals } = require('./app');

// The package falls back to a pure-JS emulation when its native addon does not load; that
// would not be uWebSockets.js, so refuse to run.
if (typeof uWS.getParts !== 'function') {
  process.stderr.write('uWebSockets.js native addon did not load on this Node\n');
  process.exit(1);
}

const app = uWS.App();
const io = new Server(options);
io.attachApp(app);
registerApp(io);

const { host, port } = listenOptions();
app.listen(host, port, (listenSocket) => {
  if (!listenSocket) {
    process.stderr.write(`cannot listen on ${host}:${port}\n`);
    process.exit(1);
  }
  process.stdout.write(`socket.io-uws listening on port ${uWS.us_socket_local_port(listenSocket)}\n`);
  exitOnSignals(() => {
    io.close();
    uWS.us_listen_socket_close(listenSocket);
  });
});
