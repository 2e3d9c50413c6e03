"use strict";
// Raw Engine.IO / Socket.IO protocol checks against conformance_server
// (pingInterval 300, pingTimeout 200, maxHttpBufferSize 1e6,
// connectTimeout 1000, CORS "*", EIO 3 and 4).
//   /engine.io/ : bare Engine.IO echo
//   /socket.io/ : "/" emits auth, answers message / message-with-ack;
//                 "/custom" emits auth; anything else "Invalid namespace".

const { describe, it, before, after, beforeEach, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");

const { startServer } = require("./lib/server");
const { sleep } = require("./lib/util");
const {
  httpRequest,
  httpPostStreamed,
  errorBody,
  decodeV4,
  decodeV3,
  encodeV3,
  decodeV3Binary,
  PollingSession,
  RawWs,
} = require("./lib/raw");

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;
const T = { timeout: 20_000 };

let server;
let base; // http://127.0.0.1:port
let wsBase; // ws://127.0.0.1:port
const toClose = [];

before(async () => {
  server = await startServer("conformance");
  base = server.url;
  wsBase = base.replace(/^http/, "ws");
});

after(async () => {
  for (const ws of toClose.splice(0)) ws.close();
  if (server) await server.stop();
});

afterEach(() => {
  for (const ws of toClose.splice(0)) ws.close();
  server.assertAlive();
});

// fail fast (instead of timing out) once the server has died
beforeEach(() => server.assertAlive());

async function ws(path, opts) {
  const s = await RawWs.open(`${wsBase}${path}`, opts);
  toClose.push(s);
  return s;
}

function assertJsonError(res, status, code) {
  assert.equal(res.status, status, `status (body ${res.text})`);
  assert.match(String(res.headers["content-type"]), /application\/json/, "error content-type");
  const body = errorBody(res);
  assert.equal(typeof body.code, "number", `numeric code in ${res.text}`);
  assert.equal(typeof body.message, "string", `string message in ${res.text}`);
  assert.ok(body.message.length > 0, "non-empty message");
  if (code !== undefined) assert.equal(body.code, code, `code in ${res.text}`);
  return body;
}

function assertHandshake(hs, { upgrades }) {
  assert.deepEqual(
    Object.keys(hs).sort(),
    ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"],
    `handshake keys of ${JSON.stringify(hs)}`,
  );
  assert.equal(typeof hs.sid, "string");
  assert.ok(hs.sid.length > 0, "sid is not empty");
  assert.deepEqual(hs.upgrades, upgrades);
  assert.equal(hs.pingInterval, PING_INTERVAL);
  assert.equal(hs.pingTimeout, PING_TIMEOUT);
  assert.equal(hs.maxPayload, MAX_PAYLOAD);
}

/** Opens a raw Socket.IO (EIO4) WebSocket and consumes the open packet. */
async function sioWs({ autoPong = true } = {}) {
  const s = await ws("/socket.io/?EIO=4&transport=websocket", { autoPong });
  const open = await s.next();
  assert.equal(typeof open, "string");
  assert.equal(open[0], "0", `open packet, got ${open}`);
  return s;
}

/** sioWs + CONNECT to "/" (consumes the CONNECT reply and the auth event). */
async function sioWsConnected() {
  const s = await sioWs();
  s.send("40");
  const connect = await s.next();
  assert.match(connect, /^40\{/);
  const auth = await s.next();
  assert.equal(auth, '42["auth",{}]');
  return s;
}

async function ipv6Available() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(0, "::1", () => srv.close(() => resolve(true)));
  });
}

