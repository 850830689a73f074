// The build's second half: the files src/ reads at run time beside its modules (migrations, mappings, samples, mapping
// cases, dashboard assets) are copied into the output folder (default dist/) at the same relative paths, so the
// compiled code finds them as is.
import { cpSync, statSync } from 'node:fs';

cpSync('src', process.argv[2] ?? 'dist', {
  recursive: true,
  filter: (path) => statSync(path).isDirectory() || !path.endsWith('.ts'),
});
