#!/usr/bin/env node
// socket.io 4.8.4 on its default engine (Node's http server + ws), running app.js.
// Usage: node ws_server.js [--port N] [--host 127.0.0.1] [--redis-url URL [--redis-key KEY]];
// prints `socket.io-ws listening on port N`.
'use strict';

const http = require('node:http');
const { Server, options, listenOptions, clusterAdapter, registerApp, exitOnSignals } = require('./app');

async function main() {
  const cluster = await clusterAdapter();
  const httpServer = http.createServer();
  const io = new Server(httpServer, cluster ? { ...options, adapter: cluster.adapter } : options);
  registerApp(io);

  const { host, port } = listenOptions();
  httpServer.listen(port, host, () => {
    process.stdout.write(`socket.io-ws listening on port ${httpServer.address().port}\n`);
  });
  exitOnSignals(() => {
    io.close();
    httpServer.close();
  });
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
