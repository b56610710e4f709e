// Builds the browser assets into web/static/viewer/ and records what they were built from.
//
// The built files are committed, so Segito installs with pip alone; BUILD.json holds a digest of this folder's
// inputs (lock file, package.json, this script, src/) and of each output, and a test recomputes both: a bundle
// left stale after a dependency or source change, or edited by hand, fails the test suite.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'web', 'static', 'viewer');

function sha256(data) {
  return createHash('sha256').update(data).digest('hex');
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

// The digest a test recomputes (tests/unit/test_frontend_build.py): per input, sorted by its path relative to
// this folder with '/' separators, the line "<path>\0<sha256 of its bytes>\n"; the digest is their sha256.
export function inputsDigest() {
  const inputs = ['package.json', 'package-lock.json', 'build.mjs']
    .map((name) => join(here, name))
    .concat(filesUnder(join(here, 'src')));
  const lines = inputs
    .map((path) => relative(here, path).split(sep).join('/'))
    .sort()
    .map((name) => `${name}\0${sha256(readFileSync(join(here, name)))}\n`);
  return sha256(lines.join(''));
}

function licenses(metafile) {
  // Every npm package that ends up in a bundle, with its licence text, as their licences ask.
  const packages = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (match) {
      packages.add(match[1]);
    }
  }
  return [...packages].sort().map((name) => {
    const dir = join(here, 'node_modules', name);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${manifest.license}`;
    return `${name}@${manifest.version} (${manifest.license})\n\n${text}\n`;
  }).join('\n' + '-'.repeat(78) + '\n\n');
}

// The page's CSP allows style sheets from 'self' only, so a `style` attribute in markup bpmn-js's properties panel
// parses is refused (and reported). These two containers get the same rules from src/modeler.css instead; the
// build fails if a new version of the package no longer has them, so the patch is never silently stale.
const CSP_PATCHES = [{
  file: /bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/,
  strip: ['<div style="height: 100%" tabindex="-1"', '<div style="flex: none; height: auto" class="bio-properties-panel'],
}];

const cspPatches = {
  name: 'csp-patches',
  setup(builder) {
    for (const patch of CSP_PATCHES) {
      builder.onLoad({ filter: patch.file }, async (args) => {
        let contents = readFileSync(args.path, 'utf8');
        for (const markup of patch.strip) {
          if (!contents.includes(markup)) {
            throw new Error(`${args.path} no longer holds ${markup}: review the CSP patches in build.mjs`);
          }
          contents = contents.replace(markup, markup.replace(/ style="[^"]*"/, ''));
        }
        return { contents, loader: 'js' };
      });
    }
  },
};

async function build() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: {
      viewer: join(here, 'src', 'viewer.js'),
      'viewer-style': join(here, 'src', 'viewer.css'),
      modeler: join(here, 'src', 'modeler.js'),
      'modeler-style': join(here, 'src', 'modeler.css'),
    },
    // The modeler's icon font is a file beside the style sheet, not a data: address (the CSP's font-src is 'self').
    loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
    assetNames: 'fonts/[name]-[hash]',
    outdir: out,
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [cspPatches],
  });
  writeFileSync(join(out, 'THIRD-PARTY-LICENSES.txt'), licenses(result.metafile));
  const outputs = {};
  for (const path of filesUnder(out).sort()) {
    outputs[relative(out, path).split(sep).join('/')] = sha256(readFileSync(path));
  }
  const record = { inputs: inputsDigest(), outputs, esbuild: esbuild.version };
  writeFileSync(join(out, 'BUILD.json'), JSON.stringify(record, null, 2) + '\n');
  console.log(`built ${Object.keys(outputs).join(', ')} into ${relative(join(here, '..'), out)}`);
}

await build();
