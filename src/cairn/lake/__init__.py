"""The lake: versioned table data as Parquet rowsets listed by partition manifests."""
