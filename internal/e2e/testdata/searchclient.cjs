// searchclient.cjs drives mcpmux in search mode with the official MCP
// TypeScript SDK client (pinned by the caller: testutil.SDKVersion) and
// prints one JSON object of what it saw, for search_test.go to check.
//
//   NODE_PATH=<npm prefix>/node_modules node searchclient.cjs '<spec>'
//
// where <spec> is {"command", "args", "query", "describe": [names],
// "call": {"name", "arguments"}}.
"use strict";
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const client = new Client({ name: "searchclient", version: "1" });
  const transport = new StdioClientTransport({ command: spec.command, args: spec.args, env: process.env, stderr: "inherit" });
  await client.connect(transport);
  const out = { instructions: client.getInstructions() };
  out.tools = (await client.listTools()).tools;
  // The SDK checks structuredContent against the tools' outputSchema.
  out.search = await client.callTool({ name: "search_tools", arguments: { query: spec.query, limit: 5 } });
  out.describe = await client.callTool({ name: "describe_tools", arguments: { names: spec.describe } });
  out.call = await client.callTool({ name: "call_tool", arguments: spec.call });
  out.direct = await client.callTool({ name: spec.direct.name, arguments: spec.direct.arguments });
  await client.close();
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
