"""Vacuum: the only thing that deletes objects, and only those no reader or snapshot may need."""
