// Section e of `npm run bench` (e. Bundle size); run alone with `node --expose-gc bench/size.mjs`.
import { standalone } from "./harness.mjs";

/** benchSize runs section e, reporting through the harness's `section` and `row`. */
export async function benchSize({ section, row, verdict }) {
  section("e. bundle size");
  const { bundleSizes, ISSUE2_LIMIT, WHOLE_LIMIT } = await import("../scripts/bundle-size.mjs");
  const { whole: all, issue2: sub } = await bundleSizes();
  row({ bench: "e. @lifeline/core, issue 2's API (contexts, channels, select, timers), bundled, minified, gzipped", ours: `${sub.gz} B (${sub.min} B minified)`, peer: "", peerValue: "", ratio: "", target: `< ${ISSUE2_LIMIT} B`, result: verdict(sub.gz < ISSUE2_LIMIT), go: "" });
  row({ bench: "e. @lifeline/core, whole entry (+ tasks, sync, pool), bundled, minified, gzipped", ours: `${all.gz} B (${all.min} B minified)`, peer: "", peerValue: "", ratio: "", target: `< 6144 B (issue 2's figure); CI budget < ${WHOLE_LIMIT} B`, result: verdict(all.gz < 6144), go: "" });
}

await standalone(import.meta.url, benchSize);
