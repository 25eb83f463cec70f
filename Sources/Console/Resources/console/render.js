// How each kind of campaign event and generated output looks. Every function returns DOM
// nodes built from the data as text (dom.js), so nothing in an event can run as script.

import { el } from './dom.js';

const titleCase = (text) => String(text).replace(/_/g, ' ');

function check(value) {
  if (!value) return null;
  const skill = value.skill ? ` (${titleCase(value.skill)})` : '';
  return el('span', { className: 'check' }, `${value.ability}${skill} DC ${value.dc}`, value.reason ? ` — ${value.reason}` : '');
}

function list(className, items, render) {
  if (!Array.isArray(items) || items.length === 0) return null;
  return el('ul', { className }, items.map((item) => el('li', {}, render(item))));
}

function paragraphs(text, className = 'narration') {
  if (!text) return null;
  return el('div', { className }, String(text).split(/\n{2,}/).map((part) => el('p', {}, part)));
}

function badge(text, kind = '') {
  return text ? el('span', { className: `badge ${kind}`.trim() }, titleCase(text)) : null;
}

/** A scene: title, mood, narration, the place, who is there, checks and choices. */
export function scene(output) {
  return [
    el('h3', {}, output.title, ' ', badge(output.mood, 'mood')),
    paragraphs(output.narration),
    output.location && el('p', { className: 'location' }, el('strong', {}, output.location.name), output.location.description ? ` — ${output.location.description}` : '',
      Array.isArray(output.location.exits) && output.location.exits.length ? el('span', { className: 'exits' }, ` Exits: ${output.location.exits.join(', ')}.`) : ''),
    list('npcs', output.npcs, (npc) => [el('strong', {}, npc.name), ' ', badge(npc.disposition), npc.line ? el('q', {}, npc.line) : '']),
    list('checks', output.checks, check),
    output.choices && el('ol', { className: 'choices' }, output.choices.map((choice) =>
      el('li', { 'data-choice': choice.id }, choice.label, ' ', badge(choice.approach), ' ', check(choice.check)))),
  ];
}

/** A round of combat: narration, each action with its roll, the effects, how it stands. */
export function combat(output) {
  return [
    el('h3', {}, `Round ${output.round} `, badge(output.end_state, 'mood')),
    paragraphs(output.narration),
    list('actions', output.actions, (action) => [
      el('strong', {}, action.actor_id), ` ${titleCase(action.kind)}`,
      action.target_ids?.length ? ` → ${action.target_ids.join(', ')}` : '', ': ', action.description,
      action.roll ? el('span', { className: 'check' }, ` ${action.roll.purpose || 'roll'} ${action.roll.dice}${action.roll.dc ? ` vs DC ${action.roll.dc}` : ''}`) : '',
    ]),
    list('effects', output.proposed_effects, (effect) =>
      `${effect.target_id}: ${titleCase(effect.kind)}${effect.amount != null ? ` ${effect.amount}` : ''}${effect.condition ? ` (${effect.condition})` : ''}`),
    output.tactical_note && el('p', { className: 'note' }, output.tactical_note),
  ];
}

/** An exchange with NPCs: narration, their lines, what changed and what was revealed. */
export function social(output) {
  return [
    el('h3', {}, 'Conversation ', badge(output.outcome, 'mood')),
    paragraphs(output.narration),
    list('lines', output.npc_lines, (line) => [el('strong', {}, line.speaker), ' ', badge(line.tone), ' ', el('q', {}, line.line)]),
    list('facts', output.revealed_facts, (fact) => fact.fact),
    list('dispositions', output.disposition_changes, (change) => `${change.npc_id} is now ${change.new_level} (${change.delta > 0 ? '+' : ''}${change.delta}): ${change.reason}`),
    check(output.check),
    output.choices && el('ol', { className: 'choices' }, output.choices.map((choice) =>
      el('li', {}, choice.label, ' ', badge(choice.approach), ' ', check(choice.check)))),
  ];
}

/** The close of a session: summary, narration, arcs, consequences and rewards. */
export function epilogue(output) {
  const rewards = output.rewards;
  return [
    el('h3', {}, output.title, ' ', badge(output.outcome, 'mood')),
    el('p', { className: 'summary' }, output.summary),
    paragraphs(output.narration),
    list('arcs', output.character_arcs, (arc) => [el('strong', {}, arc.name), `: ${arc.arc}`]),
    list('consequences', output.consequences, (c) => `${titleCase(c.scope)} · ${c.subject}: ${c.change}`),
    rewards && el('p', { className: 'rewards' }, `${rewards.xp} XP · ${rewards.gold} gold`, rewards.items?.length ? ` · ${rewards.items.join(', ')}` : ''),
    list('threads', output.open_threads, (thread) => thread),
  ];
}

export const outputs = { scene, combat, social, epilogue };

/** A `dice.rolled` event: every die, the kept ones marked, the total. */
export function diceRoll(payload) {
  return [
    el('div', { className: 'roll-head' },
      payload.label ? el('span', { className: 'roll-label' }, payload.label) : null,
      el('code', { className: 'roll-expression' }, payload.expression),
      el('span', { className: 'roll-total', 'aria-label': `total ${payload.total}` }, String(payload.total))),
    el('div', { className: 'dice' }, payload.dice.map((group) => {
      const kept = new Set(group.kept);
      return el('span', { className: 'dice-group', title: group.notation },
        group.rolls.map((roll, index) => el('span', {
          className: kept.has(index) ? 'die kept' : 'die dropped',
          'data-sides': group.sides,
          'aria-label': `d${group.sides}: ${roll}${kept.has(index) ? '' : ' (dropped)'}`,
        }, String(roll))));
    }), payload.modifier ? el('span', { className: 'modifier' }, payload.modifier > 0 ? `+${payload.modifier}` : String(payload.modifier)) : null),
  ];
}

/** Anything else: its type and payload as JSON. */
export function generic(payload) {
  return el('pre', { className: 'payload' }, JSON.stringify(payload, null, 2));
}
