// Solar Hijri (Jalali) dates for the console's date inputs: the arithmetic of
// inspector/jalali.go (Borkowski's 33-year cycles with their break years, as
// in jalaali-js), on day numbers, so that a supervisor can type 1405/09/01
// and the API gets the Iran-local Gregorian date 2026-11-22.

import { iranParts } from "../core.js";

const breaks = [-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178];
const div = (a, b) => Math.trunc(a / b);
const mod = (a, b) => a - Math.trunc(a / b) * b;

function jalCal(jy) {
  const gy = jy + 621;
  let leapJ = -14, jp = breaks[0], jump = 0;
  for (let i = 1; i < breaks.length; i++) {
    const jm = breaks[i];
    jump = jm - jp;
    if (jy < jm) break;
    leapJ += div(jump, 33) * 8 + div(mod(jump, 33), 4);
    jp = jm;
  }
  let n = jy - jp;
  leapJ += div(n, 33) * 8 + div(mod(n, 33) + 3, 4);
  if (mod(jump, 33) === 4 && jump - n === 4) leapJ += 1;
  const leapG = div(gy, 4) - div((div(gy, 100) + 1) * 3, 4) - 150;
  const march = 20 + leapJ - leapG;
  if (jump - n < 6) n = n - jump + div(jump + 4, 33) * 33;
  let leap = mod(mod(n + 1, 33) - 1, 4);
  if (leap === -1) leap = 4;
  return { leap, gy, march };
}

function g2d(gy, gm, gd) {
  let d = div((gy + div(gm - 8, 6) + 100100) * 1461, 4) + div(153 * mod(gm + 9, 12) + 2, 5) + gd - 34840408;
  return d - div(div(gy + 100100 + div(gm - 8, 6), 100) * 3, 4) + 752;
}

function d2g(jdn) {
  let j = 4 * jdn + 139361631;
  j = j + div(div(4 * jdn + 183187720, 146097) * 3, 4) * 4 - 3908;
  const i = div(mod(j, 1461), 4) * 5 + 308;
  const gd = div(mod(i, 153), 5) + 1;
  const gm = mod(div(i, 153), 12) + 1;
  const gy = div(j, 1461) - 100100 + div(8 - gm, 6);
  return { gy, gm, gd };
}

function j2d(jy, jm, jd) {
  const r = jalCal(jy);
  return g2d(r.gy, 3, r.march) + (jm - 1) * 31 - div(jm, 7) * (jm - 7) + jd - 1;
}

function d2j(jdn) {
  const gy = d2g(jdn).gy;
  let jy = gy - 621;
  const r = jalCal(jy);
  let k = jdn - g2d(gy, 3, r.march);
  if (k >= 0) {
    if (k <= 185) return { jy, jm: 1 + div(k, 31), jd: mod(k, 31) + 1 };
    k -= 186;
  } else {
    jy -= 1;
    k += 179;
    if (r.leap === 1) k += 1;
  }
  return { jy, jm: 7 + div(k, 30), jd: mod(k, 30) + 1 };
}

/** jalaliMonthDays is the length of Solar Hijri month jm of year jy. */
export function jalaliMonthDays(jy, jm) {
  if (jm <= 6) return 31;
  if (jm <= 11) return 30;
  return jalCal(jy).leap === 0 ? 30 : 29;
}

/** toJalali converts a Gregorian date {gy, gm, gd} to {jy, jm, jd}. */
export function toJalali(gy, gm, gd) { return d2j(g2d(gy, gm, gd)); }

/** toGregorian converts a Solar Hijri date to {gy, gm, gd}. */
export function toGregorian(jy, jm, jd) { return d2g(j2d(jy, jm, jd)); }

/** addDays moves a Gregorian date by n days. */
export function addDays({ gy, gm, gd }, n) { return d2g(g2d(gy, gm, gd) + n); }

/** iranToday is today's date in Iran, Gregorian {gy, gm, gd}. */
export function iranToday(now = new Date()) {
  const p = iranParts(now, "en-CA", { year: "numeric", month: "2-digit", day: "2-digit" });
  return { gy: Number(p.year), gm: Number(p.month), gd: Number(p.day) };
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** isoDate formats a Gregorian date as YYYY-MM-DD. */
export function isoDate({ gy, gm, gd }) { return `${pad(gy, 4)}-${pad(gm)}-${pad(gd)}`; }

/** jalaliText formats a Gregorian date as its Solar Hijri YYYY/MM/DD. */
export function jalaliText(g) {
  const { jy, jm, jd } = toJalali(g.gy, g.gm, g.gd);
  return `${pad(jy, 4)}/${pad(jm)}/${pad(jd)}`;
}

/**
 * parseDate reads a typed date, Solar Hijri (1405/09/01, a year below 1700)
 * or Gregorian (2026-11-22), with any of / - . as separators and Persian or
 * ASCII digits (fold them first), and returns the Gregorian date, or null.
 */
export function parseDate(s) {
  const m = /^\s*(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*$/.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return null;
  if (y < 1700) {
    if (y < 1200 || d > jalaliMonthDays(y, mo)) return null;
    return toGregorian(y, mo, d);
  }
  const dim = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > dim || y > 2300) return null;
  return { gy: y, gm: mo, gd: d };
}

/** nowIranClock is the time of day now in Iran, HH:MM. */
export function nowIranClock(now = new Date()) {
  const p = iranParts(now, "en-GB", { hour: "2-digit", minute: "2-digit", hour12: false });
  return `${p.hour}:${p.minute}`;
}

/**
 * iranInstant reads a typed date (as parseDate) and time of day (H:MM or
 * H.MM; fold digits first) as Iran time, UTC+03:30 with no daylight saving
 * since 2022. It returns { date, clock, iso }: date is the Gregorian date or
 * null, clock "HH:MM" or null, iso the RFC 3339 instant when both are read.
 */
export function iranInstant(dateText, clockText) {
  const date = parseDate(dateText);
  const m = /^\s*(\d{1,2})\s*[:.]\s*(\d{2})\s*$/.exec(clockText);
  const clock = m && Number(m[1]) <= 23 && Number(m[2]) <= 59 ? `${pad(Number(m[1]))}:${m[2]}` : null;
  return { date, clock, iso: date && clock ? `${isoDate(date)}T${clock}:00+03:30` : null };
}
