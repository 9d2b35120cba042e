// Types of the `cdk8s import` preload's exports, for the tests.

/** Where the preload reads the schema of Kubernetes `version` (e.g. `1.28.0`). */
export function k8sSchemaFile(version: string): string;

/** A source as cdk8s.yaml spells it, with ../shared/ moved to SHARED_DIR if set. */
export function localSource(source: string): string;
