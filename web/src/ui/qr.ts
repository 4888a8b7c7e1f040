/** The safety number's QR code as an SVG built with DOM calls (one path of dark modules, a quiet zone of 4). */

import { svg } from './dom.js';

export function qrSvg(modules: readonly (readonly boolean[])[], label: string): SVGElement {
  const n = modules.length;
  const quiet = 4;
  let d = '';
  modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) d += `M${x + quiet} ${y + quiet}h1v1h-1z`;
    }),
  );
  const size = n + 2 * quiet;
  const title = svg('title');
  title.textContent = label;
  return svg(
    'svg',
    { viewBox: `0 0 ${size} ${size}`, role: 'img', 'aria-label': label, class: 'qr', 'shape-rendering': 'crispEdges' },
    title,
    svg('rect', { width: size, height: size, fill: '#fff' }),
    svg('path', { d, fill: '#000' }),
  );
}
