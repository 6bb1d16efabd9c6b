"""The journal: a linearizable log on object storage, and the checkpoint images that bound its replay."""
