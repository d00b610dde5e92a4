// Could not read (#/unreadable): see marked.js.
import { mountMarked } from './marked.js';

export function mount(root) { return mountMarked(root, { kind: 'unreadable' }); }
