// svg: small, dependency-free line charts (loss curves, per-block ranks) as standalone SVG text.
// Isomorphic: returns a string; the caller writes it to a file or a page.

export interface Series { name: string; points: [number, number][]; dashed?: boolean; color?: string } // color: default by position

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toPrecision(10));
  return out;
}

export function lineChart(series: Series[], opts: { title: string; xLabel: string; yLabel: string; width?: number; height?: number }): string {
  const W = opts.width ?? 720, H = opts.height ?? 420, m = { l: 64, r: 170, t: 40, b: 52 };
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1] = pts.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = pts.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`,
  ];
  for (const t of ticks(x0, x1)) {
    out.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`,
      `<text x="${X(t)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/>`,
      `<text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#444"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = s.color ?? COLORS[i % COLORS.length];
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (p.length === 1) out.push(`<circle cx="${X(p[0][0])}" cy="${Y(p[0][1])}" r="3" fill="${c}"/>`);
    else if (p.length) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${p.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
    }
    const ly = m.t + 8 + i * 18;
    out.push(`<line x1="${W - m.r + 12}" x2="${W - m.r + 34}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${W - m.r + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>\n');
  return out.join('\n');
}

/** grouped bars: one group per category (x), one bar per series within it */
export function barChart(categories: string[], series: { name: string; values: number[]; color?: string }[],
                         opts: { title: string; xLabel: string; yLabel: string; width?: number; height?: number }): string {
  const W = opts.width ?? 720, H = opts.height ?? 420, m = { l: 64, r: 170, t: 40, b: 52 };
  const vals = series.flatMap((s) => s.values).filter(Number.isFinite);
  const y1 = Math.max(1e-9, ...vals) * 1.05;
  const plotW = W - m.l - m.r, groupW = plotW / Math.max(1, categories.length), barW = (groupW * 0.8) / Math.max(1, series.length);
  const Y = (y: number) => H - m.b - (y / y1) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`,
  ];
  for (const t of ticks(0, y1)) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/>`,
      `<text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  categories.forEach((c, i) => out.push(`<text x="${(m.l + (i + 0.5) * groupW).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${esc(c)}</text>`));
  series.forEach((s, j) => {
    const col = s.color ?? COLORS[j % COLORS.length];
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const x = m.l + i * groupW + groupW * 0.1 + j * barW;
      out.push(`<rect x="${x.toFixed(1)}" y="${Y(v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(H - m.b - Y(v)).toFixed(1)}" fill="${col}"/>`);
    });
    const ly = m.t + 8 + j * 18;
    out.push(`<rect x="${W - m.r + 12}" y="${ly - 6}" width="22" height="12" fill="${col}"/>`, `<text x="${W - m.r + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push(`<rect x="${m.l}" y="${m.t}" width="${plotW}" height="${H - m.t - m.b}" fill="none" stroke="#444"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`, '</svg>\n');
  return out.join('\n');
}
