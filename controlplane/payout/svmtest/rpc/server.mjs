// server.mjs answers Solana JSON-RPC 2.0 over HTTP on 127.0.0.1 for one
// in-process LiteSVM, so payout tests run real signed transactions through
// the real System, SPL Token, Token-2022, Associated Token Account and Memo
// programs with an unmodified RPC client.
//
//   node server.mjs [PORT] [--exit-with-stdin]
//
// PORT (or $SVMTEST_PORT; 0 picks a free one) is where it listens; the
// first line on stdout is "listening 127.0.0.1:PORT". With
// --exit-with-stdin it exits when stdin closes, so it cannot outlive the
// test process that started it. $SVMTEST_LOG=1 logs each call to stderr.
//
// Requests and responses have the real RPC's shapes, errors included
// (-32002 for a failed preflight with data {err, logs, …}, -32003 for a bad
// signature, -32602 for bad params, -32601 for an unknown method). Methods
// named svm_* exist only here: they drive the test (see `testOnly`).

import http from 'node:http';
import { createRequire } from 'node:module';
import { Chain } from './chain.mjs';
import * as spl from './spl.mjs';
import {
  RpcError,
  decodeWire,
  fee,
  fromBase58,
  invalidParams,
  parseMessage,
  parseTransaction,
  pubkey,
  signaturesValid,
  toBase58,
} from './wire.mjs';

const LITESVM_VERSION = createRequire(import.meta.url)('litesvm/package.json').version;
const VERSION = `litesvm-${LITESVM_VERSION}`;
const MAX_BODY = 1 << 20;
const log = process.env.SVMTEST_LOG === '1' ? (...a) => console.error(...a) : () => {};

const chain = new Chain();

// ---- params ----

function list(params) {
  if (params === undefined || params === null) return [];
  if (!Array.isArray(params)) throw invalidParams('Invalid params: invalid type: map, expected a sequence');
  return params;
}

function config(params, i) {
  const c = params[i];
  if (c === undefined || c === null) return {};
  if (typeof c !== 'object' || Array.isArray(c)) throw invalidParams(`Invalid params: invalid type at position ${i}, expected a config object`);
  return c;
}

function u64(v, what) {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,20}$/.test(v) && BigInt(v) < 1n << 64n) return BigInt(v);
  throw invalidParams(`Invalid params: ${what} must be an unsigned 64-bit integer`);
}

function signatureParam(s) {
  const b = fromBase58(s);
  if (b === null) throw invalidParams('Invalid param: Invalid');
  if (b.length !== 64) throw invalidParams('Invalid param: WrongSize');
  return s;
}

function context() {
  return { slot: chain.slot(), apiVersion: VERSION };
}

function checkMinContextSlot(cfg) {
  if (cfg.minContextSlot === undefined || cfg.minContextSlot === null) return;
  if (u64(cfg.minContextSlot, 'minContextSlot') > chain.slot()) {
    throw new RpcError(-32016, 'Minimum context slot has not been reached', { contextSlot: chain.slot() });
  }
}

// ---- accounts ----

function accountJSON(acct, cfg = {}) {
  let data = new Uint8Array(acct.data());
  const space = data.length;
  if (cfg.dataSlice) {
    const off = Number(u64(cfg.dataSlice.offset, 'dataSlice.offset'));
    data = data.subarray(off, off + Number(u64(cfg.dataSlice.length, 'dataSlice.length')));
  }
  let encoded;
  switch (cfg.encoding ?? 'base64') {
    case 'base64':
    case 'jsonParsed': // no parsers here: the real RPC falls back to base64 too
      encoded = [Buffer.from(data).toString('base64'), 'base64'];
      break;
    case 'base58':
      if (data.length > 128) {
        throw new RpcError(-32600, 'Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.');
      }
      encoded = [toBase58(data), 'base58'];
      break;
    default:
      throw invalidParams(`Invalid params: unsupported encoding ${cfg.encoding}: use base64 or base58`);
  }
  return {
    data: encoded,
    executable: acct.executable(),
    lamports: acct.lamports(),
    owner: toBase58(acct.owner()),
    rentEpoch: acct.rentEpoch(),
    space,
  };
}

