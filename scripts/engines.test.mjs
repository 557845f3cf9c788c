// Every package that `npm ci` installs from the lock must accept the running Node (npm warns EBADENGINE otherwise,
// and the package may use what this Node lacks), and the root's own `engines` must not promise a Node that some
// installed package refuses. CI runs this on every supported major (20, 22, 24, 26).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import semver from "semver";

const root = new URL("..", import.meta.url);
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8"));
const rootRange = JSON.parse(readFileSync(new URL("package.json", root), "utf8")).engines.node;

/** installed lists the lock's packages that npm ci installs on this platform, with their `engines.node`. */
function installed() {
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.includes("node_modules/") && p.engines?.node !== undefined)
    .filter(([, p]) => !p.optional || ((p.os ?? [process.platform]).includes(process.platform) && (p.cpu ?? [process.arch]).includes(process.arch)))
    .map(([path, p]) => ({ name: path.slice(path.lastIndexOf("node_modules/") + 13), version: p.version, range: p.engines.node }));
}

describe("Node engines", () => {
  it(`every installed package accepts this Node (${process.version})`, () => {
    const refusing = installed().filter((p) => !semver.satisfies(process.version, p.range));
    assert.deepEqual(refusing.map((p) => `${p.name}@${p.version} needs node ${p.range}`), []);
  });

  it(`every installed package accepts the oldest Node the root's engines allow (${rootRange})`, () => {
    const oldest = semver.minVersion(rootRange).version;
    const refusing = installed().filter((p) => !semver.satisfies(oldest, p.range));
    assert.deepEqual(refusing.map((p) => `${p.name}@${p.version} needs node ${p.range}, not ${oldest}`), []);
  });
});

describe("the cookie override (package.json overrides: light-my-request → cookie ^1.1.1)", () => {
  it("Fastify's inject sends cookies through the overridden cookie", async () => {
    const { default: Fastify } = await import("fastify");
    const app = Fastify();
    app.get("/", (request) => ({ cookie: request.headers.cookie ?? null }));
    try {
      const res = await app.inject({ method: "GET", url: "/", cookies: { a: "b c", d: "e" } });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { cookie: "a=b%20c; d=e" });
    } finally {
      await app.close();
    }
  });
});
