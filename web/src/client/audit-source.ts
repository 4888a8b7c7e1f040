/**
 * The compliance API (PROTOCOL.md, "Audit log"; `server/src/http/audit.rs`)
 * over a device's authenticated HTTP (its own session from the device login): the {@link AuditSource} the pure
 * verifier of `src/audit/` takes (tree heads, consistency proofs), plus
 * proven queries followed across pages by `next_cursor`, streamed exports,
 * inclusion proofs, and the whole check `curbside audit verify` makes (the
 * head against the saved witness, then the export streamed through the
 * verifier). The device must be a compliance officer's (else `forbidden`).
 *
 * The entries are metadata only, but still sensitive: nothing here logs.
 */

import {
  checkHead,
  checkPage,
  decodeConsistencyProof,
  decodeProof,
  decodeRecord,
  decodeTreeHeadResponse,
  ExportVerifier,
  JsonNumber,
  parseJson,
  verifiedSummary,
  verifyRecordInclusion,
  type AuditRecord,
  type AuditSource,
  type CheckedHead,
  type Hash,
  type Progress,
  type SignedTreeHead,
  type TreeHeadResponse,
  type Verified,
  type VerifyFailure,
  type Witness,
} from '../audit/index.js';
import type { IdentityKeyPair } from '../crypto/identity.js';
import { ProtocolError, ServerError } from '../protocol/errors.js';
import type { Address } from '../protocol/frames.js';
import { HttpApi, type SessionToken } from '../protocol/http.js';
import type { FetchLike, FetchResponse } from '../protocol/platform.js';
import type { Account } from './account.js';
import { decodeUtf8, sleep } from '../protocol/platform.js';

/** How much export text the verifier takes between two turns of the event loop. */
const SLICE = 128 * 1024;

/** The filters of entries and exports (PROTOCOL.md, "Query parameters"). */
export interface AuditFilters {
  actor?: string;
  counterpart?: string;
  action?: string;
  message_id?: string;
  referral_id?: string;
  outcome?: 'success' | 'failure';
  since_ms?: number;
  until_ms?: number;
}

/** One page of a proven query: its records, and the entries whose inclusion proof failed (by seq). */
export interface ProvenPage {
  readonly records: AuditRecord[];
  readonly failures: Map<number, VerifyFailure>;
}

/** The outcome of {@link DeviceAuditSource.verifyLog}: the checked head (save `checked.witness`), the verification, and the CLI's `OK: …` line. */
export interface LogVerified {
  readonly checked: CheckedHead;
  readonly verified: Verified;
  readonly summary: string;
}

