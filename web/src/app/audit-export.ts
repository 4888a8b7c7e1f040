/**
 * A JSONL or CSV export streamed into a file (no DOM): the export's text
 * goes to the {@link ExportSink} chunk by chunk as it arrives (the view
 * makes the sink: a file chosen with the File System Access API, or a Blob
 * assembled from the chunks), never held as one string. The progress is
 * the sequence number of the last row written, of the head's size. An
 * unfiltered JSONL export is verified as it streams (ExportVerifier: every
 * entry's hash, the signed root, the saved head) and discarded if it does
 * not verify.
 */

import { ExportVerifier, type SignedTreeHead, type Verified } from '../audit/index.js';

/** Where an export goes. */
export interface ExportSink {
  /** The file's name (as chosen, or suggested). */
  readonly name: string;
  /** Appends text. */
  write(text: string): Promise<void>;
  /** Keeps the file (a download is offered now). */
  close(): Promise<void>;
  /** Discards what was written. */
  abort(): Promise<void>;
}

export interface ExportProgress {
  /** Rows written (entries; a CSV's header not counted). */
  readonly rows: number;
  /** The sequence number of the last row written. */
  readonly seq: number;
}

const JSONL_SEQ = /^\{"entry":\{"seq":(\d+)/;
const CSV_SEQ = /^(\d+),/;

/**
 * Streams `chunks` (the export's text) into `sink`, counting rows; with a
 * `verifier`, each chunk is checked before it is written and the end
 * checked before the file is kept. On any failure the sink is aborted and
 * the error thrown.
 */
export async function streamInto(
  chunks: AsyncIterable<string>,
  sink: ExportSink,
  format: 'jsonl' | 'csv',
  progress: (p: ExportProgress) => void,
  verifier?: ExportVerifier,
): Promise<ExportProgress & { verified?: Verified }> {
  const seqOf = format === 'csv' ? CSV_SEQ : JSONL_SEQ;
  let tail = '';
  let lines = 0;
  let seq = 0;
  let verified: Verified | undefined;
  const rows = (): number => Math.max(0, format === 'csv' ? lines - 1 : lines);
  try {
    for await (const chunk of chunks) {
      verifier?.pushText(chunk);
      await sink.write(chunk);
      let nl = chunk.indexOf('\n');
      if (nl < 0) {
        tail += chunk;
        continue;
      }
      let lastStart = 0;
      let lastLine = '';
      let start = 0;
      for (; nl >= 0; nl = chunk.indexOf('\n', start)) {
        lines += 1;
        lastStart = start;
        start = nl + 1;
      }
      // The last complete line: the tail's end joined with this chunk's start when it began earlier.
      lastLine = lastStart === 0 ? tail + chunk.slice(0, start - 1) : chunk.slice(lastStart, start - 1);
      tail = chunk.slice(start);
      const m = seqOf.exec(lastLine);
      if (m?.[1] !== undefined) seq = Number(m[1]);
      progress({ rows: rows(), seq });
    }
    if (tail.trim() !== '') {
      lines += 1;
      const m = seqOf.exec(tail);
      if (m?.[1] !== undefined) seq = Number(m[1]);
    }
    verified = verifier?.finish();
    await sink.close();
  } catch (e) {
    await sink.abort().catch(() => undefined);
    throw e;
  }
  const done = { rows: rows(), seq };
  progress(done);
  return verified === undefined ? done : { ...done, verified };
}

/** The verifier of an unfiltered JSONL export through `head` (and consistent with the `saved` head), as `curbside audit verify` checks it. */
export function exportVerifier(head: SignedTreeHead, logKey: Uint8Array, saved: SignedTreeHead | null): ExportVerifier {
  return new ExportVerifier(head, logKey, saved);
}
