// The compliance officer's witness: the log key pinned on first use and the
// last tree head seen and checked, and checkHead, which checks the server's
// current head against it (the signature with the pinned key, and a
// consistency proof that it extends the saved head) before it may be saved:
// client/src/audit/witness.rs in TypeScript. No I/O: the caller fetches
// (an AuditSource) and keeps the witness (the CLI's audit-witness.json form).

import { fromBase64, toBase64 } from '../protocol/base64.js';
import { ServerError } from '../protocol/errors.js';
import { decodeProof, decodeTreeHead, treeHeadJson, treeHeadSignedBy, type SignedTreeHead, type TreeHeadResponse } from './entry.js';
import { fromJsValue, JsonError, parseJson, type Json } from './json.js';
import { sameHash, verifyConsistency, type Hash } from './merkle.js';

/** What the officer keeps between runs: `{"log_key": base64, "last_head": {…}}`, as the CLI's `audit-witness.json`. */
export interface Witness {
  readonly log_key: Uint8Array;
  readonly last_head: SignedTreeHead;
}

/** The witness from its JSON (text, or a parsed value). */
export function decodeWitness(v: string | unknown): Witness {
  const j: Json = typeof v === 'string' ? parseJson(v) : fromJsValue(v);
  if (!(j instanceof Map)) throw new JsonError('the saved audit head: expected an object');
  const key = j.get('log_key');
  if (typeof key !== 'string') throw new JsonError('the saved audit head: no `log_key`');
  let logKey: Uint8Array;
  try {
    logKey = fromBase64(key, 'log_key');
  } catch (e) {
    throw new JsonError(`\`log_key\`: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { log_key: logKey, last_head: decodeTreeHead(j.get('last_head')) };
}

/** The witness as JSON, in the CLI's form. */
export function witnessJson(w: Witness): { log_key: string; last_head: ReturnType<typeof treeHeadJson> } {
  return { log_key: toBase64(w.log_key), last_head: treeHeadJson(w.last_head) };
}

/** Why the log cannot be trusted (the CLI's AuditError texts). Show `message` inside `alarm()`. */
export class AuditError extends Error {
  constructor(
    readonly code: 'key_changed' | 'bad_signature' | 'truncated' | 'rewritten',
    message: string,
  ) {
    super(message);
    this.name = 'AuditError';
  }
}

/** What the check needs from the server (the compliance API, over an officer's session). */
export interface AuditSource {
  /** `GET /v1/audit/tree-head`. */
  treeHead(): Promise<TreeHeadResponse>;
  /** `GET /v1/audit/proof/consistency?first=&second=`: the proof hashes. */
  consistency(first: number, second: number): Promise<Hash[]>;
}

/** The outcome of a successful check: the head, the key, the size seen before (null on first use), and the witness to save. */
export interface CheckedHead {
  readonly head: SignedTreeHead;
  readonly logKey: Uint8Array;
  readonly previous: number | null;
  readonly witness: Witness;
}

/**
 * Checks the server's current head against the saved witness: the key must
 * be the pinned one (pinned now on first use), the head signed by it, and
 * provably an extension of the saved head. Only on success is the returned
 * witness to be saved: on any failure keep the old one, so the alarm
 * repeats on every later run. Throws an {@link AuditError}, or the source's
 * error when talking to the server failed.
 */
export async function checkHead(saved: Witness | null, source: AuditSource): Promise<CheckedHead> {
  const { tree_head: head, log_key: offered } = await source.treeHead();
  if (saved !== null && !sameHash(saved.log_key, offered)) {
    throw new AuditError(
      'key_changed',
      `the server's audit log key changed (pinned ${toBase64(saved.log_key)}, now ${toBase64(offered)}): the log may have been replaced`,
    );
  }
  const key = saved?.log_key ?? offered;
  const badSignature = (): AuditError => new AuditError('bad_signature', 'a tree head is not signed by the log key');
  if (!treeHeadSignedBy(head, key)) throw badSignature();
  let previous: number | null = null;
  if (saved !== null) {
    if (!treeHeadSignedBy(saved.last_head, key)) throw badSignature();
    await checkExtends(source, saved.last_head, head);
    previous = saved.last_head.size;
  }
  return { head, logKey: key, previous, witness: { log_key: key, last_head: head } };
}

async function checkExtends(source: AuditSource, old: SignedTreeHead, now: SignedTreeHead): Promise<void> {
  const rewritten = (reason: string): AuditError =>
    new AuditError(
      'rewritten',
      `the audit log was rewritten: the server's tree of ${now.size} entries does not extend the tree of ${old.size} entries seen before (${reason})`,
    );
  if (now.size < old.size) {
    throw new AuditError(
      'truncated',
      `the audit log shrank: ${old.size} entries were seen before, the server now reports ${now.size}: entries were deleted`,
    );
  }
  if (old.size === 0) return;
  if (now.size === old.size) {
    if (!sameHash(now.root, old.root)) throw rewritten('same size, different root');
    return;
  }
  let proof: Hash[];
  try {
    proof = await source.consistency(old.size, now.size);
  } catch (e) {
    // A server that cannot prove consistency is as bad as a wrong proof.
    if (e instanceof ServerError) throw rewritten(`no consistency proof: ${e.message}`); // ServerError's message is `code: message`
    throw e;
  }
  try {
    verifyConsistency(old.size, now.size, proof, old.root, now.root);
  } catch (e) {
    throw rewritten(e instanceof Error ? e.message : String(e));
  }
}

/** The proof hashes of a consistency proof answer `{"first","second","proof":[hex…]}` (as JSON.parse gave it). */
export function decodeConsistencyProof(answer: unknown): Hash[] {
  const j = fromJsValue(answer);
  if (!(j instanceof Map)) throw new JsonError('a consistency proof: expected an object');
  return decodeProof(j.get('proof'));
}
