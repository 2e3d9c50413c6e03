"use strict";
// A Node twin of iogate's gateways (src/app/gateway/gateway.cpp) for the gateway-level mixed
// cluster tests: socket.io 4.8.4 on @socket.io/redis-adapter 8.3.0 (classic or sharded Pub/Sub,
// node-redis 4 clients), with the events iogate's /admin and /web handle for messages and the
// same wire shapes, so that a client on this server and one on iogate, on one Redis and key,
// talk to each other as on one server.
//
//   node cluster/node_gateway.js --port 0 --redis-url redis://127.0.0.1:N
//     --redis-key nest-admin-socket --redis-mode classic|sharded --jwt-secret S
//
// What it does, as iogate does it:
//   - namespaces /admin and /web (--namespaces); "/" and any other namespace are refused;
//   - JWT at connect: auth.token, then "Authorization: Bearer", then ?token=; HS256 (node:crypto)
//     with --jwt-secret, exp/nbf with a 5 s leeway, claims id, username and status (must be 1);
//     refusals are connect_error {message, data: {code}} with iogate's messages and codes
//     (AUTH_TOKEN_MISSING, AUTH_TOKEN_MALFORMED, AUTH_ALGORITHM_NOT_ALLOWED, AUTH_SIGNATURE_INVALID,
//     AUTH_TOKEN_EXPIRED, AUTH_TOKEN_NOT_YET_VALID, AUTH_USER_ID_MISSING, AUTH_USER_INACTIVE);
//   - on connection: joins `user:<id>`, sends `connected {message, user: {id, username}}`,
//     socket.data.user = {id, username, exp};
//   - `ping` / `app:ping` acked "pong"; `private:message {toUserId, message}` to `user:<toUserId>`
//     as {fromUserId, fromUsername, toUserId, message, messageId, timestamp}, then
//     `message:sent {messageId, toUserId, timestamp}` to the sender (no ack, as iogate);
//   - `room:join` / `room:leave` / `room:message` with `room:joined`, `room:left`,
//     `room:user:joined`, `room:user:left`, `room:message`; rooms `user:…` are the server's;
//     posting needs membership; bad input gets `error {message, event, timestamp, data}`;
//   - an `error` {message: "Token expired", event: "auth", timestamp, code} and a disconnect when
//     the token expires while connected.
// Not here: presence (user:online / user:offline), connection and rate limits, live data, the
// HTTP API.
//
// Prints "iogate listening on port <N>" once it listens on 127.0.0.1.

const crypto = require("node:crypto");
const http = require("node:http");
const { parseArgs } = require("node:util");
const { Server } = require("socket.io");
const { redisAdapter, serve } = require("./node_common");

const LEEWAY_S = 5;
const MAX_MESSAGE_LENGTH = 10_000; // UTF-16 units, as iogate counts them
const MAX_ROOM_NAME_LENGTH = 128;
const MAX_ROOMS_PER_CONNECTION = 100;
const EVENTS = new Set(["ping", "app:ping", "private:message", "room:join", "room:leave", "room:message"]);
const HMAC_DIGESTS = { HS256: "sha256", HS384: "sha384", HS512: "sha512" };
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const { values: flags } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "redis-url": { type: "string" },
    "redis-key": { type: "string", default: "socket.io" },
    "redis-mode": { type: "string", default: "classic" },
    "redis-requests-timeout": { type: "string", default: "5000" },
    "jwt-secret": { type: "string" },
    "jwt-algorithms": { type: "string", default: "HS256" },
    namespaces: { type: "string", default: "/admin,/web" },
  },
});

function fail(message) {
  process.stderr.write(`node_gateway: ${message}\n`);
  process.exit(2);
}

if (!flags["redis-url"]) fail("--redis-url is required");
if (!flags["jwt-secret"]) fail("--jwt-secret is required");
if (!["classic", "sharded"].includes(flags["redis-mode"])) fail(`unknown --redis-mode ${flags["redis-mode"]}`);
const SECRET = flags["jwt-secret"];
const ALGORITHMS = new Set(flags["jwt-algorithms"].split(",").map((a) => a.trim()));
for (const alg of ALGORITHMS) if (!HMAC_DIGESTS[alg]) fail(`--jwt-algorithms: ${alg} needs a key, not a secret`);
const NAMESPACES = flags.namespaces.split(",").map((n) => n.trim()).filter(Boolean);

// ---------------------------------------------------------------- JWT

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

class JwtError extends Error {
  constructor(code, reason) {
    super(`Authentication failed: ${reason}`);
    this.code = code;
  }
}

