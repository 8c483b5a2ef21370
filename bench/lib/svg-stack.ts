// Several charts in one SVG file, one under the other (a result has one -latest.svg, and some
// scenarios have more than one figure worth a chart). Each chart keeps its own coordinates inside
// a nested <svg> placed at its vertical offset.

function attr(svg: string, name: string): number {
  const m = new RegExp(`^<svg [^>]*\\b${name}="([0-9.]+)"`).exec(svg);
  return m?.[1] ? Number(m[1]) : 0;
}

export function stackCharts(charts: readonly string[]): string {
  const parts = charts.map((c) => c.trim()).filter((c) => c.startsWith('<svg '));
  const width = Math.max(0, ...parts.map((c) => attr(c, 'width')));
  let y = 0;
  const inner: string[] = [];
  for (const c of parts) {
    inner.push(c.replace(/^<svg /, `<svg x="0" y="${y}" `));
    y += attr(c, 'height');
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">\n${inner.join('\n')}\n</svg>\n`;
}
