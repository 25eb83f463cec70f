// The access token: taken from the link's fragment, kept in session storage (this tab only),
// read for display. The console never mints or checks tokens; the server does.

const storageKey = 'rpgbot.console.session';
const roles = new Set(['player', 'gm', 'service']);
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A token the console cannot use, with a sentence for the person. */
export class SessionError extends Error {}

/** Decodes the claims of a JWT without verifying it (only the server can). */
export function decodeClaims(token) {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new SessionError('That is not an access token: it should have three parts separated by dots.');
  let claims;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    claims = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new SessionError('That token cannot be read. Copy it again, whole.');
  }
  if (typeof claims.sub !== 'string' || typeof claims.campaign !== 'string' || !roles.has(claims.role) || typeof claims.exp !== 'number') {
    throw new SessionError('That token lacks sub, campaign, role or exp.');
  }
  return claims;
}

/**
 * A session for `token`: its claims and the campaign it opens. A token for every campaign
 * (`*`) needs `campaign`; a service token cannot join a campaign's stream.
 */
export function makeSession(token, campaign) {
  const claims = decodeClaims(token);
  if (claims.role === 'service') throw new SessionError('A service token cannot join a campaign; ask for a player or game master token.');
  const chosen = claims.campaign === '*' ? (campaign || '').trim() : claims.campaign;
  if (!idPattern.test(chosen)) {
    throw new SessionError(claims.campaign === '*' ? 'This token is valid for every campaign: name the campaign to open.' : 'The token names an invalid campaign.');
  }
  if (claims.exp * 1000 <= Date.now()) throw new SessionError(`That token expired at ${new Date(claims.exp * 1000).toLocaleString()}.`);
  return { token: token.trim(), campaign: chosen, claims };
}

/**
 * The token of a sign-in link (`/console/#token=…`), removed from the address bar at once
 * so it is not bookmarked or shared by accident.
 */
export function takeTokenFromLink() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (token === null) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return { token, campaign: fragment.get('campaign') };
}

export function saveSession(session) {
  sessionStorage.setItem(storageKey, JSON.stringify({ token: session.token, campaign: session.campaign }));
}

export function loadSession() {
  const saved = sessionStorage.getItem(storageKey);
  if (!saved) return null;
  try {
    const { token, campaign } = JSON.parse(saved);
    return makeSession(token, campaign);
  } catch (error) {
    sessionStorage.removeItem(storageKey);
    throw error;
  }
}

export function clearSession() {
  sessionStorage.removeItem(storageKey);
}

/** Milliseconds until the token expires. */
export function remaining(session) {
  return session.claims.exp * 1000 - Date.now();
}
