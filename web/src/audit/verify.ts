// Verification of an export against its signed tree head, of single entries
// and of a page of a proven query: client/src/audit/{export,entries}.rs in
// TypeScript, with the same failures and the same texts as the CLI.
//
// An export arrives as text, in chunks (a fetch's stream, page by page) or
// as lines; memory stays O(log n) (the tree's peaks and one partial line).

import { toHex } from '../crypto/bytes.js';
import { decodeProof, decodeRecord, entryLeafHash, treeHeadSignedBy, type AuditRecord, type SignedTreeHead } from './entry.js';
import { fromJsValue, JsonError, type Json } from './json.js';
import { CompactRange, sameHash, verifyInclusion as verifyInclusionProof, type Hash } from './merkle.js';

/** The saved head's file in the CLI's profile (named by the alarm). */
export const WITNESS_FILE = 'audit-witness.json';

/** The header of a CSV export (protocol/src/audit.rs, CSV_HEADER). */
export const CSV_HEADER =
  'seq,time,time_ms,actor_user,actor_device,actor_role,action,counterpart_user,counterpart_device,message_id,referral_id,attachment_id,source,outcome,reason,details,leaf_hash';

/** A time in ms since the epoch as RFC 3339 UTC with milliseconds (`2026-11-23T08:00:00.000Z`), as the CLI prints it. */
export function formatTimeMs(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** The CLI's alarm around a failure's text (src/audit/output.rs). */
export function alarm(what: string): string {
  return (
    `\n!!! AUDIT LOG INTEGRITY FAILURE !!!\n!!! ${what}\n!!! Do not rely on this server's audit log; ` +
    `preserve the saved tree head (${WITNESS_FILE}) and any exports, and escalate.\n`
  );
}

export type VerifyFailureKind =
  | { kind: 'bad_signature' }
  | { kind: 'saved_head_bad_signature' }
  | { kind: 'malformed'; line: number; error: string }
  | { kind: 'out_of_sequence'; line: number; expected: number; found: number }
  | { kind: 'altered'; seq: number }
  | { kind: 'not_included'; seq: number; size: number }
  | { kind: 'missing_proofs'; records: number; proofs: number }
  | { kind: 'size_mismatch'; entries: number; head_size: number }
  | { kind: 'shrank'; saved: number; saved_at_ms: number; size: number; signed_at_ms: number }
  | { kind: 'saved_head_mismatch'; size: number }
  | { kind: 'root_mismatch' }
  | { kind: 'row_mismatch'; row: number; seq: number }
  | { kind: 'unexpected_row'; row: number; seq: number }
  | { kind: 'csv' };

function describe(f: VerifyFailureKind): string {
  switch (f.kind) {
    case 'bad_signature':
      return "the tree head's signature does not verify with the log key";
    case 'saved_head_bad_signature':
      return 'the tree head saved earlier is not signed by the log key: the saved head was altered, or this export is from another log';
    case 'malformed':
      return `line ${f.line} is not a valid audit record: ${f.error}`;
    case 'out_of_sequence':
      return `line ${f.line} holds entry ${f.found}, expected entry ${f.expected}: entries are missing or out of order`;
    case 'altered':
      return `entry ${f.seq} was altered: its content does not match the leaf hash recorded when it was logged`;
    case 'not_included':
      return `entry ${f.seq} is not in the signed tree of ${f.size} entries: its inclusion proof does not lead to the signed root (the entry and its recorded hash, or the stored tree, were rewritten)`;
    case 'missing_proofs':
      return `the server sent ${f.records} entries but ${f.proofs} inclusion proofs: the entries cannot be checked`;
    case 'size_mismatch':
      return `the export holds ${f.entries} entries, the tree head ${f.head_size}`;
    case 'shrank':
      return `the audit log shrank: you saw ${f.saved} entries (the tree head saved on ${formatTimeMs(f.saved_at_ms)}), but this export's tree head, signed later (${formatTimeMs(f.signed_at_ms)}), has only ${f.size}: entries ${f.size + 1}..=${f.saved} were deleted from the log, or the server was restored from a backup older than your saved head`;
    case 'saved_head_mismatch':
      return `the first ${f.size} entries do not reproduce the tree head saved earlier: history was rewritten`;
    case 'root_mismatch':
      return 'the entries do not reproduce the signed root: recorded hashes were rewritten along with entries';
    case 'row_mismatch':
      return `row ${f.row} of the export (entry ${f.seq}) is not entry ${f.seq} of the signed log: the export was altered`;
    case 'unexpected_row':
      return `row ${f.row} of the export holds entry ${f.seq}, which is out of order, repeated, or not in the signed log`;
    case 'csv':
      return 'CSV exports cannot be verified; use JSONL: export with `curbside audit export --out FILE.jsonl` (the default format) and verify that file';
  }
}

/**
 * Why an export or an entry does not verify, naming what failed first, with
 * the CLI's text (`message`). All but `csv` are evidence against the log
 * (`integrityFailure`): show them inside {@link alarm}.
 */
export class VerifyFailure extends Error {
  constructor(readonly failure: VerifyFailureKind) {
    super(describe(failure));
    this.name = 'VerifyFailure';
  }

  get integrityFailure(): boolean {
    return this.failure.kind !== 'csv';
  }
}

/** What a verification established. */
export interface Verified {
  /** Entries checked. */
  readonly entries: number;
  /** The root they produce (the signed head's). */
  readonly root: Hash;
  /** The size of the saved (older) head the export's first entries also reproduced. */
  readonly matchedSavedHead: number | null;
  /** The saved head, when larger than the export's and signed no later: the export is an older one. */
  readonly savedHeadNewer: { readonly size: number; readonly timestamp_ms: number } | null;
}

/** Progress of a long run: entries verified so far, of `total`. */
export type Progress = (done: number, total: number) => void;

/**
 * The tree rebuilt over records given in sequence order, checked against a
 * signed head and, if one was saved earlier, that head. Feed it text
 * (`pushText`, any chunking), lines (`pushLine`) or decoded records
 * (`pushRecord`), then `finish()`. The first failure throws a
 * {@link VerifyFailure}; later calls throw it again.
 */
export class ExportVerifier {
  private readonly tree = new CompactRange();
  private readonly saved: SignedTreeHead | null = null;
  private readonly savedHeadNewer: Verified['savedHeadNewer'] = null;
  private matchedSaved: number | null = null;
  private line = 0;
  private partial = '';
  private failed: VerifyFailure | null = null;
  /** Called with each record once it is checked and in the tree (verifySelection's row check). */
  onRecord: ((record: AuditRecord) => void) | null = null;

  constructor(
    private readonly head: SignedTreeHead,
    logKey: Uint8Array,
    saved: SignedTreeHead | null = null,
    private readonly progress: Progress = () => {},
  ) {
    if (!treeHeadSignedBy(head, logKey)) throw new VerifyFailure({ kind: 'bad_signature' });
    if (saved !== null && saved.size > 0) {
      if (!treeHeadSignedBy(saved, logKey)) throw new VerifyFailure({ kind: 'saved_head_bad_signature' });
      if (saved.size <= head.size) this.saved = saved;
      else if (head.timestamp_ms > saved.timestamp_ms) {
        throw new VerifyFailure({ kind: 'shrank', saved: saved.size, saved_at_ms: saved.timestamp_ms, size: head.size, signed_at_ms: head.timestamp_ms });
      } else this.savedHeadNewer = { size: saved.size, timestamp_ms: saved.timestamp_ms };
    }
  }

  /** Entries verified so far. */
  get size(): number {
    return this.tree.size;
  }

  private guard<T>(f: () => T): T {
    if (this.failed) throw this.failed;
    try {
      return f();
    } catch (e) {
      if (e instanceof VerifyFailure) this.failed = e;
      throw e;
    }
  }

  /** A chunk of the JSONL text; lines end with `\n` (a `\r` before it is dropped, as Rust's `lines()` does). */
  pushText(chunk: string): void {
    this.guard(() => {
      const text = this.partial + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        this.lineOf(text.slice(start, nl));
        start = nl + 1;
      }
      this.partial = text.slice(start);
    });
  }

  /** One line of a JSONL export (without its newline). */
  pushLine(line: string): void {
    this.guard(() => this.lineOf(line));
  }

  private lineOf(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    this.line += 1;
    if (this.line === 1 && line.trimEnd() === CSV_HEADER) throw new VerifyFailure({ kind: 'csv' });
    let record: AuditRecord;
    try {
      record = decodeRecord(line);
    } catch (e) {
      if (!(e instanceof JsonError)) throw e;
      throw new VerifyFailure({ kind: 'malformed', line: this.line, error: e.message });
    }
    this.add(record);
  }

  /** A record already decoded (or as JSON.parse gave it: a page of `GET /v1/audit/entries`). */
  pushRecord(record: AuditRecord | unknown): void {
    this.guard(() => {
      this.line += 1;
      let r: AuditRecord;
      if (isRecord(record)) r = record;
      else {
        try {
          r = decodeRecord(fromJsValue(record));
        } catch (e) {
          if (!(e instanceof JsonError)) throw e;
          throw new VerifyFailure({ kind: 'malformed', line: this.line, error: e.message });
        }
      }
      this.add(r);
    });
  }

  private add(record: AuditRecord): void {
    const expected = this.tree.size + 1;
    if (record.entry.seq !== expected) {
      throw new VerifyFailure({ kind: 'out_of_sequence', line: this.line, expected, found: record.entry.seq });
    }
    const leaf = entryLeafHash(record);
    if (!sameHash(leaf, record.recordedLeafHash)) throw new VerifyFailure({ kind: 'altered', seq: record.entry.seq });
    this.tree.append(leaf);
    if (this.saved !== null && this.tree.size === this.saved.size) {
      if (!sameHash(this.tree.root(), this.saved.root)) throw new VerifyFailure({ kind: 'saved_head_mismatch', size: this.saved.size });
      this.matchedSaved = this.saved.size;
    }
    this.onRecord?.(record);
    if (this.tree.size % 1024 === 0) this.progress(this.tree.size, this.head.size);
  }

  /** The end of the export: its size and root must be the signed head's. */
  finish(): Verified {
    return this.guard(() => {
      if (this.partial !== '') {
        const last = this.partial;
        this.partial = '';
        this.lineOf(last);
      }
      this.progress(this.tree.size, this.head.size);
      if (this.tree.size !== this.head.size) {
        throw new VerifyFailure({ kind: 'size_mismatch', entries: this.tree.size, head_size: this.head.size });
      }
      const root = this.tree.root();
      if (!sameHash(root, this.head.root)) throw new VerifyFailure({ kind: 'root_mismatch' });
      return { entries: this.tree.size, root, matchedSavedHead: this.matchedSaved, savedHeadNewer: this.savedHeadNewer };
    });
  }
}

