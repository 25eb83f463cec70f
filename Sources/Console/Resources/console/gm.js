// The game master's panel: the four grounded generations (docs/generate.md) with broadcast
// and record, their citations, knowledge search, and narration through the media broker.

import { ApiError, request } from './api.js';
import { byId, el, randomId, replace } from './dom.js';
import * as render from './render.js';

const names = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);
// Knowledge ids look like `npc.old-tom`; anything else is a name.
const knowledgeID = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$/;

/** The frame for `endpoint` from the form's fields (only what was filled in). */
export function frame(endpoint, form, campaign) {
  const value = (name) => form.elements[name].value.trim();
  const body = { campaign_id: campaign };
  const set = (key, v) => { if (v !== '' && v !== undefined && !(Array.isArray(v) && v.length === 0)) body[key] = v; };
  set('location', value('location'));
  if (endpoint !== 'epilogue') set('intent', value('intent'));
  if (endpoint !== 'combat') set('party', names(value('party')).map((name) => ({ name })));
  if (endpoint === 'scene' || endpoint === 'social') {
    set('npcs', names(value('npcs')).map((npc) => (knowledgeID.test(npc) ? { id: npc, name: npc.split('.').pop().replace(/-/g, ' ') } : { name: npc })));
  }
  if (endpoint === 'social') {
    set('goal', value('goal'));
    set('approach', value('approach'));
  }
  if (endpoint === 'combat') {
    set('round', Number(value('round') || 1));
    set('combatants', lines(value('combatants')).map((line, index) => {
      const [name, side = 'enemy', hp] = line.split(',').map((s) => s.trim());
      const combatant = { id: `c${index + 1}`, name, side };
      if (hp && /^\d+$/.test(hp)) combatant.hp = Number(hp);
      return combatant;
    }));
  }
  if (endpoint === 'epilogue') {
    set('session', Number(value('session') || 1));
    set('key_events', lines(value('events')));
  } else {
    set('recent_events', lines(value('events')));
  }
  return body;
}

export class GameMasterPanel {
  constructor(session, { onNotice }) {
    this.session = session;
    this.onNotice = onNotice;
    this.form = byId('generate-form');
    this.result = byId('generate-result');
    this.form.addEventListener('change', () => this.showFields());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.generate();
    });
    byId('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.search();
    });
    this.showFields();
  }

  get endpoint() {
    return this.form.elements.endpoint.value;
  }

  /** Only the fields the chosen endpoint's frame has. */
  showFields() {
    for (const label of this.form.querySelectorAll('[data-for]')) {
      label.hidden = !label.dataset.for.split(' ').includes(this.endpoint);
    }
  }

  async generate() {
    const endpoint = this.endpoint;
    const body = frame(endpoint, this.form, this.session.campaign);
    body.broadcast = this.form.elements.broadcast.checked;
    body.record = this.form.elements.record.checked;
    const button = this.form.querySelector('button[type=submit]');
    button.disabled = true;
    replace(this.result, el('p', { className: 'pending' }, `Generating the ${endpoint}…`));
    try {
      // The key makes a retried click the same request: one generation, one broadcast.
      const answer = await request(this.session, `/v1/generate/${endpoint}`, { body, headers: { 'Idempotency-Key': randomId('g-') } });
      this.show(endpoint, answer);
    } catch (error) {
      replace(this.result, el('p', { className: 'error', role: 'alert' }, error instanceof ApiError ? error.explanation : error.message));
    } finally {
      button.disabled = false;
    }
  }

  show(endpoint, answer) {
    const items = new Map(answer.knowledge_items.map((item) => [item.id, item]));
    const output = answer.output;
    const refs = [...new Set([...(output.lore_refs || []), ...(output.revealed_facts || []).map((f) => f.lore_ref).filter(Boolean)])];
    const facts = [
      answer.broadcast ? `broadcast as #${answer.broadcast.offset}` : 'not broadcast',
      answer.recorded ? `recorded as ${answer.recorded.source_id}` : null,
      `${answer.provider} · ${answer.model} · ${answer.attempts} attempt${answer.attempts === 1 ? '' : 's'} · ${Math.round(answer.latency_ms)} ms`,
    ].filter(Boolean).join(' · ');
    replace(this.result,
      el('article', { className: `output output-${endpoint}` }, render.outputs[endpoint](output)),
      output.narration ? el('button', { type: 'button', className: 'narrate', onclick: () => this.narrate(output.narration) }, 'Narrate to the party') : null,
      refs.length ? el('div', { className: 'citations' }, el('h4', {}, 'Cited knowledge'),
        el('ul', {}, refs.map((ref) => this.citation(ref, items.get(ref))))) : null,
      el('p', { className: 'facts' }, facts));
  }

  /** A citation: its id as a control that shows the item's title and snippet. */
  citation(ref, item) {
    if (!item) return el('li', {}, el('code', {}, ref), ' (not in this answer’s knowledge)');
    const details = el('div', { className: 'citation-detail', hidden: true },
      el('strong', {}, item.title), ' ', el('span', { className: 'badge' }, item.domain), el('p', {}, item.snippet));
    const toggle = el('button', {
      type: 'button', className: 'link citation', 'aria-expanded': 'false', 'data-ref': ref,
      onclick: () => {
        details.hidden = !details.hidden;
        toggle.setAttribute('aria-expanded', String(!details.hidden));
      },
    }, item.title);
    return el('li', {}, toggle, ' ', el('code', { className: 'ref' }, ref), details);
  }

  async search() {
    const query = byId('search-input').value.trim();
    const results = byId('search-results');
    if (!query) return;
    replace(results, el('li', { className: 'pending' }, 'Searching…'));
    try {
      const answer = await request(this.session, '/v1/knowledge/search', { body: { query, campaign_id: this.session.campaign, k: 8 } });
      if (answer.hits.length === 0) return replace(results, el('li', {}, 'Nothing found.'));
      replace(results, answer.hits.map((hit) => el('li', { className: 'hit', 'data-id': hit.id },
        el('div', {}, el('strong', {}, hit.title), ' ', el('span', { className: 'badge' }, hit.domain)),
        el('p', {}, hit.snippet),
        el('p', { className: 'why' }, why(hit.why), ` · score ${hit.score}`))));
    } catch (error) {
      replace(results, el('li', { className: 'error', role: 'alert' }, error instanceof ApiError ? error.explanation : error.message));
    }
  }

  /** A speech job for the narration, in this campaign: its updates reach every console. */
  async narrate(text) {
    try {
      await request(this.session, '/v1/media/tts', {
        body: { text: text.slice(0, 4096), language: 'en', voice: 'en-us', format: 'ogg', campaign_id: this.session.campaign },
      });
    } catch (error) {
      this.onNotice({ reason: error.code || 'narration_failed', detail: error instanceof ApiError ? error.explanation : error.message });
    }
  }
}

function why(reasons) {
  const parts = [];
  if (reasons.alias_hit) parts.push('its name matched');
  if (reasons.bm25_rank) parts.push(`words matched (#${reasons.bm25_rank})`);
  if (reasons.vector_rank) parts.push(`meaning matched (#${reasons.vector_rank})`);
  return parts.length ? parts.join(', ') : 'matched';
}
