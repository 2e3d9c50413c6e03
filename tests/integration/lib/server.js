"use strict";
// Spawns one of the iogate test servers (conformance_server or
// integration_server) on an ephemeral port and waits, bounded, for its
// "iogate listening on port <N>" line. Also starts the nodes of a Redis
// cluster, each either integration_server or its Node twin
// (cluster/node_server.js), which prints the same line.
//
// The binary comes from IOGATE_CONFORMANCE_SERVER / IOGATE_INTEGRATION_SERVER
// (set by tests/integration/CMakeLists.txt from $<TARGET_FILE:...>).

const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ENV_VARS = {
  conformance: "IOGATE_CONFORMANCE_SERVER",
  integration: "IOGATE_INTEGRATION_SERVER",
  chat: "IOGATE_CHAT_SERVER",
  gateway: "IOGATE_SERVER",
};

const LISTEN_RE = /^iogate listening on port (\d+)\s*$/;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_KEEP = 64 * 1024;

const NODE_CLUSTER_SERVER = path.join(__dirname, "..", "cluster", "node_server.js");

// Every live child, killed (SIGKILL) if the test process goes away without
// calling stop().
const live = new Set();
let exitHooksInstalled = false;

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(sig, () => {
      for (const child of live) {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
  }
}

/** Kills `child` if the test process goes away while it still runs. */
function killOnExit(child) {
  installExitHooks();
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** Best effort: all threads' backtraces of a live process (needs gdb). */
function backtrace(pid) {
  try {
    const r = spawnSync("gdb", ["-batch", "-p", String(pid), "-ex", "thread apply all bt"], {
      encoding: "utf8",
      timeout: 20_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    if (r.error) return `(no backtrace: ${r.error.message})`;
    return (r.stdout || "").slice(-64 * 1024);
  } catch (e) {
    return `(no backtrace: ${e.message})`;
  }
}

function binaryPath(kind) {
  const envVar = ENV_VARS[kind];
  if (!envVar) throw new Error(`unknown server kind ${kind}`);
  const file = process.env[envVar];
  if (!file) {
    throw new Error(
      `${envVar} is not set: run these tests through ctest, or export ${envVar}=<path to the ${kind}_server binary>`,
    );
  }
  if (!fs.existsSync(file)) throw new Error(`${envVar}=${file} does not exist`);
  return file;
}

/**
 * Starts a server.
 * @param {"conformance"|"integration"|"chat"|"gateway"} kind
 * @param {{args?: string[], timeoutMs?: number, env?: Object<string,string>, port?: string|null}} [options]
 *   `env` replaces the child's environment (default: this process's);
 *   `port` is passed as --port (default "0"; null passes no --port).
 * @returns {Promise<{port:number, url:string, host:string, output():string, stop():Promise<{code:number|null, signal:string|null}>, child: import("node:child_process").ChildProcess}>}
 */
function startServer(kind, options = {}) {
  const file = binaryPath(kind);
  const port = options.port === undefined ? "0" : options.port;
  const args = [...(port === null ? [] : ["--port", String(port)]), ...(options.args || [])];
  return spawnServer({ kind, label: `${kind}_server`, file, args, env: options.env, timeoutMs: options.timeoutMs });
}

/**
 * Starts one node of a Redis cluster: integration_server ("iogate") or its
 * Node twin ("node"), with the same flags, on port 0.
 * @param {{kind: "iogate"|"node", name: string, redisUrl: string, key: string,
 *   mode: "classic"|"sharded", requestsTimeout: number}} node
 * @returns the handle startServer returns, plus `name` and `nodeKind`.
 */
async function startClusterNode({ kind, name, redisUrl, key, mode, requestsTimeout }) {
  const args = [
    "--port", "0",
    "--redis-url", redisUrl,
    "--redis-key", key,
    "--redis-mode", mode,
    "--name", name,
    "--requests-timeout", String(requestsTimeout),
  ];
  let launch;
  if (kind === "iogate") {
    launch = { kind: "integration", label: `integration_server ${name}`, file: binaryPath("integration"), args };
  } else if (kind === "node") {
    launch = { kind, label: `node_server.js ${name}`, file: process.execPath, args: [NODE_CLUSTER_SERVER, ...args] };
  } else {
    throw new Error(`unknown cluster node kind ${kind}`);
  }
  return Object.assign(await spawnServer(launch), { name, nodeKind: kind });
}

/** Spawns `file args`, waits (bounded) for its listening line and returns its handle. */
function spawnServer({ kind, label, file, args, env, timeoutMs = START_TIMEOUT_MS }) {
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env: env || process.env });
  killOnExit(child);

  let output = "";
  const keep = (chunk) => {
    output += chunk;
    if (output.length > OUTPUT_KEEP) output = output.slice(-OUTPUT_KEEP);
  };
  if (process.env.IOGATE_TEST_VERBOSE) {
    child.stderr.on("data", (d) => process.stderr.write(`[${label}] ${d}`));
  }

  let stopping = false;
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });

  return new Promise((resolve, reject) => {
    let settled = false;
    let lineBuf = "";

    const fail = (message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      reject(new Error(`${label} (${file}): ${message}\n--- output ---\n${output}`));
    };

    const timer = setTimeout(
      () => fail(`no "iogate listening on port N" line within ${timeoutMs} ms`),
      timeoutMs,
    );

    child.once("error", (err) => fail(`spawn failed: ${err.message}`));
    child.once("exit", (code, signal) => {
      if (!settled) fail(`exited before listening (code ${code}, signal ${signal})`);
    });

    child.stderr.setEncoding("utf8");
    child.stderr.on("data", keep); // keep draining so the child never blocks
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      keep(chunk);
      if (settled) return;
      lineBuf += chunk;
      let nl;
      while ((nl = lineBuf.indexOf("\n")) >= 0) {
        const line = lineBuf.slice(0, nl).replace(/\r$/, "");
        lineBuf = lineBuf.slice(nl + 1);
        const m = LISTEN_RE.exec(line);
        if (!m) continue;
        const port = Number(m[1]);
        if (!(port > 0 && port < 65536)) {
          fail(`bad port in listening line: ${line}`);
          return;
        }
        settled = true;
        clearTimeout(timer);
        const host = "127.0.0.1";
        resolve({
          kind,
          port,
          host,
          url: `http://${host}:${port}`,
          child,
          output: () => output,
          /** Non-null once the process has exited. */
          exitInfo: () => exitInfo,
          /**
           * Throws if the server died before stop() was called (crash).
           */
          assertAlive() {
            if (exitInfo && !stopping) {
              throw new Error(
                `${label} died during the tests (code ${exitInfo.code}, signal ${exitInfo.signal})\n--- output ---\n${output}`,
              );
            }
          },
          /**
           * SIGTERM, bounded wait, then SIGKILL. Rejects if the server had
           * crashed before being asked to stop.
           */
          async stop() {
            const diedEarly = exitInfo !== null && !stopping;
            stopping = true;
            if (diedEarly) {
              throw new Error(
                `${label} died during the tests (code ${exitInfo.code}, signal ${exitInfo.signal})\n--- output ---\n${output}`,
              );
            }
            if (!exitInfo) child.kill("SIGTERM");
            let t;
            const res = await Promise.race([
              exited,
              new Promise((r) => {
                t = setTimeout(() => r(null), STOP_TIMEOUT_MS);
              }),
            ]);
            clearTimeout(t);
            if (res === null) {
              // A server that ignores SIGTERM is usually stuck: show where.
              const stacks = backtrace(child.pid);
              child.kill("SIGKILL");
              await exited;
              throw new Error(
                `${label} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed)\n` +
                  `--- threads ---\n${stacks}\n--- output (tail) ---\n${output.slice(-8192)}`,
              );
            }
            if (res.signal && res.signal !== "SIGTERM") {
              throw new Error(
                `${label} exited with signal ${res.signal} after SIGTERM\n--- output ---\n${output}`,
              );
            }
            if (res.code !== 0 && res.signal !== "SIGTERM") {
              process.stderr.write(
                `warning: ${label} exited with code ${res.code} after SIGTERM\n--- output (tail) ---\n${output.slice(-4096)}\n`,
              );
            }
            return res;
          },
        });
        return;
      }
    });
  });
}

module.exports = { startServer, startClusterNode, killOnExit };
