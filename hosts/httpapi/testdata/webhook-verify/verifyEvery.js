// The README's Node verifier that accepts any of the v1= signatures (there are two while a
// rotated secret overlaps the new one).
const { createHmac, timingSafeEqual } = require("node:crypto");

function verifyWebhook(rawBody, header, secret, toleranceSeconds = 300) {
  const parts = header.split(",").map((p) => p.split("="));
  const t = parts.find(([k]) => k === "t")?.[1];
  const sigs = parts.filter(([k]) => k === "v1").map(([, v]) => Buffer.from(v, "hex"));
  if (!t || sigs.length === 0) throw new Error("malformed signature header");
  if (Math.abs(Date.now() / 1000 - Number(t)) > toleranceSeconds) throw new Error("stale");
  const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest();
  if (!sigs.some((s) => s.length === expected.length && timingSafeEqual(s, expected))) {
    throw new Error("bad signature");
  }
  return JSON.parse(rawBody);
}

module.exports = { verifyWebhook };
