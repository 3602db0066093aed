import { fileURLToPath } from 'node:url';

/**
 * The folder holding `tributary_task.py`, the Python helper for training scripts, as installed
 * with this package. `tributary-site run` puts it on the script's `PYTHONPATH`, so a script
 * imports `from tributary_task import load_task` without copying the file.
 */
export const PYTHON_HELPER_DIR: string = fileURLToPath(new URL('../python', import.meta.url));
