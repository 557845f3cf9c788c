// leakCheck around test.concurrent: each test gets only its own leaks.
import { test } from "vitest";
import { background, ticker, withCancel } from "@lifeline/core";
import { leakCheck } from "@lifeline/testing/vitest";

const [root, stop] = withCancel(background());
let running = 2;
const done = () => {
  if (--running === 0) setTimeout(stop, 100);
};

test.concurrent(
  "concurrent A leaks a ticker",
  leakCheck(async () => {
    try {
      ticker(root, 50);
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      done();
    }
  }, { retryMs: 20 }),
);

test.concurrent(
  "concurrent B is clean",
  leakCheck(async () => {
    try {
      const [, cancel] = withCancel(root);
      await new Promise((r) => setTimeout(r, 20));
      cancel();
    } finally {
      done();
    }
  }, { retryMs: 20 }),
);
