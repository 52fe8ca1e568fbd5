"""The results folder on disk, torch-free: record schema, folder layout, file formats, atomic
writes, provenance, the store, the reader and validate."""
