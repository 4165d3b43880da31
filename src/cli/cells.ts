/** Sizes and dates formatted exactly as lxc 5.0 prints them in `image list` and `image info`. */

const MIB = 1n << 20n;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Go's `%.2fMB` of size/1024/1024: rounds the exact value, ties to even (JavaScript's toFixed
 * would round 0.125 up), hence integer arithmetic.
 */
export function formatMB(size: number): string {
  const n = BigInt(Math.trunc(size)) * 100n;
  let q = n / MIB;
  const r2 = (n % MIB) * 2n;
  if (r2 > MIB || (r2 === MIB && q % 2n === 1n)) q++;
  return `${q / 100n}.${String(q % 100n).padStart(2, "0")}MB`;
}

/** lxc's shared.TimeIsSet: a time is set when its unix value is positive. */
export function timeIsSet(iso: string): boolean {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && ms >= 1000;
}

const two = (n: number) => String(n).padStart(2, "0");

/** Go layout "Jan 2, 2006 at 3:04pm (MST)" in UTC, as the UPLOAD DATE column shows it. */
export function listDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()} at ` +
    `${h12}:${two(d.getUTCMinutes())}${h < 12 ? "am" : "pm"} (UTC)`;
}

/** Go layout "2006/01/02 15:04 UTC", as `image info` shows timestamps. */
export function infoDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${String(d.getUTCFullYear()).padStart(4, "0")}/${two(d.getUTCMonth() + 1)}/` +
    `${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`;
}