const MALFORMED = () => new JwtError("AUTH_TOKEN_MALFORMED", "malformed token");

/** Base64url without padding, as iogate decodes it (no '+', '/' or '='). */
function base64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw MALFORMED();
  return Buffer.from(text, "base64url");
}

function parseObject(buffer) {
  let value;
  try {
    value = JSON.parse(buffer.toString("utf8"));
  } catch {
    throw MALFORMED();
  }
  if (!isObject(value)) throw MALFORMED();
  return value;
}

/** The claims of a valid token; throws a JwtError otherwise. */
function verify(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw MALFORMED();
  const [headerText, payloadText, signatureText] = parts;
  const header = parseObject(base64url(headerText));
  const claims = parseObject(base64url(payloadText));
  const signature = base64url(signatureText);
  if (typeof header.alg !== "string") throw MALFORMED();
  if (!ALGORITHMS.has(header.alg)) throw new JwtError("AUTH_ALGORITHM_NOT_ALLOWED", "signing algorithm not allowed");
  const expected = crypto.createHmac(HMAC_DIGESTS[header.alg], SECRET).update(`${headerText}.${payloadText}`).digest();
  if (expected.length !== signature.length || !crypto.timingSafeEqual(expected, signature)) {
    throw new JwtError("AUTH_SIGNATURE_INVALID", "invalid signature");
  }
  for (const name of ["exp", "nbf"]) {
    if (name in claims && typeof claims[name] !== "number") throw MALFORMED();
  }
  const now = Date.now() / 1000;
  if (typeof claims.exp === "number" && now >= claims.exp + LEEWAY_S) throw new JwtError("AUTH_TOKEN_EXPIRED", "token expired");
  if (typeof claims.nbf === "number" && now + LEEWAY_S < claims.nbf) {
    throw new JwtError("AUTH_TOKEN_NOT_YET_VALID", "token not yet valid");
  }
  return claims;
}

/** auth.token wins, then the Authorization header, then the query (gateway.cpp extract_token). */
function tokenOf(socket) {
  const { auth, headers, query } = socket.handshake;
  if (isObject(auth) && typeof auth.token === "string" && auth.token !== "") return auth.token;
  const header = headers.authorization;
  if (typeof header === "string" && header.length > 7 && (header.startsWith("Bearer ") || header.startsWith("bearer "))) {
    return header.slice(7);
  }
  if (typeof query.token === "string" && query.token !== "") return query.token;
  return null;
}

/** The text form of a user id, as in the `user:<id>` rooms; "" when it is no id. */
function userKey(id) {
  if (typeof id === "string") return id;
  if (typeof id === "number" && Number.isFinite(id)) return String(id);
  return "";
}

function refusal(message, data) {
  const error = new Error(message);
  error.data = data;
  return error;
}

// ---------------------------------------------------------------- gateway

const timestamp = () => new Date().toISOString();

function messageId() {
  return [...crypto.randomBytes(21)].map((b) => BASE64URL[b & 63]).join("");
}

function validRoomName(room) {
  return room.length >= 1 && room.length <= MAX_ROOM_NAME_LENGTH && /^[A-Za-z0-9_\-:.]+$/.test(room);
}

function sendError(socket, message, event, data) {
  const body = { message, event, timestamp: timestamp() };
  if (data !== undefined) body.data = data;
  socket.emit("error", body);
}

function authenticate(socket, next) {
  const token = tokenOf(socket);
  if (token === null) return next(refusal("Authentication required: no token", { code: "AUTH_TOKEN_MISSING" }));
  let claims;
  try {
    claims = verify(token);
  } catch (error) {
    if (!(error instanceof JwtError)) throw error;
    return next(refusal(error.message, { code: error.code }));
  }
  if (userKey(claims.id) === "") {
    return next(refusal("Authentication failed: the token has no user id", { code: "AUTH_USER_ID_MISSING" }));
  }
  if (claims.status !== 1) {
    return next(refusal("Authentication failed: the user is not active", { code: "AUTH_USER_INACTIVE" }));
  }
  const user = { id: claims.id, username: claims.username === undefined ? null : claims.username };
  if ("exp" in claims) user.exp = claims.exp;
  socket.data.user = user;
  return next();
}

