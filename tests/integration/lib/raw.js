"use strict";
// Raw Engine.IO clients for the conformance tests: HTTP long-polling over
// node:http (full control over method, headers and body) and WebSocket
// through the `ws` package. Every operation is bounded.

const http = require("node:http");
const WebSocket = require("ws");
const { WAIT_MS, withTimeout } = require("./util");

const RS = "\x1e";

/**
 * One HTTP request on a fresh connection (no keep-alive pooling, so
 * concurrent requests really are concurrent).
 * Resolves with {status, headers, body: Buffer, text}. The returned promise
 * has an abort() method that destroys the request.
 */
function httpRequest(url, { method = "GET", headers = {}, body, timeout = WAIT_MS } = {}) {
  let req;
  const p = new Promise((resolve, reject) => {
    const u = new URL(url);
    const hdrs = { ...headers };
    let payload = null;
    if (body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(String(body), "utf8");
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === "content-type")) {
        hdrs["Content-Type"] = "text/plain;charset=UTF-8";
      }
      hdrs["Content-Length"] = payload.length;
    }
    // If the server answers early (e.g. 413) and closes the connection while
    // we are still sending, keep the answer instead of the write error.
    let response = null;
    const chunks = [];
    const finish = (partial) => {
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      resolve({
        status: response.statusCode,
        headers: response.headers,
        body: buf,
        text: buf.toString("utf8"),
        partial,
      });
    };
    req = http.request(
      {
        host: u.hostname.replace(/^\[|\]$/g, ""),
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: hdrs,
        agent: false,
      },
      (res) => {
        response = res;
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => finish(false));
        res.on("error", () => finish(true));
        res.on("close", () => {
          if (!res.complete) finish(true);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`HTTP ${method} ${url} timed out after ${timeout} ms`));
    }, timeout);
    req.on("error", (e) => {
      if (response && !e.message.includes("timed out")) return finish(true);
      clearTimeout(timer);
      reject(e);
    });
    if (payload) req.end(payload);
    else req.end();
  });
  p.abort = () => req && req.destroy();
  return p;
}

/**
 * POSTs a (large) body in chunks and stops sending as soon as the server
 * answers. A server may legitimately reject an oversized body early (413)
 * and close the connection; writing the rest would then fail with EPIPE or
 * ECONNRESET and hide the answer. Headers go first, then after
 * `earlyWaitMs` without an answer the body follows in `chunk`-byte pieces.
 * Resolves like httpRequest.
 */
function httpPostStreamed(url, body, { headers = {}, timeout = WAIT_MS, chunk = 64 * 1024, earlyWaitMs = 200 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let response = null;
    let settled = false;
    let wake = null; // resolves the writer's current wait
    const chunks = [];
    const settle = (fn) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      if (wake) wake();
      req.destroy();
    };
    const finish = (partial) =>
      settle(() => {
        const buf = Buffer.concat(chunks);
        resolve({ status: response.statusCode, headers: response.headers, body: buf, text: buf.toString("utf8"), partial });
      });
    const fail = (e) => settle(() => reject(e));
    const req = http.request({
      host: u.hostname.replace(/^\[|\]$/g, ""),
      port: u.port,
      path: u.pathname + u.search,
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8", ...headers, "Content-Length": body.length },
      agent: false,
    });
    const timer = setTimeout(() => fail(new Error(`streamed POST ${url} timed out after ${timeout} ms`)), timeout);
    req.on("response", (res) => {
      response = res;
      if (wake) wake();
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => finish(false));
      res.on("error", () => finish(true));
      res.on("close", () => {
        if (!res.complete) finish(true);
      });
    });
    req.on("error", (e) => (response ? finish(true) : fail(e)));
    const waitFor = (ms, event) =>
      new Promise((r) => {
        let t = null;
        const done = () => {
          clearTimeout(t);
          if (event) req.off(event, done);
          wake = null;
          r();
        };
        wake = done;
        if (ms !== null) t = setTimeout(done, ms);
        if (event) req.once(event, done);
      });
    req.flushHeaders();
    (async () => {
      await waitFor(earlyWaitMs, null);
      for (let off = 0; off < body.length; off += chunk) {
        if (response || settled) return; // answered early: stop sending
        if (!req.write(body.subarray(off, off + chunk))) await waitFor(null, "drain");
      }
      if (!response && !settled) req.end();
    })().catch(fail);
  });
}

/** Parses a JSON error body and checks the Engine.IO error shape. */
function errorBody(res) {
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`expected a JSON error body, got ${JSON.stringify(res.text)}`);
  }
  return body;
}

