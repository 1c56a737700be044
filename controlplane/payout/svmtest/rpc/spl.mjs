// SPL Token account layouts, packed by hand so the test-only methods can
// set up mints and funded token accounts directly: the token programs read
// these bytes exactly as if instructions had written them.

import { getProgramDerivedAddress, address } from '@solana/kit';
import { fromBase58 } from './wire.mjs';

export const SYSTEM_PROGRAM = '11111111111111111111111111111111';
export const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const TOKEN_2022_PROGRAM = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb';
export const ATA_PROGRAM = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';
export const TOKEN_PROGRAMS = new Set([TOKEN_PROGRAM, TOKEN_2022_PROGRAM]);

export const MINT_SIZE = 82;
export const ACCOUNT_SIZE = 165;
const U64_MAX = (1n << 64n) - 1n;

/** packMint is spl-token's Mint: an initialized mint with no supply yet. */
export function packMint(authority, decimals) {
  const d = new Uint8Array(MINT_SIZE);
  const v = new DataView(d.buffer);
  v.setUint32(0, 1, true); // mint_authority: Some
  d.set(authority, 4);
  v.setBigUint64(36, 0n, true); // supply
  d[44] = decimals;
  d[45] = 1; // is_initialized
  // freeze_authority: None (tag 0 and zeros)
  return d;
}

/** mintInfo reads decimals and supply from a Mint's bytes. */
export function mintInfo(data) {
  if (data.length < MINT_SIZE || data[45] !== 1) return null;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { supply: v.getBigUint64(36, true), decimals: data[44] };
}

export function setMintSupply(data, supply) {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setBigUint64(36, supply, true);
}

/** packAccount is spl-token's Account: initialized, no delegate, not native. */
export function packAccount(mint, owner, amount) {
  const d = new Uint8Array(ACCOUNT_SIZE);
  d.set(mint, 0);
  d.set(owner, 32);
  new DataView(d.buffer).setBigUint64(64, amount, true);
  d[108] = 1; // state: Initialized
  return d;
}

/** tokenAccountInfo reads mint and amount from a token account's bytes. */
export function tokenAccountInfo(data) {
  if (data.length < ACCOUNT_SIZE || data[108] === 0) return null;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { mint: data.subarray(0, 32), owner: data.subarray(32, 64), amount: v.getBigUint64(64, true) };
}

export function setTokenAmount(data, amount) {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setBigUint64(64, amount, true);
}

/** ata derives the associated token account of owner for mint. */
export async function ata(owner, mint, tokenProgram) {
  const [addr] = await getProgramDerivedAddress({
    programAddress: address(ATA_PROGRAM),
    seeds: [owner, fromBase58(tokenProgram), mint],
  });
  return addr;
}

/** uiAmountString formats base units like the RPC: "1.5", "0", "12". */
export function uiAmountString(amount, decimals) {
  if (decimals === 0) return amount.toString();
  const s = amount.toString().padStart(decimals + 1, '0');
  const whole = s.slice(0, -decimals);
  const frac = s.slice(-decimals).replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole;
}

export function checkU64(n) {
  if (n < 0n || n > U64_MAX) throw new RangeError('amount out of u64 range');
  return n;
}
