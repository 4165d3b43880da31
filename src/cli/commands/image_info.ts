/** `imago info [REMOTE:]IMAGE`: the image laid out as `lxc image info` prints it. */
import { formatMB, infoDate, timeIsSet } from "../cells.ts";
import type { CommandContext } from "../context.ts";
import { resolveImage } from "../remote_images.ts";

export async function action(ctx: CommandContext, ref: string): Promise<void> {
  const img = await resolveImage(ctx, ref);
  const out = [
    `Fingerprint: ${img.fingerprint}`,
    `Size: ${formatMB(img.size)}`,
    `Architecture: ${img.architecture}`,
    `Type: ${img.type || "container"}`,
    `Public: ${img.public ? "yes" : "no"}`,
    "Timestamps:",
  ];
  if (timeIsSet(img.created_at)) out.push(`    Created: ${infoDate(img.created_at)}`);
  out.push(`    Uploaded: ${infoDate(img.uploaded_at)}`);
  out.push(`    Expires: ${timeIsSet(img.expires_at) ? infoDate(img.expires_at) : "never"}`);
  out.push(`    Last used: ${timeIsSet(img.last_used_at) ? infoDate(img.last_used_at) : "never"}`);
  // lxc prints Go map order (random); sorted keys make the output stable.
  out.push("Properties:");
  for (const [k, v] of Object.entries(img.properties)) out.push(`    ${k}: ${v}`);
  out.push("Aliases:");
  for (const a of img.aliases) {
    out.push(a.description ? `    - ${a.name} (${a.description})` : `    - ${a.name}`);
  }
  out.push(`Cached: ${img.cached ? "yes" : "no"}`);
  out.push(`Auto update: ${img.auto_update ? "enabled" : "disabled"}`);
  if (img.update_source) {
    out.push("Source:");
    out.push(`    Server: ${img.update_source.server}`);
    out.push(`    Protocol: ${img.update_source.protocol}`);
    out.push(`    Alias: ${img.update_source.alias}`);
  }
  if (img.profiles.length === 0) out.push("Profiles: []");
  else {
    out.push("Profiles:");
    for (const p of img.profiles) out.push(`    - ${p}`);
  }
  ctx.print(out.join("\n"));
}
