/**
 * The enrollment form's fields and their checks, before anything is sent:
 * each error says what to fix. The server checks again (and says whether
 * the invite is still good).
 */

export interface EnrollForm {
  invite: string;
  name: string;
  npi: string;
  specialty: string;
  passphrase: string;
  confirmation: string;
  /** "I am a compliance officer (no NPI or specialty)": NPI and specialty are neither asked nor sent. */
  officer?: boolean;
}

export type EnrollField = Exclude<keyof EnrollForm, 'officer'>;
export type FieldErrors = Partial<Record<EnrollField, string>>;

export const MIN_PASSPHRASE = 12;

/** The invite in a URL fragment `#invite=cbs_inv_…` (an administrator's link), if any. */
export function inviteFromFragment(hash: string): string | undefined {
  const m = /(?:^#|&)invite=(cbs_(?:inv|dev)_[A-Za-z0-9_-]+)/.exec(hash);
  return m?.[1];
}

/** The roles an invite for a new user may give. */
export type LinkRole = 'clinician' | 'compliance_officer' | 'admin';

/**
 * The role an invite link says it is for (`#invite=cbs_inv_…&role=compliance_officer`,
 * as the admin console and `curbside admin invite` write it); undefined for
 * a link without one (a clinician's, or an older link). Only a hint for the
 * form: the server decides.
 */
export function roleFromFragment(hash: string): LinkRole | undefined {
  const m = /(?:^#|&)role=(clinician|compliance_officer|admin)(?:&|$)/.exec(hash);
  return m?.[1] as LinkRole | undefined;
}

/** Whether an invite of this role enrolls without NPI or specialty (only clinicians need them). */
export function roleNeedsNoNpi(role: LinkRole | undefined): boolean {
  return role === 'compliance_officer' || role === 'admin';
}

/**
 * What was pasted in the Invite field: the token itself, or a whole
 * `https://…/#invite=cbs_inv_…&role=…` link (its token and role).
 */
export function parseInvite(text: string): { token: string; role: LinkRole | undefined } {
  const t = text.trim();
  const hash = t.indexOf('#');
  if (hash >= 0 && /(?:^#|&)invite=/.test(t.slice(hash))) {
    const fragment = t.slice(hash);
    const m = /(?:^#|&)invite=([^&\s]*)/.exec(fragment);
    return { token: m?.[1] ?? '', role: roleFromFragment(fragment) };
  }
  return { token: t, role: undefined };
}

/** The NPI check digit (Luhn over 80840 and the first nine digits). */
export function npiValid(npi: string): boolean {
  if (!/^\d{10}$/.test(npi)) return false;
  const digits = `80840${npi}`.split('').map(Number);
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i] as number;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The problems with the form, by field (empty: it can be sent). */
export function checkEnrollForm(f: EnrollForm): FieldErrors {
  const e: FieldErrors = {};
  const invite = parseInvite(f.invite).token;
  if (invite === '') e.invite = 'Paste the invite your administrator gave you (it starts with cbs_inv_).';
  else if (invite.startsWith('cbs_dev_')) e.invite = 'This is a device code: choose “I already use Curbside on another device” above.';
  else if (!/^cbs_(inv|dev|boot)_[A-Za-z0-9_-]+$/.test(invite)) e.invite = 'This is not an invite: it starts with cbs_inv_ — copy it again from your administrator.';
  // The bootstrap token enrolls the first administrator, who has no NPI or
  // specialty (optional, checked if given); a compliance officer is asked neither.
  const admin = invite.startsWith('cbs_boot_');
  const officer = f.officer === true && !admin;
  const name = f.name.trim();
  if (name === '') e.name = 'Enter your full name as colleagues know it.';
  else if (name.length > 200) e.name = 'Your name must be at most 200 characters.';
  const npi = f.npi.replace(/\s/g, '');
  if (officer || (npi === '' && admin)) {
    // optional for the administrator
  } else if (npi === '') e.npi = 'Enter your 10-digit NPI.';
  else if (!/^\d{10}$/.test(npi)) e.npi = `An NPI has 10 digits (this has ${npi.length} characters).`;
  else if (!npiValid(npi)) e.npi = "This NPI's check digit is wrong: check it for a typo.";
  const specialty = f.specialty.trim();
  if (officer || (specialty === '' && admin)) {
    // optional for the administrator
  } else if (specialty === '') e.specialty = 'Enter your specialty (for example Cardiology).';
  else if (specialty.length > 100) e.specialty = 'The specialty must be at most 100 characters.';
  if (f.passphrase.length < MIN_PASSPHRASE) e.passphrase = `Choose a passphrase of at least ${MIN_PASSPHRASE} characters (a few words is best).`;
  if (f.confirmation !== f.passphrase) e.confirmation = 'The two passphrases differ: type the same one again.';
  return e;
}

/** What enrollment sends for the form (already checked): the token, the name, and NPI and specialty unless a compliance officer. */
export function enrollProfile(f: EnrollForm): { invite: string; displayName: string; npi: string; specialty: string } {
  const invite = parseInvite(f.invite).token;
  const officer = f.officer === true && !invite.startsWith('cbs_boot_');
  return { invite, displayName: f.name.trim(), npi: officer ? '' : f.npi.replace(/\s/g, ''), specialty: officer ? '' : f.specialty.trim() };
}

/**
 * The server's refusal of an enrollment, in words on the field to fix
 * (`fields`), or for the whole form (`error`). The invite is not used when
 * the server refuses. `code` is the server's error code (`undefined`: no
 * answer came, the connection failed); `message` its message, written for
 * users (a `ServerError`'s "code: " prefix is dropped).
 */
export function enrollRefusal(code: string | undefined, message: string, officer: boolean): { fields?: FieldErrors; error?: string } {
  const said = serverWords(code, message);
  switch (code) {
    case undefined:
      return { error: 'Enrollment failed: check your connection and try again (the invite was not used).' };
    case 'invalid_invite':
      return { fields: { invite: 'This invite is unknown or was already used: ask your administrator for a new one.' } };
    case 'invite_expired':
      return { fields: { invite: 'This invite has expired: ask your administrator for a new one.' } };
    case 'invalid_npi':
      return { fields: { npi: `The server refused this NPI (${said}): check it.` } };
    case 'conflict':
      return { fields: { npi: 'Someone with this NPI is already enrolled: to add this browser as a device, ask for a device invite.' } };
    case 'invalid_request':
      // The server needs an NPI and a specialty for a clinician's invite (`ProfileRequired`).
      if (officer && /npi|clinician/i.test(said)) {
        return { fields: { npi: 'This invite is for a clinician, not a compliance officer: enter your 10-digit NPI and your specialty (the invite was not used).' } };
      }
      break;
  }
  // Any other refusal: the server's own words say what is wrong and what to do.
  if (/^HTTP \d+$/.test(said)) return { error: `Enrollment failed: the server answered ${said}; try again in a moment (the invite was not used).` };
  if (said === '') return { error: `Enrollment failed: the server refused it (${code}); try again, or ask your administrator (the invite was not used).` };
  const retry = ['internal', 'shutting_down', 'storage_unavailable', 'rate_limited'].includes(code) ? ' Try again in a moment.' : '';
  return { error: `Enrollment failed: the server says “${said}” (the invite was not used).${retry}` };
}

/** A server error's message without the "code: " prefix `ServerError` gives it. */
function serverWords(code: string | undefined, message: string): string {
  const m = message.trim();
  return code !== undefined && m.startsWith(`${code}: `) ? m.slice(code.length + 2).trim() : m;
}
