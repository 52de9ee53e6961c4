// Upload page and share page: send an image, draw the boxes over it, list the lines, copy the text.
const $ = (id) => document.getElementById(id);
const SVG_NS = 'http://www.w3.org/2000/svg';

const dropzone = $('dropzone');
const fileInput = $('file');
const statusLine = $('status');

function setStatus(message, isError = false) {
  statusLine.textContent = message;
  statusLine.classList.toggle('error', isError);
}

function render(result, imageUrl) {
  const preview = $('preview');
  const overlay = $('overlay');
  preview.src = imageUrl;
  overlay.setAttribute('viewBox', `0 0 ${result.image.width} ${result.image.height}`);
  overlay.setAttribute('preserveAspectRatio', 'none');
  overlay.replaceChildren();
  for (const line of result.lines) {
    const [[x0, y0], , [x1, y1]] = line.box;
    const rect = document.createElementNS(SVG_NS, 'rect');
    rect.setAttribute('x', String(x0));
    rect.setAttribute('y', String(y0));
    rect.setAttribute('width', String(x1 - x0));
    rect.setAttribute('height', String(y1 - y0));
    const title = document.createElementNS(SVG_NS, 'title');
    title.textContent = line.text;
    rect.append(title);
    overlay.append(rect);
  }
  const list = $('lines');
  list.replaceChildren(
    ...result.lines.map((line) => {
      const item = document.createElement('li');
      item.textContent = line.text;
      const confidence = document.createElement('span');
      confidence.className = 'confidence';
      confidence.textContent = `${Math.round(line.confidence * 100)}%`;
      item.append(confidence);
      return item;
    }),
  );
  if (result.lines.length === 0) {
    const item = document.createElement('li');
    item.textContent = 'No text found.';
    list.append(item);
  }
  $('text').textContent = result.text;
  const share = $('share');
  share.href = result.url;
  share.textContent = `${location.origin}${result.url}`;
  const t = result.timings;
  $('timings').textContent =
    `${result.image.width}×${result.image.height} ${result.image.format} · total ${t.totalMs} ms ` +
    `(queue ${t.queueMs}, decode ${t.decodeMs}, detect ${t.detectMs}, recognize ${t.recognizeMs}) · ` +
    `${new Date(result.createdAt).toLocaleString()} · v${result.version}`;
  $('result').hidden = false;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function upload(file) {
  if (!file) return;
  setStatus(`Reading ${file.name}…`);
  const localUrl = URL.createObjectURL(file);
  $('preview').src = localUrl;
  const form = new FormData();
  form.append('file', file, file.name);
  try {
    const response = await fetch('/api/v1/ocr', { method: 'POST', body: form });
    if (!response.ok) {
      const retry = response.headers.get('retry-after');
      setStatus(`${await errorMessage(response)}${retry ? ` (retry in ${retry} s)` : ''}`, true);
      return;
    }
    if (response.status === 202) {
      // The queue is busy: the result will be at its share page; go there and wait for it.
      const pending = await response.json();
      location.assign(pending.url);
      return;
    }
    const result = await response.json();
    render(result, localUrl);
    setStatus(`Found ${result.lines.length} line${result.lines.length === 1 ? '' : 's'}.`);
  } catch (error) {
    setStatus(`Upload failed: ${error.message}`, true);
  }
}

async function loadShared(token) {
  $('upload').hidden = true;
  const response = await fetch(`/api/v1/results/${encodeURIComponent(token)}`);
  if (response.status === 202) {
    // Still queued or running on a worker: ask again shortly.
    const pending = await response.json();
    $('upload').hidden = false;
    setStatus(pending.status === 'running' ? 'Reading the image…' : 'Waiting for a free worker…');
    setTimeout(() => loadShared(token), 1000);
    return;
  }
  if (!response.ok) {
    $('upload').hidden = false;
    setStatus(await errorMessage(response), true);
    return;
  }
  const result = await response.json();
  render(result, result.image.url);
}

fileInput.addEventListener('change', () => upload(fileInput.files[0]));
for (const type of ['dragenter', 'dragover']) {
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop']) {
  dropzone.addEventListener(type, () => dropzone.classList.remove('over'));
}
dropzone.addEventListener('drop', (event) => {
  event.preventDefault();
  upload(event.dataTransfer.files[0]);
});

$('copy').addEventListener('click', async () => {
  const text = $('text').textContent;
  try {
    await navigator.clipboard.writeText(text);
    setStatus('Text copied.');
  } catch {
    const range = document.createRange();
    const pre = $('text');
    pre.hidden = false;
    range.selectNodeContents(pre);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    setStatus('Press Ctrl+C to copy the selected text.');
  }
});

const shared = /^\/r\/([A-Za-z0-9_-]+)$/.exec(location.pathname);
if (shared) loadShared(shared[1]);
