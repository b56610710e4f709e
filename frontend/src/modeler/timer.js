// Timer expressions. Segito evaluates a timer's timeDate/timeDuration/timeCycle as a Python expression whose value
// is ISO 8601 text, so a literal must be written with its quotes: 'P14D', '2026-12-01T10:00:00' (docs/timers.md).
// The picker reads a literal it wrote back into its fields and writes only such quoted literals.

export const UNITS = ['D', 'W', 'M', 'Y', 'H'];

const DURATION = /^'P(?:(\d{1,4})([DWMY])|T(\d{1,4})H)'$/;
const DATE = /^'(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::00)?)?'$/;

export function parseTimer(expression) {
  const text = (expression || '').trim();
  let found = text.match(DURATION);
  if (found) {
    return found[3] ? { kind: 'duration', amount: found[3], unit: 'H' }
      : { kind: 'duration', amount: found[1], unit: found[2] };
  }
  found = text.match(DATE);
  if (found) {
    return { kind: 'date', date: found[1], time: found[2] || '' };
  }
  return null;
}

export function durationLiteral(amount, unit) {
  const n = String(amount || '').trim();
  if (!/^\d{1,4}$/.test(n) || Number(n) === 0 || !UNITS.includes(unit)) {
    return null;
  }
  return unit === 'H' ? `'PT${Number(n)}H'` : `'P${Number(n)}${unit}'`;
}

export function dateLiteral(date, time) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date || '')) {
    return null;
  }
  const [y, m, d] = date.split('-').map(Number);
  const real = new Date(Date.UTC(y, m - 1, d));
  if (real.getUTCFullYear() !== y || real.getUTCMonth() !== m - 1 || real.getUTCDate() !== d) {
    return null;
  }
  if (time && !/^([01]\d|2[0-3]):[0-5]\d$/.test(time)) {
    return null;
  }
  return time ? `'${date}T${time}:00'` : `'${date}'`;
}

// An ISO literal written without its quotes is a Python syntax error or, worse, arithmetic (2026-12-01 is 2013).
export function unquotedLiteral(expression) {
  const text = (expression || '').trim();
  return /^(R\d*\/)?P[\dTYMWDHS]+$/.test(text) || /^\d{4}-\d{2}-\d{2}(T[\d:+.Z-]+)?$/.test(text);
}
