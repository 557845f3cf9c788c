// What `npm test` sets up before it runs anything, so that the README's test command passes on a fresh machine:
//   - Debian's Chromium at /usr/bin/chromium, for the dashboard's browser test (scripts/install-chromium.sh);
//   - PostgreSQL and Redis on 127.0.0.1, for the integrations' tests (scripts/start-services.sh, when it exists).
// Installing needs root (or password-less sudo). Without it, and with something missing, setup fails with a
// SetupError saying what is missing and the command to run as root; scripts/test.mjs prints it and exits with
// SETUP_EXIT_CODE, before any test runs (a test that needs a missing browser or server fails, it never skips).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The exit code of `npm test` when a prerequisite is missing and cannot be installed by this user. */
export const SETUP_EXIT_CODE = 3;

export const CHROMIUM = "/usr/bin/chromium";

/** SetupError: a prerequisite of the test suite is missing; `message` says what and how to get it. */
export class SetupError extends Error {
  name = "SetupError";
  exitCode = SETUP_EXIT_CODE;
}

/**
 * canInstall returns true when this process may install Debian packages: it runs as root, or `sudo -n` works
 * (password-less; `-n` so that a test run never waits for a password prompt).
 */
export function canInstall({ uid = process.getuid?.(), sudo = sudoWorks } = {}) {
  return uid === 0 || sudo();
}

function sudoWorks() {
  return spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
}

/** runScript runs `bash root/scripts/name` with args, its output going to ours; returns its exit status. */
export function runScript(root, name, args = []) {
  return spawnSync("bash", [join(root, "scripts", name), ...args], { stdio: ["ignore", "inherit", "inherit"], cwd: root }).status ?? 1;
}

/**
 * ensureChromium returns when Chromium is at `path`, installing it with scripts/install-chromium.sh first when it
 * is missing and this user may install packages. It throws a SetupError when it is missing and cannot be
 * installed, or when the install did not produce it. It does not check the browser's version.
 */
export function ensureChromium(root, { path = CHROMIUM, exists = existsSync, mayInstall = canInstall, run = runScript, log = console.log } = {}) {
  if (exists(path)) return;
  const why = "the dashboard's browser test (examples/server/browser.test.mjs) drives Debian's Chromium";
  if (!mayInstall()) {
    throw new SetupError(
      `npm test: ${path} is missing: ${why}, and this user can neither install it (not root) nor use sudo -n.\n` +
        `  As root, run:  bash scripts/install-chromium.sh   (or: apt-get install chromium), then npm test again.`,
    );
  }
  log(`npm test: ${path} is missing (${why}): installing it with scripts/install-chromium.sh`);
  const status = run(root, "install-chromium.sh");
  if (status !== 0 || !exists(path)) {
    throw new SetupError(`npm test: scripts/install-chromium.sh failed (exit ${status}); ${path} is still missing`);
  }
}

/**
 * ensureServices returns once scripts/start-services.sh has checked (and, when needed and allowed, started)
 * PostgreSQL and Redis; it does nothing when the script does not exist. The script itself does nothing for a
 * service that already answers. It throws a SetupError when the script fails, naming the command to run as root.
 */
export function ensureServices(root, { exists = existsSync, mayInstall = canInstall, run = runScript } = {}) {
  if (!exists(join(root, "scripts", "start-services.sh"))) return;
  const status = run(root, "start-services.sh");
  if (status === 0) return;
  const hint = mayInstall()
    ? "see its messages above"
    : "this user is not root and cannot use sudo -n, so it cannot install or start them";
  throw new SetupError(
    `npm test: PostgreSQL (127.0.0.1:5432, database test) and Redis (127.0.0.1:6379) are needed by the integrations' ` +
      `tests, and scripts/start-services.sh could not make them answer (exit ${status}; ${hint}).\n` +
      `  As root, run:  bash scripts/start-services.sh   then npm test again.`,
  );
}