function maybeAccount(pk, cfg) {
  const acct = chain.account(pk);
  return acct === null ? null : accountJSON(acct, cfg);
}

// ---- transactions ----

function preflightFailure(sim) {
  return new RpcError(-32002, `Transaction simulation failed: ${sim.errText}`, sim.value);
}

function sendTransaction(params) {
  const cfg = config(params, 1);
  checkMinContextSlot(cfg);
  const tx = parseTransaction(decodeWire(params[0], cfg.encoding));
  if (!cfg.skipPreflight) {
    if (!signaturesValid(tx)) throw new RpcError(-32003, 'Transaction signature verification failure');
    const sim = chain.simulate(tx, { sigVerify: true, accountJSON });
    if (sim.errText !== null) throw preflightFailure(sim);
  }
  const sent = chain.send(tx);
  log(`sendTransaction ${sent.signature}: ${sent.err ? sent.err.text : 'ok'}`);
  if (sent.err && !cfg.skipPreflight) {
    // Preflight passed but running failed: report it as preflight would.
    const value = { err: sent.err.json, logs: sent.logs, accounts: null, unitsConsumed: sent.unitsConsumed, returnData: null, innerInstructions: null, replacementBlockhash: null };
    throw preflightFailure({ value, errText: sent.err.text });
  }
  return sent.signature;
}

function simulateTransaction(params) {
  const cfg = config(params, 1);
  checkMinContextSlot(cfg);
  if (cfg.sigVerify && cfg.replaceRecentBlockhash) {
    throw invalidParams('sigVerify may not be used with replaceRecentBlockhash');
  }
  const tx = parseTransaction(decodeWire(params[0], cfg.encoding));
  if (cfg.sigVerify && !signaturesValid(tx)) throw new RpcError(-32003, 'Transaction signature verification failure');
  let addresses = null;
  if (cfg.accounts) {
    addresses = list(cfg.accounts.addresses).map(pubkey);
  }
  const sim = chain.simulate(tx, {
    sigVerify: Boolean(cfg.sigVerify),
    replaceRecentBlockhash: Boolean(cfg.replaceRecentBlockhash),
    addresses,
    accountJSON: (a) => accountJSON(a, { encoding: cfg.accounts?.encoding }),
  });
  return { context: context(), value: sim.value };
}

// ---- methods ----

