"""The image promoter: manifests -> edges -> live inventories -> delta -> copies by digest, and registry snapshots."""
