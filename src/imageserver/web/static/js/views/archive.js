// Archive (#/archive): see marked.js.
import { mountMarked } from './marked.js';

export function mount(root) { return mountMarked(root, { kind: 'archive' }); }
