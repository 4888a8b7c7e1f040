/**
 * Where an audit export is written, chunk by chunk (src/app/audit-export.ts
 * streams into it): a file the officer chooses with the File System Access
 * API (`showSaveFilePicker`, Chromium), written as the export arrives; or,
 * where the browser has no picker (or refuses it), a Blob assembled from
 * the chunks (parts of at most about 1 MiB each, never one string) and
 * offered as a download at the end.
 */

import type { ExportSink } from '../app/index.js';
import { h } from './dom.js';

interface Writable {
  write(data: string): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}
interface SaveHandle {
  readonly name: string;
  createWritable(): Promise<Writable>;
}
type SavePicker = (options: { suggestedName: string; types: { description: string; accept: Record<string, string[]> }[] }) => Promise<SaveHandle>;

/** How the export is being written (for the status line). */
export type SinkKind = 'file' | 'download';

/** Offers a Blob as a download named `name`. */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A Blob assembled from the chunks, downloaded when closed. */
export function blobSink(name: string, type: string): ExportSink {
  const parts: Blob[] = [];
  let pending: string[] = [];
  let pendingLength = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    parts.push(new Blob(pending, { type }));
    pending = [];
    pendingLength = 0;
  };
  return {
    name,
    write: async (text) => {
      pending.push(text);
      pendingLength += text.length;
      if (pendingLength >= 1 << 20) flush();
    },
    close: async () => {
      flush();
      downloadBlob(new Blob(parts, { type }), name);
      parts.length = 0;
    },
    abort: async () => {
      pending = [];
      parts.length = 0;
    },
  };
}

/**
 * The sink for an export named `name`: the picker's file if the browser
 * has one (call this first in the click handler: the picker needs the
 * click), else a download. Null when the officer cancelled the picker.
 */
export async function exportSink(name: string, type: string, ext: string): Promise<{ sink: ExportSink; kind: SinkKind } | null> {
  const picker = (window as unknown as { showSaveFilePicker?: SavePicker }).showSaveFilePicker;
  if (typeof picker === 'function') {
    let handle: SaveHandle | undefined;
    try {
      handle = await picker.call(window, { suggestedName: name, types: [{ description: ext === '.csv' ? 'CSV' : 'JSON Lines', accept: { [type]: [ext] } }] });
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortError') return null;
      handle = undefined; // not allowed here (a frame, a policy): download instead
    }
    if (handle !== undefined) {
      const w = await handle.createWritable();
      return { kind: 'file', sink: { name: handle.name, write: (t) => w.write(t), close: () => w.close(), abort: () => w.abort() } };
    }
  }
  return { kind: 'download', sink: blobSink(name, type) };
}
