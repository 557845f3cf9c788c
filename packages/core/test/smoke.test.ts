import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { background, withCancel } from "@lifeline/core";

describe("withCancel", () => {
  it("ends the child when cancel is called", () => {
    const [ctx, cancel] = withCancel(background());
    assert.equal(ctx.err(), undefined);
    cancel();
    assert.ok(ctx.err());
  });
});
