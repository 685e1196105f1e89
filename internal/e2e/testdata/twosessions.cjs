// twosessions.cjs runs two sessions of the official MCP TypeScript SDK
// client at once against mcpmux served over HTTP, and prints one JSON
// object with what each saw, for the Go test to check that nothing
// crossed: sampling requests (each answers those of its own calls),
// progress (both use the same tokens, the SDK's request ids) and a
// cancellation (one cancels a call that the other runs too).
//
//   NODE_PATH=<npm prefix>/node_modules node twosessions.cjs URL streamable|sse PREFIX [staggered]
//
// PREFIX is the upstream's tool prefix (server-everything's tools).
// staggered: each sampling call starts once the one before it has
// reached its client (all are in flight at once all the same), for an
// upstream whose wire does not say which call a request belongs to
// (stdio), where mcpmux can only go by order.
"use strict";
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { SSEClientTransport } = require("@modelcontextprotocol/sdk/client/sse.js");
const { CreateMessageRequestSchema } = require("@modelcontextprotocol/sdk/types.js");

const [url, kind, prefix, staggered] = process.argv.slice(2);

async function until(ok) {
  while (!ok()) await new Promise((r) => setTimeout(r, 10));
}

// asked counts the sampling requests both sessions received. The first
// four (both sessions' two sampling calls each) are answered once all four
// have arrived: all are open at once, whatever the machine's load. An
// answer after a fixed delay (it was 200ms) let a loaded machine answer
// B's request before A's second call had reached the upstream; over
// stdio mcpmux then had two sessions with a call in flight and none
// waiting, and gave A's request to B's older call, and the staggered
// calls waited for a request that never came.
let asked = 0;

async function session(name) {
  const seen = { name, sampling: [], progress: [], errors: [] };
  const client = new Client({ name: "twosessions-" + name, version: "1" }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    const text = req.params.messages.map((m) => m.content.text).join(" ");
    seen.sampling.push(text);
    asked++;
    await until(() => asked >= 4);
    return { role: "assistant", model: "test-" + name, content: { type: "text", text: "answer of " + name } };
  });
  const transport = kind === "sse" ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, seen };
}

async function sample(s, name) {
  const res = await s.client.callTool({ name: prefix + "trigger-sampling-request", arguments: { prompt: "asked by " + name, maxTokens: 5 } });
  return res.content.map((c) => c.text).join("");
}

async function longRun(s, label, signal) {
  const progress = [];
  s.seen.progress.push({ label, progress });
  try {
    const res = await s.client.callTool(
      { name: prefix + "trigger-long-running-operation", arguments: { duration: 1.2, steps: 4 } },
      undefined,
      { signal, onprogress: (p) => progress.push(p.progress), timeout: 60000 },
    );
    return { ok: true, text: res.content.map((c) => c.text).join("") };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
}

async function main() {
  const a = await session("A");
  const b = await session("B");
  // Sampling: both at once, several times.
  let samples;
  if (staggered) {
    const calls = [];
    for (const [s, name, n] of [[a, "A", 1], [b, "B", 1], [a, "A", 2], [b, "B", 2]]) {
      calls.push(sample(s, name));
      await until(() => s.seen.sampling.length >= n);
    }
    samples = await Promise.all(calls);
  } else {
    samples = await Promise.all([sample(a, "A"), sample(b, "B"), sample(a, "A"), sample(b, "B")]);
  }
  // Progress: both at once, with the same request ids and so the same tokens.
  const runs = await Promise.all([longRun(a, "both"), longRun(b, "both")]);
  // Cancellation: A cancels its call after the first progress, B's runs on.
  const ac = new AbortController();
  const cancelA = longRun(a, "cancelled", ac.signal);
  const runB = longRun(b, "kept");
  const first = a.seen.progress.find((p) => p.label === "cancelled").progress;
  while (first.length === 0) await new Promise((r) => setTimeout(r, 20));
  ac.abort("test cancels A");
  const [cancelled, kept] = await Promise.all([cancelA, runB]);
  // A's session still works after the cancellation.
  const after = await sample(a, "A");
  await a.client.close();
  await b.client.close();
  process.stdout.write(JSON.stringify({ samples, runs, cancelled, kept, after, A: a.seen, B: b.seen }) + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
