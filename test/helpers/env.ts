/** Snapshot of process.env; `restore()` puts it back exactly (tests that touch env use it). */
export function snapshotEnv() {
  const saved = { ...process.env };
  return {
    restore() {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    },
  };
}