const methods = {
  getHealth: () => 'ok',
  getVersion: () => ({ 'solana-core': VERSION, 'feature-set': 0 }),
  getSlot: (p) => (checkMinContextSlot(config(p, 0)), chain.slot()),
  getBlockHeight: (p) => (checkMinContextSlot(config(p, 0)), chain.blockHeight()),
  getLatestBlockhash: (p) => (checkMinContextSlot(config(p, 0)), { context: context(), value: chain.latest() }),
  isBlockhashValid: (p) => {
    checkMinContextSlot(config(p, 1));
    return { context: context(), value: p[0] === chain.latest().blockhash };
  },
  getBalance: (p) => {
    checkMinContextSlot(config(p, 1));
    const acct = chain.account(pubkey(p[0]));
    return { context: context(), value: acct === null ? 0n : acct.lamports() };
  },
  getAccountInfo: (p) => {
    const cfg = config(p, 1);
    checkMinContextSlot(cfg);
    return { context: context(), value: maybeAccount(pubkey(p[0]), cfg) };
  },
  getMultipleAccounts: (p) => {
    const cfg = config(p, 1);
    checkMinContextSlot(cfg);
    const keys = list(p[0]);
    if (keys.length > 100) throw invalidParams('Too many inputs provided; max 100');
    return { context: context(), value: keys.map((k) => maybeAccount(pubkey(k), cfg)) };
  },
  getTokenAccountBalance: (p) => {
    checkMinContextSlot(config(p, 1));
    const acct = chain.account(pubkey(p[0]));
    if (acct === null) throw invalidParams('Invalid param: could not find account');
    const info = spl.TOKEN_PROGRAMS.has(toBase58(acct.owner())) && spl.tokenAccountInfo(new Uint8Array(acct.data()));
    if (!info) throw invalidParams('Invalid param: not a Token account');
    const mint = chain.mintOf(info.mint);
    if (mint === null) throw invalidParams('Invalid param: could not find mint');
    const { decimals } = spl.mintInfo(mint.data);
    const uiAmountString = spl.uiAmountString(info.amount, decimals);
    return {
      context: context(),
      value: { amount: info.amount.toString(), decimals, uiAmount: Number(uiAmountString), uiAmountString },
    };
  },
  getMinimumBalanceForRentExemption: (p) => chain.rentExempt(u64(p[0] ?? 0, 'data length')),
  getFeeForMessage: (p) => {
    checkMinContextSlot(config(p, 1));
    if (typeof p[0] !== 'string') throw invalidParams('Invalid params: expected a base64 message');
    const msg = parseMessage(new Uint8Array(Buffer.from(p[0], 'base64')));
    const valid = toBase58(msg.blockhash) === chain.latest().blockhash;
    return { context: context(), value: valid ? fee(msg) : null };
  },
  requestAirdrop: (p) => {
    const pk = pubkey(p[0]);
    const signature = chain.airdrop(pk, u64(p[1], 'lamports'));
    log(`requestAirdrop ${p[0]} ${p[1]}: ${signature}`);
    return signature;
  },
  getSignatureStatuses: (p) => {
    const sigs = list(p[0]);
    if (sigs.length > 256) throw invalidParams('Too many inputs provided; max 256');
    const value = sigs.map((s) => {
      const st = chain.statuses.get(signatureParam(s));
      if (!st) return null;
      return {
        slot: st.slot,
        confirmations: null,
        err: st.err,
        status: st.err === null ? { Ok: null } : { Err: st.err },
        confirmationStatus: 'finalized',
      };
    });
    return { context: context(), value };
  },
  sendTransaction,
  simulateTransaction,
};

// Test-only methods. Params are one object, by name or as [ {…} ].
const testOnly = {
  // svm_expireBlockhash: the current blockhash can no longer land, and
  // block height is past its last valid height. Returns the new one.
  svm_expireBlockhash: () => (chain.expireBlockhash(), chain.latest()),
  // svm_advance {slots}: block height moves on; the blockhash expires if it
  // passes its last valid height. Returns the new block height.
  svm_advance: ({ slots }) => (chain.advance(u64(slots ?? 1, 'slots')), chain.blockHeight()),
  // svm_createMint {decimals, authority, tokenProgram?}: a new initialized
  // mint (SPL Token unless tokenProgram says Token-2022). Returns its address.
  svm_createMint: ({ decimals, authority, tokenProgram = spl.TOKEN_PROGRAM }) => {
    if (!Number.isInteger(decimals) || decimals < 0 || decimals > 255) throw invalidParams('decimals must be 0 to 255');
    if (!spl.TOKEN_PROGRAMS.has(tokenProgram)) throw invalidParams(`tokenProgram must be ${spl.TOKEN_PROGRAM} or ${spl.TOKEN_2022_PROGRAM}`);
    return chain.createMint(pubkey(authority), decimals, tokenProgram);
  },
  // svm_mintTo {mint, owner, amount}: credits owner's associated token
  // account, creating it if needed. Returns the token account's address.
  svm_mintTo: async ({ mint, owner, amount }) => {
    const addr = await chain.mintTo(pubkey(mint), pubkey(owner), u64(amount, 'amount'));
    if (addr === null) throw invalidParams(`${mint} is not a mint`);
    log(`svm_mintTo ${amount} of ${mint} to ${owner}: ${addr}`);
    return addr;
  },
  // svm_tokenBalance {mint, owner}: the balance of owner's associated token
  // account as a string, or null when it does not exist.
  svm_tokenBalance: async ({ mint, owner }) => {
    const n = await chain.tokenBalance(pubkey(mint), pubkey(owner));
    return n === null ? null : n.toString();
  },
  // svm_ataExists {mint, owner}
  svm_ataExists: async ({ mint, owner }) => {
    const addr = await chain.ata(pubkey(mint), pubkey(owner));
    return addr !== null && chain.account(addr) !== null;
  },
};

