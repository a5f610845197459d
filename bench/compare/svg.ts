/**
 * Self-contained SVG charts, written by hand (no dependency): panels of grouped bars stacked
 * vertically, each with its own title, unit, axis and value labels.
 */

export interface Series {
  name: string;
  values: (number | null)[];
}

export interface Panel {
  title: string;
  unit: string;
  /** One label per group of bars (x axis). */
  labels: string[];
  series: Series[];
}

const COLORS = ["#2f6fb0", "#e07b28", "#3a9b4a", "#b8403a", "#7b5aa6", "#8c6d31"];
const WIDTH = 760;
const PANEL_HEIGHT = 260;
const LEFT = 80;
const RIGHT = 20;
const TOP = 50;
const BOTTOM = 40;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** 1.2M, 350k, 12.5, 0.42 */
export function short(v: number): string {
  const a = Math.abs(v);
  if (v === 0) return "0";
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toFixed(2);
}

/** A "nice" upper bound for the axis: 1, 2, 2.5 or 5 times a power of ten. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(p: Panel, y0: number): string {
  const out: string[] = [];
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = PANEL_HEIGHT - TOP - BOTTOM;
  const top = y0 + TOP;
  const max = niceMax(
    Math.max(0, ...p.series.flatMap((s) => s.values.filter((v): v is number => v !== null))),
  );
  out.push(`<text x="${LEFT}" y="${y0 + 22}" font-size="15" font-weight="bold">${esc(p.title)}</text>`);
  out.push(
    `<text x="${LEFT - 8}" y="${top - 10}" font-size="11" text-anchor="end" fill="#555">${esc(p.unit)}</text>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = top + plotH - (plotH * i) / 4;
    out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(
      `<text x="${LEFT - 6}" y="${y + 4}" font-size="11" text-anchor="end" fill="#555">${short(v)}</text>`,
    );
  }
  const groups = p.labels.length;
  const groupW = plotW / Math.max(1, groups);
  const barW = Math.min(60, (groupW * 0.8) / Math.max(1, p.series.length));
  p.labels.forEach((label, g) => {
    const gx = LEFT + g * groupW + (groupW - barW * p.series.length) / 2;
    p.series.forEach((s, k) => {
      const v = s.values[g];
      const x = gx + k * barW;
      if (v === null || v === undefined || !Number.isFinite(v)) {
        out.push(
          `<text x="${x + barW / 2}" y="${top + plotH - 4}" font-size="10" text-anchor="middle" fill="#999">n/a</text>`,
        );
        return;
      }
      const h = (plotH * v) / max;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[k % COLORS.length]}"><title>${esc(`${s.name} ${label}: ${v}`)}</title></rect>`,
      );
      out.push(
        `<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(top + plotH - h - 3).toFixed(1)}" font-size="10" text-anchor="middle">${short(v)}</text>`,
      );
    });
    out.push(
      `<text x="${(LEFT + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 16}" font-size="12" text-anchor="middle">${esc(label)}</text>`,
    );
  });
  out.push(
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`,
  );
  if (p.series.length > 1) {
    let lx = WIDTH - RIGHT;
    for (let k = p.series.length - 1; k >= 0; k--) {
      const name = p.series[k].name;
      lx -= 14 + name.length * 6.5 + 12;
      out.push(`<rect x="${lx}" y="${y0 + 12}" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/>`);
      out.push(`<text x="${lx + 14}" y="${y0 + 21}" font-size="11">${esc(name)}</text>`);
    }
  }
  return out.join("\n");
}

/** One SVG document: a title, a note line, and the panels one below the other. */
export function chart(title: string, note: string, panels: Panel[]): string {
  const head = 46;
  const height = head + panels.length * PANEL_HEIGHT;
  const body = panels.map((p, i) => panel(p, head + i * PANEL_HEIGHT)).join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="17" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="38" font-size="11" fill="#555">${esc(note)}</text>`,
    body,
    "</svg>",
    "",
  ].join("\n");
}