// ---------------------------------------------------------------- payloads

function decodeV4(text) {
  if (text === "") return [];
  return text.split(RS);
}

function encodeV4(packets) {
  return packets.join(RS);
}

/** EIO3 text payload: `<len>:<packet>` with len in UTF-16 code units. */
function encodeV3(packets) {
  return packets.map((p) => `${p.length}:${p}`).join("");
}

function decodeV3(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) throw new Error(`bad v3 payload (no colon at ${i}): ${JSON.stringify(text)}`);
    const lenStr = text.slice(i, colon);
    if (!/^\d+$/.test(lenStr)) throw new Error(`bad v3 length ${JSON.stringify(lenStr)} in ${JSON.stringify(text)}`);
    const len = Number(lenStr);
    const packet = text.slice(colon + 1, colon + 1 + len);
    if (packet.length !== len) throw new Error(`truncated v3 payload: ${JSON.stringify(text)}`);
    out.push(packet);
    i = colon + 1 + len;
  }
  return out;
}

/**
 * EIO3 XHR2 binary payload: per packet a marker (0 text / 1 binary), the
 * decimal digits of the length as byte values, 0xFF, then the packet bytes.
 * Returns strings for text packets and Buffers (type byte included) for
 * binary ones.
 */
function decodeV3Binary(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    const marker = buf[i++];
    if (marker !== 0 && marker !== 1) throw new Error(`bad v3 binary marker ${marker} at ${i - 1}`);
    let lenStr = "";
    while (i < buf.length && buf[i] !== 0xff) {
      if (buf[i] > 9) throw new Error(`bad v3 binary length digit ${buf[i]}`);
      lenStr += String(buf[i++]);
      if (lenStr.length > 310) throw new Error("v3 binary length too long");
    }
    if (buf[i] !== 0xff) throw new Error("v3 binary payload: missing 0xFF");
    i++;
    const len = Number(lenStr);
    const data = buf.subarray(i, i + len);
    if (data.length !== len) throw new Error("truncated v3 binary payload");
    i += len;
    out.push(marker === 0 ? data.toString("utf8") : Buffer.from(data));
  }
  return out;
}

// ---------------------------------------------------------------- polling

class PollingSession {
  /**
   * Performs the polling handshake.
   * @param {string} base e.g. http://127.0.0.1:1234
   * @param {string} path "/engine.io/" or "/socket.io/"
   */
  static async open(base, path, { eio = 4, query = "", headers = {} } = {}) {
    const res = await httpRequest(`${base}${path}?EIO=${eio}&transport=polling${query}`, { headers });
    if (res.status !== 200) {
      throw new Error(`handshake failed: ${res.status} ${res.text}`);
    }
    const packets = eio === 4 ? decodeV4(res.text) : decodeV3(res.text);
    const open = packets[0];
    if (!open || open[0] !== "0") throw new Error(`first packet is not open: ${JSON.stringify(res.text)}`);
    const handshake = JSON.parse(open.slice(1));
    const s = new PollingSession(base, path, eio, handshake.sid, query);
    s.handshake = handshake;
    s.handshakeResponse = res;
    s.extraPackets = packets.slice(1);
    return s;
  }

  constructor(base, path, eio, sid, query = "") {
    this.base = base;
    this.path = path;
    this.eio = eio;
    this.sid = sid;
    this.query = query;
  }

  url(extra = "") {
    return `${this.base}${this.path}?EIO=${this.eio}&transport=polling&sid=${encodeURIComponent(this.sid)}${this.query}${extra}`;
  }

  get(opts = {}) {
    return httpRequest(this.url(opts.extra || ""), { timeout: opts.timeout || WAIT_MS, headers: opts.headers || {} });
  }

  post(body, opts = {}) {
    return httpRequest(this.url(opts.extra || ""), {
      method: "POST",
      body,
      headers: opts.headers || {},
      timeout: opts.timeout || WAIT_MS,
    });
  }

  /** POSTs v4 packets and checks the `ok` answer. */
  async send(...packets) {
    const res = await this.post(this.eio === 4 ? encodeV4(packets) : encodeV3(packets));
    if (res.status !== 200) throw new Error(`POST failed: ${res.status} ${res.text}`);
    if (res.text !== "ok") throw new Error(`POST answered ${JSON.stringify(res.text)} instead of "ok"`);
    return res;
  }