function testParams(params) {
  const p = Array.isArray(params) ? params[0] : params;
  if (p === undefined || p === null) return {};
  if (typeof p !== 'object' || Array.isArray(p)) throw invalidParams('Invalid params: expected an object');
  return p;
}

// ---- JSON-RPC over HTTP ----

/** toJSON writes v as JSON, bigints as exact numbers (lamports, slots, rentEpoch). */
function toJSON(v) {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return String(v);
    case 'string':
      return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(toJSON).join(',')}]`;
  const fields = Object.entries(v).filter(([, x]) => x !== undefined);
  return `{${fields.map(([k, x]) => `${JSON.stringify(k)}:${toJSON(x)}`).join(',')}}`;
}

const errorResponse = (id, code, message, data) => ({ jsonrpc: '2.0', error: { code, message, data }, id });

async function call(req) {
  const id = req && typeof req === 'object' && 'id' in req ? req.id : null;
  if (!req || typeof req !== 'object' || req.jsonrpc !== '2.0' || typeof req.method !== 'string') {
    return errorResponse(id, -32600, 'Invalid request');
  }
  const { method } = req;
  try {
    let result;
    if (Object.hasOwn(methods, method)) {
      result = await methods[method](list(req.params));
    } else if (Object.hasOwn(testOnly, method)) {
      result = await testOnly[method](testParams(req.params));
    } else {
      return errorResponse(id, -32601, 'Method not found');
    }
    log(`${method} ok`);
    return { jsonrpc: '2.0', result, id };
  } catch (err) {
    if (err instanceof RpcError) {
      log(`${method}: ${err.code} ${err.message}`);
      return errorResponse(id, err.code, err.message, err.data);
    }
    console.error(`svmtest rpc: ${method} failed:`, err);
    return errorResponse(id, -32603, 'Internal error', { message: String(err && err.message) });
  }
}

async function handle(body) {
  let req;
  try {
    req = JSON.parse(body);
  } catch {
    return errorResponse(null, -32700, 'Parse error');
  }
  if (!Array.isArray(req)) return call(req);
  if (req.length === 0) return errorResponse(null, -32600, 'Invalid request');
  const out = [];
  for (const r of req) out.push(await call(r)); // in order: each call sees the last one's effects
  return out;
}

// Calls run one at a time, in arrival order, so an async method (PDA
// derivation) never interleaves with another call's state changes.
let queue = Promise.resolve();

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    const body = Buffer.concat(chunks).toString('utf8');
    queue = queue
      .then(async () => {
        const out = toJSON(await handle(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end(out);
      })
      .catch((err) => {
        console.error('svmtest rpc: answering failed:', err);
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
});

// Node drops idle keep-alive sockets after 5 s by default; a client that
// reuses one just as it closes gets EOF, and Go does not retry a POST.
// Keep them until the client closes them.
server.keepAliveTimeout = 0;

const args = process.argv.slice(2);
const portArg = args.find((a) => !a.startsWith('--')) ?? process.env.SVMTEST_PORT ?? '0';
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`svmtest rpc: bad port ${JSON.stringify(portArg)}`);
  process.exit(2);
}
if (args.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening 127.0.0.1:${server.address().port}\n`);
});
