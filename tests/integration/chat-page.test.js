"use strict";
// The chat example end to end, as a person uses it: chat_server serves
// examples/chat/public/index.html (with the vendored socket.io.min.js), and
// two pages in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core, which never downloads a browser) join the room "lobby",
// talk, and leave.
//
// The binary comes from IOGATE_CHAT_SERVER (set by CMakeLists.txt from
// $<TARGET_FILE:chat_server>). Every wait is bounded; on a failure each open
// page is screenshotted into /tmp and the page logs are printed.

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { startServer } = require("./lib/server");
const { withTimeout } = require("./lib/util");

const CHROMIUM = process.env.IOGATE_CHROMIUM || "/usr/bin/chromium";
const PUBLIC_DIR = path.resolve(__dirname, "../../examples/chat/public");
/** Deadline for anything the page should show "soon". */
const WAIT_MS = Math.max(10_000, Number(process.env.IOGATE_TEST_WAIT_MS || 0));
const LAUNCH_TIMEOUT_MS = 30_000;
const T = { timeout: 60_000 };

let chromium;
let server;
let browser;
/** name -> {name, context, page, errors: string[], engineRequests: string[], websockets: string[]} */
const users = new Map();

function startChatServer() {
  return startServer("chat", {
    args: ["--host", "127.0.0.1", "--shards", "2", "--public", PUBLIC_DIR],
  });
}

async function openUser(name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS);
  const errors = [];
  const engineRequests = [];
  const websockets = [];
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  // A failed load shows up as a console error too; the response handler below
  // reports those, except the favicon the browser asks for on its own.
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      errors.push(`console.error: ${msg.text()}`);
    }
  });
  page.on("response", (res) => {
    if (res.status() >= 400 && new URL(res.url()).pathname !== "/favicon.ico") {
      errors.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
    }
  });
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.pathname === "/socket.io/") engineRequests.push(`${req.method()} ${url.search}`);
  });
  page.on("websocket", (ws) => websockets.push(new URL(ws.url()).search));
  const user = { name, context, page, errors, engineRequests, websockets };
  users.set(name, user);
  return user;
}

function need(name) {
  const user = users.get(name);
  if (!user) throw new Error(`${name}'s page is not open (an earlier step failed)`);
  return user;
}

/** The lines of the page's #log, in order. */
function logLines(page) {
  return page.$$eval("#log p", (ps) => ps.map((p) => p.textContent));
}

/**
 * Waits (bounded) until a #log line satisfies `match` (exact text, or a
 * RegExp source) and returns it.
 */
async function waitForLine(user, match, ms = WAIT_MS) {
  const spec = match instanceof RegExp ? { re: match.source, flags: match.flags } : { text: match };
  try {
    const handle = await user.page.waitForFunction(
      ({ text, re, flags }) => {
        const rx = re === undefined ? null : new RegExp(re, flags);
        for (const p of document.querySelectorAll("#log p")) {
          if (rx ? rx.test(p.textContent) : p.textContent === text) return p.textContent;
        }
        return false;
      },
      spec,
      { timeout: ms, polling: 50 },
    );
    return await handle.jsonValue();
  } catch (e) {
    const lines = await logLines(user.page).catch(() => ["(page gone)"]);
    throw new Error(
      `${user.name}'s page: no log line ${match instanceof RegExp ? match : JSON.stringify(match)} ` +
        `within ${ms} ms (${e.message.split("\n")[0]})\nlog: ${JSON.stringify(lines)}`,
    );
  }
}

async function join(user, room) {
  await user.page.fill('#join input[name="name"]', user.name);
  await user.page.fill('#join input[name="room"]', room);
  await user.page.click("#join button");
}

/** "in lobby with a, b" -> ["a", "b"] (sorted: the order across shards is not fixed). */
function members(line, room) {
  const prefix = `in ${room} with `;
  assert.ok(line.startsWith(prefix), `members line ${JSON.stringify(line)}`);
  return line.slice(prefix.length).split(", ").sort();
}

/** Runs `fn`; on failure screenshots every open page into /tmp and rethrows with context. */
async function step(label, fn) {
  try {
    server.assertAlive();
    await fn();
    server.assertAlive();
  } catch (err) {
    const notes = [];
    const stamp = `${Date.now()}-${process.pid}`;
    for (const user of users.values()) {
      if (user.page.isClosed()) continue;
      const file = path.join(os.tmpdir(), `iogate-chat-page-${stamp}-${user.name}.png`);
      try {
        await withTimeout(user.page.screenshot({ path: file, fullPage: true }), WAIT_MS, "screenshot");
        notes.push(`screenshot of ${user.name}'s page: ${file}`);
      } catch (e) {
        notes.push(`no screenshot of ${user.name}'s page: ${e.message}`);
      }
      const lines = await logLines(user.page).catch(() => ["(unreadable)"]);
      notes.push(`${user.name}'s log: ${JSON.stringify(lines)}`);
      if (user.errors.length) notes.push(`${user.name}'s page errors: ${user.errors.join(" | ")}`);
    }
    notes.push(`--- chat_server output (tail) ---\n${server.output().slice(-4096)}`);
    err.message = `[${label}] ${err.message}\n${notes.join("\n")}`;
    throw err;
  }
}

