// A Party Sync client (docs/party-sync-protocol.md): one WebSocket to a campaign, with hello,
// replay on entry, resume after a dropped connection (no gap, no duplicate), idempotent
// publish that survives reconnects, presence, and close codes honoured.

import { randomId } from './dom.js';

const historyPage = 50;

/**
 * Events it dispatches (CustomEvent, data in `detail`):
 * - `state`    {state, retryIn?}: connecting, resuming, live, reconnecting, signed-out, closed
 * - `event`    a live or replayed event frame, in offset order, each offset once
 * - `history`  {events, hasMore}: older events, oldest first, on entry and on request
 * - `reset`    {reason}: a resume was refused; what was shown is stale and history follows
 * - `presence` {members}: everyone here now
 * - `notice`   {code, reason, detail, retryAfterMs}: a refusal the person should see
 * - `unauthorized` {reason}: the token is no longer accepted (expired or invalid)
 */
export class CampaignConnection extends EventTarget {
  constructor(session) {
    super();
    this.session = session;
    this.epoch = null;
    this.offset = 0; // the last offset received: where a resume starts
    this.oldest = null; // the oldest offset shown: where "older" paging starts
    this.pending = new Map(); // cmid → {frame, resolve, reject}
    this.members = {};
    this.attempts = 0;
    this.everWelcomed = false;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000, 'signed out');
    for (const { reject } of this.pending.values()) reject(new Error('signed out'));
    this.pending.clear();
  }

  open() {
    this.setState(this.everWelcomed ? 'resuming' : 'connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/ws/campaign/${encodeURIComponent(this.session.campaign)}`);
    this.socket = socket;
    socket.addEventListener('open', () => {
      const hello = { t: 'hello', v: 1, token: this.session.token };
      if (this.epoch) hello.since = { epoch: this.epoch, offset: this.offset };
      socket.send(JSON.stringify(hello));
    });
    socket.addEventListener('message', (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.receive(frame);
    });
    socket.addEventListener('close', (close) => {
      if (this.socket === socket) this.closed(close);
    });
  }

  receive(frame) {
    switch (frame.t) {
      case 'welcome':
        return this.welcomed(frame);
      case 'event':
        if (frame.offset <= this.offset) return; // already shown: a replay overlapping what arrived live
        this.offset = frame.offset;
        if (this.oldest === null) this.oldest = frame.offset;
        return this.emit('event', frame);
      case 'synced':
        return this.setState('live');
      case 'history':
        if (frame.events.length > 0) this.oldest = Math.min(this.oldest ?? Infinity, frame.events[0].offset);
        return this.emit('history', { events: frame.events, hasMore: frame.has_more });
      case 'ack': {
        const waiting = this.pending.get(frame.cmid);
        this.pending.delete(frame.cmid);
        return waiting?.resolve(frame);
      }
      case 'presence_diff':
        for (const user of Object.keys(frame.leaves || {})) delete this.members[user];
        Object.assign(this.members, frame.joins || {});
        return this.emit('presence', { members: this.members });
      case 'error':
        return this.refused(frame);
      case 'ping':
        return this.send({ t: 'pong' });
    }
  }

  welcomed(frame) {
    const resumed = this.epoch !== null && frame.recovered;
    if (this.epoch !== null && !frame.recovered) this.emit('reset', { reason: frame.reason });
    this.everWelcomed = true;
    this.attempts = 0;
    this.epoch = frame.epoch;
    this.members = { ...frame.presence.members };
    this.emit('presence', { members: this.members });
    if (!resumed) {
      // Entry (or a refused resume): the newest page of history, then live from the top.
      this.offset = frame.top;
      this.oldest = frame.top + 1;
      if (frame.top > 0) this.send({ t: 'history', before: frame.top + 1, limit: historyPage });
      this.setState('live');
    }
    // A resume stays "resuming" until `synced`. Publishes not yet acknowledged go again
    // under their cmid: the server stores each once.
    for (const { frame: publish } of this.pending.values()) this.send(publish);
  }

  refused(frame) {
    const notice = { code: frame.code, reason: frame.reason, detail: frame.detail, retryAfterMs: frame.retry_after_ms };
    if (frame.reason === 'token_expired' || frame.reason === 'token_invalid' || frame.reason === 'token_missing') {
      return this.emit('unauthorized', notice);
    }
    const waiting = frame.cmid ? this.pending.get(frame.cmid) : undefined;
    if (waiting && frame.temporary) {
      // Rate limited or a server hiccup: the same publish again, once the server says so.
      setTimeout(() => this.send(waiting.frame), frame.retry_after_ms || 1000);
      return this.emit('notice', notice);
    }
    if (waiting) {
      this.pending.delete(frame.cmid);
      const error = new Error(frame.detail || frame.reason);
      error.notice = notice;
      return waiting.reject(error);
    }
    this.emit('notice', notice);
  }

  closed(close) {
    this.socket = null;
    if (this.stopped) return;
    if (close.code >= 4500 && close.code <= 4599) {
      if (close.code === 4500) {
        this.emit('unauthorized', { reason: close.reason || 'token_invalid' });
        return this.setState('signed-out');
      }
      this.emit('notice', { reason: close.reason || `closed (${close.code})`, detail: 'The server will not take this connection back as it is.' });
      return this.setState('closed');
    }
    // Everything else — shutdown (4000), slow consumer, no pong, a lost network (1006) —
    // is "reconnect and resume", with growing, jittered waits.
    const delay = Math.min(10000, 500 * 2 ** this.attempts) * (0.75 + Math.random() / 2);
    this.attempts += 1;
    this.setState('reconnecting', Math.round(delay));
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Publishes an event; resolves with the `ack` (its offset), rejects when refused. */
  publish(type, payload) {
    const frame = { t: 'publish', cmid: randomId('c-'), type, payload };
    return new Promise((resolve, reject) => {
      this.pending.set(frame.cmid, { frame, resolve, reject });
      this.send(frame);
    });
  }

  /** Asks for the page of history before the oldest event shown. */
  loadOlder() {
    if (this.oldest !== null && this.oldest > 1) this.send({ t: 'history', before: this.oldest, limit: historyPage });
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  setState(state, retryIn) {
    this.state = state;
    this.emit('state', { state, retryIn });
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
