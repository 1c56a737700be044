// Chain is one LiteSVM made to behave like a cluster seen through its RPC:
// slots that advance, a blockhash that expires after 150 blocks, a status
// for every transaction that landed, and the test-only shortcuts (funded
// mints and token accounts).
//
// litesvm runs a transaction the moment it is sent, so everything that
// lands is at once "finalized". It accepts only its latest blockhash, so
// that blockhash stays the latest until it expires: block height passing
// its last valid height expires it, and expiring it moves the height past
// that, exactly the rule payouts rely on to re-sign safely.

import { randomBytes } from 'node:crypto';
import { LiteSVM, Account, FailedTransactionMetadata } from 'litesvm';
import { describe } from './txerror.mjs';
import { fromBase58, toBase58, withBlockhash } from './wire.mjs';
import * as spl from './spl.mjs';

export const MAX_PROCESSING_AGE = 150n;
const RENT_EPOCH_EXEMPT = (1n << 64n) - 1n;
const ALREADY_PROCESSED = { json: 'AlreadyProcessed', text: 'This transaction has already been processed' };

export class Chain {
  constructor() {
    this.svm = new LiteSVM();
    // The native instance takes raw transaction bytes; the wrapper wants
    // @solana/kit objects. The version is pinned, so this field is stable.
    this.native = this.svm.inner;
    this.hashHeight = this.slot();
    /** @type {Map<string, {slot: bigint, err: unknown}>} signature → landing */
    this.statuses = new Map();
  }

  slot() {
    return this.svm.getClock().slot;
  }

  // Every slot holds a block here, so block height and slot are equal.
  blockHeight() {
    return this.slot();
  }

  latest() {
    return { blockhash: this.svm.latestBlockhash(), lastValidBlockHeight: this.hashHeight + MAX_PROCESSING_AGE };
  }

  advance(slots) {
    this.svm.warpToSlot(this.slot() + slots);
    if (this.blockHeight() > this.latest().lastValidBlockHeight) {
      this.svm.expireBlockhash();
      this.hashHeight = this.blockHeight();
    }
  }

  /** expireBlockhash moves block height just past the last valid height. */
  expireBlockhash() {
    this.advance(this.latest().lastValidBlockHeight + 1n - this.blockHeight());
  }

  record(signature, err) {
    this.statuses.set(signature, { slot: this.slot(), err });
    this.advance(1n); // one block per landed transaction
  }

  account(pk) {
    return this.native.getAccount(pk);
  }

  rentExempt(len) {
    return this.svm.minimumBalanceForRentExemption(BigInt(len));
  }

  setAccount(pk, lamports, data, owner) {
    this.native.setAccount(pk, new Account(lamports, data, fromBase58(owner), false, RENT_EPOCH_EXEMPT));
  }

  /**
   * send runs a parsed transaction. It returns {signature, err, logs,
   * unitsConsumed}: err is null or {json, text}. Whatever landed (ran and
   * paid its fee, failed or not) gets a status; what was refused before
   * running (bad blockhash or signature, no fee) does not, as on a cluster.
   */
  send(tx) {
    const signature = toBase58(tx.signatures[0]);
    if (this.statuses.has(signature)) return { signature, err: ALREADY_PROCESSED, logs: [], unitsConsumed: 0n };
    const r = tx.version === 'legacy' ? this.native.sendLegacyTransaction(tx.bytes) : this.native.sendVersionedTransaction(tx.bytes);
    if (!(r instanceof FailedTransactionMetadata)) {
      this.record(signature, null);
      return { signature, err: null, logs: r.logs(), unitsConsumed: r.computeUnitsConsumed() };
    }
    const err = describe(r.err());
    if (this.native.getTransaction(tx.signatures[0]) !== null) this.record(signature, err.json);
    return { signature, err, logs: r.meta().logs(), unitsConsumed: r.meta().computeUnitsConsumed() };
  }