function onConnection(socket) {
  const stored = socket.data.user;
  const user = {
    id: stored.id,
    key: userKey(stored.id),
    username: typeof stored.username === "string" ? stored.username : "",
  };
  socket.join(`user:${user.key}`);
  socket.emit("connected", { message: "连接成功", user: { id: user.id, username: user.username } });

  if (typeof stored.exp === "number") {
    const left = Math.max(0, stored.exp * 1000 - Date.now());
    if (left < 2 ** 31 - 1) {
      const timer = setTimeout(() => {
        if (!socket.connected) return;
        socket.emit("error", { message: "Token expired", event: "auth", timestamp: timestamp(), code: "AUTH_TOKEN_EXPIRED" });
        socket.disconnect();
      }, left);
      socket.once("disconnect", () => clearTimeout(timer));
    }
  }

  socket.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (!EVENTS.has(event)) return sendError(socket, "Unknown event", event);
    return handle(socket, user, event, args.length > 0 ? args[0] : null, ack);
  });
}

function handle(socket, user, event, data, ack) {
  if (event === "ping" || event === "app:ping") {
    if (ack) ack("pong");
    return;
  }
  if (!isObject(data)) return sendError(socket, "Invalid message format: an object is expected", event, data);
  const tooLong = (text) => text.length > MAX_MESSAGE_LENGTH;
  const nsp = socket.nsp;

  if (event === "private:message") {
    const to = data.toUserId;
    const { message } = data;
    const toKey = userKey(to);
    if (toKey === "" || typeof message !== "string" || message === "" || tooLong(message)) {
      return sendError(
        socket,
        `Invalid private message: toUserId (string or number) and message (1 to ${MAX_MESSAGE_LENGTH} characters) are required`,
        event,
        data,
      );
    }
    const id = messageId();
    const at = timestamp();
    nsp.to(`user:${toKey}`).emit("private:message", {
      fromUserId: user.id,
      fromUsername: user.username,
      toUserId: to,
      message,
      messageId: id,
      timestamp: at,
    });
    socket.emit("message:sent", { messageId: id, toUserId: to, timestamp: at });
    return;
  }

  const room = data.roomId;
  if (typeof room !== "string" || !validRoomName(room)) {
    return sendError(
      socket,
      `Invalid roomId: 1 to ${MAX_ROOM_NAME_LENGTH} characters of letters, digits, '_', '-', ':' and '.'`,
      event,
      data,
    );
  }
  if (room.startsWith("user:")) return sendError(socket, "Rooms named user:… belong to the server", event, data);
  const who = { userId: user.id, username: user.username, roomId: room };

  if (event === "room:join") {
    // The socket's own id room and its user room are not the client's to count.
    if (!socket.rooms.has(room) && socket.rooms.size >= MAX_ROOMS_PER_CONNECTION + 2) {
      return sendError(socket, `Too many rooms: at most ${MAX_ROOMS_PER_CONNECTION}`, event, data);
    }
    socket.join(room);
    socket.emit("room:joined", { roomId: room });
    socket.to(room).emit("room:user:joined", who);
  } else if (event === "room:leave") {
    if (!socket.rooms.has(room)) return sendError(socket, `Not a member of room ${room}`, event, data);
    socket.leave(room);
    socket.emit("room:left", { roomId: room });
    socket.to(room).emit("room:user:left", who);
  } else if (event === "room:message") {
    const { message } = data;
    if (typeof message !== "string" || message === "" || tooLong(message)) {
      return sendError(socket, `Invalid room message: message (1 to ${MAX_MESSAGE_LENGTH} characters) is required`, event, data);
    }
    if (!socket.rooms.has(room)) return sendError(socket, `Not a member of room ${room}`, event, data);
    nsp.to(room).emit("room:message", {
      roomId: room,
      fromUserId: user.id,
      fromUsername: user.username,
      message,
      timestamp: timestamp(),
    });
  }
  return undefined;
}

// ---------------------------------------------------------------- server

async function main() {
  const { adapter, clients } = await redisAdapter({
    url: flags["redis-url"],
    key: flags["redis-key"],
    mode: flags["redis-mode"],
    requestsTimeout: Number(flags["redis-requests-timeout"]),
    name: "node_gateway",
  });

  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter, cors: { origin: true, credentials: true } });

  // "/" always exists in socket.io; it is no gateway, so nobody may use it (as iogate).
  io.of("/").use((_, next) => next(new Error("Invalid namespace")));
  for (const name of NAMESPACES) {
    const nsp = io.of(name);
    nsp.use(authenticate);
    nsp.on("connection", onConnection);
  }

  serve(io, httpServer, Number(flags.port), clients);
}

main().catch((error) => fail(error.stack || error.message));
