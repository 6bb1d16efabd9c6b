"""Object storage: storage volumes, the ObjectStore interface, and the one place object keys are built."""
