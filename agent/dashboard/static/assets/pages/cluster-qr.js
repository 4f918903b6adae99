// A QR code drawn as SVG from the vendored encoder's module grid: one path of unit squares,
// dark on a white quiet zone whatever the theme, since phone cameras expect that contrast.

import { svg } from "../core/dom.js";
import qrcode from "../vendor/qrcode-generator-2.0.4/qrcode.mjs";

const QUIET = 4; // modules of margin the standard asks for

/** An <svg role="img"> of `text`; its data-modules attribute is the grid's side length. */
export function qrSvg(text, label) {
  // Level L: a join link is long, and a screen is a clean surface, so the smallest code wins.
  const qr = qrcode(0, "L");
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  const side = count + QUIET * 2;
  const parts = [];
  for (let r = 0; r < count; r += 1) {
    for (let c = 0; c < count; c += 1) {
      if (qr.isDark(r, c)) parts.push(`M${c + QUIET} ${r + QUIET}h1v1h-1z`);
    }
  }
  return svg(
    "svg",
    {
      class: "qr",
      viewBox: `0 0 ${side} ${side}`,
      role: "img",
      "aria-label": label,
      "shape-rendering": "crispEdges",
      "data-modules": count,
    },
    svg("title", {}, label),
    svg("rect", { width: side, height: side, fill: "#fff" }),
    svg("path", { d: parts.join(""), fill: "#000" }),
  );
}
