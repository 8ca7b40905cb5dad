// FlowForge's GraphiQL page. Everything it loads comes from the control plane itself:
// see docs/operations.md, "Building the UI assets".
import './workers.js';
import 'graphiql/style.css';
import './page.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

// The page is served at the endpoint's own URL (GET without `query`), so operations go there.
const url = window.location.origin + window.location.pathname;
const fetcher = createGraphiQLFetcher({ url });

const defaultQuery = `# Put your API token into the Headers pane below, then re-fetch the schema
# (Shift-Ctrl-R) and run this query (Ctrl-Enter).
{
  workspaces { id name }
  projects { id name }
}
`;

createRoot(document.getElementById('graphiql')).render(
  createElement(
    StrictMode,
    null,
    createElement(GraphiQL, {
      fetcher,
      defaultQuery,
      defaultHeaders: '{\n  "Authorization": "Bearer <token>"\n}',
      // The bearer token typed into the Headers pane is never written to localStorage.
      shouldPersistHeaders: false,
    }),
  ),
);
