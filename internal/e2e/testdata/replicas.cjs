// replicas.cjs runs N sessions of the official MCP TypeScript SDK client
// (pinned by the caller: testutil.SDKVersion) against one URL, each
// calling a tool in a loop, for replicas_test.go:
//
//   NODE_PATH=<npm prefix>/node_modules node replicas.cjs URL N TOOL MS
//
// It prints one JSON line per event: {"ready": N} once every session is
// initialized and has set its log level; {"call": {...}} per call (session, n, ok, t0, t1 in ms of
// the Unix epoch, error); and, once stdin ends, {"done": {...}}: how many
// initialize requests each session sent and the session ids it had (the
// first, the one logging/setLevel's answer gave it, and any other).
"use strict";
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");

const [url, n, tool, ms] = [process.argv[2], Number(process.argv[3]), process.argv[4], Number(process.argv[5])];
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");

let stopping = false;
process.stdin.on("data", () => {});
process.stdin.on("end", () => { stopping = true; });

async function session(i) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    // The listening stream reconnects for as long as the test runs.
    reconnectionOptions: { maxReconnectionDelay: 1000, initialReconnectionDelay: 100, reconnectionDelayGrowFactor: 1.5, maxRetries: 1000 },
  });
  const seen = { initializes: 0, ids: [], errors: [] };
  const send = transport.send.bind(transport);
  transport.send = (msg, opts) => {
    if (msg && msg.method === "initialize") seen.initializes++;
    return send(msg, opts);
  };
  transport.onerror = () => {}; // the listening stream's reconnections; calls report their own
  const client = new Client({ name: "replicas-" + i, version: "1" });
  client.onerror = () => {};
  await client.connect(transport);
  seen.ids.push(transport.sessionId);
  // A change of the session's state: its answer carries the session's
  // new id, which the SDK takes and sends from then on.
  await client.setLoggingLevel("info");
  seen.ids.push(transport.sessionId);
  return { client, transport, seen };
}

async function loop(i, s) {
  for (let k = 0; !stopping; k++) {
    const t0 = Date.now();
    const rec = { session: i, n: k, t0 };
    try {
      const res = await s.client.callTool({ name: tool, arguments: { ms } }, undefined, { timeout: 20000 });
      rec.ok = !res.isError;
      if (res.isError) rec.error = JSON.stringify(res.content);
    } catch (err) {
      rec.ok = false;
      rec.error = String(err && err.message || err);
    }
    rec.t1 = Date.now();
    if (s.transport.sessionId !== s.seen.ids[s.seen.ids.length - 1]) s.seen.ids.push(s.transport.sessionId);
    print({ call: rec });
  }
}

async function main() {
  const sessions = await Promise.all(Array.from({ length: n }, (_, i) => session(i)));
  print({ ready: sessions.length });
  await Promise.all(sessions.map((s, i) => loop(i, s)));
  print({ done: sessions.map((s) => s.seen) });
  await Promise.all(sessions.map((s) => s.client.close().catch(() => {})));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