  /**
   * simulate runs a parsed transaction without keeping its effects.
   * Signatures are checked only when sigVerify is set (the RPC's default
   * is not to). It returns {value, errText}: value is the RPC's
   * simulation result, errText the error's message (or null).
   */
  simulate(tx, { sigVerify = false, replaceRecentBlockhash = false, addresses = null, accountJSON } = {}) {
    let bytes = tx.bytes;
    let replacementBlockhash = null;
    if (replaceRecentBlockhash) {
      replacementBlockhash = this.latest();
      bytes = withBlockhash(tx, fromBase58(replacementBlockhash.blockhash));
    }
    const value = (err, logs, units) => ({
      err: err && err.json,
      logs,
      accounts: null,
      unitsConsumed: units,
      returnData: null,
      innerInstructions: null,
      replacementBlockhash,
    });
    if (!replaceRecentBlockhash && this.statuses.has(toBase58(tx.signatures[0]))) {
      return { value: value(ALREADY_PROCESSED, [], 0n), errText: ALREADY_PROCESSED.text };
    }
    const before = this.native.getSigverify();
    this.native.setSigverify(sigVerify);
    let r;
    try {
      r = tx.version === 'legacy' ? this.native.simulateLegacyTransaction(bytes) : this.native.simulateVersionedTransaction(bytes);
    } finally {
      this.native.setSigverify(before);
    }
    if (r instanceof FailedTransactionMetadata) {
      const err = describe(r.err());
      return { value: value(err, r.meta().logs(), r.meta().computeUnitsConsumed()), errText: err.text };
    }
    const meta = r.meta();
    const out = value(null, meta.logs(), meta.computeUnitsConsumed());
    const ret = meta.returnData();
    if (ret.data().length > 0) {
      out.returnData = { programId: toBase58(ret.programId()), data: [Buffer.from(ret.data()).toString('base64'), 'base64'] };
    }
    if (addresses) {
      const post = new Map(r.postAccounts().map((a) => [toBase58(a.address), a.account()]));
      out.accounts = addresses.map((pk) => {
        const acct = post.get(toBase58(pk)) ?? this.account(pk);
        return acct ? accountJSON(acct) : null;
      });
    }
    return { value: out, errText: null };
  }

  /**
   * airdrop credits lamports as the faucet would and returns the
   * signature it lands under. (litesvm's own airdrop signs the same
   * transaction for the same request, which a second identical request
   * would hit as AlreadyProcessed.)
   */
  airdrop(pk, lamports) {
    const signature = toBase58(randomBytes(64));
    const acct = this.account(pk);
    if (acct === null) {
      if (lamports < this.rentExempt(0)) {
        this.record(signature, { InsufficientFundsForRent: { account_index: 1 } });
        return signature;
      }
      this.setAccount(pk, lamports, new Uint8Array(0), spl.SYSTEM_PROGRAM);
    } else {
      this.native.setAccount(pk, new Account(acct.lamports() + lamports, acct.data(), acct.owner(), acct.executable(), acct.rentEpoch()));
    }
    this.record(signature, null);
    return signature;
  }

  createMint(authority, decimals, tokenProgram) {
    const mint = randomBytes(32);
    this.setAccount(mint, this.rentExempt(spl.MINT_SIZE), spl.packMint(authority, decimals), tokenProgram);
    return toBase58(mint);
  }

  /** mintOf returns a mint's token program and bytes, or null. */
  mintOf(mint) {
    const acct = this.account(mint);
    if (acct === null) return null;
    const program = toBase58(acct.owner());
    const data = new Uint8Array(acct.data());
    if (!spl.TOKEN_PROGRAMS.has(program) || data.length !== spl.MINT_SIZE || spl.mintInfo(data) === null) return null;
    return { program, data, lamports: acct.lamports() };
  }

  /** ata returns the owner's associated token account address for mint. */
  async ata(mint, owner) {
    const m = this.mintOf(mint);
    if (m === null) return null;
    return fromBase58(await spl.ata(owner, mint, m.program));
  }

  /**
   * mintTo adds amount to owner's associated token account, creating it
   * when missing, and to the mint's supply. Returns the account address,
   * or null when mint is not a mint.
   */
  async mintTo(mint, owner, amount) {
    const addr = await this.ata(mint, owner);
    if (addr === null) return null;
    // Read state only after the await: nothing may interleave below.
    const m = this.mintOf(mint);
    const supply = spl.checkU64(spl.mintInfo(m.data).supply + amount);
    const acct = this.account(addr);
    if (acct === null) {
      this.setAccount(addr, this.rentExempt(spl.ACCOUNT_SIZE), spl.packAccount(mint, owner, amount), m.program);
    } else {
      const data = new Uint8Array(acct.data());
      const info = spl.tokenAccountInfo(data);
      if (info === null || toBase58(info.mint) !== toBase58(mint)) throw new Error(`${toBase58(addr)} holds something else than a token account of this mint`);
      spl.setTokenAmount(data, spl.checkU64(info.amount + amount));
      this.native.setAccount(addr, new Account(acct.lamports(), data, acct.owner(), false, acct.rentEpoch()));
    }
    spl.setMintSupply(m.data, supply);
    this.native.setAccount(mint, new Account(m.lamports, m.data, fromBase58(m.program), false, RENT_EPOCH_EXEMPT));
    return toBase58(addr);
  }

  /** tokenBalance is the owner's associated token account balance, or null. */
  async tokenBalance(mint, owner) {
    const addr = await this.ata(mint, owner);
    const acct = addr && this.account(addr);
    if (!acct) return null;
    const info = spl.tokenAccountInfo(new Uint8Array(acct.data()));
    return info && info.amount;
  }
}
