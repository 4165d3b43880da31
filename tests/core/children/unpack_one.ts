// Child process for unpack tests, run as an unprivileged user: unpacks the unified image at
// argv[2] into argv[3] and prints the result (or the error message) as JSON.
import { unpackImage } from "../../../src/core/unpack.ts";
import { builtinCompressors } from "../../../src/plugins/builtin.ts";

const [file, dir] = process.argv.slice(2);
try {
  const r = await unpackImage({ metadata: file, label: "img" }, dir, {
    compressors: builtinCompressors(),
    templates: { trigger: "create", instance: { name: "c1", architecture: "x86_64" }, config: {} },
  });
  console.log(JSON.stringify({ droppedDevices: r.droppedDevices, written: r.templates?.written }));
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message }));
}
