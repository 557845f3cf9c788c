// Run by lost-cancel.test.ts as `node --expose-gc lost-cancel-child.js MODE`; prints what it saw as JSON.
// MODE: "handler" (a handler collects the reports), "warning" (the default handler), "stopped" (detection
// turned off again before the context is lost).
import { background, withCancel, withTimeout } from "@lifeline/core";
import { detectLostCancel, TestScope, type LostCancel } from "@lifeline/testing";
import { here } from "./fixtures.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");
const mode = process.argv[2];
const lost: LostCancel[] = [];
let warnings = 0;
process.on("warning", (w) => {
  if (w.name === "LostCancelWarning") warnings++;
});

const stop = mode === "warning" ? detectLostCancel() : detectLostCancel((l) => lost.push(l));
if (mode === "stopped") stop();

function forget(): string {
  const [site] = [here(), withCancel(background())];
  return site;
}
function cancelled(): void {
  const [, cancel] = withCancel(background());
  cancel();
}
function expires(): void {
  withTimeout(background(), 1); // never cancelled, but it ends by itself: not a lost cancel at run time
}

const site = new TestScope("gc test").run(forget);
cancelled();
expires();
await new Promise((r) => setTimeout(r, 20));
for (let i = 0; i < 30 && lost.length === 0 && warnings === 0; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 10));
}
process.stdout.write(JSON.stringify({ site, lost, warnings }) + "\n");
