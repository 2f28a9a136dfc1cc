// The HTTP API against docs/openapi.yaml, checked by an independent validator: every request
// goes through Prism (@stoplight/prism-cli) as a validating proxy in front of a real
// `eleven serve`, and any violation Prism finds in a response (status, headers, body schema)
// fails the run. The requests touch every documented operation: successes, replays and
// errors (unknown ids, a body of the wrong type, a bad key, a key of the wrong role, a body
// too large).
// Requests that are invalid on purpose are sent as they are; only the responses' violations
// count. The feed operations are event streams that never end: they are not proxied.
//
// Usage: node contract.mjs ELEVEN_BINARY REPO_ROOT
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryAndRoot, fail, freePort, start, startServer, tempDir } from "./server.mjs";

const { eleven, root } = binaryAndRoot("contract.mjs");
const specPath = join(root, "docs/openapi.yaml");
const spec = JSON.parse(readFileSync(specPath, "utf8").replace(/^#.*\n/, ""));
const dir = tempDir("eleven-contract-prism-");

// ---- the server and the proxy ---------------------------------------------------------------

const { port: serverPort, key: operatorKey } = await startServer(eleven);
console.log(`eleven serve: HTTP port ${serverPort}`);
const prismBin = join(root, "tests/contract/node_modules/.bin/prism");
const proxyPort = await freePort();
await start(prismBin, ["proxy", specPath, `http://127.0.0.1:${serverPort}`, "--host", "127.0.0.1",
                       "--port", String(proxyPort)],
            /Prism is listening/, "prism proxy");
console.log(`prism proxy on port ${proxyPort}`);

// ---- requests -------------------------------------------------------------------------------

const seen = new Map();  // "METHOD /pattern" -> statuses
const violations = [];
let sent = 0;

// Sends one request through the proxy; returns {status, body, headers}.
async function call(method, pattern, path, { body, key = operatorKey, contentType = "application/json",
                                             raw } = {}) {
  const headers = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (method === "POST") headers["content-type"] = contentType;
  const response = await fetch(`http://127.0.0.1:${proxyPort}${path}`, {
    method,
    headers,
    body: method === "POST" ? (raw ?? JSON.stringify(body ?? {})) : undefined,
  });
  const text = await response.text();
  if (process.env.CONTRACT_DEBUG) console.log(method, path, response.status);
  sent++;
  const op = `${method} ${pattern}`;
  if (!seen.has(op)) seen.set(op, new Set());
  seen.get(op).add(response.status);
  const reported = response.headers.get("sl-violations");
  if (reported) {
    for (const v of JSON.parse(reported)) {
      // Requests invalid on purpose are allowed; a response must match the document.
      if ((v.location ?? [])[0] !== "request") {
        violations.push(`${op} -> ${response.status}: ${v.message} at ${(v.location ?? []).join(".")}\n  ${text.slice(0, 300)}`);
      }
    }
  }
  if (response.status >= 500 && response.headers.get("content-type")?.includes("problem+json")) {
    violations.push(`${op}: Prism answered itself ${response.status}: ${text.slice(0, 300)}`);
  }
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, body: json, text, headers: response.headers };
}

// Each documented operation with its parameters' and body's examples.
const operations = [];
for (const [pattern, item] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(item)) {
    if (!["get", "post"].includes(method)) continue;
    let path = pattern;
    for (const p of op.parameters ?? []) {
      if (p.in === "path") path = path.replace(`{${p.name}}`, String(p.example));
    }
    const stream = Object.values(op.responses).some((r) => r.content?.["text/event-stream"]);
    operations.push({ method: method.toUpperCase(), pattern, path, op, stream,
                      body: op.requestBody?.content?.["application/json"]?.example });
  }
}

const proxied = operations.filter((o) => !o.stream);
// Pass 1: each operation in the document's order with its examples (creating the objects the
// later examples name); pass 2: the same again (writes now replays, or refused as existing;
// reads of what pass 1 made).
for (let pass = 0; pass < 2; pass++) {
  for (const o of proxied) await call(o.method, o.pattern, o.path, { body: o.body ?? {} });
}