function isRecord(r: unknown): r is AuditRecord {
  return typeof r === 'object' && r !== null && 'canonical' in r && 'recordedLeafHash' in r;
}

/**
 * Verifies a whole JSONL export (text, or chunks of it, sync or async)
 * against its signed tree head, the log key, and the head saved earlier,
 * as `curbside audit verify` does; throws the first {@link VerifyFailure}.
 */
export async function verifyExport(
  text: string | Iterable<string> | AsyncIterable<string>,
  head: SignedTreeHead,
  logKey: Uint8Array,
  saved: SignedTreeHead | null = null,
  progress?: Progress,
): Promise<Verified> {
  const v = new ExportVerifier(head, logKey, saved, progress);
  if (typeof text === 'string') v.pushText(text);
  else if (Symbol.asyncIterator in text) for await (const chunk of text) v.pushText(chunk);
  else for (const chunk of text) v.pushText(chunk);
  return v.finish();
}

/** `OK: …`: what `curbside audit verify` prints for a verified export. */
export function verifiedSummary(v: Verified, head: SignedTreeHead): string {
  const saved = v.matchedSavedHead === null ? '' : `; the first ${v.matchedSavedHead} match the tree head saved earlier`;
  return `OK: ${v.entries} entries reproduce the signed tree head (size ${head.size}, root ${toHex(head.root)}, signed ${formatTimeMs(head.timestamp_ms)})${saved}.`;
}

