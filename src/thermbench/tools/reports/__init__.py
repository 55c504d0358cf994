"""The reports' own computations, run by DVC stages: the leaderboard, the headline numbers, the board pairs."""
