// What a refused send or a connection's end means to a clinician, and what to do next.

/** Words for an error from the client or server, with what to do next. */
export function explain(e: unknown, connection = false): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'user_deactivated' && !connection) return "This colleague's account was deactivated: they no longer receive messages.";
  switch (code) {
    case 'not_found':
      return 'This colleague has no active device: they cannot receive messages until they enroll one.';
    case 'rate_limited':
      return 'Too many messages at once: wait a moment and send again.';
    case 'too_large':
    case 'payload_too_large':
      return 'This file is too large for the server: send a smaller one.';
    case 'device_revoked':
      return 'This device was revoked: ask your administrator for a device invite and enroll again.';
    case 'user_deactivated':
      return 'Your account was deactivated: contact your administrator.';
    case 'conflict':
      return 'This device connected elsewhere (another tab or browser): close it, then reload this page.';
    case 'auth_failed':
      return 'The server did not accept this device: ask your administrator.';
    default:
      return 'It could not be sent: check your connection and try again.';
  }
}
