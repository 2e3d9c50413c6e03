"use strict";
// Helpers shared by the tests of the iogate gateway binary: HS-signed tokens and an environment
// free of IOGATE_* settings (so a developer's shell cannot change what a test configures).

const crypto = require("node:crypto");

const b64url = (x) => Buffer.from(x).toString("base64url");

/** HS256/384/512 JWT. `claims` may be raw JSON text; `header` replaces the usual one. */
function hsToken(claims, { secret, alg = "HS256", header } = {}) {
  if (!secret) throw new Error("hsToken needs a secret");
  const h = b64url(JSON.stringify(header || { alg, typ: "JWT" }));
  const p = b64url(typeof claims === "string" ? claims : JSON.stringify(claims));
  const digest = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg];
  const sig = crypto.createHmac(digest, secret).update(`${h}.${p}`).digest("base64url");
  return `${h}.${p}.${sig}`;
}

/** This process's environment without any IOGATE_* setting (the binaries' paths and test knobs stay). */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("IOGATE_") && !k.endsWith("_SERVER") && !k.startsWith("IOGATE_TEST_")) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

module.exports = { b64url, hsToken, cleanEnv };
