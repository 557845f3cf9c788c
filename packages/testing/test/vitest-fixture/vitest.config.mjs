// Vitest config for the fixture suite that vitest.test.ts runs. The lifeline packages are loaded by Node
// itself (not transformed), so the tests and the leak check share one @lifeline/core and one tracker.
import { tmpdir } from "node:os";
import { join } from "node:path";

export default {
  cacheDir: join(tmpdir(), "lifeline-vitest-fixture"),
  test: {
    include: ["*.vitest.ts"],
    server: { deps: { external: [/[\\/]packages[\\/](core|testing)[\\/]dist[\\/]/] } },
  },
};
