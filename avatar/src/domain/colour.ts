// Colours as the styles use them: 8-bit sRGB triples, and HSL to pick them evenly around the wheel.

export type Rgb = readonly [red: number, green: number, blue: number];

/** `hue` in degrees (any value, taken modulo 360), `saturation` and `lightness` in percent (0-100). */
export function hslToRgb(hue: number, saturation: number, lightness: number): Rgb {
  const h = (((hue % 360) + 360) % 360) / 360;
  const s = Math.min(100, Math.max(0, saturation)) / 100;
  const l = Math.min(100, Math.max(0, lightness)) / 100;
  if (s === 0) {
    const grey = Math.round(l * 255);
    return [grey, grey, grey];
  }
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const channel = (t: number) => {
    const u = t < 0 ? t + 1 : t > 1 ? t - 1 : t;
    const value = u < 1 / 6 ? p + (q - p) * 6 * u : u < 1 / 2 ? q : u < 2 / 3 ? p + (q - p) * (2 / 3 - u) * 6 : p;
    return Math.round(value * 255);
  };
  return [channel(h + 1 / 3), channel(h), channel(h - 1 / 3)];
}
