/** `quant list`: the models in the Hugging Face cache (and quant's URL downloads). */
import { listCachedModels } from '@quant/hub';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { formatBytes, out, outColors } from '../terminal.js';

export interface ListFlags {
  json?: boolean;
}

function ago(d: Date): string {
  const s = Math.max(0, (Date.now() - d.getTime()) / 1000);
  if (s < 90) return 'just now';
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export async function listCommand(flags: ListFlags): Promise<ExitCode> {
  const listing = await listCachedModels();
  if (flags.json) {
    await out(`${JSON.stringify(listing, null, 2)}\n`);
    return EXIT.OK;
  }
  if (listing.models.length === 0 && listing.partial.length === 0) {
    await out(`no models in ${listing.cacheDir} (quant pull <model> downloads one)\n`);
    return EXIT.OK;
  }
  const rows = listing.models.map((m) => [
    m.reference + (m.names.length ? ` (${m.names[0]})` : ''),
    formatBytes(m.size) + (m.parts ? ` in ${m.parts.present}/${m.parts.count} parts` : ''),
    m.quant ?? '?',
    m.architecture ?? '?',
    ago(m.lastUsed),
  ]);
  const head = ['MODEL', 'SIZE', 'QUANT', 'ARCH', 'LAST USED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  let text = `${outColors.bold(line(head))}\n${rows.map((r) => line(r)).join('\n')}\n`;
  for (const p of listing.partial)
    text += `partial: ${p.label} ${formatBytes(p.downloaded)} of ${formatBytes(p.total)} (quant pull resumes it)\n`;
  text += outColors.dim(`cache: ${listing.cacheDir}\n`);
  await out(text);
  return EXIT.OK;
}
