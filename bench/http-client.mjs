// Load generator for bench/run.mjs section h, run as a child process (its own event loop and CPU) and driven
// over IPC. Plain node:http, no dependencies.
//
//   { cmd: "load", url, requests, connections }   → { ms, ok, failed }
//     `requests` GETs over `connections` keep-alive sockets, each socket one request at a time; ms = wall time.
//   { cmd: "disconnect", urls, count }             → { at: [[id, hrtimeNs], …], failed }
//     one request at a time, to urls[i % urls.length] + "?id=i" on a fresh socket: once the response headers
//     arrive (the handler is running and has sent nothing else) the socket is destroyed; `at` is
//     process.hrtime.bigint() just before that (CLOCK_MONOTONIC, the same clock as the server process's).
import http from "node:http";

function get(url, agent) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.on("end", () => resolve(res.statusCode === 200));
      res.on("error", () => resolve(false));
      res.resume();
    });
    req.on("error", () => resolve(false));
  });
}

async function load({ url, requests, connections }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let next = 0;
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < requests) {
        next++;
        if (await get(url, agent)) ok++;
        else failed++;
      }
    }),
  );
  const ms = performance.now() - t0;
  agent.destroy();
  return { ms, ok, failed };
}

function disconnectOnce(url) {
  return new Promise((resolve) => {
    let at;
    const req = http.get(url, { agent: false }, () => {
      at = process.hrtime.bigint();
      req.destroy();
    });
    req.on("error", () => {}); // the destroy above
    req.on("close", () => resolve(at));
  });
}

async function disconnect({ urls, count }) {
  const at = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const t = await disconnectOnce(`${urls[i % urls.length]}?id=${i}`);
    if (t === undefined) failed++;
    else at.push([i, String(t)]);
  }
  return { at, failed };
}

process.on("message", async (msg) => {
  const result = msg.cmd === "load" ? await load(msg) : msg.cmd === "disconnect" ? await disconnect(msg) : { error: `unknown cmd ${msg.cmd}` };
  process.send(result);
});
