// `npm run bench:encoding [-- options]`: the avatar service's variant encoder alone, in this
// process, without the system: CPU per 128 px WebP variant of a 2-megapixel photograph's 256 px
// working copy (as an upload stores it), for each fit × colour, two at a time (the service's
// MAX_CONCURRENT_PICTURE_RENDERS on 2 cores). Contain is drawn both ways: as the service draws it
// (fitted inside by sharp, centred on its square in JS) and by sharp's own contain (libvips' embed);
// their bytes are equal, checked here too. Figures are medians over the runs; `here / sharp` is the
// ratio of CPU per variant within each run, then its median.
// Options: --runs=N (5), --variants=N per measurement (400), --size=N px (128).
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { VariantSpec } from '../avatar/src/domain/variant-request.ts';
import { normalisePicture } from '../avatar/src/render/picture-normaliser.ts';
import { encoded, encodeVariant, fittedBySharp, type VariantEncoderOptions } from '../avatar/src/render/variant-encoder.ts';
import { inParallel } from './lib/clients.ts';
import { PHOTOGRAPH, photographPixels } from './lib/photograph.ts';
import { fmt, log, median, table } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, variants: { type: 'string', default: '400' }, size: { type: 'string', default: '128' } },
});
const RUNS = Number(args.runs);
const VARIANTS = Number(args.variants);
const SIZE = Number(args.size);
const AT_ONCE = 2;
const OPTIONS: VariantEncoderOptions = { encoding: { pngCompressionLevel: 6, webpEffort: 2, avifEffort: 2 }, maxPixels: 1_024 * 1_024 };

/** The 256 px working copies of 40 different crops of a 1632×1224 photograph-like JPEG, as an upload stores them. */
async function workingCopies(): Promise<Buffer[]> {
  const { width, height } = PHOTOGRAPH;
  const pixels = photographPixels(width, height);
  return inParallel(40, 1, async (i) => {
    const crop = { left: i * 5, top: i * 3, width: width - 300, height: height - 225 };
    const upload = await sharp(pixels, { raw: { width, height, channels: 3 } }).extract(crop).jpeg({ quality: 85 }).toBuffer();
    const stored = await normalisePicture(upload, { maxPixels: width * height, maxSide: 1_024 });
    return stored.working.find((copy) => copy.side === 256)!.bytes;
  });
}

type Draw = (input: Buffer, spec: VariantSpec) => Promise<Buffer>;
const asServed: Draw = (input, spec) => encodeVariant(input, spec, OPTIONS);
const bySharp: Draw = (input, spec) => encoded(fittedBySharp(input, spec, OPTIONS), spec, OPTIONS.encoding);

/** CPU milliseconds of this process per variant, VARIANTS of them, AT_ONCE at a time. */
async function cpuPerVariant(copies: Buffer[], spec: VariantSpec, draw: Draw): Promise<number> {
  const before = process.cpuUsage();
  await inParallel(VARIANTS, AT_ONCE, (i) => draw(copies[i % copies.length]!, spec));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / VARIANTS;
}

const copies = await workingCopies();
const kinds = [false, true].flatMap((grayscale) => (['cover', 'contain'] as const).map((fit): VariantSpec => ({ size: SIZE, format: 'webp', fit, grayscale, blur: undefined })));
const label = (spec: VariantSpec) => `${spec.fit}${spec.grayscale ? ', gray' : ''}`;
for (const spec of kinds.filter((kind) => kind.fit === 'contain')) {
  for (const copy of copies.slice(0, 5)) if (!(await asServed(copy, spec)).equals(await bySharp(copy, spec))) throw new Error(`${label(spec)}: the bytes differ from sharp's contain`);
}
log(`${copies.length} working copies of ${fmt(copies[0]!.length)} bytes; ${SIZE} px WebP, ${VARIANTS} variants per measurement, ${AT_ONCE} at a time, ${RUNS} runs; contain's bytes equal sharp's`);
const figures = new Map<string, { served: number[]; sharp: number[]; ratio: number[] }>(kinds.map((spec) => [label(spec), { served: [], sharp: [], ratio: [] }]));
for (let run = 0; run <= RUNS; run++) {
  for (const spec of kinds) {
    const served = await cpuPerVariant(copies, spec, asServed);
    const own = spec.fit === 'contain' ? await cpuPerVariant(copies, spec, bySharp) : served;
    // Run 0 warms up.
    if (run === 0) continue;
    const entry = figures.get(label(spec))!;
    entry.served.push(served);
    entry.sharp.push(own);
    entry.ratio.push(served / own);
  }
}
const rows = [...figures].map(([name, f]) => [name, fmt(median(f.served), 2), fmt(median(f.sharp), 2), fmt(median(f.ratio), 2)]);
const mix = (pick: (f: { served: number[]; sharp: number[] }) => number[]) => [...figures.values()].reduce((sum, f) => sum + median(pick(f)), 0) / figures.size;
rows.push(['the four alike', fmt(mix((f) => f.served), 2), fmt(mix((f) => f.sharp), 2), fmt(mix((f) => f.served) / mix((f) => f.sharp), 2)]);
console.log(`\nCPU ms per ${SIZE} px WebP variant (medians of ${RUNS} runs)`);
console.log(table(['variant', 'as served', 'sharp alone', 'here / sharp'], rows));
