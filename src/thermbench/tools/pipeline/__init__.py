"""Running DVC: its command line, warm stage starts, lock repair, generated deps, timings, profiles, experiments."""
