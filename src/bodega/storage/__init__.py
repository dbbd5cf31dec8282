"""Storage: trees on disk (fs), their manifests, the object store and snapshots."""
