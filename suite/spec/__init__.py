"""The experiment as data, torch-free: the task table, the FLOP and training rules, schedules, presets, knob typing."""
