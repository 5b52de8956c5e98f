#!/usr/bin/env node
// Writes a brotli (`name.br`, quality 11) and a gzip (`name.gz`, level 9)
// copy beside each built asset a browser downloads (wasm, JavaScript, CSS,
// SVG, JSON, plain text), for the server to send to a browser that accepts
// one (server/src/web.rs): the best compression, paid once at build time
// instead of on every request. A copy that would not be smaller is not
// written (and an old one is removed).
//
//   node scripts/precompress.mjs DIR     (scripts/build-app.sh runs it on dist/)
//
// Node's own zlib does both, so the build needs no other tool.

import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const COMPRESSIBLE = /\.(wasm|js|mjs|css|svg|json|txt|map)$/;
const TEXT = /\.(js|mjs|css|svg|json|txt|map)$/;

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile() && COMPRESSIBLE.test(e.name)) out.push(p);
  }
  return out;
}

function brotli(buf, text) {
  return brotliCompressSync(buf, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: text ? constants.BROTLI_MODE_TEXT : constants.BROTLI_MODE_GENERIC,
      [constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
    },
  });
}

const dir = process.argv[2];
if (!dir || !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
  console.error('usage: node scripts/precompress.mjs DIR');
  process.exit(2);
}
let raw = 0;
let br = 0;
let gz = 0;
for (const file of walk(dir)) {
  const buf = readFileSync(file);
  const copies = [
    ['.br', brotli(buf, TEXT.test(file))],
    ['.gz', gzipSync(buf, { level: 9 })],
  ];
  for (const [ext, out] of copies) {
    // Removed first: a link left there is replaced, never written through.
    rmSync(file + ext, { force: true });
    if (out.length < buf.length) writeFileSync(file + ext, out);
  }
  raw += buf.length;
  br += Math.min(copies[0][1].length, buf.length);
  gz += Math.min(copies[1][1].length, buf.length);
}
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`precompress: ${dir}: ${kib(raw)} raw, ${kib(br)} brotli, ${kib(gz)} gzip`);
