// The audit log's verifier in TypeScript: the same logic as the Rust CLI's
// (`curbside audit verify`, the witness of every online command), so a
// compliance officer's browser can check the log itself. Pure: no DOM, no
// I/O (test/purity.test.ts).

export * from './entry.js';
export * from './json.js';
export * from './merkle.js';
export * from './selection.js';
export * from './verify.js';
export * from './witness.js';
