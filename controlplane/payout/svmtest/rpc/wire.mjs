// Solana's transaction wire format: decoding the encoded transaction a
// client sends, the checks the real RPC makes before simulating it, and the
// fee of a message.
//
// litesvm 1.5.0 aborts the whole process when handed bytes it cannot
// deserialize, so everything reaching it is first parsed and sanitized
// here, and cut to exactly the bytes of one transaction.

import { createPublicKey, verify } from 'node:crypto';
import { getBase58Decoder, getBase58Encoder } from '@solana/kit';

export const PACKET_DATA_SIZE = 1232;
const MAX_BASE64_SIZE = 1644; // ceil(1232 / 3) * 4
const MAX_BASE58_SIZE = 1683; // base58 of 1232 bytes, at worst
const TX_TYPE = 'solana_transaction::versioned::VersionedTransaction';

const b58enc = getBase58Decoder(); // bytes → string
const b58dec = getBase58Encoder(); // string → bytes

/** RpcError is a JSON-RPC error in the real RPC's shape. */
export class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

export const invalidParams = (msg) => new RpcError(-32602, msg);

export function toBase58(bytes) {
  return b58enc.decode(bytes);
}

/** fromBase58 decodes s, or returns null when s is not base58. */
export function fromBase58(s) {
  if (typeof s !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]*$/.test(s)) return null;
  return new Uint8Array(b58dec.encode(s));
}

/** pubkey decodes a base58 public key param like the real RPC does. */
export function pubkey(s) {
  const b = fromBase58(s);
  if (b === null) throw invalidParams('Invalid param: Invalid');
  if (b.length !== 32) throw invalidParams('Invalid param: WrongSize');
  return b;
}

/** decodeWire turns a sendTransaction/simulateTransaction param into bytes. */
export function decodeWire(encoded, encoding) {
  if (typeof encoded !== 'string') throw invalidParams('Invalid params: invalid type: expected a string');
  let bytes;
  switch (encoding ?? 'base58') {
    case 'base58':
      if (encoded.length > MAX_BASE58_SIZE) {
        throw invalidParams(`base58 encoded ${TX_TYPE} too large: ${encoded.length} bytes (max: encoded/raw ${MAX_BASE58_SIZE}/${PACKET_DATA_SIZE})`);
      }
      bytes = fromBase58(encoded);
      if (bytes === null) throw invalidParams('invalid base58 encoding: InvalidCharacter');
      break;
    case 'base64':
      if (encoded.length > MAX_BASE64_SIZE) {
        throw invalidParams(`base64 encoded ${TX_TYPE} too large: ${encoded.length} bytes (max: encoded/raw ${MAX_BASE64_SIZE}/${PACKET_DATA_SIZE})`);
      }
      if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) {
        throw invalidParams('invalid base64 encoding: InvalidByte');
      }
      bytes = new Uint8Array(Buffer.from(encoded, 'base64'));
      break;
    default:
      throw invalidParams(`unsupported encoding: ${encoding}. Supported encodings: base58, base64`);
  }
  if (bytes.length > PACKET_DATA_SIZE) {
    throw invalidParams(`decoded ${TX_TYPE} too large: ${bytes.length} bytes (max: ${PACKET_DATA_SIZE} bytes)`);
  }
  return bytes;
}

class Reader {
  constructor(bytes, off = 0) {
    this.b = bytes;
    this.off = off;
  }
  need(n) {
    if (this.off + n > this.b.length) throw new Error('io error: failed to fill whole buffer');
  }
  u8() {
    this.need(1);
    return this.b[this.off++];
  }
  bytes(n) {
    this.need(n);
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  // shortVec is Solana's compact-u16 length: 1 to 3 bytes, canonical.
  shortVec() {
    let val = 0;
    for (let i = 0; i < 3; i++) {
      const b = this.u8();
      val |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new Error('invalid value: alias encoding');
        if (val > 0xffff) throw new Error('invalid value: overflow');
        return val;
      }
    }
    throw new Error('invalid value: too long');
  }
  list(read) {
    const n = this.shortVec();
    const out = [];
    for (let i = 0; i < n; i++) out.push(read());
    return out;
  }
}

function readMessage(r) {
  const start = r.off;
  let version = 'legacy';
  let first = r.u8();
  if (first & 0x80) {
    version = first & 0x7f;
    if (version !== 0) throw new Error(`invalid value: integer \`${version}\`, expected a valid transaction message version`);
    first = r.u8();
  }
  const header = { numRequiredSignatures: first, numReadonlySigned: r.u8(), numReadonlyUnsigned: r.u8() };
  const accountKeys = r.list(() => r.bytes(32));
  const blockhashOffset = r.off;
  const blockhash = r.bytes(32);
  const instructions = r.list(() => ({
    programIdIndex: r.u8(),
    accounts: Array.from(r.list(() => r.u8())),
    data: r.bytes(r.shortVec()),
  }));
  const lookups = version === 0
    ? r.list(() => ({ key: r.bytes(32), writable: r.list(() => r.u8()), readonly: r.list(() => r.u8()) }))
    : [];
  return { version, header, accountKeys, blockhash, blockhashOffset, instructions, lookups, start, end: r.off };
}

