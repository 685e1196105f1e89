// wineclient.cjs drives `wine mcpmux.exe serve` with the official MCP
// TypeScript SDK client, as Claude Desktop drives mcpmux.exe on Windows:
// it lists the tools once (the first list, which must be complete), calls
// each of the given tools with a message, and prints one JSON object:
// {"tools": [names], "calls": {tool: text}}.
//
//   NODE_PATH=<npm prefix>/node_modules node wineclient.cjs '<spec>'
//
// where <spec> is JSON: {"command", "args", "call": [tool names]}.
"use strict";
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const client = new Client({ name: "wineclient", version: "1" });
  const transport = new StdioClientTransport({ command: spec.command, args: spec.args, env: process.env, stderr: "inherit" });
  await client.connect(transport);
  const { tools } = await client.listTools();
  const calls = {};
  for (const name of spec.call) {
    const res = await client.callTool({ name, arguments: { message: "hello from " + name } });
    if (res.isError) throw new Error(`${name}: ${JSON.stringify(res)}`);
    calls[name] = res.content.map((c) => c.text).join("");
  }
  await client.close();
  process.stdout.write(JSON.stringify({ tools: tools.map((t) => t.name), calls }) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
