// dependency-cruiser, run by `npm run lint`: the import graph of every package's src is acyclic, and
// @lifeline/core's layers import only downwards. Type-only imports count too (tsPreCompilationDeps): a cycle of
// types is still a cycle a reader has to untangle.

// @lifeline/core's layers, bottom-up: packages/core/src/<n>-<name>/. A file may import its own layer and the
// ones below it; index.ts, the public entry, sits on top.
const CORE_LAYERS = [
  "1-base", // errors, the tracking hook, the clock seam, describe, report
  "2-context", // the Context interface, keys, values, and the channel views a context's done() returns
  "3-wait", // internal primitives: alarm, listening for a context's end (ListenerHost, attach), the parked wait
  "4-chan", // channels
  "5-cancel", // the context tree and deadlines
  "6-task", // tasks
  "7-sync", // select, time (sleep, after, ticker), WaitGroup, ErrGroup, Semaphore, blockOn
  "8-pool", // the worker pool
];

const CORE = "^packages/core/src/";
const layerRules = CORE_LAYERS.slice(0, -1).map((layer, i) => ({
  name: `core-layer-${layer}`,
  severity: "error",
  comment: `@lifeline/core's ${layer} must not import a higher layer (${CORE_LAYERS.slice(i + 1).join(", ")}).`,
  from: { path: `${CORE}${layer}/` },
  to: { path: `${CORE}(${CORE_LAYERS.slice(i + 1).join("|")})/` },
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
      comment: "Every file of packages/core/src but index.ts is in one layer directory listed in CORE_LAYERS.",
      from: { path: CORE, pathNot: `${CORE}((${CORE_LAYERS.join("|")})/[^/]+|index)\\.ts$` },
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
