"""The frontend (FE): start-up, leadership, commits and checkpoints."""
