import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { formatTimeoutMs, incomingBudget, parseGrpcTimeout, parseTimeoutMs, TIMEOUT_HEADER } from "@lifeline/http";

type Value = string | string[] | undefined;

describe("deadline headers", () => {
  it("names the header timeout-ms", () => {
    assert.equal(TIMEOUT_HEADER, "timeout-ms");
  });

  describe("parseTimeoutMs", () => {
    const table: Array<[Value, number | undefined]> = [
      ["0", 0],
      ["50", 50],
      [" 50 ", 50],
      ["007", 7],
      ["999999999", 86_400_000], // 9 digits parse, clamped to a day
      ["86400000", 86_400_000],
      [["250"], 250], // one value in an array is one header
      [undefined, undefined],
      ["", undefined],
      ["  ", undefined],
      ["-5", undefined],
      ["+5", undefined],
      ["5.5", undefined],
      ["1e3", undefined],
      ["0x10", undefined],
      ["5ms", undefined],
      ["5 0", undefined],
      ["1234567890", undefined], // 10 digits: refused, not truncated
      ["Infinity", undefined],
      ["NaN", undefined],
      ["٥٠", undefined], // non-ASCII digits
      [["50", "60"], undefined], // duplicated: ambiguous, ignored
      [[], undefined],
    ];
    for (const [value, want] of table) {
      it(`${JSON.stringify(value)} → ${String(want)}`, () => assert.equal(parseTimeoutMs(value), want));
    }
  });

  describe("parseGrpcTimeout", () => {
    const table: Array<[Value, number | undefined]> = [
      ["1S", 1000],
      ["100m", 100],
      ["2M", 120_000],
      ["1H", 3_600_000],
      ["1500u", 1.5],
      ["2000000n", 2],
      ["99999999H", 86_400_000], // clamped to a day
      ["00000001S", 1000],
      [" 1S ", 1000],
      [["3S"], 3000],
      [undefined, undefined],
      ["", undefined],
      ["5", undefined], // no unit
      ["S", undefined],
      ["-1S", undefined],
      ["1.5S", undefined],
      ["1s", undefined], // units are case-sensitive: s is not a gRPC unit
      ["1h", undefined],
      ["123456789S", undefined], // 9 digits: the spec allows 8
      ["1S1", undefined],
      [["1S", "2S"], undefined],
    ];
    for (const [value, want] of table) {
      it(`${JSON.stringify(value)} → ${String(want)}`, () => assert.equal(parseGrpcTimeout(value), want));
    }
  });

  describe("incomingBudget", () => {
    const table: Array<[string, Record<string, Value>, number | undefined]> = [
      ["no header", {}, undefined],
      ["timeout-ms alone", { "timeout-ms": "300" }, 300],
      ["grpc-timeout alone", { "grpc-timeout": "2S" }, 2000],
      ["both: the smaller wins (timeout-ms)", { "timeout-ms": "300", "grpc-timeout": "2S" }, 300],
      ["both: the smaller wins (grpc-timeout)", { "timeout-ms": "3000", "grpc-timeout": "2S" }, 2000],
      ["garbage timeout-ms, valid grpc-timeout", { "timeout-ms": "soon", "grpc-timeout": "2S" }, 2000],
      ["valid timeout-ms, garbage grpc-timeout", { "timeout-ms": "300", "grpc-timeout": "2s" }, 300],
      ["both garbage", { "timeout-ms": "-1", "grpc-timeout": "-1S" }, undefined],
      ["duplicated timeout-ms, valid grpc-timeout", { "timeout-ms": ["1", "2"], "grpc-timeout": "1S" }, 1000],
      ["other headers ignored", { "x-envoy-expected-rq-timeout-ms": "10", "timeout": "10" }, undefined],
    ];
    for (const [name, headers, want] of table) {
      it(`${name} → ${String(want)}`, () => assert.equal(incomingBudget(headers), want));
    }
  });

  describe("formatTimeoutMs", () => {
    const table: Array<[number, string]> = [
      [0, "0"],
      [49.9, "49"],
      [1500, "1500"],
      [-3, "0"],
    ];
    for (const [ms, want] of table) {
      it(`${ms} → ${want}, which parses back`, () => {
        assert.equal(formatTimeoutMs(ms), want);
        assert.equal(parseTimeoutMs(formatTimeoutMs(ms)), Number(want));
      });
    }
  });
});

after(() => assertNoLeaks());
