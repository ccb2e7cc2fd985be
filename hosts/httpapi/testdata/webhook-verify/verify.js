// Driver for TestWebhookVerifiers: reads {mode, body, headers, secret} as JSON on stdin and
// prints "ok" when the verifier of that mode accepts the delivery; exits 1 otherwise.
//   docs:  the docs' snippet (verifyWebhook.ts, compiled with TypeScript's transpileModule)
//   every: the README's verifier that checks every v1= (verifyEvery.js)
//   std:   the standardwebhooks package's Webhook.verify
const fs = require("node:fs");
const path = require("node:path");
const Module = require("node:module");

function loadDocsSnippet() {
  const ts = require("typescript");
  const file = path.join(__dirname, "verifyWebhook.ts");
  const out = ts.transpileModule(fs.readFileSync(file, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 },
  });
  const m = new Module(file);
  m.paths = Module._nodeModulePaths(__dirname);
  m._compile(out.outputText, file);
  return m.exports.verifyWebhook;
}

const input = JSON.parse(fs.readFileSync(0, "utf8"));
try {
  switch (input.mode) {
    case "docs":
      loadDocsSnippet()(input.body, input.headers["x-sendoka-signature"], input.secret);
      break;
    case "every":
      require("./verifyEvery.js").verifyWebhook(input.body, input.headers["x-sendoka-signature"], input.secret);
      break;
    case "std": {
      const { Webhook } = require("standardwebhooks");
      new Webhook(input.secret).verify(input.body, {
        "webhook-id": input.headers["webhook-id"],
        "webhook-timestamp": input.headers["webhook-timestamp"],
        "webhook-signature": input.headers["webhook-signature"],
      });
      break;
    }
    default:
      throw new Error("unknown mode " + input.mode);
  }
  console.log("ok");
} catch (e) {
  console.log("error: " + e.message);
  process.exit(1);
}
