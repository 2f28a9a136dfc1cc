// Starting what the contract tests talk to: a formatted data directory with every module on,
// `eleven serve` on loopback ports of its choosing, and helper processes, all killed and
// removed when the test's process exits.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const children = [];
const dirs = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(1));

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

// The test's two arguments, made absolute: the eleven binary and the repository's root.
export function binaryAndRoot(script) {
  const [eleven, root] = process.argv.slice(2);
  if (!eleven || !root) {
    console.error(`usage: node ${script} ELEVEN_BINARY REPO_ROOT`);
    process.exit(2);
  }
  return { eleven: resolve(eleven), root: resolve(root) };
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

// Starts `command` and resolves with the match of `ready` in its output (stdout and stderr).
export function start(command, args, ready, name, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 60000);
    const take = (chunk) => {
      output += chunk;
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("exit", (code) => reject(new Error(`${name} exited ${code}:\n${output}`)));
  });
}

// A port free a moment ago (for tools that take no port 0).
export function freePort() {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// `eleven serve` on a new data directory with the ledger and fulfilment on: {port, key}.
export async function startServer(eleven) {
  const dir = tempDir("eleven-contract-");
  const config = join(dir, "config.toml");
  writeFileSync(
    config,
    `[server]
listen = "127.0.0.1:0"
http = "127.0.0.1:0"
[engine]
merchants_max = 1024
skus_max = 4096
drops_max = 256
order_slots = 65536
holdings_max = 16384
[journal]
segment_bytes = 1048576
[ledger]
enabled = true
accounts_max = 4096
transfers_max = 16384
buyers_max = 1024
merchants_max = 1024
orders_max = 4096
plans_max = 1024
[fulfilment]
enabled = true
warehouses_max = 16
couriers_max = 8
stock_entries_max = 1024
skus_max = 1024
parcels_max = 1024
shipments_max = 1024
backlog_max = 256
delivered_outbox_max = 256
`,
  );
  const keyFile = join(dir, "operator.key");
  execFileSync(eleven, ["format", "--data", join(dir, "data"), "--config", config, "--key-file", keyFile]);
  const key = readFileSync(keyFile, "utf8").split("\n")[0].trim();
  const served = await start(eleven, ["serve", "--data", join(dir, "data"), "--config", config],
                             /HTTP on \S+ \(port (\d+)\)/, "eleven serve");
  return { port: Number(served[1]), key, dir };
}
