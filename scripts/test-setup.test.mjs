// The set-up `npm test` does before running anything (scripts/test-setup.mjs): what it installs, when, and the
// message and exit code when it cannot. The decisions are tested with injected facts (root or not, present or
// not); whether this machine's user may install is checked for real, as an unprivileged user.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { canInstall, ensureChromium, ensureServices, SETUP_EXIT_CODE, SetupError } from "./test-setup.mjs";

const root = new URL("..", import.meta.url).pathname;

/** fake records the scripts run; `after` says what exists once a script ran. */
function fake({ present = [], mayInstall, status = 0, creates = [] }) {
  const files = new Set(present);
  const ran = [];
  return {
    ran,
    exists: (p) => [...files].some((f) => p.endsWith(f)),
    mayInstall: () => mayInstall,
    log: () => {},
    run: (_root, name) => {
      ran.push(name);
      if (status === 0) for (const f of creates) files.add(f);
      return status;
    },
  };
}

describe("npm test's set-up", () => {
  it("leaves an installed Chromium alone", () => {
    const f = fake({ present: ["/usr/bin/chromium"], mayInstall: false });
    ensureChromium(root, f);
    assert.deepEqual(f.ran, []);
  });

  it("installs a missing Chromium with scripts/install-chromium.sh when it may", () => {
    const f = fake({ mayInstall: true, creates: ["/usr/bin/chromium"] });
    ensureChromium(root, f);
    assert.deepEqual(f.ran, ["install-chromium.sh"]);
  });

  it("fails with the command to run as root when Chromium is missing and it may not install", () => {
    const f = fake({ mayInstall: false });
    assert.throws(
      () => ensureChromium(root, f),
      (e) =>
        e instanceof SetupError &&
        e.exitCode === SETUP_EXIT_CODE &&
        /\/usr\/bin\/chromium is missing/.test(e.message) &&
        /As root, run: {2}bash scripts\/install-chromium\.sh/.test(e.message),
    );
    assert.deepEqual(f.ran, [], "tried nothing it may not do");
  });

  it("fails when the install did not produce Chromium", () => {
    const f = fake({ mayInstall: true, status: 1 });
    assert.throws(() => ensureChromium(root, f), (e) => e instanceof SetupError && /failed \(exit 1\)/.test(e.message));
  });

  it("starts the services through scripts/start-services.sh when it exists, and explains a failure", () => {
    const ok = fake({ present: ["scripts/start-services.sh"], mayInstall: false });
    ensureServices(root, ok);
    assert.deepEqual(ok.ran, ["start-services.sh"]);

    const failing = fake({ present: ["scripts/start-services.sh"], mayInstall: false, status: 1 });
    assert.throws(
      () => ensureServices(root, failing),
      (e) =>
        e instanceof SetupError &&
        e.exitCode === SETUP_EXIT_CODE &&
        /not root and cannot use sudo -n/.test(e.message) &&
        /As root, run: {2}bash scripts\/start-services\.sh/.test(e.message),
    );

    const absent = fake({ mayInstall: true });
    ensureServices(root, absent);
    assert.deepEqual(absent.ran, [], "no script, nothing to start");
  });

  it("knows that an unprivileged user may not install packages", () => {
    if (process.getuid() !== 0) {
      // Already unprivileged: may install only with password-less sudo.
      const sudo = spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
      assert.equal(canInstall(), sudo);
      return;
    }
    assert.equal(canInstall(), true, "root may");
    const r = spawnSync(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e",
        `import { canInstall } from ${JSON.stringify(new URL("./test-setup.mjs", import.meta.url).href)}; console.log(canInstall());`],
      { encoding: "utf8", timeout: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "false", "nobody, without password-less sudo, may not install");
  });
});
