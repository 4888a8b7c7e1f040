// HL7's FHIR R4 JSON schema (tests/data/fhir-r4/fhir.schema.json.gz, draft-06)
// compiled with ajv, plus what tests/fhir_r4/mod.rs adds to it: the codes of
// ServiceRequest's shared required bindings (status, intent, priority), which
// the schema leaves as plain `code`, and that every reference resolves to an
// entry's fullUrl.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

type Validate = ((v: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params?: unknown }[] | null };
interface AjvLike {
  addMetaSchema(s: unknown): void;
  compile(s: unknown): Validate;
  getSchema(ref: string): Validate | undefined;
}

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
/** The repository's root from dist/test (or test). */
function schemaPath(): string {
  for (const up of ['../../..', '../..']) {
    const p = join(here, up, 'tests/data/fhir-r4/fhir.schema.json.gz');
    try {
      readFileSync(p, { flag: 'r' });
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error('tests/data/fhir-r4/fhir.schema.json.gz not found above the test directory');
}

const SHARED_REQUIRED_CODES: Record<string, readonly string[]> = {
  status: ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'],
  intent: ['proposal', 'plan', 'directive', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option'],
  priority: ['routine', 'urgent', 'asap', 'stat'],
};

let compiled: { whole: Validate; ajv: AjvLike } | undefined;

/** Compiles the schema once (about 3 s). */
function schema(): { whole: Validate; ajv: AjvLike } {
  if (compiled !== undefined) return compiled;
  const AjvClass = (require('ajv') as { default: new (o: object) => AjvLike }).default;
  const draft6 = require('ajv/dist/refs/json-schema-draft-06.json') as unknown;
  const s = JSON.parse(gunzipSync(readFileSync(schemaPath())).toString('utf8')) as Record<string, unknown>;
  // ajv 8 names a schema by `$id`; HL7's draft-06 file uses `id` at its root.
  s['$id'] = s['id'];
  delete s['id'];
  const ajv = new AjvClass({ strict: false, allErrors: false });
  ajv.addMetaSchema(draft6);
  compiled = { whole: ajv.compile(s), ajv };
  return compiled;
}

function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refs(x, out);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'reference' && typeof x === 'string') out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

/** The problems of a Bundle (none: valid R4), each naming where. */
export function fhirR4Problems(bundle: unknown): string[] {
  const { whole, ajv } = schema();
  const problems: string[] = [];
  if (!whole(bundle)) {
    // The schema is a oneOf of every resource: say which entry is at fault.
    const b = bundle as { resourceType?: string; entry?: { resource?: { resourceType?: string } }[] };
    problems.push(`the Bundle is not valid R4`);
    (b.entry ?? []).forEach((e, i) => {
      const t = e.resource?.resourceType ?? '?';
      const v = ajv.getSchema(`http://hl7.org/fhir/json-schema/4.0#/definitions/${t}`);
      if (v !== undefined && !v(e.resource)) problems.push(`entry[${i}] ${t}: ${JSON.stringify(v.errors)}`);
    });
    const bv = ajv.getSchema('http://hl7.org/fhir/json-schema/4.0#/definitions/Bundle');
    if (bv !== undefined && !bv({ ...b, entry: [] })) problems.push(`Bundle: ${JSON.stringify(bv.errors)}`);
  }
  const b = bundle as { entry?: { fullUrl?: string; resource?: Record<string, unknown> }[] };
  const urls = new Set((b.entry ?? []).map((e) => e.fullUrl));
  (b.entry ?? []).forEach((e, i) => {
    const r = e.resource ?? {};
    if (r['resourceType'] === 'ServiceRequest') {
      for (const [element, codes] of Object.entries(SHARED_REQUIRED_CODES)) {
        const v = r[element];
        if (v !== undefined && !(typeof v === 'string' && codes.includes(v))) problems.push(`entry[${i}]/${element} (ServiceRequest): ${JSON.stringify(v)} is not in ${codes.join(', ')}`);
      }
    }
  });
  for (const r of refs(b.entry ?? [])) if (!urls.has(r)) problems.push(`unresolved reference ${r}`);
  return problems;
}