  /**
   * GETs until `pred(collected)` is true, answering v4 pings with pongs
   * (pings are not collected when autoPong is on). Bounded by `ms`.
   */
  async collect(pred, { ms = WAIT_MS, autoPong = true } = {}) {
    const deadline = Date.now() + ms;
    const collected = [];
    while (!pred(collected)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out after ${ms} ms polling; collected ${JSON.stringify(collected)}`);
      }
      const res = await this.get({ timeout: left });
      if (res.status !== 200) {
        throw new Error(`GET answered ${res.status} ${res.text}; collected so far ${JSON.stringify(collected)}`);
      }
      const packets = this.eio === 4 ? decodeV4(res.text) : decodeV3(res.text);
      let pinged = false;
      for (const p of packets) {
        if (autoPong && this.eio === 4 && p === "2") {
          pinged = true;
          continue;
        }
        collected.push(p);
      }
      if (pinged) await this.send("3");
    }
    return collected;
  }

  /**
   * Asserts that the session gets closed: answering pings so that a server
   * that did NOT close it keeps it alive, GETs until one answers 400. A GET
   * answered with a close packet ("1") is accepted on the way (Node buffers
   * an orderly close until the next poll). Fails if the session is still
   * alive after `ms`.
   */
  async expectClosed({ ms = 2500 } = {}) {
    const deadline = Date.now() + ms;
    const seen = [];
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`session still open after ${ms} ms; received ${JSON.stringify(seen)}`);
      let res;
      try {
        res = await this.get({ timeout: left });
      } catch (e) {
        throw new Error(`session still open after ${ms} ms (${e.message}); received ${JSON.stringify(seen)}`);
      }
      if (res.status === 400) return { seen, res };
      if (res.status !== 200) throw new Error(`unexpected GET status ${res.status} ${res.text}`);
      const packets = this.eio === 4 ? decodeV4(res.text) : decodeV3(res.text);
      seen.push(...packets);
      if (packets.includes("2") && !packets.includes("1")) {
        const pong = await this.post("3").catch(() => null);
        if (pong && pong.status === 400) return { seen, res: pong };
      }
    }
  }
}

// ---------------------------------------------------------------- websocket

class RawWs {
  /**
   * Opens a WebSocket. Resolves once open; rejects on failure with
   * err.status set when the server answered HTTP instead of 101.
   */
  static open(url, { autoPong = false, ms = WAIT_MS, maxPayload } = {}) {
    return new Promise((resolve, reject) => {
      const opts = {};
      if (maxPayload) opts.maxPayload = maxPayload;
      const ws = new WebSocket(url, opts);
      const raw = new RawWs(ws, autoPong);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`WebSocket ${url} did not open within ${ms} ms`));
      }, ms);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve(raw);
      });
      ws.once("unexpected-response", (req, res) => {
        clearTimeout(timer);
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        const done = () => {
          const err = new Error(`WebSocket upgrade answered HTTP ${res.statusCode}`);
          err.status = res.statusCode;
          err.body = Buffer.concat(chunks).toString("utf8");
          req.destroy();
          reject(err);
        };
        res.once("end", done);
        res.once("error", done);
        res.once("close", done);
      });
      ws.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  constructor(ws, autoPong) {
    this.ws = ws;
    this.autoPong = autoPong;
    this.queue = [];
    this.waiters = [];
    this.pings = 0;
    ws.on("error", () => {}); // surfaced through `closed`
    ws.on("message", (data, isBinary) => {
      const msg = isBinary ? Buffer.from(data) : data.toString("utf8");
      if (this.autoPong && msg === "2") {
        this.pings += 1;
        if (ws.readyState === WebSocket.OPEN) ws.send("3");
        return;
      }
      const w = this.waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(msg);
      } else this.queue.push(msg);
    });
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      });
    });
  }

  send(data) {
    this.ws.send(data);
  }

  /** Next message: a string for text frames, a Buffer for binary ones. */
  next(ms = WAIT_MS) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const w = { resolve };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no WebSocket message within ${ms} ms (close: ${JSON.stringify(this.closeInfo)})`));
      }, ms);
      this.waiters.push(w);
    });
  }

  async take(n, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.next(Math.max(1, deadline - Date.now())));
    return out;
  }

  /** Resolves with {code, reason} once closed; rejects after `ms`. */
  waitClose(ms = WAIT_MS) {
    return withTimeout(this.closed, ms, `WebSocket close (received ${JSON.stringify(this.queue)})`);
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }
}

module.exports = {
  RS,
  httpRequest,
  httpPostStreamed,
  errorBody,
  decodeV4,
  encodeV4,
  decodeV3,
  encodeV3,
  decodeV3Binary,
  PollingSession,
  RawWs,
};
