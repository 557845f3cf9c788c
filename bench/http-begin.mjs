// What HttpContexts' own per-request work costs, without a network or a framework: begin() and the end of the
// ctx at the response's 'close', on real node:http IncomingMessage/ServerResponse objects, against the same
// objects made and closed without lifeline. Not part of `npm run bench`; a tool for changing begin/finish, whose
// cost (a few hundred ns) is below what wrk rounds on a shared machine can resolve:
//
//   flock /work/wt/bench.lock node bench/http-begin.mjs [--processes=5] [/path/to/other/checkout …]
//
// Each variant runs in its own processes (so no variant's JIT or GC state leaks into another's), alternating;
// each process reports the median CPU ns per request of 20 rounds of 100k; the figure is the median over the
// processes. Extra arguments are other checkouts (built), measured beside this one: an A/B of two versions.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROUNDS = 20;
const PER_ROUND = 100_000;

if (process.argv[2] === "--child") {
  const { IncomingMessage, ServerResponse, Server } = await import("node:http");
  const { Socket } = await import("node:net");
  const root = process.argv[3];
  const contexts = root === "bare" ? null : new (await import(`${root}/packages/http/dist/index.js`)).HttpContexts();
  const socket = new Socket();
  socket.server = new Server();
  const noop = () => {};
  const rawHeaders = ["Host", "127.0.0.1:8080", "User-Agent", "curl/8.0", "Accept", "*/*", "Connection", "keep-alive"];
  const one = () => {
    // What node:http does per request, in short: the two objects, its 'finish' listener (a bound function).
    const req = new IncomingMessage(socket);
    req.rawHeaders = rawHeaders;
    req.method = "GET";
    req.url = "/";
    const res = new ServerResponse(req);
    res.socket = socket;
    res.on("finish", noop.bind(undefined, req, res));
    const ctx = contexts?.begin(req, res);
    // As Node's resOnFinish and emitCloseNT: finished, socket detached, then 'close'.
    res.finished = true;
    res.socket = null;
    res.destroyed = true;
    res._closed = true;
    res.emit("close");
    if (ctx !== undefined && ctx.err() === undefined) throw new Error("http-begin: the ctx did not end with its response");
  };
  const ns = [];
  for (let r = 0; r < ROUNDS + 5; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < PER_ROUND; i++) one();
    const used = process.cpuUsage(before);
    if (r >= 5) ns.push(((used.user + used.system) * 1000) / PER_ROUND); // the first 5 rounds warm up
  }
  process.stdout.write(String(median(ns)));
} else {
  const processes = Number(process.argv.find((a) => a.startsWith("--processes="))?.slice(12) ?? 5);
  const here = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
  const roots = ["bare", here, ...process.argv.slice(2).filter((a) => !a.startsWith("--"))];
  const got = new Map(roots.map((r) => [r, []]));
  for (let p = 0; p < processes; p++) {
    for (const root of p % 2 ? [...roots].reverse() : roots) {
      got.get(root).push(Number(execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", root], { encoding: "utf8" })));
    }
  }
  const bare = median(got.get("bare"));
  console.log(`begin + finish, CPU ns per request (median of ${processes} processes × ${ROUNDS} rounds of ${PER_ROUND / 1000}k):`);
  for (const [root, ns] of got) {
    const m = median(ns);
    console.log(`  ${root === "bare" ? "bare (node:http objects alone)" : root}: ${m.toFixed(0)} ns${root === "bare" ? "" : `, +${(m - bare).toFixed(0)} ns over bare`}  [${ns.map((x) => x.toFixed(0)).join(" ")}]`);
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
