"""How cells are scheduled: in this process, or as Ray tasks (driver and worker); they differ only in scheduling."""