// =====================================================================
describe("Engine.IO handshake and request validation", () => {
  it("polling handshake answers an open packet with exactly the expected keys", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^text\/plain/);
    const packets = decodeV4(res.text);
    assert.equal(packets.length, 1, `one packet in ${JSON.stringify(res.text)}`);
    assert.equal(packets[0][0], "0");
    assertHandshake(JSON.parse(packets[0].slice(1)), { upgrades: ["websocket"] });
  });

  it("two handshakes get different sids", T, async () => {
    const a = await PollingSession.open(base, "/engine.io/");
    const b = await PollingSession.open(base, "/engine.io/");
    assert.notEqual(a.sid, b.sid);
  });

  it("EIO=5 is refused with 400 code 5", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=5&transport=polling`);
    assertJsonError(res, 400, 5);
  });

  it("missing EIO is refused with 400 and a JSON error", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?transport=polling`);
    assertJsonError(res, 400);
  });

  it("EIO=abc is refused with 400 and a JSON error", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=abc&transport=polling`);
    assertJsonError(res, 400);
  });

  it("unknown transport is refused with 400 code 0", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=4&transport=tobi`);
    const body = assertJsonError(res, 400, 0);
    assert.equal(body.message, "Transport unknown");
  });

  it("missing transport is refused with 400 code 0", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=4`);
    assertJsonError(res, 400, 0);
  });

  it("unknown sid is refused with 400 code 1", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=4&transport=polling&sid=doesnotexist`);
    const body = assertJsonError(res, 400, 1);
    assert.equal(body.message, "Session ID unknown");
  });

  it("a POST handshake is refused with 400 code 2", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=4&transport=polling`, { method: "POST", body: "4hi" });
    assertJsonError(res, 400, 2);
  });

  it("transport=websocket on a plain GET is refused with 400 code 3", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=4&transport=websocket`);
    assertJsonError(res, 400, 3);
  });

  it("a CORS preflight is answered 204 with Access-Control-Allow-Origin", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=4&transport=polling`, {
      method: "OPTIONS",
      headers: {
        Origin: "http://example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], "*");
    const methods = String(res.headers["access-control-allow-methods"] || "");
    assert.match(methods, /GET/);
    assert.match(methods, /POST/);
  });

  it("CORS headers are present on the handshake and on errors", T, async () => {
    const ok = await httpRequest(`${base}/engine.io/?EIO=4&transport=polling`, {
      headers: { Origin: "http://example.com" },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["access-control-allow-origin"], "*");
    const bad = await httpRequest(`${base}/engine.io/?EIO=4&transport=polling&sid=nope`, {
      headers: { Origin: "http://example.com" },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers["access-control-allow-origin"], "*");
  });

  it("also listens on ::1", T, async (t) => {
    if (!(await ipv6Available())) {
      t.skip("no IPv6 loopback on this machine");
      return;
    }
    const res = await httpRequest(`http://[::1]:${server.port}/engine.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    assertHandshake(JSON.parse(res.text.slice(1)), { upgrades: ["websocket"] });
  });
});