function query(params: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) if (v !== undefined) parts.push(`${k}=${encodeURIComponent(String(v))}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

export class DeviceAuditSource implements AuditSource {
  private token: SessionToken | undefined;

  /** Over the device login of `identity` (the officer's device at `address`). */
  constructor(
    private readonly api: HttpApi,
    private readonly serverName: string,
    private readonly address: Address,
    private readonly identity: IdentityKeyPair,
  ) {}

  /** For an enrolled account (a compliance officer's device). */
  static forAccount(account: Account, opts: { fetch?: FetchLike } = {}): DeviceAuditSource {
    const api = new HttpApi({ url: account.server.url, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
    return new DeviceAuditSource(api, account.server.serverName, account.me, account.identity);
  }

  /** A GET with the session token (logging in first, and again once if it expired); the answer unread. */
  private async get(path: string): Promise<FetchResponse> {
    for (let attempt = 0; ; attempt++) {
      if (this.token === undefined) this.token = await this.api.login(this.serverName, this.address, this.identity);
      try {
        return await this.api.binary('GET', path, this.token.token);
      } catch (e) {
        if (e instanceof ServerError && e.code === 'token_expired' && attempt === 0) {
          this.token = undefined;
          continue;
        }
        throw e;
      }
    }
  }

  private async text(path: string): Promise<string> {
    return (await this.get(path)).text();
  }

  /** Forgets the session token (lock, logout). */
  forget(): void {
    this.token = undefined;
  }

  /** `GET /v1/audit/tree-head`. */
  async treeHead(): Promise<TreeHeadResponse> {
    return decodeTreeHeadResponse(await this.text('/v1/audit/tree-head'));
  }

  /** `GET /v1/audit/proof/consistency`: the proof hashes. */
  async consistency(first: number, second: number): Promise<Hash[]> {
    return decodeConsistencyProof(JSON.parse(await this.text(`/v1/audit/proof/consistency${query({ first, second })}`)));
  }

  /**
   * `GET /v1/audit/proof/inclusion`: entry `seq` and its audit path in the
   * tree of `treeSize` entries, decoded but not checked (check them with
   * `verifyRecordInclusion` against a signed head of that size).
   */
  async inclusionProof(seq: number, treeSize: number): Promise<{ record: AuditRecord; proof: Hash[]; treeSize: number }> {
    const j = parseJson(await this.text(`/v1/audit/proof/inclusion${query({ seq, tree_size: treeSize })}`));
    if (!(j instanceof Map)) throw new ProtocolError('audit inclusion: unexpected answer');
    const size = j.get('tree_size');
    const answered = size instanceof JsonNumber && size.integer ? Number(size.text) : NaN;
    if (answered !== treeSize) throw new ProtocolError(`audit inclusion: a proof for a tree of ${answered} entries, not ${treeSize}`);
    return { record: decodeRecord(j.get('record') ?? null), proof: decodeProof(j.get('proof')), treeSize };
  }

  /** `GET /v1/audit/proof/inclusion`: the record, checked against `head` (signed by `logKey`) before it is returned. */
  async inclusion(seq: number, head: SignedTreeHead, logKey: Uint8Array): Promise<AuditRecord> {
    const { record, proof } = await this.inclusionProof(seq, head.size);
    verifyRecordInclusion(record, proof, head, logKey);
    return record;
  }

  /**
   * A query's matching entries, page by page (following `next_cursor` until
   * a page is not full), each entry proven included in `head` (the head
   * {@link checkHead} just checked). `limit`: entries per page (1–1000).
   */
  async *entries(head: SignedTreeHead, logKey: Uint8Array, filters: AuditFilters = {}, limit = 1000): AsyncGenerator<ProvenPage> {
    let cursor: number | undefined;
    for (;;) {
      const path = `/v1/audit/entries${query({ ...filters, limit, tree_size: head.size, cursor })}`;
      const page = checkPage(JSON.parse(await this.text(path)), head, logKey);
      yield { records: page.records, failures: page.failures };
      if (page.nextCursor === null) return;
      if (cursor !== undefined && page.nextCursor <= cursor) throw new ProtocolError('audit entries: the cursor did not advance');
      cursor = page.nextCursor;
    }
  }

  /** Every matching entry of a proven query, across all its pages. */
  async entriesAll(head: SignedTreeHead, logKey: Uint8Array, filters: AuditFilters = {}, limit = 1000): Promise<ProvenPage> {
    const records: AuditRecord[] = [];
    const failures = new Map<number, VerifyFailure>();
    for await (const p of this.entries(head, logKey, filters, limit)) {
      records.push(...p.records);
      for (const [k, v] of p.failures) failures.set(k, v);
    }
    return { records, failures };
  }

  /** `GET /v1/audit/export`, streamed: the text as it arrives (JSONL unless `format` is csv). */
  async *exportText(through: number, filters: AuditFilters = {}, format: 'jsonl' | 'csv' = 'jsonl'): AsyncGenerator<string> {
    const response = await this.get(`/v1/audit/export${query({ ...filters, format, through })}`);
    const body = response.body as unknown as AsyncIterable<Uint8Array> | null | undefined;
    if (body === null || body === undefined || typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function') {
      yield await response.text();
      return;
    }
    // UTF-8 split across chunks: keep an incomplete tail for the next one.
    let carry = new Uint8Array(0);
    for await (const chunk of body) {
      const bytes = carry.length === 0 ? chunk : concatBytes(carry, chunk);
      const cut = completeUtf8(bytes);
      if (cut > 0) yield decodeUtf8(bytes.subarray(0, cut));
      carry = bytes.slice(cut);
    }
    if (carry.length > 0) yield decodeUtf8(carry);
  }

  /**
   * What `curbside audit verify` checks, over this session: the current
   * head against the saved witness (pinned key, signature, consistency),
   * then the whole export through it, streamed into the verifier. Save
   * `checked.witness` only on success.
   */
  async verifyLog(saved: Witness | null, progress?: Progress, onRecord?: (record: AuditRecord) => void): Promise<LogVerified> {
    const checked = await checkHead(saved, this);
    const { verified, summary } = await this.verifyThrough(checked.head, checked.logKey, saved?.last_head ?? null, progress, onRecord);
    return { checked, verified, summary };
  }

  /**
   * The export through `head` (a head already checked, e.g. one saved with
   * an earlier export), streamed through the verifier against it and the
   * older `saved` head; the `OK: …` line. `onRecord` sees each entry once
   * it is checked (in order; none after a failure).
   */
  async verifyThrough(
    head: SignedTreeHead,
    logKey: Uint8Array,
    saved: SignedTreeHead | null = null,
    progress?: Progress,
    onRecord?: (record: AuditRecord) => void,
  ): Promise<{ verified: Verified; summary: string }> {
    const v = new ExportVerifier(head, logKey, saved, progress);
    if (onRecord !== undefined) v.onRecord = onRecord;
    for await (const text of this.exportText(head.size)) {
      // A large chunk in slices, letting the event loop run between them (a page repaints its progress).
      for (let i = 0; i < text.length; i += SLICE) {
        v.pushText(i === 0 && text.length <= SLICE ? text : text.slice(i, i + SLICE));
        if (text.length > SLICE) await sleep(0);
      }
    }
    const verified = v.finish();
    return { verified, summary: verifiedSummary(verified, head) };
  }
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The length of the longest prefix of `b` that ends on a UTF-8 character boundary. */
function completeUtf8(b: Uint8Array): number {
  let i = b.length;
  // Step back over at most 3 continuation bytes to the last lead byte.
  let back = 0;
  while (back < 3 && i - back - 1 >= 0 && ((b[i - back - 1] as number) & 0xc0) === 0x80) back++;
  const leadAt = i - back - 1;
  if (leadAt < 0) return back === 0 ? i : 0;
  const lead = b[leadAt] as number;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return back + 1 >= need ? i : leadAt;
}
