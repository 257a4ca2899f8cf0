"""Pure backorder rules: no database, no HTTP, no clock reads (time is a parameter)."""