// =====================================================================
describe("Engine.IO v4 long-polling", () => {
  it("echoes a POSTed text message on the next GET; POST answers ok", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const post = await s.post("4hello");
    assert.equal(post.status, 200);
    assert.equal(post.text, "ok");
    const got = await s.collect((p) => p.length >= 1);
    assert.deepEqual(got, ["4hello"]);
  });

  it("GET responses are text/plain and not cacheable", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    await s.send("4x");
    const res = await s.get();
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^text\/plain/);
    assert.ok(decodeV4(res.text).includes("4x"), `echo in ${JSON.stringify(res.text)}`);
  });

  it("echoes several packets of one payload in order, binary as b<base64>, UTF-8 intact", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const sent = ["4first", "bAQIDBA==", "4héllo€😀", "4", "4last"];
    await s.send(...sent);
    const got = await s.collect((p) => p.length >= sent.length);
    assert.deepEqual(got, sent);
  });

  it("delivers a ping over polling and keeps the session alive when ponged (3 rounds)", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const start = Date.now();
    for (let round = 0; round < 3; round++) {
      const res = await s.get({ timeout: 3000 });
      assert.equal(res.status, 200);
      assert.deepEqual(decodeV4(res.text), ["2"], `round ${round}`);
      await s.send("3");
    }
    assert.ok(Date.now() - start < 5000, "three heartbeats within 5 s");
    // still alive: an echo goes through
    await s.send("4alive");
    const got = await s.collect((p) => p.includes("4alive"));
    assert.ok(got.includes("4alive"));
  });

  it("closes a session that never answers the ping (pingInterval + pingTimeout)", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    await sleep(PING_INTERVAL + PING_TIMEOUT + 500);
    const res = await s.get({ timeout: 2000 });
    assertJsonError(res, 400, 1);
  });

  it("a v4 POST with Content-Type application/octet-stream is refused with 400 and closes the session", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const res = await s.post(Buffer.from([4, 1, 2, 3]), { headers: { "Content-Type": "application/octet-stream" } });
    assert.equal(res.status, 400);
    await s.expectClosed();
  });

  it("a POST body over maxHttpBufferSize is refused with 413; the session lives on", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const res = await httpPostStreamed(s.url(), Buffer.from("4" + "a".repeat(MAX_PAYLOAD)), { timeout: 10_000 });
    assert.equal(res.status, 413);
    await s.send("4after");
    const got = await s.collect((p) => p.includes("4after"));
    assert.deepEqual(got, ["4after"]);
  });

  it("a POST body of exactly maxHttpBufferSize bytes is accepted and echoed", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const packet = "4" + "b".repeat(MAX_PAYLOAD - 1);
    const res = await s.post(packet, { timeout: 10_000 });
    assert.equal(res.status, 200);
    assert.equal(res.text, "ok");
    const got = await s.collect((p) => p.length >= 1, { ms: 10_000 });
    assert.equal(got.length, 1);
    assert.equal(got[0].length, packet.length);
    assert.equal(got[0], packet);
  });

  it("a second concurrent GET is refused with 400 and the first one is answered with close", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const first = s.get({ timeout: 3000 });
    await sleep(50);
    const second = await s.get({ timeout: 3000 });
    assert.equal(second.status, 400);
    const firstRes = await first;
    assert.equal(firstRes.status, 200);
    assert.equal(firstRes.text, "1");
    await s.expectClosed();
  });

  it("a close packet in a POST answers the pending GET with noop and closes the session", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const pending = s.get({ timeout: 3000 });
    await sleep(50);
    await s.send("1");
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.text, "6");
    const after = await s.get({ timeout: 2000 });
    assert.equal(after.status, 400);
  });

  it("a GET aborted by the client closes the session", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const pending = s.get({ timeout: 3000 });
    pending.catch(() => {});
    await sleep(50);
    pending.abort();
    await sleep(100);
    const res = await s.get({ timeout: 2000 });
    assert.equal(res.status, 400, `session must be gone, GET answered ${res.status} ${res.text}`);
  });

  it("an undecodable packet in a POST closes the session", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    await s.post("abc");
    await s.expectClosed();
  });
});

