"use strict";
// What the two Node twins (node_server.js, node_gateway.js) share: the Redis adapter made from
// their flags, and serving until SIGTERM/SIGINT with the listening line lib/server.js waits for.

const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

// io.close() can wait on Redis forever when Redis is gone: give up on it after a while.
const CLOSE_GRACE_MS = 1500;

function redisClient(url, label) {
  const client = createClient({ url });
  // Without a listener node-redis' "error" events would end the process when Redis goes away;
  // the client reconnects by itself.
  client.on("error", (error) => process.stderr.write(`${label}: ${error.message}\n`));
  return client;
}

/** A connected pub/sub pair and the adapter on it: classic (createAdapter) or sharded. */
async function redisAdapter({ url, key, mode, requestsTimeout, name }) {
  const pub = redisClient(url, `${name}: redis pub`);
  const sub = redisClient(url, `${name}: redis sub`);
  await Promise.all([pub.connect(), sub.connect()]);
  const adapter =
    mode === "sharded"
      ? createShardedAdapter(pub, sub, { channelPrefix: key })
      : createAdapter(pub, sub, { key, requestsTimeout });
  return { adapter, clients: [pub, sub] };
}

/** Listens on 127.0.0.1:`port`, prints the listening line, and closes on SIGTERM/SIGINT. */
function serve(io, httpServer, port, redisClients) {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.race([io.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS))]);
    await Promise.allSettled(redisClients.map((client) => client.disconnect()));
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  httpServer.listen(port, "127.0.0.1", () => {
    console.log(`iogate listening on port ${httpServer.address().port}`);
  });
}

module.exports = { redisAdapter, serve };
