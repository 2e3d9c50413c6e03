"use strict";
// A throwaway Redis for the cluster tests: Debian's /usr/bin/redis-server on a
// free 127.0.0.1 port (and a unix socket) in its own temporary folder, without
// persistence. start waits, bounded, until it answers PING; kill() and
// restart() keep the port and the socket path, so that the nodes of a cluster
// can reconnect to the same address in fault tests.

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { killOnExit } = require("./server");
const { sleep } = require("./util");

const REDIS_SERVER = "/usr/bin/redis-server";
const HOST = "127.0.0.1";
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const PING_TIMEOUT_MS = 500;
const PING_INTERVAL_MS = 25;
// A free port can be taken by someone else before redis-server binds it.
const PORT_ATTEMPTS = 3;
const OUTPUT_KEEP = 64 * 1024;

// Every temporary folder still in use, removed when the test process exits.
const folders = new Set();
process.on("exit", () => {
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves true when a Redis on `port` answers PING with PONG within PING_TIMEOUT_MS. */
function answersPing(port) {
  return new Promise((resolve) => {
    let reply = "";
    const socket = net.connect({ host: HOST, port });
    const done = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), PING_TIMEOUT_MS);
    socket.setEncoding("utf8");
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk;
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.once("error", () => done(false));
  });
}

/**
 * Runs redis-server on `port` and waits, bounded, until it answers PING.
 * Rejects with err.portTaken set when the port was in use.
 */
async function launch(port, folder, socketPath) {
  const args = [
    "--port", String(port),
    "--bind", HOST,
    "--save", "",
    "--appendonly", "no",
    "--dir", folder,
    "--unixsocket", socketPath,
    "--unixsocketperm", "700",
    "--daemonize", "no",
    "--logfile", "",
  ];
  const child = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
  killOnExit(child);
  const instance = { child, output: "", exitInfo: null, killed: false };
  const keep = (chunk) => {
    instance.output = (instance.output + chunk).slice(-OUTPUT_KEEP);
  };
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  instance.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      instance.exitInfo = { code, signal };
      resolve(instance.exitInfo);
    });
  });
  let spawnError = null;
  child.once("error", (error) => {
    spawnError = error;
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError) throw new Error(`${REDIS_SERVER} could not start: ${spawnError.message}`);
    if (instance.exitInfo) {
      const error = new Error(
        `${REDIS_SERVER} on port ${port} exited before answering PING ` +
          `(code ${instance.exitInfo.code}, signal ${instance.exitInfo.signal})\n--- output ---\n${instance.output}`,
      );
      error.portTaken = /Address already in use/i.test(instance.output);
      throw error;
    }
    if (await answersPing(port)) return instance;
    if (Date.now() >= deadline) {
      child.kill("SIGKILL");
      await instance.exited;
      throw new Error(
        `${REDIS_SERVER} on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms\n` +
          `--- output ---\n${instance.output}`,
      );
    }
    await sleep(PING_INTERVAL_MS);
  }
}

/** SIGKILLs a launched redis-server and waits for it to be gone. */
async function killInstance(instance) {
  if (!instance.exitInfo) instance.child.kill("SIGKILL");
  await instance.exited;
}

/** Resolves with the exit of `instance`, or null after `ms`. */
async function exitWithin(instance, ms) {
  let timer;
  const gaveUp = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([instance.exited, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a Redis.
 * @returns {Promise<{port:number, host:string, url:string, socketPath:string,
 *   output():string, assertAlive():void, kill():Promise<void>,
 *   restart():Promise<void>, stop():Promise<void>}>}
 */
async function startRedis() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "iogate-redis-"));
  folders.add(folder);
  const socketPath = path.join(folder, "redis.sock");

  let current = null;
  let port = 0;
  for (let attempt = 1; current === null; attempt++) {
    port = await freePort();
    try {
      current = await launch(port, folder, socketPath);
    } catch (error) {
      if (!error.portTaken || attempt >= PORT_ATTEMPTS) {
        fs.rmSync(folder, { recursive: true, force: true });
        folders.delete(folder);
        throw error;
      }
    }
  }

  let stopped = false;
  return {
    port,
    host: HOST,
    url: `redis://${HOST}:${port}`,
    socketPath,
    output: () => current.output,
    /** Throws if redis-server died without kill() or stop(). */
    assertAlive() {
      if (current.exitInfo && !current.killed) {
        throw new Error(
          `redis-server died during the tests (code ${current.exitInfo.code}, signal ${current.exitInfo.signal})\n` +
            `--- output ---\n${current.output}`,
        );
      }
    },
    /** SIGKILL, as a crash would: clients see their connections drop. */
    async kill() {
      current.killed = true;
      await killInstance(current);
    },
    /** Starts a fresh (empty) redis-server on the same port and socket path. */
    async restart() {
      await killInstance(current);
      current = await launch(port, folder, socketPath);
    },
    /** SIGTERM, bounded wait, then SIGKILL; removes the temporary folder. */
    async stop() {
      if (stopped) return;
      stopped = true;
      current.killed = true;
      if (!current.exitInfo) current.child.kill("SIGTERM");
      const exited = await exitWithin(current, STOP_TIMEOUT_MS);
      if (exited === null) await killInstance(current);
      fs.rmSync(folder, { recursive: true, force: true });
      folders.delete(folder);
      if (exited === null) {
        throw new Error(`redis-server did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed)`);
      }
    },
  };
}

module.exports = { startRedis };
