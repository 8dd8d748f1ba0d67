// The changesets CLI's own bin needs node >= 22.1 (enableCompileCache); importing the CLI module
// directly works on node 20. Usage: node scripts/changeset.mjs [status|version|add ...]
await import("@changesets/cli");
