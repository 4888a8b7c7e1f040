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
}

export type EnrollField = keyof EnrollForm;
export type FieldErrors = Partial<Record<EnrollField, string>>;

export const MIN_PASSPHRASE = 12;

/** The invite in a URL fragment `#invite=cbs_inv_…` (an administrator's link), if any. */
export function inviteFromFragment(hash: string): string | undefined {
  const m = /(?:^#|&)invite=(cbs_(?:inv|dev)_[A-Za-z0-9_-]+)/.exec(hash);
  return m?.[1];
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
  const invite = f.invite.trim();
  if (invite === '') e.invite = 'Paste the invite your administrator gave you (it starts with cbs_inv_).';
  else if (invite.startsWith('cbs_dev_')) e.invite = 'This is a device code: choose “I already use Curbside on another device” above.';
  else if (!/^cbs_(inv|dev|boot)_[A-Za-z0-9_-]+$/.test(invite)) e.invite = 'This is not an invite: it starts with cbs_inv_ — copy it again from your administrator.';
  // The bootstrap token enrolls the first administrator, who has no NPI or specialty.
  const admin = invite.startsWith('cbs_boot_');
  const name = f.name.trim();
  if (name === '') e.name = 'Enter your full name as colleagues know it.';
  else if (name.length > 200) e.name = 'Your name must be at most 200 characters.';
  const npi = f.npi.replace(/\s/g, '');
  if (npi === '' && admin) {
    // optional for the administrator
  } else if (npi === '') e.npi = 'Enter your 10-digit NPI.';
  else if (!/^\d{10}$/.test(npi)) e.npi = `An NPI has 10 digits (this has ${npi.length} characters).`;
  else if (!npiValid(npi)) e.npi = "This NPI's check digit is wrong: check it for a typo.";
  const specialty = f.specialty.trim();
  if (specialty === '' && admin) {
    // optional for the administrator
  } else if (specialty === '') e.specialty = 'Enter your specialty (for example Cardiology).';
  else if (specialty.length > 100) e.specialty = 'The specialty must be at most 100 characters.';
  if (f.passphrase.length < MIN_PASSPHRASE) e.passphrase = `Choose a passphrase of at least ${MIN_PASSPHRASE} characters (a few words is best).`;
  if (f.confirmation !== f.passphrase) e.confirmation = 'The two passphrases differ: type the same one again.';
  return e;
}
