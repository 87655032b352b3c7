// The selector of extensions section 1 (match / exclude), as a form: fleet search and rules share it.
import { html } from '../vendor/lit-html/lit-html.js';
import { splitList } from './ui.js';

const LISTS = [
  ['name', 'Name', 'batch-*, worker-?'],
  ['user', 'User', 'app'],
  ['lib_name', 'Library', 'redis-py*'],
  ['ip', 'IP', '10.0.0.5'],
  ['cmd', 'Last command', 'blpop'],
  ['flags', 'Flags', 'P'],
];
const NUMBERS = [
  ['min_idle_seconds', 'Idle at least (s)'],
  ['min_age_seconds', 'Age at least (s)'],
  ['max_age_seconds', 'Age at most (s)'],
];
const EXCLUDES = [
  ['name', 'Name'],
  ['user', 'User'],
];

export const emptySelectorFields = () => ({ match: {}, exclude: {} });

// Form fields -> {match, exclude}: lists split on commas, DBs and seconds as integers, empty fields left out.
export function selectorOf(fields) {
  const match = {};
  for (const [key] of LISTS) {
    const values = splitList(fields.match[key]);
    if (values.length) match[key] = values;
  }
  const dbs = splitList(fields.match.db).map(Number).filter(Number.isInteger);
  if (dbs.length) match.db = dbs;
  if (fields.match.addr_prefix) match.addr_prefix = fields.match.addr_prefix;
  for (const [key] of NUMBERS) {
    const value = fields.match[key];
    if (value !== undefined && value !== '' && Number.isInteger(Number(value))) match[key] = Number(value);
  }
  const exclude = {};
  for (const [key] of EXCLUDES) {
    const values = splitList(fields.exclude[key]);
    if (values.length) exclude[key] = values;
  }
  return { match, exclude };
}

export function describeSelector({ match = {}, exclude = {} }) {
  const part = (object) => Object.entries(object).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(' ');
  const text = [part(match), Object.keys(exclude).length ? `except ${part(exclude)}` : ''].filter(Boolean).join(' ');
  return text || 'every session';
}

export function selectorFieldset(fields, onChange, { prefix = 'sel' } = {}) {
  const input = (group, key, label, type = 'text', placeholder = '') => html`<label>${label}
    <input name="${prefix}-${group}-${key}" type=${type} min="0" placeholder=${placeholder} .value=${fields[group][key] ?? ''}
      @input=${(e) => onChange(group, key, e.target.value)}></label>`;
  return html`<fieldset class="filters"><legend>Match (all of these)</legend>
      ${input('match', 'addr_prefix', 'Address prefix', 'text', '10.0.')}
      ${LISTS.map(([key, label, hint]) => input('match', key, label, 'text', hint))}
      ${input('match', 'db', 'DB', 'text', '0, 1')}
      ${NUMBERS.map(([key, label]) => input('match', key, label, 'number'))}
    </fieldset>
    <fieldset class="filters"><legend>Except (any of these)</legend>
      ${EXCLUDES.map(([key, label]) => input('exclude', key, `${label} (except)`, 'text', 'healthcheck'))}
    </fieldset>`;
}
