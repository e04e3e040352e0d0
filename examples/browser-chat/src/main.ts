// A chat page: the model is picked by URL (downloaded once into the browser's model cache) or by
// dropping GGUF files (all parts of a split model at once), loads in a Web Worker with a progress bar,
// and answers with streamed text that the Stop button interrupts. The page's thread only draws.
import { type ChatMessage, loadModelInWorker, type WorkerModel } from '@quant/runtime';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const urlForm = $<HTMLFormElement>('url-form');
const urlInput = $<HTMLInputElement>('url');
const drop = $<HTMLLabelElement>('drop');
const files = $<HTMLInputElement>('files');
const progress = $<HTMLDivElement>('progress');
const progressLabel = $<HTMLSpanElement>('progress-label');
const progressBar = $<HTMLProgressElement>('progress-bar');
const status = $<HTMLParagraphElement>('status');
const chat = $<HTMLElement>('chat');
const messagesEl = $<HTMLDivElement>('messages');
const chatForm = $<HTMLFormElement>('chat-form');
const prompt = $<HTMLTextAreaElement>('prompt');
const send = $<HTMLButtonElement>('send');
const stop = $<HTMLButtonElement>('stop');

let model: WorkerModel | undefined;
let history: ChatMessage[] = [];
let running: AbortController | undefined;

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

function showProgress(label: string, done: number, total: number | undefined): void {
  progress.hidden = false;
  progressLabel.textContent = label;
  if (total && total > 0) progressBar.value = done / total;
  else progressBar.removeAttribute('value'); // indeterminate
}

async function load(source: string | File[]): Promise<void> {
  await model?.dispose();
  model = undefined;
  history = [];
  messagesEl.replaceChildren();
  chat.hidden = true;
  status.textContent = '';
  const t0 = performance.now();
  try {
    model = await loadModelInWorker(
      Array.isArray(source) && source.length === 1 ? (source[0] as File) : source,
      {
        onDownloadProgress: (p) =>
          showProgress(
            p.fromCache
              ? `Found in the browser cache (part ${p.part + 1}/${p.parts})`
              : `Downloading part ${p.part + 1}/${p.parts}: ${mib(p.receivedBytes)}${p.totalBytes ? ` of ${mib(p.totalBytes)}` : ''}`,
            p.receivedBytes,
            p.totalBytes,
          ),
        onProgress: (p) =>
          showProgress(
            `Loading weights: ${mib(p.loadedBytes)} of ${mib(p.totalBytes)}`,
            p.loadedBytes,
            p.totalBytes,
          ),
      },
    );
    progress.hidden = true;
    const name = String(model.metadata['general.name'] ?? model.architecture);
    status.textContent = `${name} loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (${model.backend}, context ${model.contextSize}).`;
    chat.hidden = false;
    prompt.focus();
  } catch (e) {
    progress.hidden = true;
    status.textContent = `Could not load the model: ${(e as Error).message}`;
  }
}

function bubble(role: 'user' | 'assistant', text: string): HTMLDivElement {
  const el = document.createElement('div');
  el.className = `msg ${role}`;
  el.textContent = text;
  messagesEl.append(el);
  el.scrollIntoView({ block: 'end' });
  return el;
}

async function answer(text: string): Promise<void> {
  if (!model) return;
  history.push({ role: 'user', content: text });
  bubble('user', text);
  const out = bubble('assistant', '');
  const meta = document.createElement('div');
  meta.className = 'meta';
  running = new AbortController();
  send.disabled = true;
  stop.disabled = false;
  const t0 = performance.now();
  let reply = '';
  const gen = model.chat(history, { maxTokens: 512, temperature: 0.7, signal: running.signal });
  try {
    for await (const piece of gen) {
      reply += piece;
      out.textContent = reply;
      out.scrollIntoView({ block: 'end' });
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') reply += `\n[error: ${(e as Error).message}]`;
    out.textContent = reply;
  } finally {
    const secs = (performance.now() - t0) / 1000;
    meta.textContent = `${gen.tokens.length} tokens, ${(gen.tokens.length / secs).toFixed(1)} tokens/s${gen.finishReason === 'abort' ? ' (stopped)' : ''}`;
    out.append(meta);
    history.push({ role: 'assistant', content: reply });
    running = undefined;
    send.disabled = false;
    stop.disabled = true;
  }
}

urlForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void load(urlInput.value.trim());
});
files.addEventListener('change', () => {
  if (files.files?.length) void load([...files.files]);
});
for (const type of ['dragenter', 'dragover'] as const)
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const picked = [...(e.dataTransfer?.files ?? [])].filter((f) => f.name.toLowerCase().endsWith('.gguf'));
  if (picked.length) void load(picked);
  else status.textContent = 'Drop .gguf files.';
});
chatForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = prompt.value.trim();
  if (!text || running) return;
  prompt.value = '';
  void answer(text);
});
prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    chatForm.requestSubmit();
  }
});
stop.addEventListener('click', () => running?.abort());

// ?model=<url> loads a model right away (links to a ready chat).
const preset = new URLSearchParams(location.search).get('model');
if (preset) {
  urlInput.value = preset;
  void load(preset);
}
