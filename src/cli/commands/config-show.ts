/** `starget config show`: the effective settings, where each came from, and the registries (secrets masked). */

import { maskRegistryConfig } from '../../config/registries.js';
import type { SettingName } from '../../config/settings.js';
import { SETTING_SPECS } from '../../config/settings.js';
import { writeOut } from '../io.js';
import type { Session } from '../session.js';

function describeSource(source: string, origin?: string): string {
  if (origin) return source === 'env' ? `env ${origin}` : `file ${origin}`;
  return source.startsWith('file:') ? `file ${source.slice(5)}` : source;
}

/** The text of `config show`. */
export function formatConfigShow(session: Pick<Session, 'effective' | 'config'>): string {
  const lines: string[] = [`Config file: ${session.config.path ?? '(none)'}`, ''];
  const names = Object.keys(SETTING_SPECS) as SettingName[];
  const rows = names.map((name) => {
    const sourced = session.effective[name];
    return [name, String(sourced.value), describeSource(sourced.source, sourced.origin)];
  });
  const header = ['SETTING', 'VALUE', 'SOURCE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows])
    lines.push(
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  if (session.config.registries.length > 0) {
    lines.push('', 'Registries:');
    for (const entry of session.config.registries.map(maskRegistryConfig)) {
      const parts: string[] = [];
      if (entry.authType !== undefined) parts.push(`auth_type=${entry.authType}`);
      if (entry.plainHttp !== undefined) parts.push(`plain_http=${entry.plainHttp}`);
      if (entry.insecure !== undefined) parts.push(`insecure=${entry.insecure}`);
      if (entry.credentialHelper !== undefined) parts.push(`credential_helper=${entry.credentialHelper}`);
      if (entry.username !== undefined) parts.push(`username=${entry.username}`);
      if (entry.password !== undefined) parts.push(`password=${entry.password}`);
      const where = entry.line !== undefined ? `  (${session.config.path}:${entry.line})` : '';
      lines.push(`  ${entry.host}  ${parts.join(' ')}${where}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The JSON of `config show --json`. */
export function configShowJson(session: Pick<Session, 'effective' | 'config'>): Record<string, unknown> {
  return {
    configFile: session.config.path ?? null,
    settings: session.effective,
    registries: session.config.registries.map(maskRegistryConfig),
  };
}

export async function runConfigShow(session: Session): Promise<void> {
  const text = session.globals.json
    ? `${JSON.stringify(configShowJson(session))}\n`
    : formatConfigShow(session);
  await writeOut(session.io.stdout, text);
}
