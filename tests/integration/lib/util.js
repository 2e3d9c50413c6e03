"use strict";
// Bounded waiting helpers shared by the Node test files. Nothing here waits
// without a deadline.

const assert = require("node:assert/strict");

/** Default deadline for anything that should happen "soon". */
const WAIT_MS = Number(process.env.IOGATE_TEST_WAIT_MS || 5000);
/** How long we listen to prove that something does NOT happen. */
const QUIET_MS = Number(process.env.IOGATE_TEST_QUIET_MS || 300);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `label` if `promise` has not settled within `ms`. */
function withTimeout(promise, ms, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${label}`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Connects a socket.io-client 4 socket (created with autoConnect: false) that the server must
 * refuse; resolves with its connect_error within `ms`. `label` names it in failures.
 */
async function connectRefused(socket, label, ms = WAIT_MS) {
  const result = new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error(`${label} must be refused, but the socket connected`)));
    socket.once("connect_error", resolve);
  });
  socket.connect();
  const err = await withTimeout(result, ms, `connect_error on ${label}`);
  assert.equal(socket.connected, false);
  return err;
}

/**
 * Waits for one `event` on an emitter (Node EventEmitter, component-emitter
 * of socket.io-client 2/4, or a ws WebSocket) and resolves with its
 * arguments array.
 */
function onceEvent(emitter, event, ms = WAIT_MS, label) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      off(emitter, event, handler);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"${label ? ` (${label})` : ""}`));
    }, ms);
    emitter.once(event, handler);
  });
}

function off(emitter, event, handler) {
  if (typeof emitter.off === "function") emitter.off(event, handler);
  else if (typeof emitter.removeListener === "function") emitter.removeListener(event, handler);
}

/**
 * Records every occurrence of the given events on a client socket so that a
 * test never misses an event that fires before it starts waiting.
 * Works with socket.io-client 4 and 2 (both have on/off).
 */
class Recorder {
  constructor(socket, events) {
    this.socket = socket;
    this.items = []; // {event, args}
    this.waiters = [];
    this.handlers = [];
    for (const event of events) {
      const h = (...args) => this._push(event, args);
      socket.on(event, h);
      this.handlers.push([event, h]);
    }
  }

  _push(event, args) {
    const idx = this.waiters.findIndex((w) => w.event === event);
    if (idx >= 0) {
      const [w] = this.waiters.splice(idx, 1);
      clearTimeout(w.timer);
      w.resolve(args);
      return;
    }
    this.items.push({ event, args });
  }

  /** Resolves with the args of the next (oldest unconsumed) `event`. */
  next(event, ms = WAIT_MS) {
    const idx = this.items.findIndex((i) => i.event === event);
    if (idx >= 0) {
      const [item] = this.items.splice(idx, 1);
      return Promise.resolve(item.args);
    }
    return new Promise((resolve, reject) => {
      const w = { event, resolve };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Collects `count` occurrences of `event`, bounded overall by `ms`. */
  async take(event, count, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    const out = [];
    for (let i = 0; i < count; i++) {
      const left = Math.max(1, deadline - Date.now());
      out.push(await this.next(event, left).catch((e) => {
        throw new Error(`${e.message} (got ${i} of ${count})`);
      }));
    }
    return out;
  }

  /** Asserts that `event` is not (and does not get) recorded within `ms`. */
  async none(event, ms = QUIET_MS) {
    await sleep(ms);
    const got = this.items.filter((i) => i.event === event);
    assert.equal(
      got.length,
      0,
      `"${event}" must not be received, got ${JSON.stringify(got.map((g) => g.args))}`,
    );
  }

  /** Number of unconsumed `event`s recorded so far. */
  count(event) {
    return this.items.filter((i) => i.event === event).length;
  }

  detach() {
    for (const [event, h] of this.handlers) off(this.socket, event, h);
    this.handlers = [];
  }
}

/** True for every binary representation a JS client may hand us. */
function isBinary(x) {
  return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

/** Asserts `x` is binary and holds exactly `bytes`. */
function assertBytes(x, bytes, what = "value") {
  assert.ok(isBinary(x), `${what} must be binary, got ${Object.prototype.toString.call(x)} ${safeJson(x)}`);
  const buf = x instanceof ArrayBuffer ? Buffer.from(x) : Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const want = Buffer.from(bytes);
  if (buf.length <= 64 && want.length <= 64) {
    assert.deepEqual([...buf], [...want], `${what} bytes`);
  } else {
    assert.equal(buf.length, want.length, `${what} length`);
    assert.ok(buf.equals(want), `${what}: bytes differ`);
  }
}

function safeJson(x) {
  try {
    return JSON.stringify(x);
  } catch {
    return String(x);
  }
}

/** A unique-enough name for rooms/events so tests never see each other. */
let counter = 0;
function uniq(prefix = "r") {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

module.exports = {
  connectRefused,
  WAIT_MS,
  QUIET_MS,
  sleep,
  withTimeout,
  onceEvent,
  Recorder,
  isBinary,
  assertBytes,
  uniq,
};
