// Drives Sendoka's Resend drop-in with Resend's own Node SDK (run by TestResendSDK).
// The SDK finds the server through RESEND_BASE_URL and the key through RESEND_API_KEY,
// as an app switching from Resend would configure it. On success it prints one JSON line
// with what it saw; any failed check throws (exit status 1).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Resend } from 'resend';

const sdk = JSON.parse(readFileSync(new URL('./node_modules/resend/package.json', import.meta.url))).version;
const resend = new Resend(); // RESEND_API_KEY, RESEND_BASE_URL
const from = 'Acme <you@sandbox.sendoka.com>';

// emails.send, with Resend's field spellings (replyTo, contentType, Buffer content, tags).
const sent = await resend.emails.send({
  from,
  to: 'user@example.com',
  cc: ['cc@example.com'],
  replyTo: 'support@example.com',
  subject: 'Hello from the Resend SDK',
  html: '<p>It works.</p>',
  text: 'It works.',
  headers: { 'X-Entity-Ref-ID': '42' },
  tags: [{ name: 'category', value: 'confirm_email' }],
  attachments: [{ filename: 'hello.txt', content: Buffer.from('hello'), contentType: 'text/plain' }],
});
assert.equal(sent.error, null, JSON.stringify(sent.error));
assert.match(sent.data.id, /^msg_/);

// emails.get
const got = await resend.emails.get(sent.data.id);
assert.equal(got.error, null, JSON.stringify(got.error));
assert.equal(got.data.object, 'email');
assert.equal(got.data.id, sent.data.id);
assert.deepEqual(got.data.to, ['user@example.com']);
assert.deepEqual(got.data.cc, ['cc@example.com']);
assert.deepEqual(got.data.reply_to, ['support@example.com']);
assert.equal(got.data.subject, 'Hello from the Resend SDK');
assert.equal(got.data.last_event, 'queued');
assert.deepEqual(got.data.tags, [{ name: 'category', value: 'confirm_email' }]);
assert.ok(!Number.isNaN(Date.parse(got.data.created_at)), got.data.created_at);

// batch.send, strict (the SDK's default) and permissive.
const batch = await resend.batch.send([
  { from, to: ['a@example.com'], subject: 'One', html: '<p>1</p>' },
  { from, to: 'b@example.com', subject: 'Two', text: '2' },
]);
assert.equal(batch.error, null, JSON.stringify(batch.error));
assert.equal(batch.data.data.length, 2);
const refused = await resend.batch.send([
  { from, to: 'c@example.com', subject: 'Three', text: '3' },
  { from, to: 'not an address', subject: 'Four', text: '4' },
]);
assert.equal(refused.data, null);
assert.equal(refused.error.name, 'validation_error');
const partial = await resend.batch.send([
  { from, to: 'd@example.com', subject: 'Five', text: '5' },
  { from, to: 'not an address', subject: 'Six', text: '6' },
], { batchValidation: 'permissive' });
assert.equal(partial.error, null, JSON.stringify(partial.error));
assert.equal(partial.data.data.length, 1);
assert.equal(partial.data.errors.length, 1);
assert.equal(partial.data.errors[0].index, 1);

// An idempotent send, twice: one email.
const payload = { from, to: 'idem@example.com', subject: 'Once', text: 'once' };
const once = await resend.emails.send(payload, { idempotencyKey: 'welcome-user-42' });
const twice = await resend.emails.send(payload, { idempotencyKey: 'welcome-user-42' });
assert.equal(once.error, null, JSON.stringify(once.error));
assert.equal(twice.data.id, once.data.id);
const mismatch = await resend.emails.send({ ...payload, text: 'changed' }, { idempotencyKey: 'welcome-user-42' });
assert.equal(mismatch.error.name, 'invalid_idempotent_request');

// Errors reach the SDK's error object with Resend's names.
const invalid = await resend.emails.send({ from, to: 'not an address', subject: 'x', text: 'x' });
assert.equal(invalid.data, null);
assert.equal(invalid.error.name, 'validation_error');
assert.equal(invalid.error.statusCode, 422);
const missing = await resend.emails.send({ from, to: 'x@example.com', text: 'no subject' });
assert.equal(missing.error.name, 'missing_required_field');
const notFound = await resend.emails.get('msg_01NOSUCHEMAIL0000000000000');
assert.equal(notFound.error.name, 'not_found');
const badKey = new Resend('sok_live_not_a_key', { baseUrl: process.env.RESEND_BASE_URL });
const denied = await badKey.emails.send(payload);
assert.equal(denied.error.name, 'invalid_api_key');

console.log(JSON.stringify({
  sdk,
  sent: sent.data.id,
  batch: batch.data.data.map((e) => e.id),
  partial: partial.data.data.map((e) => e.id),
  idempotent: once.data.id,
  invalid: invalid.error,
}));
