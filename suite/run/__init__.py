"""Planning the grid and running its cells: inputs, cell identity, plans, teachers, fitting, the
cell runner, trivial rows, executors."""