// =====================================================================
describe("Engine.IO v4 WebSocket", () => {
  it("handshake over WebSocket: open packet with upgrades []", T, async () => {
    const s = await ws("/engine.io/?EIO=4&transport=websocket");
    const open = await s.next();
    assert.equal(typeof open, "string");
    assert.equal(open[0], "0");
    assertHandshake(JSON.parse(open.slice(1)), { upgrades: [] });
  });

  it("echoes text frames and binary frames (raw bytes, no type byte)", T, async () => {
    const s = await ws("/engine.io/?EIO=4&transport=websocket", { autoPong: true });
    await s.next(); // open
    s.send("4hello");
    s.send("4héllo€😀");
    s.send(Buffer.from([1, 2, 3, 4]));
    s.send(Buffer.alloc(0));
    const [a, b, c, d] = await s.take(4);
    assert.equal(a, "4hello");
    assert.equal(b, "4héllo€😀");
    assert.ok(Buffer.isBuffer(c), `binary frame expected, got ${JSON.stringify(c)}`);
    assert.deepEqual([...c], [1, 2, 3, 4]);
    assert.ok(Buffer.isBuffer(d), `binary frame expected, got ${JSON.stringify(d)}`);
    assert.equal(d.length, 0);
  });

  it("pings every pingInterval and stays open while ponged", T, async () => {
    const s = await ws("/engine.io/?EIO=4&transport=websocket");
    await s.next(); // open
    for (let round = 0; round < 3; round++) {
      const msg = await s.next(PING_INTERVAL + 2000);
      assert.equal(msg, "2", `round ${round}`);
      s.send("3");
    }
    s.send("4still-here");
    assert.equal(await s.next(), "4still-here");
  });

  it("closes the WebSocket when the ping is not answered", T, async () => {
    const s = await ws("/engine.io/?EIO=4&transport=websocket");
    await s.next(); // open
    assert.equal(await s.next(PING_INTERVAL + 2000), "2");
    await s.waitClose(PING_TIMEOUT + 2000);
  });

  it("a frame of exactly maxPayload bytes is accepted", T, async () => {
    const s = await ws("/engine.io/?EIO=4&transport=websocket", { autoPong: true });
    await s.next(); // open
    const packet = "4" + "c".repeat(MAX_PAYLOAD - 1);
    s.send(packet);
    const echo = await s.next(10_000);
    assert.equal(echo.length, packet.length);
    assert.equal(echo, packet);
  });

  it("a frame over maxPayload closes the connection with 1009", T, async () => {
    const s = await ws("/engine.io/?EIO=4&transport=websocket", { autoPong: true });
    await s.next(); // open
    s.send(Buffer.alloc(MAX_PAYLOAD + 1, 7));
    const { code } = await s.waitClose(10_000);
    assert.equal(code, 1009);
  });

  it("a WebSocket handshake with EIO=5 is refused with HTTP 400", T, async () => {
    await assert.rejects(RawWs.open(`${wsBase}/engine.io/?EIO=5&transport=websocket`), (err) => {
      assert.equal(err.status, 400, err.message);
      return true;
    });
  });

  it("a WebSocket for an unknown sid is refused with HTTP 400", T, async () => {
    await assert.rejects(RawWs.open(`${wsBase}/engine.io/?EIO=4&transport=websocket&sid=nope`), (err) => {
      assert.equal(err.status, 400, err.message);
      return true;
    });
  });

  it("upgrades polling to WebSocket: probe, noop to the pending GET, upgrade, then polling is refused", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const pending = s.get({ timeout: 4000 });
    const sock = await ws(`/engine.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(s.sid)}`);
    sock.send("2probe");
    assert.equal(await sock.next(), "3probe");

    // The pending GET must be released with a noop (a ping may come first).
    let res = await pending;
    for (let i = 0; i < 5 && res.status === 200 && !decodeV4(res.text).includes("6"); i++) {
      if (decodeV4(res.text).includes("2")) await s.send("3");
      res = await s.get({ timeout: 3000 });
    }
    assert.equal(res.status, 200);
    assert.ok(decodeV4(res.text).includes("6"), `noop expected, got ${JSON.stringify(res.text)}`);

    sock.autoPong = true;
    sock.send("5");
    sock.send("4upgraded");
    assert.equal(await sock.next(), "4upgraded");
    sock.send(Buffer.from([9, 8, 7]));
    const bin = await sock.next();
    assert.deepEqual([...bin], [9, 8, 7]);

    const poll = await s.get({ timeout: 2000 });
    assert.equal(poll.status, 400, `polling after upgrade must be refused, got ${poll.status} ${poll.text}`);

    // A second WebSocket for the same sid is refused or closed at once.
    let second;
    try {
      second = await ws(`/engine.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(s.sid)}`);
    } catch (err) {
      assert.ok(err.status === 400 || err.status === undefined, err.message);
    }
    if (second) {
      second.send("2probe");
      await second.waitClose(2000);
      assert.ok(!second.queue.includes("3probe"), "second WebSocket must not be probed");
    }
    // and the upgraded one still works
    sock.send("4still");
    assert.equal(await sock.next(), "4still");
  });

  it("packets buffered during the upgrade are delivered on the WebSocket", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/");
    const sock = await ws(`/engine.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(s.sid)}`);
    sock.send("2probe");
    assert.equal(await sock.next(), "3probe");
    // sent over polling while the upgrade is in progress: the echo is queued
    await s.send("4during");
    sock.autoPong = true;
    sock.send("5");
    // Either the last poll already carried it, or it comes on the WebSocket.
    const viaPoll = await s
      .get({ timeout: 500 })
      .then((r) => (r.status === 200 ? decodeV4(r.text) : []))
      .catch(() => []);
    if (!viaPoll.includes("4during")) {
      assert.equal(await sock.next(), "4during");
    }
  });
});

