// A client generated from docs/openapi.yaml works: @hey-api/openapi-ts generates a TypeScript
// client from the document (its functions named by the operationIds), tsc type-checks the
// example generated/place_and_pay.ts against it, and the example, run against a real
// `eleven serve`, places, pays and reads an order and replays the place order.
//
// Usage: node generated_client.mjs ELEVEN_BINARY REPO_ROOT
import { execFileSync } from "node:child_process";
import { cpSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryAndRoot, fail, startServer, tempDir } from "./server.mjs";

const { eleven, root } = binaryAndRoot("generated_client.mjs");
const bin = join(root, "tests/contract/node_modules/.bin");
const work = tempDir("eleven-generated-client-");
cpSync(join(root, "tests/contract/generated"), work, { recursive: true });
// The packages the generated code imports, from tests/contract/node_modules.
writeFileSync(join(work, "package.json"), JSON.stringify({ type: "commonjs", private: true }));
symlinkSync(join(root, "tests/contract/node_modules"), join(work, "node_modules"));

const run = (command, args) => execFileSync(command, args, { cwd: work, encoding: "utf8", stdio: "pipe" });
try {
  run(join(bin, "openapi-ts"), ["-i", join(root, "docs/openapi.yaml"), "-o", "gen", "-c", "@hey-api/client-fetch"]);
  run(join(bin, "tsc"), ["-p", "tsconfig.json"]);
} catch (error) {
  fail(`generating or type-checking the client: ${error.message}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
}

const { port, key } = await startServer(eleven);
let output;
try {
  output = execFileSync(process.execPath, [join(work, "out/place_and_pay.js")], {
    encoding: "utf8",
    env: { ...process.env, ELEVEN_URL: `http://127.0.0.1:${port}`, ELEVEN_KEY: key },
  });
} catch (error) {
  fail(`the generated client's example failed: ${error.stdout ?? ""}${error.stderr ?? ""}`);
}
console.log(output.trim());
const result = JSON.parse(output.trim().split("\n").pop());
if (result.placed !== "pending" || result.paid !== "paid" || result.state !== "paid" || !result.replayed ||
    result.replayed_id !== result.order_id) {
  fail(`unexpected result: ${JSON.stringify(result)}`);
}
console.log("PASS");
process.exit(0);
