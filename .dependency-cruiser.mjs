// dependency-cruiser, run by `npm run lint`: the import graph of every package's src is acyclic, and
// @lifeline/core's layers import only downwards. Type-only imports count too (tsPreCompilationDeps): a cycle of
// types is still a cycle a reader has to untangle.

// @lifeline/core, bottom-up (paths under packages/core/src). A file may import its own layer and the ones below.
const CORE_LAYERS = [
  ["base: errors, tracking hook, clock", ["errors.ts", "track.ts", "internal/describe.ts", "internal/report.ts", "internal/clock.ts"]],
  ["the Context interface, keys, values and the channel views it returns", ["context.ts"]],
  ["internal primitives: alarm, listening for a context's end, parked wait", ["internal/alarm.ts", "internal/listeners.ts", "internal/parked.ts"]],
  ["channels", ["chan.ts"]],
  ["the context tree and deadlines", ["cancel.ts", "deadline.ts"]],
  ["tasks", ["task.ts"]],
  ["select, time, sync primitives", ["select.ts", "time.ts", "semaphore.ts", "waitgroup.ts", "errgroup.ts", "block-on.ts"]],
  ["worker pool", ["pool.ts"]],
  ["the public entry", ["index.ts"]],
];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const pathsOf = (files) => `^packages/core/src/(${files.map(escape).join("|")})$`;

const layerRules = CORE_LAYERS.slice(0, -1).map(([name, files], i) => ({
  name: `core-layer-${i + 1}`,
  severity: "error",
  comment: `@lifeline/core layer ${i + 1} (${name}) must not import a higher layer (see .dependency-cruiser.mjs).`,
  from: { path: pathsOf(files) },
  to: { path: pathsOf(CORE_LAYERS.slice(i + 1).flatMap(([, f]) => f)) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A module must not import itself through others: each package's src reads bottom-up.",
      from: { path: "^packages/[^/]+/src/" },
      to: { circular: true },
    },
    {
      name: "core-file-in-a-layer",
      severity: "error",
      comment: "Every file of packages/core/src belongs to one layer: add a new file to CORE_LAYERS.",
      from: { path: "^packages/core/src/", pathNot: pathsOf(CORE_LAYERS.flatMap(([, f]) => f)) },
      to: {},
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    exclude: { path: "(^|/)(dist|dist-test|node_modules)/" },
  },
};