// =====================================================================
describe("Engine.IO v3", () => {
  it("polling handshake is framed <len>:<packet> and lists the same settings", T, async () => {
    const res = await httpRequest(`${base}/engine.io/?EIO=3&transport=polling&b64=1`);
    assert.equal(res.status, 200);
    const packets = decodeV3(res.text);
    assert.equal(packets[0][0], "0");
    const hs = JSON.parse(packets[0].slice(1));
    assert.equal(typeof hs.sid, "string");
    assert.deepEqual(hs.upgrades, ["websocket"]);
    assert.equal(hs.pingInterval, PING_INTERVAL);
    assert.equal(hs.pingTimeout, PING_TIMEOUT);
  });

  it("echoes text with lengths in UTF-16 code units and answers the client's ping", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/", { eio: 3, query: "&b64=1" });
    const post = await s.post(encodeV3(["4hello", "4héllo€😀", "2"]));
    assert.equal(post.status, 200);
    assert.equal(post.text, "ok");
    const got = await s.collect((p) => p.length >= 3, { ms: 2000 });
    assert.deepEqual(got.slice().sort(), ["3", "4hello", "4héllo€😀"].sort());
    // exact framing of the emoji packet: 9 UTF-16 units
    assert.equal(encodeV3(["4héllo€😀"]), "9:4héllo€😀");
  });

  it("the echo payload is framed with UTF-16 lengths (raw check)", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/", { eio: 3, query: "&b64=1" });
    await s.send("4héllo€😀");
    const res = await s.get({ timeout: 2000 });
    assert.equal(res.status, 200);
    assert.equal(res.text, "9:4héllo€😀");
  });

  it("echoes base64 binary (b4...) when b64=1", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/", { eio: 3, query: "&b64=1" });
    await s.send("b4AQID");
    const res = await s.get({ timeout: 2000 });
    assert.equal(res.status, 200);
    assert.equal(res.text, "6:b4AQID");
  });

  it("answers with an XHR2 binary payload when b64 is absent", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/", { eio: 3 });
    await s.send("b4AQID");
    const res = await s.get({ timeout: 2000 });
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /application\/octet-stream/);
    assert.deepEqual([...res.body], [0x01, 0x04, 0xff, 0x04, 0x01, 0x02, 0x03]);
    assert.deepEqual(decodeV3Binary(res.body).map((b) => [...b]), [[4, 1, 2, 3]]);
  });

  it("WebSocket binary frames carry the type byte; text echo and ping/pong", T, async () => {
    const s = await ws("/engine.io/?EIO=3&transport=websocket");
    const open = await s.next();
    assert.equal(open[0], "0");
    assert.deepEqual(JSON.parse(open.slice(1)).upgrades, []);
    s.send("2");
    assert.equal(await s.next(), "3");
    s.send("4v3");
    assert.equal(await s.next(), "4v3");
    s.send(Buffer.from([4, 1, 2, 3]));
    const bin = await s.next();
    assert.ok(Buffer.isBuffer(bin));
    assert.deepEqual([...bin], [4, 1, 2, 3]);
  });

  it("a v3 session without client pings is closed after pingInterval + pingTimeout", T, async () => {
    const s = await PollingSession.open(base, "/engine.io/", { eio: 3, query: "&b64=1" });
    await sleep(PING_INTERVAL + PING_TIMEOUT + 500);
    const res = await s.get({ timeout: 2000 });
    assert.equal(res.status, 400);
  });
});