/** `record` matches its recorded hash, and `proof` leads from it to `head`'s root (signature checked by the caller). */
function included(record: AuditRecord, proof: readonly Hash[], head: SignedTreeHead): void {
  const seq = record.entry.seq;
  const leaf = entryLeafHash(record);
  if (!sameHash(leaf, record.recordedLeafHash)) throw new VerifyFailure({ kind: 'altered', seq });
  try {
    if (seq < 1) throw new Error('no leaf 0');
    verifyInclusionProof(seq - 1, head.size, leaf, proof, head.root);
  } catch {
    throw new VerifyFailure({ kind: 'not_included', seq, size: head.size });
  }
}

/** One record's inclusion in a signed tree head (`curbside audit proof`). Throws a {@link VerifyFailure}. */
export function verifyRecordInclusion(record: AuditRecord, proof: readonly Hash[], head: SignedTreeHead, logKey: Uint8Array): void {
  if (!treeHeadSignedBy(head, logKey)) throw new VerifyFailure({ kind: 'bad_signature' });
  included(record, proof, head);
}

/**
 * Checks every record of a page of `GET /v1/audit/entries?tree_size=N` (as
 * JSON.parse gave it) against its recorded hash and its inclusion proof in
 * `head` (of N entries), as `curbside audit query` does. Returns the records
 * and, by sequence number, those that do not check (the CLI marks them
 * `!!! ALTERED` / `!!! NOT IN THE SIGNED TREE`). Throws when the head's
 * signature fails, proofs are missing, or the page is not one.
 */
export function checkPage(
  page: unknown,
  head: SignedTreeHead,
  logKey: Uint8Array,
): { records: AuditRecord[]; failures: Map<number, VerifyFailure>; nextCursor: number | null } {
  if (!treeHeadSignedBy(head, logKey)) throw new VerifyFailure({ kind: 'bad_signature' });
  const p: Json = fromJsValue(page);
  if (!(p instanceof Map) || !Array.isArray(p.get('records'))) throw new JsonError('not a page of audit entries');
  const records = (p.get('records') as Json[]).map((r) => decodeRecord(r));
  const rawProofs = p.get('proofs');
  const proofs = Array.isArray(rawProofs) ? rawProofs.map((x) => decodeProof(x)) : [];
  if (proofs.length !== records.length) throw new VerifyFailure({ kind: 'missing_proofs', records: records.length, proofs: proofs.length });
  const failures = new Map<number, VerifyFailure>();
  records.forEach((r, i) => {
    try {
      included(r, proofs[i] as Hash[], head);
    } catch (e) {
      if (!(e instanceof VerifyFailure)) throw e;
      failures.set(r.entry.seq, e);
    }
  });
  const next = p.get('next_cursor');
  return { records, failures, nextCursor: typeof next === 'object' && next !== null && 'text' in next ? Number(next.text) : null };
}
