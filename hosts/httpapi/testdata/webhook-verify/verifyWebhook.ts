// The docs' "Verify the signature (Node)" snippet, verbatim. TestWebhookVerifiers runs it
// (compiled by TypeScript's transpiler in verify.js) against real deliveries.
import { createHmac, timingSafeEqual } from "node:crypto";

function verifyWebhook(rawBody: string, signature: string, secret: string) {
  const [tPart, vPart] = signature.split(",");
  const t = tPart.split("=")[1];
  const v = vPart.split("=")[1];
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) throw new Error("stale");
  const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest("hex");
  if (!timingSafeEqual(Buffer.from(v, "hex"), Buffer.from(expected, "hex"))) {
    throw new Error("bad signature");
  }
  return JSON.parse(rawBody);
}

export { verifyWebhook };
