"""Adapters that let third-party libraries (pruning libraries, the hub client) work on this suite's stack."""
