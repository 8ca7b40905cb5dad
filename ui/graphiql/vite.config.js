// Builds the GraphiQL page into the control plane's package, where `control_plane.graphiql`
// serves it: the page at GET /graphql, everything else under /graphql/assets/.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/graphql/assets/',
  build: {
    outDir: fileURLToPath(new URL('../../control_plane/static/graphiql', import.meta.url)),
    emptyOutDir: true,
    assetsDir: '',
    // No data: URLs, so the CSP can stay at 'self' for images and fonts.
    assetsInlineLimit: 0,
    // Monaco and GraphiQL are large; the page is loaded once per session from localhost.
    chunkSizeWarningLimit: 8000,
    sourcemap: false,
    rolldownOptions: {
      onwarn(warning, warn) {
        // React's "use client" markers mean nothing in a single-page bundle.
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  worker: { format: 'es' },
});