// Batches: /accounts and /transfers take an array (linked, all or nothing), and answer one.
const accounts = [{ account_id: 501, ledger: 1, code: 1 }, { account_id: 502, ledger: 1, code: 1 }];
await call("POST", "/accounts", "/accounts", { body: accounts });
await call("POST", "/accounts", "/accounts", { body: accounts });  // replayed
await call("POST", "/accounts", "/accounts", { body: [{ account_id: 503, ledger: 1, code: 1 },
                                                     { account_id: 501, ledger: 2, code: 1 }] });
const transfers = [
  { transfer_id: 601, debit_account_id: 501, credit_account_id: 502, amount_fen: 100, ledger: 1, code: 1 },
  { transfer_id: 602, debit_account_id: 502, credit_account_id: 501, amount_fen: 40, ledger: 1, code: 1 },
];
await call("POST", "/transfers", "/transfers", { body: transfers });
await call("POST", "/transfers", "/transfers", { body: transfers });  // replayed
await call("POST", "/transfers", "/transfers", { body: [{ ...transfers[0], transfer_id: 603, amount_fen: -1 }] });

// Errors: unknown ids, a bad key, a body of the wrong JSON type or media type.
for (const o of proxied) {
  const unknown = o.path.replace(/\/\d+(?=\/|$)/g, "/987654321");
  if (unknown !== o.path) await call(o.method, o.pattern, unknown, { body: o.body ?? {} });
  await call(o.method, o.pattern, o.path, { body: o.body ?? {}, key: "ek_" + "A".repeat(43) });
  if (o.method === "POST" && o.pattern !== "/clock") {
    // (JSON that is not an object: Prism stalls on a body that is not JSON at all.)
    await call(o.method, o.pattern, o.path, { raw: "\"not an object\"" });
    await call(o.method, o.pattern, o.path, { raw: "x", contentType: "text/plain" });
  }
}
// A viewer's key (made by the operator): reads, and writes it may not make.
const created = await call("POST", "/keys", "/keys", { body: { role: "viewer" } });
if (created.status !== 200 || !created.body?.secret) fail(`POST /keys answered ${created.status}: ${created.text}`);
for (const o of proxied) {
  if (o.pattern === "/healthz") continue;
  await call(o.method, o.pattern, o.path, { body: o.body ?? {}, key: created.body.secret });
}
// A body over the server's limit.
await call("POST", "/orders", "/orders", { raw: JSON.stringify({ pad: "x".repeat(2 << 20) }) });

// ---- the validator itself: a document the server does not meet must be caught -------------

const broken = structuredClone(spec);
broken.components.schemas.Health.required = [...(broken.components.schemas.Health.required ?? []), "no_such_field"];
const brokenPath = join(dir, "broken.json");
writeFileSync(brokenPath, JSON.stringify(broken));
const brokenPort = await freePort();
await start(prismBin, ["proxy", brokenPath, `http://127.0.0.1:${serverPort}`, "--host", "127.0.0.1",
                       "--port", String(brokenPort)],
            /Prism is listening/, "prism proxy (broken document)");
const probe = await fetch(`http://127.0.0.1:${brokenPort}/healthz`);
await probe.text();
if (!/no_such_field/.test(probe.headers.get("sl-violations") ?? "")) {
  fail("Prism did not report a response that misses a required field: the check cannot fail");
}

// ---- verdict --------------------------------------------------------------------------------

const missing = proxied.map((o) => `${o.method} ${o.pattern}`).filter((k) => !seen.has(k));
console.log(`${sent} requests through Prism over ${seen.size} operations; ` +
            `${operations.length - proxied.length} stream operations not proxied`);
for (const [op, statuses] of [...seen].sort()) console.log(`  ${op}: ${[...statuses].sort().join(" ")}`);
if (missing.length) fail(`operations never called: ${missing.join(", ")}`);
if (violations.length) {
  console.error(violations.join("\n"));
  fail(`${violations.length} responses do not match docs/openapi.yaml`);
}
console.log("PASS");
process.exit(0);
