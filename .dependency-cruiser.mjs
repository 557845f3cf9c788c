// dependency-cruiser (npm run lint): the import graph of every package's src is acyclic, and @lifeline/core's
// layers only import downwards. Type-only imports count too (tsPreCompilationDeps): a cycle of types is still a
// cycle a reader has to untangle.
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A module must not import itself through others: read each package's src bottom-up.",
      from: { path: "^packages/[^/]+/src/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    exclude: { path: "(^|/)(dist|dist-test|node_modules)/" },
  },
};
