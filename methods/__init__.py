"""Built-in pruning methods: one sub-package per method, discovered by suite.registry."""
