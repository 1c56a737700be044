// complete-lock.mjs adds litesvm's native packages for other platforms to
// package-lock.json. Run it after every `npm install` here:
//
//   npm install && node complete-lock.mjs
//
// Why: the registry this project uses serves litesvm-linux-x64-gnu at the
// pinned version but not the other platforms' binaries, so npm leaves them
// out of the lock, and `npm ci` then refuses the lock as out of sync with
// litesvm's optionalDependencies. Entries naming their os/cpu/libc satisfy
// that check; npm ci skips them on any other platform without fetching
// them. (They carry no integrity hash: on such a platform npm would fetch
// them unchecked, if the registry ever serves them.)

import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('./package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const litesvm = lock.packages['node_modules/litesvm'];
let added = 0;
for (const [name, version] of Object.entries(litesvm.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  // litesvm-<os>-<cpu>[-<gnu|musl>]
  const m = /^litesvm-(darwin|linux|win32)-(x64|arm64)(?:-(gnu|musl|msvc))?$/.exec(name);
  if (!m) throw new Error(`complete-lock: cannot tell the platform of ${name}`);
  const entry = { version, cpu: [m[2]] };
  if (m[3] === 'gnu') entry.libc = ['glibc'];
  if (m[3] === 'musl') entry.libc = ['musl'];
  Object.assign(entry, { license: 'MIT', optional: true, os: [m[1]], engines: litesvm.engines });
  lock.packages[key] = entry;
  added++;
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(lockPath, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`complete-lock: added ${added} platform entries`);
