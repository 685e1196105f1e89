// tsclient.cjs measures echo tool calls with the official MCP TypeScript
// SDK client on several sides (an upstream directly, through a relay,
// through mcpmux), interleaved call by call so that the machine's noise
// falls on all alike. It prints one JSON object with, for each side by
// name, the median call in µs ("us") and the calls per second with 16
// calls in flight ("calls_per_s").
//
//   NODE_PATH=<npm prefix>/node_modules node tsclient.cjs '<spec>'
//
// where <spec> is JSON: {"sides": [{"name", "command", "args", "tool"},
// ...], "calls": 2000, "warmup": 200, "inflight": 16, "batches": 40,
// "batch": 64}. The SDK is @modelcontextprotocol/sdk, pinned by the
// caller (internal/bench installs 1.32.2).
"use strict";
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");

async function connect(side) {
  const client = new Client({ name: "tsclient-bench", version: "1" });
  const transport = new StdioClientTransport({ command: side.command, args: side.args || [], env: process.env, stderr: "ignore" });
  await client.connect(transport);
  // The first list waits for mcpmux's upstreams; both sides list once.
  const { tools } = await client.listTools();
  if (!tools.some((t) => t.name === side.tool)) {
    throw new Error(`${side.command}: no tool ${side.tool} among ${tools.map((t) => t.name).join(", ")}`);
  }
  return { client, tool: side.tool };
}

async function call(side) {
  const res = await side.client.callTool({ name: side.tool, arguments: { message: "bench" } });
  if (res.isError) throw new Error(`${side.tool}: ${JSON.stringify(res)}`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1000; // µs
}

async function inflight(side, n, window) {
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      await call(side);
    }
  };
  const us = await timed(() => Promise.all(Array.from({ length: window }, worker)));
  return n / (us / 1e6);
}

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const calls = spec.calls ?? 2000, warmup = spec.warmup ?? 200;
  const window = spec.inflight ?? 16, batches = spec.batches ?? 40, batch = spec.batch ?? 64;
  const sides = [];
  for (const s of spec.sides) sides.push(await connect(s));
  const n = sides.length;
  for (let i = 0; i < warmup; i++) {
    for (const s of sides) await call(s);
  }
  const took = sides.map(() => []);
  for (let i = 0; i < calls; i++) {
    for (let k = 0; k < n; k++) {
      const j = (i + k) % n; // each goes first in turn
      took[j].push(await timed(() => call(sides[j])));
    }
  }
  const rates = sides.map(() => []);
  for (let i = 0; i < batches; i++) {
    for (let k = 0; k < n; k++) {
      const j = (i + k) % n;
      rates[j].push(await inflight(sides[j], batch, window));
    }
  }
  const out = {};
  spec.sides.forEach((s, j) => {
    out[s.name] = { us: median(took[j]), calls_per_s: median(rates[j]) };
  });
  console.log(JSON.stringify(out));
  for (const s of sides) await s.client.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
