// A filtered or CSV export checked row by row against a full JSONL export
// of the same log through the same signed head: client/src/audit/export.rs
// (`verify_selection`) in TypeScript. The full export must reproduce the
// head (as verifyExport checks), and every row of the selection, in order,
// must be exactly the entry with its sequence number there (CSV rows field
// by field, in the columns the server writes).

import { toHex } from '../crypto/bytes.js';
import { decodeRecord, type AuditRecord, type SignedTreeHead } from './entry.js';
import { JsonError } from './json.js';
import { CSV_HEADER, ExportVerifier, formatTimeMs, VerifyFailure, type Progress, type Verified } from './verify.js';

/** The fields of one CSV export row (protocol/src/audit.rs, `csv_fields`): empty for an absent value, `details` as JSON. */
export function csvFields(r: AuditRecord): string[] {
  const e = r.entry;
  const o = (v: string | number | null): string => (v === null ? '' : String(v));
  // The canonical JSON ends with the details object: `…,"details":{…}}`.
  const details = r.canonical.slice(r.canonical.lastIndexOf(',"details":') + ',"details":'.length, -1);
  return [
    String(e.seq), formatTimeMs(e.time_ms), String(e.time_ms), o(e.actor_user), o(e.actor_device), o(e.actor_role), e.action,
    o(e.counterpart_user), o(e.counterpart_device), o(e.message_id), o(e.referral_id), o(e.attachment_id), o(e.source),
    e.outcome, o(e.reason), details, toHex(r.recordedLeafHash),
  ];
}

/** RFC 4180 records (quotes doubled inside quoted fields, which may hold newlines), as the csv crate reads them. */
export function* csvRecords(text: string): Generator<string[]> {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new JsonError('an unterminated quoted field');
          field += text.slice(i, q);
          i = q + 1;
          if (text[i] === '"') {
            field += '"';
            i++;
          } else break;
        }
      }
      while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      break;
    }
    yield fields;
  }
}

interface Row {
  readonly number: number;
  readonly seq: number;
  readonly matches: (r: AuditRecord) => boolean;
}

function* rows(selection: string, format: 'jsonl' | 'csv'): Generator<Row> {
  const malformed = (line: number, error: string): VerifyFailure => new VerifyFailure({ kind: 'malformed', line, error });
  if (format === 'jsonl') {
    const lines = selection.split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (let k = 0; k < lines.length; k++) {
      const raw = lines[k] as string;
      let mine: AuditRecord;
      try {
        mine = decodeRecord(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
      } catch (e) {
        throw malformed(k + 1, e instanceof Error ? e.message : String(e));
      }
      const hash = toHex(mine.recordedLeafHash);
      yield { number: k + 1, seq: mine.entry.seq, matches: (r) => r.canonical === mine.canonical && toHex(r.recordedLeafHash) === hash };
    }
    return;
  }
  let number = 0;
  try {
    for (const fields of csvRecords(selection)) {
      number += 1;
      if (number === 1) {
        if (fields.join(',') !== CSV_HEADER) throw malformed(1, 'not the header of a Curbside CSV export');
        continue;
      }
      const first = fields[0] ?? '';
      if (!/^[0-9]+$/.test(first)) throw malformed(number, 'no sequence number in the first column');
      const want = fields.join('\u0000');
      yield { number, seq: Number(first), matches: (r) => csvFields(r).join('\u0000') === want && fields.length === 17 };
    }
  } catch (e) {
    if (e instanceof JsonError) throw malformed(number + 1, e.message);
    throw e;
  }
}

/**
 * Checks a filtered or CSV export (`selection`, its whole text) against a
 * full JSONL export (`full`: its text, or chunks of it) through the same
 * signed head; throws the first {@link VerifyFailure} (`row_mismatch`,
 * `unexpected_row`, or any of the full export's failures).
 */
export async function verifySelection(
  selection: string,
  format: 'jsonl' | 'csv',
  full: string | Iterable<string> | AsyncIterable<string>,
  head: SignedTreeHead,
  logKey: Uint8Array,
  progress?: Progress,
): Promise<Verified> {
  const pending = rows(selection, format);
  let next = pending.next().value ?? null;
  const check = new ExportVerifier(head, logKey, null, progress);
  const onRecord = (record: AuditRecord): void => {
    // At most one row per entry: a repeated row is out of order at the next.
    if (next === null) return;
    if (next.seq < record.entry.seq) throw new VerifyFailure({ kind: 'unexpected_row', row: next.number, seq: next.seq });
    if (next.seq === record.entry.seq) {
      if (!next.matches(record)) throw new VerifyFailure({ kind: 'row_mismatch', row: next.number, seq: next.seq });
      next = pending.next().value ?? null;
    }
  };
  check.onRecord = onRecord;
  if (typeof full === 'string') check.pushText(full);
  else if (Symbol.asyncIterator in full) for await (const c of full) check.pushText(c);
  else for (const c of full) check.pushText(c);
  const verified = check.finish();
  if (next !== null) throw new VerifyFailure({ kind: 'unexpected_row', row: next.number, seq: next.seq });
  return verified;
}