// =====================================================================
describe("Socket.IO v5 over raw polling", () => {
  async function sioPolling() {
    return PollingSession.open(base, "/socket.io/");
  }

  it("CONNECT to / answers 40{sid} then emits auth {}", T, async () => {
    const s = await sioPolling();
    await s.send("40");
    const got = await s.collect((p) => p.some((x) => x.startsWith("42")));
    assert.equal(got.length, 2, JSON.stringify(got));
    assert.match(got[0], /^40\{/);
    const { sid } = JSON.parse(got[0].slice(2));
    assert.equal(typeof sid, "string");
    assert.ok(sid.length > 0);
    assert.notEqual(sid, s.sid, "socket id must not be the Engine.IO sid");
    assert.equal(got[1], '42["auth",{}]');
  });

  it("CONNECT with a payload hands it to the server as auth", T, async () => {
    const s = await sioPolling();
    await s.send('40{"token":"123"}');
    const got = await s.collect((p) => p.some((x) => x.startsWith("42")));
    assert.match(got[0], /^40\{"sid":/);
    assert.equal(got[1], '42["auth",{"token":"123"}]');
  });

  it("CONNECT to /custom answers 40/custom,{sid} then auth", T, async () => {
    const s = await sioPolling();
    await s.send('40/custom,{"x":1}');
    const got = await s.collect((p) => p.some((x) => x.startsWith("42")));
    assert.match(got[0], /^40\/custom,\{"sid":"[^"]+"/);
    assert.equal(got[1], '42/custom,["auth",{"x":1}]');
  });

  it("CONNECT to an unknown namespace answers 44/random,{message:Invalid namespace}", T, async () => {
    const s = await sioPolling();
    await s.send("40/random,");
    const got = await s.collect((p) => p.length >= 1);
    assert.deepEqual(got, ['44/random,{"message":"Invalid namespace"}']);
  });

  it("CONNECT to an unknown namespace without the comma gets the same error", T, async () => {
    const s = await sioPolling();
    await s.send("40/random");
    const got = await s.collect((p) => p.length >= 1);
    assert.deepEqual(got, ['44/random,{"message":"Invalid namespace"}']);
  });

  it("message → message-back and message-with-ack → ack", T, async () => {
    const s = await sioPolling();
    await s.send("40");
    await s.collect((p) => p.some((x) => x.startsWith("42")));
    await s.send('42["message",1,"2",{"3":[false]}]', '42456["message-with-ack",1,"2",{"3":[false]}]');
    const got = await s.collect((p) => p.length >= 2);
    assert.deepEqual(got, ['42["message-back",1,"2",{"3":[false]}]', '43456[1,"2",{"3":[false]}]']);
  });

  it("binary event: attachment as b<base64> in the same payload, echoed the same way", T, async () => {
    const s = await sioPolling();
    await s.send("40");
    await s.collect((p) => p.some((x) => x.startsWith("42")));
    await s.send('451-["message",{"_placeholder":true,"num":0}]', "bAQID");
    const got = await s.collect((p) => p.length >= 2);
    assert.deepEqual(got, ['451-["message-back",{"_placeholder":true,"num":0}]', "bAQID"]);
  });

  it("an invalid packet (42abc) closes the session", T, async () => {
    const s = await sioPolling();
    await s.send("40");
    await s.collect((p) => p.some((x) => x.startsWith("42")));
    await s.post("42abc");
    const { seen } = await s.expectClosed();
    assert.ok(!seen.some((p) => p.startsWith("42")), `no event after the bad packet: ${JSON.stringify(seen)}`);
  });
});

// =====================================================================
describe("Socket.IO v5 over raw WebSocket", () => {
  it("CONNECT, auth, event, ack", T, async () => {
    const s = await sioWs();
    s.send('40{"a":"b"}');
    const connect = await s.next();
    assert.match(connect, /^40\{"sid":"[^"]+"/);
    assert.equal(await s.next(), '42["auth",{"a":"b"}]');
    s.send('42["message",1,"2",{"3":[false]}]');
    assert.equal(await s.next(), '42["message-back",1,"2",{"3":[false]}]');
    s.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await s.next(), '43456[1,"2",{"3":[false]}]');
  });

  it("binary event with two attachments comes back as a binary event + two frames", T, async () => {
    const s = await sioWsConnected();
    s.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    s.send(Buffer.from([1, 2, 3]));
    s.send(Buffer.from([4, 5, 6]));
    const [head, a, b] = await s.take(3);
    assert.equal(head, '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual([...a], [1, 2, 3]);
    assert.deepEqual([...b], [4, 5, 6]);
  });

  it("binary event with an ack comes back as a binary ack", T, async () => {
    const s = await sioWsConnected();
    s.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"test"]');
    s.send(Buffer.from([1, 2, 3]));
    s.send(Buffer.from([4, 5, 6]));
    const [head, a, b] = await s.take(3);
    assert.equal(head, '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"test"]');
    assert.deepEqual([...a], [1, 2, 3]);
    assert.deepEqual([...b], [4, 5, 6]);
  });

  it("CONNECT to /custom and to an invalid namespace on one connection", T, async () => {
    const s = await sioWs();
    s.send("40/custom,");
    assert.match(await s.next(), /^40\/custom,\{"sid":"[^"]+"/);
    assert.equal(await s.next(), '42/custom,["auth",{}]');
    s.send("40/random,");
    assert.equal(await s.next(), '44/random,{"message":"Invalid namespace"}');
  });

  it("DISCONNECT (41) from / gets no reply; the next thing received is a ping", T, async () => {
    const s = await sioWs({ autoPong: false });
    s.send("40");
    assert.match(await s.next(), /^40\{/);
    assert.equal(await s.next(), '42["auth",{}]');
    s.send("41");
    assert.equal(await s.next(PING_INTERVAL + 2000), "2");
    s.send("3");
  });

  for (const [name, bad] of [
    ["unknown packet type", "4abc"],
    ["invalid payload format", "42{}"],
    ["invalid ack id", '42abc["message-with-ack",1,"2",{"3":[false]}]'],
    ["event for a namespace not joined", '42/custom,["message",1]'],
    ["second CONNECT to the same namespace", "40"],
    ["non-array event payload", '42"message"'],
    ["reserved event name", '42["disconnect"]'],
    ["attachment count zero", '450-["message"]'],
  ]) {
    it(`closes the connection upon ${name} (${bad})`, T, async () => {
      const s = await sioWsConnected();
      s.send(bad);
      await s.waitClose(2500);
      assert.ok(
        !s.queue.some((m) => typeof m === "string" && /^4[23]/.test(m)),
        `no event/ack may be produced: ${JSON.stringify(s.queue)}`,
      );
    });
  }

  it("a client that never sends CONNECT is dropped after connectTimeout", T, async () => {
    const s = await sioWs({ autoPong: true });
    const start = Date.now();
    await s.waitClose(4000);
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 700, `closed too early (${elapsed} ms)`);
    assert.ok(s.pings >= 1, "pings were answered, so only connectTimeout can have closed it");
  });
});

// =====================================================================
describe("Socket.IO v4 protocol (EIO=3) over raw polling", () => {
  it("the server connects / implicitly and emits auth {}", T, async () => {
    const s = await PollingSession.open(base, "/socket.io/", { eio: 3, query: "&b64=1" });
    const got = s.extraPackets.slice();
    if (!got.some((p) => p.startsWith("42"))) {
      got.push(...(await s.collect((p) => p.some((x) => x.startsWith("42")), { ms: 2000 })));
    }
    assert.deepEqual(got, ["40", '42["auth",{}]']);
  });

  it("namespace query string is the auth; events work", T, async () => {
    const s = await PollingSession.open(base, "/socket.io/", { eio: 3, query: "&b64=1" });
    const first = s.extraPackets.slice();
    if (!first.some((p) => p.startsWith("42"))) {
      first.push(...(await s.collect((p) => p.some((x) => x.startsWith("42")), { ms: 2000 })));
    }
    // "2": a v3 client ping, so the session cannot time out meanwhile
    await s.send("2", "40/custom?token=abc,", '42["message","héllo€😀"]');
    const got = await s.collect((p) => p.length >= 4, { ms: 2000 });
    assert.ok(got.includes("3"), `pong in ${JSON.stringify(got)}`);
    assert.ok(
      got.includes("40/custom") || got.includes("40/custom,"),
      `CONNECT reply for /custom in ${JSON.stringify(got)}`,
    );
    assert.ok(got.includes('42/custom,["auth",{"token":"abc"}]'), JSON.stringify(got));
    assert.ok(got.includes('42["message-back","héllo€😀"]'), JSON.stringify(got));
  });
});
