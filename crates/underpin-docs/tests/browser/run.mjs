// Drives headless Chromium over a generated index.html and prints what it saw as JSON.
//
//   UNDERPIN_TEST_CHROMIUM=/usr/bin/chromium node run.mjs SPEC.json
//
// SPEC.json: { "page": "/abs/index.html", "screenshot": "/abs/shot.png" or null,
//              "colours": ["#1d2a3a", ...], "steps": [STEP, ...] }
// STEP is one of
//   { "action": "search", "text": "demand" }       type into the search box
//   { "action": "clickList", "index": 0 }          click the n-th visible list entry
//   { "action": "clickSvg", "schema": "s", "table": "t" }   click a table box in the diagram
//   { "action": "clickLink", "text": "s.t" }       click a link in the detail panel
//   { "action": "hash", "hash": "#table=s/t" }     open the page at that address
//   { "action": "press", "key": "ArrowDown" }      press a key in the focused element
// After every step the page state is recorded. The page runs offline; any request that is
// not for a file:// or data: URL is recorded as external and aborted. The Rust test
// (tests/browser.rs) judges the output; this script only fails when it cannot run.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const executablePath = process.env.UNDERPIN_TEST_CHROMIUM;
if (!executablePath) {
  console.error('UNDERPIN_TEST_CHROMIUM is not set: it names the Chromium binary. Run the tests through `bash scripts/test.sh`.');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Playwright gives every launch a new empty profile, so no --user-data-dir here.
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const report = { states: [], consoleErrors: [], pageErrors: [], dialogs: [], externalRequests: [], screenshot: null };
try {
  const context = await browser.newContext({ offline: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') report.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => report.pageErrors.push(String(error)));
  page.on('dialog', async (dialog) => {
    report.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    report.externalRequests.push(url);
    return route.abort();
  });

  const url = pathToFileURL(spec.page).href;
  await page.goto(url, { waitUntil: 'load' });
  report.states.push({ step: 'load', ...(await state(page)) });

  for (const step of spec.steps) {
    switch (step.action) {
      case 'search':
        await page.fill('#search', step.text);
        break;
      case 'clickList':
        await page.locator('#table-list li:not([hidden])').nth(step.index).click();
        break;
      case 'clickSvg': {
        const selector = `#diagram g.table[data-schema="${cssString(step.schema)}"][data-table="${cssString(step.table)}"]`;
        // Click the header, which no edge crosses.
        await page.locator(selector).first().locator('text.title').click();
        break;
      }
      case 'clickLink':
        await page.locator('#detail a', { hasText: step.text }).first().click();
        break;
      case 'hash':
        await page.goto(url + step.hash, { waitUntil: 'load' });
        break;
      case 'press':
        await page.keyboard.press(step.key);
        break;
      default:
        throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
    report.states.push({ step: step.action, ...(await state(page)) });
  }

  if (spec.screenshot) {
    const png = await page.screenshot({ path: spec.screenshot });
    report.screenshot = measurePng(png, spec.colours || []);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report, null, 2));

function cssString(text) {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

async function state(page) {
  return page.evaluate(() => {
    const text = (node) => (node ? node.textContent : null);
    return {
      visibleList: [...document.querySelectorAll('#table-list li:not([hidden])')].map((item) => item.textContent),
      count: text(document.getElementById('count')),
      detailTitle: text(document.querySelector('#detail h2')),
      detailHeadings: [...document.querySelectorAll('#detail h3')].map((heading) => heading.textContent),
      detailText: document.getElementById('detail').innerText,
      selectedBoxes: [...document.querySelectorAll('#diagram g.table.selected')].map(
        (box) => box.dataset.schema + '.' + box.dataset.table),
      relatedEdges: document.querySelectorAll('#diagram g.relation.related').length,
      diagramTables: document.querySelectorAll('#diagram g.table').length,
      group: document.getElementById('group-select').value,
      focused: document.activeElement === document.body ? null
        : document.activeElement.id || document.activeElement.textContent,
      tabStops: document.querySelectorAll('#table-list li[tabindex="0"]').length,
      fileLink: text(document.getElementById('diagram-file')),
      scriptElements: document.querySelectorAll('script').length,
      imageElements: document.querySelectorAll('img').length,
    };
  });
}

// Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) and measures it: the number of
// distinct colours, the share of pixels that are not white, and how many pixels have each
// of the requested colours exactly.
function measurePng(buffer, colours) {
  let offset = 8;
  let width = 0;
  let height = 0;
  let colourType = 0;
  const data = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    const body = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0) throw new Error('only 8-bit, non-interlaced PNGs are supported');
      colourType = body[9];
    } else if (type === 'IDAT') {
      data.push(body);
    }
    offset += 12 + length;
  }
  const channels = { 2: 3, 6: 4 }[colourType];
  if (!channels) throw new Error(`unsupported PNG colour type ${colourType}`);

  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? pixels[y * stride + x - channels] : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const upLeft = y > 0 && x >= channels ? pixels[(y - 1) * stride + x - channels] : 0;
      let value = line[x];
      if (filter === 1) value += left;
      else if (filter === 2) value += up;
      else if (filter === 3) value += (left + up) >> 1;
      else if (filter === 4) {
        const estimate = left + up - upLeft;
        const toLeft = Math.abs(estimate - left);
        const toUp = Math.abs(estimate - up);
        const toUpLeft = Math.abs(estimate - upLeft);
        if (toLeft <= toUp && toLeft <= toUpLeft) value += left;
        else if (toUp <= toUpLeft) value += up;
        else value += upLeft;
      }
      pixels[y * stride + x] = value & 0xff;
    }
  }

  const seen = new Set();
  const wanted = new Map(colours.map((colour) => [parseInt(colour.slice(1), 16), colour]));
  const counts = Object.fromEntries(colours.map((colour) => [colour, 0]));
  let nonWhite = 0;
  for (let index = 0; index < width * height; index++) {
    const base = index * channels;
    const rgb = (pixels[base] << 16) | (pixels[base + 1] << 8) | pixels[base + 2];
    seen.add(rgb);
    if (rgb !== 0xffffff) nonWhite += 1;
    const name = wanted.get(rgb);
    if (name) counts[name] += 1;
  }
  return { width, height, distinctColours: seen.size, nonWhiteFraction: nonWhite / (width * height), colourCounts: counts };
}
