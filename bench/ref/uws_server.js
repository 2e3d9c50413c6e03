#!/usr/bin/env node
// socket.io 4.8.4 attached to uWebSockets.js 20.30 (io.attachApp): uWS carries the WebSocket and
// HTTP traffic, and plain room broadcasts go through uWS's publish (with the Redis adapter too:
// it hands local delivery to the same patched Adapter.prototype.broadcast).
// Usage: node uws_server.js [--port N] [--host 127.0.0.1] [--redis-url URL [--redis-key KEY]];
// prints `socket.io-uws listening on port N`.
'use strict';

const uWS = require('@trufflesuite/uws-js-unofficial');
const { Server, options, listenOptions, clusterAdapter, registerApp, exitOnSignals } = require('./app');

// The package falls back to a pure-JS emulation when its native addon does not load; that
// would not be uWebSockets.js, so refuse to run.
if (typeof uWS.getParts !== 'function') {
  process.stderr.write('uWebSockets.js native addon did not load on this Node\n');
  process.exit(1);
}

async function main() {
  const cluster = await clusterAdapter();
  const app = uWS.App();
  const io = new Server(cluster ? { ...options, adapter: cluster.adapter } : options);
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
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
