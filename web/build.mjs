// build.mjs — bundles the dashboard (src/) into dist/: index.html, app.js, app.css, minified,
// no source maps, nothing loaded from elsewhere at run time. Run by CMake (src/CMakeLists.txt)
// after `npm ci`; prints the bytes shipped.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "dist");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src/app.jsx") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: out,
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(join(here, "src/index.html"), join(out, "index.html"));
copyFileSync(join(here, "src/app.css"), join(out, "app.css"));
copyFileSync(join(here, "src/favicon.svg"), join(out, "favicon.svg"));
let total = 0;
for (const f of ["index.html", "app.js", "app.css", "favicon.svg"]) total += statSync(join(out, f)).size;
console.log(`dashboard: ${total} bytes in ${out}`);
