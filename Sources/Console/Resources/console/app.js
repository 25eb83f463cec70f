// The console's entry point: signs in with the token of the link (or one pasted), opens the
// campaign's stream and wires the feed, presence, chat, dice and the game master's panel.

import { byId, clock, el, replace } from './dom.js';
import { Feed } from './feed.js';
import { GameMasterPanel } from './gm.js';
import { SessionError, clearSession, loadSession, makeSession, remaining, saveSession, takeTokenFromLink } from './session.js';
import { CampaignConnection } from './sync.js';

let current = null; // {session, connection, expiry}

function start() {
  byId('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      enter(makeSession(byId('token-input').value, byId('campaign-input').value));
    } catch (error) {
      showSignIn(error instanceof SessionError ? error.message : String(error));
    }
  });
  byId('sign-out').addEventListener('click', () => signOut('You signed out.'));
  byId('load-older').addEventListener('click', () => current?.connection.loadOlder());
  byId('chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    say();
  });
  byId('dice-form').addEventListener('submit', (event) => {
    event.preventDefault();
    roll(byId('dice-input').value);
  });
  for (const button of document.querySelectorAll('[data-dice]')) {
    button.addEventListener('click', () => {
      byId('dice-input').value = button.dataset.dice;
      roll(button.dataset.dice);
    });
  }

  // A sign-in link opened in a tab that already shows the console changes only the fragment.
  window.addEventListener('hashchange', () => {
    try {
      const linked = takeTokenFromLink();
      if (!linked) return;
      const session = makeSession(linked.token, linked.campaign);
      signOut('');
      enter(session);
    } catch (error) {
      signOut(error instanceof SessionError ? error.message : String(error));
    }
  });

  try {
    const linked = takeTokenFromLink();
    if (linked) return enter(makeSession(linked.token, linked.campaign));
    const saved = loadSession();
    if (saved) return enter(saved);
    showSignIn('');
  } catch (error) {
    showSignIn(error instanceof SessionError ? error.message : String(error));
  }
}

function showSignIn(reason) {
  byId('campaign-view').hidden = true;
  byId('identity').hidden = true;
  byId('sign-out').hidden = true;
  byId('sign-in').hidden = false;
  byId('sign-in-reason').textContent = reason;
  byId('campaign-name').textContent = '';
  setConnection('offline');
  byId('token-input').focus();
}

function enter(session) {
  saveSession(session);
  const { claims } = session;
  byId('sign-in').hidden = true;
  byId('token-input').value = '';
  byId('campaign-view').hidden = false;
  byId('gm-panel').hidden = claims.role !== 'gm';
  byId('campaign-name').textContent = session.campaign;
  replace(byId('identity'), el('strong', {}, claims.sub), ` · ${claims.role} · campaign ${claims.campaign === '*' ? `* (${session.campaign})` : claims.campaign} · until `,
    el('time', { dateTime: new Date(claims.exp * 1000).toISOString() }, clock(claims.exp * 1000)));
  byId('identity').hidden = false;
  byId('sign-out').hidden = false;

  const connection = new CampaignConnection(session);
  const feed = new Feed(byId('feed'), session, { onNarrate: (text) => panel?.narrate(text), onNotice: notice });
  const panel = claims.role === 'gm' ? new GameMasterPanel(session, { onNotice: notice }) : null;
  connection.addEventListener('state', ({ detail }) => setConnection(detail.state, detail.retryIn));
  connection.addEventListener('event', ({ detail }) => feed.add(detail, { live: !detail.replayed }));
  connection.addEventListener('history', ({ detail }) => {
    for (const event of detail.events) feed.add(event);
    byId('load-older').hidden = !detail.hasMore;
  });
  connection.addEventListener('reset', ({ detail }) => {
    feed.clear();
    notice({ reason: 'history_reset', detail: `The campaign's history could not be resumed (${detail.reason}); it was loaded again.` });
  });
  connection.addEventListener('presence', ({ detail }) => showPresence(detail.members));
  connection.addEventListener('notice', ({ detail }) => notice(detail));
  connection.addEventListener('unauthorized', ({ detail }) =>
    signOut(detail.reason === 'token_expired' ? 'Your token expired. Paste a new one to go on.' : 'The server no longer accepts this token. Paste a new one.'));

  // Ask again when the token runs out, rather than fail on the next click.
  const expiry = setTimeout(() => signOut('Your token expired. Paste a new one to go on.'), Math.min(remaining(session), 2 ** 31 - 1));
  current = { session, connection, expiry };
  connection.start();
}

function signOut(reason) {
  if (current) {
    clearTimeout(current.expiry);
    current.connection.stop();
    current = null;
  }
  clearSession();
  replace(byId('feed'));
  replace(byId('presence'));
  replace(byId('generate-result'));
  replace(byId('search-results'));
  replace(byId('notices'));
  showSignIn(reason);
}

const stateText = {
  connecting: 'connecting…', resuming: 'resuming…', live: 'live', reconnecting: 'reconnecting', 'signed-out': 'signed out', closed: 'closed', offline: 'offline',
};

function setConnection(state, retryIn) {
  const badge = byId('connection');
  badge.dataset.state = state;
  badge.textContent = state === 'reconnecting' && retryIn ? `reconnecting in ${Math.ceil(retryIn / 1000)} s` : stateText[state] ?? state;
}

function showPresence(members) {
  const users = Object.keys(members).sort();
  replace(byId('presence'), users.map((user) => {
    const member = members[user];
    const conns = member.conns?.length ?? 0;
    return el('li', { 'data-user': user }, el('strong', {}, user), ' ', el('span', { className: `role role-${member.role}` }, member.role),
      el('span', { className: 'conns' }, ` · ${conns} connection${conns === 1 ? '' : 's'}`),
      member.state?.status ? el('span', { className: 'status' }, ` · ${member.state.status}`) : '');
  }));
}

async function say() {
  const input = byId('chat-input');
  const text = input.value.trim();
  if (!text || !current) return;
  input.value = '';
  try {
    await current.connection.publish('chat.say', { text });
  } catch (error) {
    input.value = text;
    notice(error.notice ?? { reason: 'not_sent', detail: error.message });
  }
}

async function roll(expression) {
  if (!current || !expression.trim()) return;
  const label = byId('dice-label').value.trim();
  const payload = { expression: expression.trim() };
  if (label) payload.label = label;
  try {
    await current.connection.publish('dice.roll', payload);
  } catch (error) {
    notice(error.notice ?? { reason: 'not_rolled', detail: error.message });
  }
}

const noticeText = {
  rate_limited: (n) => `Slow down: the server takes about 20 messages a second. Retrying in ${Math.ceil((n.retryAfterMs || 1000) / 1000)} s.`,
  invalid_dice: (n) => `That roll was refused: ${n.detail}`,
};

/** Shows a refusal or a problem to the person for a few seconds. */
function notice(detail) {
  const text = noticeText[detail.reason]?.(detail) ?? [detail.detail, detail.reason && `(${detail.reason})`].filter(Boolean).join(' ');
  const item = el('p', { className: `notice notice-${detail.reason || 'info'}`, role: 'alert' }, text);
  byId('notices').append(item);
  setTimeout(() => item.remove(), 8000);
}

start();