function deserializeError(err) {
  return invalidParams(`failed to deserialize ${TX_TYPE}: ${err.message}`);
}

/**
 * parseTransaction decodes a wire transaction. It throws RpcError -32602 in
 * the real RPC's words when the bytes are not one, or fail its sanitize
 * checks. bytes in the result is exactly the transaction (the real RPC
 * ignores trailing bytes too).
 */
export function parseTransaction(raw) {
  let tx;
  try {
    const r = new Reader(raw);
    const signatures = r.list(() => r.bytes(64));
    const message = readMessage(r);
    tx = { signatures, ...message, bytes: raw.subarray(0, r.off) };
  } catch (err) {
    throw deserializeError(err);
  }
  tx.message = tx.bytes.subarray(tx.start, tx.end);
  sanitize(tx);
  return tx;
}

/** parseMessage decodes a bare message (getFeeForMessage). */
export function parseMessage(raw) {
  try {
    const r = new Reader(raw);
    const m = readMessage(r);
    if (r.off !== raw.length) throw new Error('trailing bytes');
    return m;
  } catch (err) {
    throw invalidParams(`invalid message: ${err.message}`);
  }
}

function sanitize(tx) {
  const bad = (why) => invalidParams(`invalid transaction: ${why}`);
  const offsets = 'Transaction failed to sanitize accounts offsets correctly';
  const { header, accountKeys, signatures } = tx;
  if (signatures.length !== header.numRequiredSignatures || signatures.length > accountKeys.length) throw bad(offsets);
  if (header.numRequiredSignatures + header.numReadonlyUnsigned > accountKeys.length) throw bad(offsets);
  if (header.numReadonlySigned >= header.numRequiredSignatures) throw bad(offsets);
  const looked = tx.lookups.reduce((n, l) => n + l.writable.length + l.readonly.length, 0);
  const total = accountKeys.length + looked;
  if (total > 256) throw bad(offsets);
  for (const ix of tx.instructions) {
    // The fee payer cannot be a program; programs must be static keys.
    if (ix.programIdIndex === 0 || ix.programIdIndex >= accountKeys.length) throw bad(offsets);
    if (ix.accounts.some((i) => i >= total)) throw bad(offsets);
  }
  const seen = new Set(accountKeys.map((k) => Buffer.from(k).toString('hex')));
  if (seen.size !== accountKeys.length) throw bad('Account loaded twice');
}

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** signaturesValid checks every required signature over the message. */
export function signaturesValid(tx) {
  return tx.signatures.every((sig, i) => {
    try {
      const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, tx.accountKeys[i]]), format: 'der', type: 'spki' });
      return verify(null, tx.message, key, sig);
    } catch {
      return false;
    }
  });
}

/** withBlockhash returns a copy of tx's bytes with another recent blockhash. */
export function withBlockhash(tx, blockhash) {
  const out = new Uint8Array(tx.bytes);
  out.set(blockhash, tx.blockhashOffset);
  return out;
}

export const LAMPORTS_PER_SIGNATURE = 5000n;
const COMPUTE_BUDGET = 'ComputeBudget111111111111111111111111111111';
// Builtins reserve 3,000 compute units by default, other programs 200,000
// (Agave's default limit when a transaction sets none).
const BUILTINS = new Set([
  '11111111111111111111111111111111',
  COMPUTE_BUDGET,
  'Vote111111111111111111111111111111111111111',
  'Stake11111111111111111111111111111111111111',
  'Config1111111111111111111111111111111111111',
  'AddressLookupTab1e1111111111111111111111111',
  'BPFLoader1111111111111111111111111111111111',
  'BPFLoader2111111111111111111111111111111111',
  'BPFLoaderUpgradeab1e11111111111111111111111',
  'LoaderV411111111111111111111111111111111111',
  'ZkE1Gama1Proof11111111111111111111111111111',
]);

/**
 * fee is what the runtime charges for a message: 5,000 lamports a
 * signature plus the priority fee (unit price × unit limit). Precompile
 * signatures are not counted.
 */
export function fee(msg) {
  let price = 0n;
  let limit = null;
  let defaultLimit = 0n;
  for (const ix of msg.instructions) {
    const program = toBase58(msg.accountKeys[ix.programIdIndex] ?? new Uint8Array(32));
    defaultLimit += BUILTINS.has(program) ? 3000n : 200000n;
    if (program !== COMPUTE_BUDGET || ix.data.length === 0) continue;
    const dv = new DataView(ix.data.buffer, ix.data.byteOffset, ix.data.byteLength);
    if (ix.data[0] === 2 && ix.data.length >= 5) limit = BigInt(dv.getUint32(1, true));
    if (ix.data[0] === 3 && ix.data.length >= 9) price = dv.getBigUint64(1, true);
  }
  let units = limit ?? defaultLimit;
  if (units > 1400000n) units = 1400000n;
  const priority = (price * units + 999999n) / 1000000n;
  return LAMPORTS_PER_SIGNATURE * BigInt(msg.header.numRequiredSignatures) + priority;
}
