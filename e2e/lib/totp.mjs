// An authenticator app, for the specs: the codes of RFC 6238 (HMAC-SHA-1,
// 30-second steps, 6 digits) computed from the key the account page shows.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';

/** RFC 4648 base32 (no padding, spaces ignored) to bytes. */
export function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/\s+/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The app's code for `key` at `at` (milliseconds). */
export function totp(key, at = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[19] & 0x0f;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

/** Waits for the next 30-second step: a code works once. */
export async function nextStep() {
  await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 300));
}
