// The campaign feed: one entry per event in offset order, whatever order they arrive in
// (history pages come after live events), each offset shown once. A media job's updates
// share one entry that follows the job to its audio or image.

import { artifactURL } from './api.js';
import { clock, el, replace } from './dom.js';
import * as render from './render.js';

export class Feed {
  constructor(list, session, { onNarrate, onNotice }) {
    this.list = list;
    this.session = session;
    this.onNarrate = onNarrate;
    this.onNotice = onNotice;
    // Follow the newest event unless the reader scrolled up to read older ones.
    this.following = true;
    list.addEventListener('scroll', () => {
      this.following = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    });
    this.clear();
  }

  follow() {
    if (this.following) this.list.scrollTop = this.list.scrollHeight;
  }

  clear() {
    this.shown = new Set();
    this.jobs = new Map();
    this.list.replaceChildren();
  }

  /** Adds an event; `live` ones may start audio. */
  add(event, { live = false } = {}) {
    if (this.shown.has(event.offset)) return;
    this.shown.add(event.offset);
    if (event.type === 'media.job_updated' && event.payload?.job_id) return this.mediaUpdate(event, live);
    this.insert(this.entry(event, this.body(event)), event.offset);
  }

  insert(entry, offset) {
    const later = Array.from(this.list.children).find((child) => Number(child.dataset.offset) > offset);
    this.list.insertBefore(entry, later || null);
    if (!later) this.follow();
  }

  entry(event, body) {
    return el('li', { className: `event type-${event.type.replace(/[^a-z0-9]+/gi, '-')}`, 'data-offset': event.offset, 'data-type': event.type },
      el('div', { className: 'meta' },
        el('span', { className: 'actor' }, event.actor), ' ',
        el('span', { className: `role role-${event.role}` }, event.role), ' ',
        el('time', { dateTime: new Date(event.ts).toISOString() }, clock(event.ts)),
        el('span', { className: 'offset', 'aria-hidden': 'true' }, `#${event.offset}`)),
      el('div', { className: 'body' }, body));
  }

  body(event) {
    const payload = event.payload ?? {};
    switch (event.type) {
      case 'chat.say':
        return el('p', { className: 'chat' }, String(payload.text ?? ''));
      case 'dice.rolled':
        return render.diceRoll(payload);
      case 'gm.scene':
      case 'gm.combat':
      case 'gm.social':
      case 'gm.epilogue':
        return this.generated(event.type.slice(3), payload);
      default:
        return [el('span', { className: 'event-type' }, event.type), render.generic(payload)];
    }
  }

  generated(profile, payload) {
    const output = payload.output;
    const draw = render.outputs[profile];
    if (!draw || !output || typeof output !== 'object') return render.generic(payload);
    const actions = this.session.claims.role === 'gm' && output.narration
      ? el('div', { className: 'actions' }, el('button', { type: 'button', className: 'quiet narrate', onclick: () => this.onNarrate(output.narration) }, 'Narrate'))
      : null;
    return [draw(output), actions];
  }

  mediaUpdate(event, live) {
    const { job_id: job, kind, status, artifact } = event.payload;
    let card = this.jobs.get(job);
    if (!card) {
      card = this.entry(event, el('div', { className: 'media' }));
      card.classList.add('type-media-job-updated');
      this.jobs.set(job, card);
      this.insert(card, event.offset);
    }
    if (Number(card.dataset.statusOffset || 0) > event.offset) return; // an older update from history
    card.dataset.statusOffset = event.offset;
    card.dataset.status = status;
    const body = card.querySelector('.media');
    const what = kind === 'tts' ? 'Narration' : kind === 'image' ? 'Image' : kind;
    if (status !== 'succeeded' || !artifact) {
      const text = { queued: 'queued…', running: 'being made…', failed: 'failed', canceled: 'canceled' }[status] ?? status;
      replace(body, el('p', { className: `media-status status-${status}` }, `${what} ${text}`));
      return this.follow();
    }
    const media = kind === 'tts'
      ? el('audio', { controls: true, preload: 'auto', className: 'media-audio', 'data-artifact': artifact.url })
      : el('img', { alt: 'Generated image', className: 'media-image', 'data-artifact': artifact.url });
    replace(body, el('p', { className: 'media-status status-succeeded' }, what), media);
    this.follow();
    artifactURL(this.session, artifact.url).then((url) => {
      media.src = url;
      media.addEventListener(media.tagName === 'AUDIO' ? 'loadedmetadata' : 'load', () => this.follow(), { once: true });
      if (live && media.tagName === 'AUDIO') media.play().catch(() => { /* the browser wants a click first */ });
    }, (error) => this.onNotice({ reason: 'artifact_unavailable', detail: error.message }));
  }

  /** Empty when no event is shown. */
  get isEmpty() {
    return this.shown.size === 0;
  }
}