describe("chat example page in headless Chromium", () => {
  before(async () => {
    ({ chromium } = require("playwright-core"));
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run scripts/install-deps.sh (Debian package chromium)`);
    }
    server = await startChatServer();
    // launch() runs the browser on a fresh temporary profile, removed by close().
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: LAUNCH_TIMEOUT_MS,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    if (browser) {
      await withTimeout(browser.close(), WAIT_MS, "browser.close()").catch((e) => {
        process.stderr.write(`warning: ${e.message}\n`);
      });
    }
    if (server) await server.stop();
  });

  it("serves the page, which connects over polling first", T, async () => {
    await step("load", async () => {
      for (const name of ["bob", "alice"]) {
        const user = await openUser(name);
        const res = await user.page.goto(`${server.url}/`, { waitUntil: "load" });
        assert.equal(res.status(), 200, `GET / for ${name}`);
        assert.equal(await user.page.title(), "iogate chat");
      }
      for (const user of users.values()) {
        // The page logs the transport in use when the namespace connect is
        // acknowledged. That is polling, unless the upgrade (probed as soon as
        // the engine opens) wins the race against the CONNECT reply, which
        // Engine.IO allows; the handshake itself is always a polling GET.
        const line = await waitForLine(user, /^connected \(/);
        assert.match(line, /^connected \((polling|websocket)\)$/, `${user.name}'s connected line`);
        const first = user.engineRequests[0] || "";
        assert.match(first, /^GET \?EIO=4&transport=polling&t=[^&]+$/, `${user.name}'s first Engine.IO request (the handshake)`);
        assert.deepEqual(user.errors, [], `${user.name}'s page errors`);
      }
    });
  });

  it("joining: the members list, and a 'joined' notice to the room", T, async () => {
    await step("join", async () => {
      const bob = need("bob");
      const alice = need("alice");
      await join(bob, "lobby");
      assert.deepEqual(members(await waitForLine(bob, /^in lobby with /), "lobby"), ["bob"]);
      await join(alice, "lobby");
      assert.deepEqual(members(await waitForLine(alice, /^in lobby with /), "lobby"), ["alice", "bob"]);
      await waitForLine(bob, "alice joined");
      // The say form is enabled once the join was acknowledged.
      assert.equal(await alice.page.isEnabled('#say input[name="text"]'), true);
    });
  });

  it("both pages upgrade to WebSocket", T, async () => {
    await step("upgrade", async () => {
      for (const user of [need("bob"), need("alice")]) {
        try {
          await user.page.waitForFunction(() => socket.io.engine.transport.name === "websocket", null, {
            timeout: WAIT_MS,
            polling: 50,
          });
        } catch (e) {
          const now = await user.page.evaluate(() => socket.io.engine.transport.name).catch(() => "?");
          throw new Error(`${user.name}'s page still on ${now} after ${WAIT_MS} ms (${e.message.split("\n")[0]})`);
        }
        assert.equal(await user.page.evaluate(() => socket.io.engine.transport.name), "websocket");
        assert.equal(await user.page.evaluate(() => socket.connected), true);
        // An upgrade of the polling session (same sid), not a second connection.
        const sid = await user.page.evaluate(() => socket.io.engine.id);
        assert.deepEqual(user.websockets, [`?EIO=4&transport=websocket&sid=${sid}`], `${user.name}'s WebSockets`);
        const second = user.engineRequests[1] || "";
        assert.ok(second.endsWith(`&sid=${sid}`), `${user.name}'s polling session is ${sid}: ${second}`);
      }
    });
  });

  it("a message sent with the form reaches the room, the sender included", T, async () => {
    await step("say", async () => {
      const bob = need("bob");
      const alice = need("alice");
      await alice.page.fill('#say input[name="text"]', "hello");
      await alice.page.click("#say button");
      await waitForLine(bob, "alice: hello");
      await waitForLine(alice, "alice: hello");
      assert.equal(await alice.page.inputValue('#say input[name="text"]'), "", "the input is cleared");
    });
  });

  it("closing a page tells the room that its user left", T, async () => {
    await step("leave", async () => {
      const bob = need("bob");
      const alice = need("alice");
      await withTimeout(alice.context.close(), WAIT_MS, "closing alice's page");
      await waitForLine(bob, "alice left");
      for (const user of users.values()) {
        assert.deepEqual(user.errors, [], `${user.name}'s page errors`);
      }
    });
  });
});
