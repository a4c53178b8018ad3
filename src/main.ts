import { mount } from 'svelte';
import App from './ui/App.svelte';
import './ui/app.css';
import { offline } from './ui/state/offline.svelte.ts';

mount(App, { target: document.getElementById('app')! });
// The offline copy (src/sw/sw.ts) exists only in a build; the dev server's modules change with every edit.
if (import.meta.env.PROD) void offline.register();
